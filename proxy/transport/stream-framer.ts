/**
 * Framing of SIP messages on a byte stream (TCP). Pure: no sockets, no timers.
 *
 * RFC 3261 §18.3: "In the case of stream-oriented transports such as TCP, the Content-Length header
 * field indicates the size of the body. All implementations MUST use the Content-Length header field
 * to determine the end of a message." and §20.14: "If a stream-based protocol (such as TCP) is used
 * as transport, the header field MUST be used."
 * RFC 3261 §7.5: "Implementations processing SIP messages over stream-oriented transports MUST ignore
 * any CRLF appearing before the start-line".
 * RFC 5626 §3.5.1: "the client periodically sends a double-CRLF (the "ping") then waits to receive a
 * single CRLF (the "pong")" and §4.4.1: "When a server receives a double CRLF sequence between SIP
 * messages on a connection-oriented transport ... it MUST immediately respond with a single CRLF".
 *
 * Bounded: a head longer than maxSize, a message (head + Content-Length) longer than maxSize, or a head
 * without a valid Content-Length is a framing error value; the framer then refuses further input (the
 * connection cannot be resynchronised and is closed). Nothing is ever buffered beyond maxSize plus the
 * chunk being read. Linear: each byte is scanned once for the end of the head and moved at most once.
 * The end of the head is the first empty line, CRLF or bare LF (as parse.ts reads heads).
 */

export interface FramingError {
  readonly code: 'SMQ_ERR_SIP_PARSE' | 'SMQ_ERR_SIP_TOO_LARGE';
  readonly reason: string;
  /** The response the peer may be given before the connection closes: 400 or 513. */
  readonly status: 400 | 513;
  /** The offending head as read so far (at most maxSize bytes), to build that response from. */
  readonly head: Buffer;
}

export type FramerEvent =
  /** One complete message: head and exactly Content-Length body bytes, leading line ends removed. */
  | { readonly kind: 'message'; readonly data: Buffer }
  /** A double-CRLF ping between messages (RFC 5626): answer it with a single CRLF. */
  | { readonly kind: 'keepalive' }
  /** The stream cannot be framed; the framer accepts nothing more. */
  | { readonly kind: 'error'; readonly error: FramingError };

export interface StreamFramerOptions {
  /** Largest accepted message, head and body (default 65535, as parse.ts). */
  maxSize?: number;
}

const CR = 0x0d;
const LF = 0x0a;
const INITIAL_CAPACITY = 4096;

type Phase = 'idle' | 'head' | 'body' | 'failed';

/** `1*DIGIT`, at most 10 digits (as validate.ts). */
function decimal(text: string): number | null {
  return /^[0-9]{1,10}$/.test(text) ? Number(text) : null;
}

/**
 * The Content-Length of a head (long name or compact `l`, RFC 3261 §7.3.3, folded lines joined), or the
 * reason it is unusable. Duplicates must agree (RFC 3261 §20.14 allows one value; two different values
 * would let two parsers see two different messages).
 */
export function contentLengthOf(head: Buffer): number | string {
  const lines = head.toString('latin1').split('\n');
  const values: string[] = [];
  let inCl = false;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!.endsWith('\r') ? lines[i]!.slice(0, -1) : lines[i]!;
    if (line === '') break;
    if (line[0] === ' ' || line[0] === '\t') {
      if (inCl) values[values.length - 1] += ` ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    const name = (colon < 0 ? '' : line.slice(0, colon)).trim().toLowerCase();
    inCl = name === 'content-length' || name === 'l';
    if (inCl) values.push(line.slice(colon + 1));
  }
  if (values.length === 0) return 'missing Content-Length header (mandatory on TCP)';
  const numbers = values.map((v) => decimal(v.trim()));
  const first = numbers[0];
  if (first === null || first === undefined || numbers.some((n) => n === null))
    return 'malformed Content-Length header';
  if (numbers.some((n) => n !== first)) return 'conflicting Content-Length headers';
  return first;
}

export class StreamFramer {
  private readonly maxSize: number;
  private buf = Buffer.alloc(0);
  /** Unconsumed bytes are buf[start, end). */
  private start = 0;
  private end = 0;
  private phase: Phase = 'idle';
  /** How much of "\r\n\r\n" the line ends skipped while idle have matched (0-3). */
  private ping = 0;
  /** Head: bytes after `start` already searched for the empty line. */
  private scanned = 0;
  /** Body: total length of the current message from `start`. */
  private total = 0;

  constructor(opts: StreamFramerOptions = {}) {
    const maxSize = opts.maxSize ?? 65535;
    if (!Number.isInteger(maxSize) || maxSize <= 0)
      throw new TypeError(`maxSize must be a positive integer: ${maxSize}`);
    this.maxSize = maxSize;
  }

  /** True once a framing error was reported: the stream is unusable. */
  get failed(): boolean {
    return this.phase === 'failed';
  }

  /** Bytes held for an incomplete message (never more than maxSize plus one chunk). */
  get buffered(): number {
    return this.end - this.start;
  }

  /** Feeds the next bytes of the stream; returns what they completed, in order. Never throws. */
  push(chunk: Buffer): FramerEvent[] {
    if (this.phase === 'failed' || chunk.length === 0) return [];
    this.append(chunk);
    const events: FramerEvent[] = [];
    for (;;) {
      const ev = this.step();
      if (!ev) break;
      events.push(ev);
      if (ev.kind === 'error') break;
    }
    if (this.start === this.end) {
      this.start = this.end = 0;
      // Give back the room a large message needed: many idle connections must stay cheap.
      if (this.buf.length > 4 * INITIAL_CAPACITY) this.buf = Buffer.alloc(0);
    }
    return events;
  }

  private append(chunk: Buffer): void {
    if (this.start > 0) {
      // Once per message at most: the bytes moved here belong to the message in progress.
      this.buf.copyWithin(0, this.start, this.end);
      this.end -= this.start;
      this.start = 0;
    }
    const need = this.end + chunk.length;
    if (need > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2, INITIAL_CAPACITY));
      this.buf.copy(grown, 0, 0, this.end);
      this.buf = grown;
    }
    chunk.copy(this.buf, this.end);
    this.end += chunk.length;
  }

  /** Advances one event, or returns null when more bytes are needed. */
  private step(): FramerEvent | null {
    if (this.phase === 'idle' && !this.skipLineEnds()) return this.takePing();
    if (this.phase === 'head') {
      const headEnd = this.findHeadEnd();
      if (headEnd < 0) {
        return this.end - this.start > this.maxSize
          ? this.fail('SMQ_ERR_SIP_TOO_LARGE', `message head larger than ${this.maxSize} bytes`, 513)
          : null;
      }
      const headLen = headEnd - this.start;
      if (headLen > this.maxSize)
        return this.fail('SMQ_ERR_SIP_TOO_LARGE', `message head larger than ${this.maxSize} bytes`, 513);
      const cl = contentLengthOf(this.buf.subarray(this.start, headEnd));
      if (typeof cl === 'string') return this.fail('SMQ_ERR_SIP_PARSE', cl, 400, headLen);
      if (headLen + cl > this.maxSize)
        return this.fail('SMQ_ERR_SIP_TOO_LARGE', `message larger than ${this.maxSize} bytes`, 513, headLen);
      this.total = headLen + cl;
      this.phase = 'body';
    }
    if (this.phase === 'body') {
      if (this.end - this.start < this.total) return null;
      const data = Buffer.from(this.buf.subarray(this.start, this.start + this.total));
      this.start += this.total;
      this.phase = 'idle';
      this.ping = 0;
      return { kind: 'message', data };
    }
    return null;
  }

  /**
   * Idle: consumes CR and LF bytes, matching "\r\n\r\n" for a ping. Returns true when a message starts
   * (phase is then 'head'), false when the input ran out or a ping completed (takePing tells which).
   */
  private skipLineEnds(): boolean {
    while (this.start < this.end) {
      const b = this.buf[this.start]!;
      if (b !== CR && b !== LF) {
        this.phase = 'head';
        this.scanned = 0;
        this.ping = 0;
        return true;
      }
      this.start++;
      const expected = this.ping % 2 === 0 ? CR : LF;
      if (b === expected) this.ping++;
      else this.ping = b === CR ? 1 : 0;
      if (this.ping === 4) return false;
    }
    return false;
  }

  private takePing(): FramerEvent | null {
    if (this.ping !== 4) return null;
    this.ping = 0;
    return { kind: 'keepalive' };
  }

  /** Absolute offset just past the empty line ending the head, or -1 (more bytes needed). */
  private findHeadEnd(): number {
    // Searched within [0, end): the bytes past `end` are spare capacity, not input.
    const input = this.buf.subarray(0, this.end);
    let pos = this.start + this.scanned;
    for (;;) {
      const lf = input.indexOf(LF, pos);
      if (lf < 0) {
        this.scanned = this.end - this.start;
        return -1;
      }
      // An LF followed by LF or by CRLF ends the head; wait when those bytes are not here yet.
      const next = lf + 1;
      if (next >= this.end || (this.buf[next] === CR && next + 1 >= this.end)) {
        this.scanned = lf - this.start;
        return -1;
      }
      if (this.buf[next] === LF) return next + 1;
      if (this.buf[next] === CR && this.buf[next + 1] === LF) return next + 2;
      pos = next;
    }
  }

  private fail(
    code: FramingError['code'],
    reason: string,
    status: FramingError['status'],
    headLen = Math.min(this.end - this.start, this.maxSize),
  ): FramerEvent {
    const head = Buffer.from(this.buf.subarray(this.start, this.start + headLen));
    this.phase = 'failed';
    this.buf = Buffer.alloc(0);
    this.start = this.end = 0;
    return { kind: 'error', error: { code, reason, status, head } };
  }
}
