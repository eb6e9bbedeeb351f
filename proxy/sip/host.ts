/**
 * host and port as SIP writes them (RFC 3261 §25.1):
 *   hostport      = host [ ":" port ]
 *   host          = hostname / IPv4address / IPv6reference
 *   IPv6reference = "[" IPv6address "]"
 *   hostname      = *( domainlabel "." ) toplabel [ "." ]
 * Hosts are returned without brackets; hostnames are taken as written (case kept).
 */
import { ipFamily } from '../../common/net.ts';
import type { Scanner } from './scanner.ts';

function isHostnameChar(c: number): boolean {
  return (
    (c >= 0x30 && c <= 0x39) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    c === 0x2d ||
    c === 0x2e ||
    c === 0x5f
  );
}

/** Reads a host at the cursor; null if there is none or an IPv6 reference is malformed. */
export function scanHost(sc: Scanner): string | null {
  const text = sc.text;
  if (text[sc.pos] === '[') {
    const end = text.indexOf(']', sc.pos);
    if (end < 0) return null;
    const inner = text.slice(sc.pos + 1, end);
    if (ipFamily(inner) !== 6) return null;
    sc.pos = end + 1;
    return inner;
  }
  const start = sc.pos;
  while (sc.pos < text.length && isHostnameChar(text.charCodeAt(sc.pos))) sc.pos++;
  const host = text.slice(start, sc.pos);
  if (!host || host.startsWith('.') || host.includes('..')) return null;
  return host;
}

/** Reads `1*DIGIT` as a port (0..65535); undefined if no digits, null if out of range. */
export function scanPort(sc: Scanner): number | null | undefined {
  const text = sc.text;
  const start = sc.pos;
  while (sc.pos < text.length && text.charCodeAt(sc.pos) >= 0x30 && text.charCodeAt(sc.pos) <= 0x39) sc.pos++;
  const digits = text.slice(start, sc.pos);
  if (!digits) return undefined;
  if (digits.length > 5) return null;
  const port = Number(digits);
  return port <= 65535 ? port : null;
}
