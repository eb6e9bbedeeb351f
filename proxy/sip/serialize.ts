/**
 * SipMessage to bytes. Lines end in CRLF (RFC 3261 §7). A header line or start line that was not
 * changed since parsing is written with its original bytes (name spelling, compact form, spacing,
 * folding); a changed or new line as `Name: value` with the conventional capitalisation.
 * Content-Length is always written from the body: RFC 3261 §20.14 "The Content-Length header field
 * value MUST be ... the number of octets in the message body" (and §18.3 "it MUST be used" on TCP).
 * It keeps the place of the first Content-Length line, or goes last.
 */
import { displayName, type SipHeader, type SipMessage } from './message.ts';
import { originalHeader, originalStartLine } from './original-bytes.ts';
import { decimal } from './validate.ts';

const CRLF = Buffer.from('\r\n');

function checkLine(text: string, what: string): string {
  // A CR or LF in a value would let it end the line and inject header fields.
  if (/[\r\n]/.test(text)) throw new TypeError(`${what} contains CR or LF: ${JSON.stringify(text)}`);
  return text;
}

function startLine(msg: SipMessage): Buffer {
  const raw = originalStartLine(msg);
  if (raw) return raw;
  const text =
    msg.type === 'request'
      ? `${msg.method} ${msg.uri} ${msg.version}`
      : `${msg.version} ${msg.status} ${msg.reason}`;
  return Buffer.from(checkLine(text, 'start line'));
}

function headerLine(h: SipHeader): Buffer {
  return (
    originalHeader(h) ?? Buffer.from(`${displayName(h.name)}: ${checkLine(h.value, `header ${h.name}`)}`)
  );
}

function contentLength(h: SipHeader | undefined, length: number): Buffer {
  if (h && decimal(h.value) === length) return headerLine(h);
  return Buffer.from(`Content-Length: ${length}`);
}

/** Throws TypeError only for values our own code set with CR or LF in them. */
export function serializeMessage(msg: SipMessage): Buffer {
  const parts: Buffer[] = [startLine(msg), CRLF];
  let clWritten = false;
  for (const h of msg.headers) {
    if (h.name === 'content-length') {
      if (!clWritten) parts.push(contentLength(h, msg.body.length), CRLF);
      clWritten = true;
      continue;
    }
    parts.push(headerLine(h), CRLF);
  }
  if (!clWritten) parts.push(contentLength(undefined, msg.body.length), CRLF);
  parts.push(CRLF, msg.body);
  return Buffer.concat(parts);
}
