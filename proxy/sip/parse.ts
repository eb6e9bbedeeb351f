/**
 * Bytes to a SipMessage (RFC 3261 §7). Strict and bounded: this is what the network talks to.
 * parseMessage never throws on any input; a bad message gives a value saying why and which response
 * (if any) the caller may send.
 */

import { type ScannedHead, scanHead, skipLeadingLineEnds } from './head-scanner.ts';
import type { SipHeader, SipMessage, SipRequest } from './message.ts';
import { rememberHeader, rememberStartLine } from './original-bytes.ts';
import { parseStartLine, type StartLine } from './start-line.ts';
import { canRespond, checkHeaders, decimal } from './validate.ts';

export const DEFAULT_MAX_SIZE = 65535;

export interface SipParseError {
  code: 'SMQ_ERR_SIP_PARSE' | 'SMQ_ERR_SIP_TOO_LARGE';
  /** Human text for logs and for the reason phrase of the response. */
  reason: string;
  /** Suggested response: 400, 505 (bad version), 513 (too large); 0 when no response is possible. */
  status: number;
  /** The request with whatever headers parsed; present only when a response can be built. */
  partial: SipRequest | null;
}

export type ParseResult = { ok: true; msg: SipMessage } | { ok: false; error: SipParseError };

export interface ParseOptions {
  /** Largest accepted message in bytes (default 65535). */
  maxSize?: number;
}

function fail(
  code: SipParseError['code'],
  reason: string,
  status: number,
  partial: SipRequest | null,
): ParseResult {
  // No response is possible without a request that has Via, From, To, Call-ID and CSeq.
  return { ok: false, error: { code, reason, status: partial ? status : 0, partial } };
}

/** Copies the head once and attaches the original bytes of every line to the parsed objects. */
function build(
  buf: Buffer,
  head: ScannedHead,
  start: StartLine,
  bodyStart: number,
  body: Buffer,
): SipMessage {
  const first = head.startLine!.start;
  const copy = Buffer.from(buf.subarray(first, bodyStart));
  const headers: SipHeader[] = head.headers.map((f) => {
    if (f.foldedLf) {
      // A folded header read with bare LF line ends is written back with CRLF (RFC 3261 §7).
      const crlf = Buffer.from(
        copy.toString('latin1', f.start - first, f.end - first).replace(/\r?\n/g, '\r\n'),
        'latin1',
      );
      rememberHeader(f.header, crlf, 0, crlf.length);
    } else rememberHeader(f.header, copy, f.start - first, f.end - first);
    return f.header;
  });
  const msg: SipMessage =
    start.kind === 'request'
      ? { type: 'request', method: start.method, uri: start.uri, version: start.version, headers, body }
      : {
          type: 'response',
          status: start.status,
          reason: start.reason,
          version: start.version,
          headers,
          body,
        };
  rememberStartLine(msg, copy, 0, head.startLine!.end - first);
  return msg;
}

/**
 * A request with what could be read, so the caller can answer 400/505/513. Null for responses,
 * for ACK (RFC 3261 §17: an ACK is never answered) and when Via/From/To/Call-ID/CSeq are missing.
 */
function partialOf(buf: Buffer, head: ScannedHead, start: StartLine): SipRequest | null {
  if (start.kind !== 'request' || start.method === 'ACK' || !canRespond(head.headers.map((f) => f.header)))
    return null;
  const end = head.bodyStart >= 0 ? head.bodyStart : (head.headers.at(-1)?.end ?? head.startLine!.end);
  return build(buf, head, start, end, Buffer.alloc(0)) as SipRequest;
}

function parseBuffer(buf: Buffer, maxSize: number): ParseResult {
  const tooLarge = buf.length > maxSize;
  const limit = tooLarge ? maxSize : buf.length;
  const from = skipLeadingLineEnds(buf, 0, limit);
  if (from >= buf.length) return fail('SMQ_ERR_SIP_PARSE', 'keepalive', 0, null);
  const head = scanHead(buf, from, limit);
  const start = parseStartLine(head.startLine?.text ?? '');
  if (tooLarge) {
    return fail(
      'SMQ_ERR_SIP_TOO_LARGE',
      `message larger than ${maxSize} bytes`,
      513,
      partialOf(buf, head, start),
    );
  }
  if (head.problem) {
    const code = head.problem.tooLarge ? 'SMQ_ERR_SIP_TOO_LARGE' : 'SMQ_ERR_SIP_PARSE';
    return fail(code, head.problem.reason, head.problem.tooLarge ? 513 : 400, partialOf(buf, head, start));
  }
  if (start.error)
    return fail('SMQ_ERR_SIP_PARSE', start.error.reason, start.error.status, partialOf(buf, head, start));
  const headers = head.headers.map((f) => f.header);
  const bad = checkHeaders(headers, start.kind === 'request' ? start.method : null);
  if (bad) return fail('SMQ_ERR_SIP_PARSE', bad, 400, partialOf(buf, head, start));
  /*
   * RFC 3261 §18.3: "If a message is received with a Content-Length shorter than the body, the
   * additional bytes ... MUST be discarded" and "In the case of message-oriented transports (such
   * as UDP), if the message has a Content-Length header field, the message body is assumed to
   * contain that many bytes. ... If the message ... is shorter, the message ... is rejected".
   * Without Content-Length, the body of a datagram runs to its end.
   */
  const remaining = buf.length - head.bodyStart;
  const clText = headers.find((h) => h.name === 'content-length')?.value;
  const cl = clText === undefined ? remaining : decimal(clText);
  if (cl === null)
    return fail('SMQ_ERR_SIP_PARSE', 'malformed Content-Length header', 400, partialOf(buf, head, start));
  if (cl > remaining) {
    return fail('SMQ_ERR_SIP_PARSE', 'body shorter than Content-Length', 400, partialOf(buf, head, start));
  }
  const body = Buffer.from(buf.subarray(head.bodyStart, head.bodyStart + cl));
  return { ok: true, msg: build(buf, head, start, head.bodyStart, body) };
}

/** Parses one SIP message (one UDP datagram or one framed TCP message). Never throws. */
export function parseMessage(buf: Buffer, opts: ParseOptions = {}): ParseResult {
  const maxSize = opts.maxSize ?? DEFAULT_MAX_SIZE;
  if (!Number.isInteger(maxSize) || maxSize <= 0)
    throw new TypeError(`maxSize must be a positive integer: ${maxSize}`);
  try {
    return parseBuffer(buf, maxSize);
  } catch (err) {
    // A parser bug must not take the daemon down; the fuzz test fails on this reason.
    return fail('SMQ_ERR_SIP_PARSE', `internal parser error: ${String(err)}`, 0, null);
  }
}
