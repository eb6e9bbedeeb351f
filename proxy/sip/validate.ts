/**
 * The header checks parse.ts applies before it accepts a message. Each returns the reason for a 400
 * or null when the header fields are acceptable.
 *
 * RFC 3261 §8.1.1: "A valid SIP request formulated by a UAC MUST, at a minimum, contain the
 * following header fields: To, From, CSeq, Call-ID, Max-Forwards, and Via; all of these header
 * fields are mandatory in all SIP requests." (Max-Forwards is not required here: a proxy adds it,
 * RFC 3261 §16.6 step 3.)
 * RFC 3261 §20.16: "The method MUST match that of the request." (the CSeq method)
 */

import { parseCSeq } from './cseq.ts';
import { splitHeaderList } from './header-list.ts';
import { displayName, type SipHeader } from './message.ts';
import { parseNameAddr } from './name-addr.ts';
import { parseVia } from './via.ts';

const SINGLE = ['from', 'to', 'call-id', 'cseq'] as const;

function values(headers: SipHeader[], name: string): string[] {
  return headers.filter((h) => h.name === name).map((h) => h.value);
}

/** The top Via can be read: a response could be sent back. */
export function topViaReadable(headers: SipHeader[]): boolean {
  const first = headers.find((h) => h.name === 'via');
  const top = first ? splitHeaderList(first.value)[0] : undefined;
  return top !== undefined && parseVia(top) !== null;
}

/** Via, From, To, Call-ID and CSeq are there, enough to build a response to a request. */
export function canRespond(headers: SipHeader[]): boolean {
  return topViaReadable(headers) && SINGLE.every((n) => headers.some((h) => h.name === n && h.value !== ''));
}

/** `1*DIGIT`, at most 10 digits; the number, or null. */
export function decimal(text: string): number | null {
  return /^[0-9]{1,10}$/.test(text) ? Number(text) : null;
}

function checkVia(headers: SipHeader[]): string | null {
  const vias = values(headers, 'via');
  if (vias.length === 0) return 'missing Via header';
  for (const line of vias) {
    for (const v of splitHeaderList(line)) if (parseVia(v) === null) return 'malformed Via header';
  }
  return null;
}

function checkSingles(headers: SipHeader[], method: string | null): string | null {
  for (const n of SINGLE) {
    const v = values(headers, n);
    if (v.length === 0) return `missing ${displayName(n)} header`;
    if (v.length > 1) return `multiple ${displayName(n)} headers`;
  }
  for (const n of ['from', 'to'] as const) {
    const na = parseNameAddr(values(headers, n)[0]!);
    if (!na || na.star) return `malformed ${displayName(n)} header`;
  }
  const callId = values(headers, 'call-id')[0]!;
  if (callId === '' || /[ \t]/.test(callId)) return 'malformed Call-ID header';
  const cseq = parseCSeq(values(headers, 'cseq')[0]!);
  if (!cseq) return 'malformed CSeq header';
  if (method !== null && cseq.method !== method) return 'CSeq method does not match the request method';
  return null;
}

function checkNumbers(headers: SipHeader[]): string | null {
  const mf = values(headers, 'max-forwards');
  if (mf.length > 1) return 'multiple Max-Forwards headers';
  if (mf.length === 1) {
    const n = decimal(mf[0]!);
    if (n === null || n > 255) return 'malformed Max-Forwards header';
  }
  const cl = values(headers, 'content-length').map(decimal);
  if (cl.some((n) => n === null)) return 'malformed Content-Length header';
  if (cl.some((n) => n !== cl[0])) return 'conflicting Content-Length headers';
  return null;
}

function checkContact(headers: SipHeader[]): string | null {
  const all = values(headers, 'contact').flatMap(splitHeaderList);
  for (const c of all) {
    const na = parseNameAddr(c);
    if (!na || (na.star && all.length > 1)) return 'malformed Contact header';
  }
  return null;
}

/** `method` is the request method, or null for a response. */
export function checkHeaders(headers: SipHeader[], method: string | null): string | null {
  return checkVia(headers) ?? checkSingles(headers, method) ?? checkNumbers(headers) ?? checkContact(headers);
}
