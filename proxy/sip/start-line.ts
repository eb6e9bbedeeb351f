/**
 * The first line of a message (RFC 3261 §7.1, §7.2, §25.1):
 *   Request-Line = Method SP Request-URI SP SIP-Version CRLF
 *   Status-Line  = SIP-Version SP Status-Code SP Reason-Phrase CRLF
 *   SIP-Version  = "SIP" "/" 1*DIGIT "." 1*DIGIT
 * RFC 3261 §7.1: "The Request-Line ... elements are separated by single space (SP) characters. No
 * CR or LF are allowed except in the end-of-line CRLF sequence. No linear whitespace (LWS) is
 * allowed in any of the elements." and "The SIP-Version string is case-insensitive".
 * RFC 3261 §8.2.2 / §21.5.6: an unsupported SIP version is answered with 505.
 * RFC 3261 §19.1.1 (table): URI headers are not allowed in a Request-URI.
 */
import { isTokenChar } from './scanner.ts';
import { isAbsoluteUri, parseUri, uriScheme } from './uri.ts';

export interface StartLineError {
  reason: string;
  status: number;
}

export type StartLine =
  | { kind: 'request'; method: string; uri: string; version: string; error: StartLineError | null }
  | { kind: 'response'; status: number; reason: string; version: string; error: StartLineError | null };

const VERSION = /^SIP\/[0-9]{1,5}\.[0-9]{1,5}$/i;

function versionError(version: string): StartLineError | null {
  if (!VERSION.test(version)) return { reason: 'malformed SIP version', status: 400 };
  if (version.toUpperCase() !== 'SIP/2.0')
    return { reason: `unsupported SIP version ${version}`, status: 505 };
  return null;
}

function parseStatusLine(line: string): StartLine {
  const sp = line.indexOf(' ');
  const version = sp < 0 ? line : line.slice(0, sp);
  const code = line.slice(sp + 1, sp + 4);
  const after = line.slice(sp + 4, sp + 5);
  const res = (error: StartLineError | null, status = 0, reason = ''): StartLine => ({
    kind: 'response',
    status,
    reason,
    version,
    error,
  });
  if (sp < 0 || !/^[1-6][0-9][0-9]$/.test(code) || (after !== '' && after !== ' ')) {
    return res({ reason: 'malformed status line', status: 0 });
  }
  // The SP before an empty Reason-Phrase is sometimes left out; accept "SIP/2.0 200" as well.
  const reason = line.slice(sp + 5);
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(reason))
    return res({ reason: 'control character in reason phrase', status: 0 });
  const err = versionError(version);
  return res(err ? { reason: err.reason, status: 0 } : null, Number(code), reason);
}

function parseRequestLine(line: string): StartLine {
  const parts = line.split(' ');
  const [method = '', uri = '', version = ''] = parts;
  const req = (reason: string | null, status = 400): StartLine => ({
    kind: 'request',
    method,
    uri,
    version,
    error: reason === null ? null : { reason, status },
  });
  if (parts.length !== 3) return req('malformed request line');
  if (!isAbsoluteUri(uri)) return req('malformed Request-URI');
  const scheme = uriScheme(uri);
  if (scheme === 'sip' || scheme === 'sips') {
    const parsed = parseUri(uri);
    if (!parsed) return req('malformed Request-URI');
    if (parsed.headers !== undefined) return req('Request-URI must not contain headers');
  }
  const err = versionError(version);
  return err ? req(err.reason, err.status) : req(null);
}

/** Never fails outright: a line that is not a request or status line gives a result with an error. */
export function parseStartLine(line: string): StartLine {
  if (/^SIP\//i.test(line)) return parseStatusLine(line);
  let end = 0;
  while (end < line.length && isTokenChar(line.charCodeAt(end))) end++;
  const after = line[end] ?? '';
  if (end === 0 || (after !== ' ' && after !== '\t' && after !== '')) {
    // Not even a method: nothing to answer.
    return {
      kind: 'response',
      status: 0,
      reason: '',
      version: '',
      error: { reason: 'malformed start line', status: 0 },
    };
  }
  if (after !== ' ') {
    return {
      kind: 'request',
      method: line.slice(0, end),
      uri: '',
      version: '',
      error: { reason: 'malformed request line', status: 400 },
    };
  }
  return parseRequestLine(line);
}
