/**
 * Splits the head of a message (start line and header fields) into lines and header fields, in one
 * pass over the bytes with Buffer#indexOf: linear in the input, no regular expressions.
 *
 * RFC 3261 §7.3.1: "Header fields can be extended over multiple lines by preceding each extra line
 * with at least one SP or horizontal tab (HT). ... it is equivalent to a single SP".
 * RFC 3261 §7.5: "Implementations processing SIP messages over stream-oriented transports MUST
 * ignore any CRLF appearing before the start-line" (done for datagrams too).
 * Bare LF line ends are accepted as well as CRLF; a CR elsewhere is an error.
 */
import { canonicalName, type SipHeader } from './message.ts';
import { isToken, trimWs } from './scanner.ts';

export const MAX_HEADERS = 256;

export interface ScannedHeader {
  header: SipHeader;
  /** Byte offsets in the input of the whole field (first byte of the name to the end of the last
   * continuation line, line end excluded). */
  start: number;
  end: number;
  /** Folded with at least one bare-LF line end (its raw bytes need CRLF normalising). */
  foldedLf: boolean;
}

export interface HeadProblem {
  reason: string;
  tooLarge: boolean;
}

export interface ScannedHead {
  /** Start line text and byte range; null if the input has no line at all. */
  startLine: { text: string; start: number; end: number } | null;
  headers: ScannedHeader[];
  /** Offset of the first body byte; -1 if the empty line ending the head was not found. */
  bodyStart: number;
  /** First problem met; scanning goes on past bad lines so that a partial request can be built. */
  problem: HeadProblem | null;
}

const LF = 0x0a;
const CR = 0x0d;

/** Skips the CR and LF bytes at `from`; returns the offset of the first other byte. */
export function skipLeadingLineEnds(buf: Buffer, from: number, limit: number): number {
  let pos = from;
  while (pos < limit && (buf[pos] === CR || buf[pos] === LF)) pos++;
  return pos;
}

interface Field {
  start: number;
  end: number;
  name: string;
  value: string;
  foldedLf: boolean;
}

export function scanHead(buf: Buffer, from: number, limit: number): ScannedHead {
  const head: ScannedHead = { startLine: null, headers: [], bodyStart: -1, problem: null };
  const problem = (reason: string, tooLarge = false) => {
    head.problem ??= { reason, tooLarge };
  };
  let field: Field | null = null;
  const flush = () => {
    if (!field) return;
    if (head.headers.length >= MAX_HEADERS) problem(`more than ${MAX_HEADERS} header fields`, true);
    else
      head.headers.push({
        header: { name: field.name, value: field.value },
        start: field.start,
        end: field.end,
        foldedLf: field.foldedLf,
      });
    field = null;
  };
  let pos = from;
  while (pos < limit) {
    const lf = buf.indexOf(LF, pos);
    const terminated = lf >= 0 && lf < limit;
    const next = terminated ? lf + 1 : limit;
    const end = terminated && lf > pos && buf[lf - 1] === CR ? lf - 1 : terminated ? lf : limit;
    const lineStart = pos;
    pos = next;
    if (!terminated) problem('message head not terminated by an empty line');
    const text = buf.toString('utf8', lineStart, end);
    if (head.startLine === null) {
      head.startLine = { text, start: lineStart, end };
      continue;
    }
    if (text.includes('\r')) {
      // Never keep a line with a stray CR: a copy of it could end a line early downstream.
      problem('bare CR in message head');
      flush();
      continue;
    }
    if (end === lineStart) {
      flush();
      head.bodyStart = next;
      return head;
    }
    const first = buf[lineStart];
    if (first === 0x20 || first === 0x09) {
      if (!field) {
        problem('continuation line without a header field');
        continue;
      }
      const more = trimWs(text);
      const f: Field = field;
      f.value = f.value && more ? `${f.value} ${more}` : f.value || more;
      f.foldedLf ||= buf[lineStart - 2] !== CR;
      f.end = end;
      continue;
    }
    flush();
    if (head.problem?.tooLarge) return head;
    const colon = text.indexOf(':');
    if (colon < 0) {
      problem('header line without a colon');
      continue;
    }
    // RFC 3261 §25.1: HCOLON = *( SP / HTAB ) ":" SWS
    const name = trimWs(text.slice(0, colon));
    if (!isToken(name)) {
      problem('header name is not a token');
      continue;
    }
    field = {
      start: lineStart,
      end,
      name: canonicalName(name),
      value: trimWs(text.slice(colon + 1)),
      foldedLf: false,
    };
  }
  flush();
  return head;
}
