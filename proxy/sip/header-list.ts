/**
 * Reading and editing the header fields of a message. Names are matched case-insensitively and
 * compact forms are accepted ('v' finds Via). New lines are stored under the canonical name.
 *
 * RFC 3261 §7.3.1: "Multiple header field rows with the same field-name MAY be present in a message
 * if and only if the entire field-value for that header field is defined as a comma-separated list
 * ... It MUST be possible to combine the multiple header field rows into one ... without changing
 * the semantics of the message". The relative order of rows with the same name is kept.
 */
import { canonicalName, type SipHeader, type SipMessage } from './message.ts';
import { trimWs } from './scanner.ts';

/** The first line's value, or undefined. */
export function getHeader(msg: SipMessage, name: string): string | undefined {
  const n = canonicalName(name);
  return msg.headers.find((h) => h.name === n)?.value;
}

/** Every line's value, in order. */
export function getHeaders(msg: SipMessage, name: string): string[] {
  const n = canonicalName(name);
  return msg.headers.filter((h) => h.name === n).map((h) => h.value);
}

/**
 * Every element of every line, split at top-level commas (for Via, Contact, Route, Record-Route and
 * other list headers). Empty elements are left out. Not for WWW-Authenticate and friends, whose
 * commas separate auth-params.
 */
export function getHeaderValues(msg: SipMessage, name: string): string[] {
  return getHeaders(msg, name).flatMap((v) => splitHeaderList(v).filter((e) => e !== ''));
}

export function hasHeader(msg: SipMessage, name: string): boolean {
  const n = canonicalName(name);
  return msg.headers.some((h) => h.name === n);
}

/** Replaces all lines of that name with one line at the first one's position (appended if none). */
export function setHeader(msg: SipMessage, name: string, value: string): void {
  setHeaderValues(msg, name, [value]);
}

/** Replaces all lines of that name with one line per value at the first one's position. */
export function setHeaderValues(msg: SipMessage, name: string, values: string[]): void {
  const n = canonicalName(name);
  const first = msg.headers.findIndex((h) => h.name === n);
  const rows: SipHeader[] = values.map((value) => ({ name: n, value }));
  if (first < 0) {
    msg.headers.push(...rows);
    return;
  }
  const kept = msg.headers.filter((h, i) => i < first || h.name !== n);
  kept.splice(first, 0, ...rows);
  msg.headers.splice(0, msg.headers.length, ...kept);
}

export function removeHeader(msg: SipMessage, name: string): void {
  setHeaderValues(msg, name, []);
}

/** Inserts a line before the first line of that name, or at the very top if there is none. */
export function prependHeader(msg: SipMessage, name: string, value: string): void {
  const n = canonicalName(name);
  const first = msg.headers.findIndex((h) => h.name === n);
  msg.headers.splice(Math.max(first, 0), 0, { name: n, value });
}

/** Appends a line after the last line of that name, or at the end if there is none. */
export function appendHeader(msg: SipMessage, name: string, value: string): void {
  const n = canonicalName(name);
  let last = -1;
  msg.headers.forEach((h, i) => {
    if (h.name === n) last = i;
  });
  msg.headers.splice(last < 0 ? msg.headers.length : last + 1, 0, { name: n, value });
}

/**
 * Splits a header value at commas that are outside quoted strings and outside <...>; each element
 * is trimmed. An empty or blank value gives []. Empty elements (",,") are kept so callers can
 * reject them.
 */
export function splitHeaderList(value: string): string[] {
  if (trimWs(value) === '') return [];
  const out: string[] = [];
  let start = 0;
  let inQuote = false;
  let inAngle = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (inQuote) {
      if (c === '\\') i++;
      else if (c === '"') inQuote = false;
    } else if (c === '"') inQuote = true;
    else if (inAngle) {
      if (c === '>') inAngle = false;
    } else if (c === '<') inAngle = true;
    else if (c === ',') {
      out.push(trimWs(value.slice(start, i)));
      start = i + 1;
    }
  }
  out.push(trimWs(value.slice(start)));
  return out;
}
