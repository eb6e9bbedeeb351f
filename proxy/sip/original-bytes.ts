/**
 * Remembers the bytes a header line or start line had on the wire, so that serialize.ts can write an
 * untouched line exactly as received (name spelling, compact form, spacing, folding). The record
 * hangs off the object under a non-enumerable symbol: messages stay plain data for deepEqual, JSON
 * and spreading (a spread copy has no record and is written canonically), and no WeakMap churns the
 * garbage collector. A line whose name or value was changed has no usable record either.
 */
import type { SipHeader, SipMessage } from './message.ts';

interface Original {
  /** Shared copy of the message head; the line is src[start, end). */
  src: Buffer;
  start: number;
  end: number;
  /** The fields as parsed from those bytes: a mismatch means the object was changed since. */
  a: string;
  b: string;
  c: string;
}

const ORIGINAL = Symbol('sipmasq.originalBytes');

type Tagged = { [ORIGINAL]?: Original };

function attach(obj: object, rec: Original): void {
  Object.defineProperty(obj, ORIGINAL, { value: rec, enumerable: false, writable: true, configurable: true });
}

function record(obj: object): Original | undefined {
  return (obj as Tagged)[ORIGINAL];
}

function startFields(msg: SipMessage): [string, string, string] {
  return msg.type === 'request'
    ? [msg.method, msg.uri, msg.version]
    : [msg.version, String(msg.status), msg.reason];
}

export function rememberHeader(h: SipHeader, src: Buffer, start: number, end: number): void {
  attach(h, { src, start, end, a: h.name, b: h.value, c: '' });
}

/** The original bytes of a header line (without its line end) if it is unchanged since parsing. */
export function originalHeader(h: SipHeader): Buffer | undefined {
  const r = record(h);
  return r && r.a === h.name && r.b === h.value ? r.src.subarray(r.start, r.end) : undefined;
}

/** A copy of a header that keeps the original bytes (for responses built from a request). */
export function copyHeader(h: SipHeader): SipHeader {
  const c: SipHeader = { name: h.name, value: h.value };
  const r = record(h);
  if (r && r.a === h.name && r.b === h.value) attach(c, r);
  return c;
}

export function rememberStartLine(msg: SipMessage, src: Buffer, start: number, end: number): void {
  const [a, b, c] = startFields(msg);
  attach(msg, { src, start, end, a, b, c });
}

/** The original start line bytes (without line end) if method/URI/version or status/reason are unchanged. */
export function originalStartLine(msg: SipMessage): Buffer | undefined {
  const r = record(msg);
  if (!r) return undefined;
  const [a, b, c] = startFields(msg);
  return r.a === a && r.b === b && r.c === c ? r.src.subarray(r.start, r.end) : undefined;
}
