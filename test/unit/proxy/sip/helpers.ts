/** Test helpers: build SIP messages from lines. */
export const BASE_REQUEST = [
  'INVITE sip:bob@example.com SIP/2.0',
  'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds;rport',
  'Max-Forwards: 70',
  'To: Bob <sip:bob@example.com>',
  'From: Alice <sip:alice@example.org>;tag=1928301774',
  'Call-ID: a84b4c76e66710@pc33.example.org',
  'CSeq: 314159 INVITE',
  'Contact: <sip:alice@192.0.2.1:5060>',
];

/** Lines joined with `eol`, an empty line, then the body (no Content-Length added). */
export function sip(lines: string[], body = '', eol = '\r\n'): Buffer {
  return Buffer.concat([Buffer.from(lines.join(eol) + eol + eol), Buffer.from(body, 'latin1')]);
}

/** BASE_REQUEST with some lines replaced (by header name prefix) or removed (null) or added. */
export function request(changes: Record<string, string | null> = {}, extra: string[] = []): string[] {
  const out: string[] = [];
  for (const line of BASE_REQUEST) {
    const key = Object.keys(changes).find((k) => line.toLowerCase().startsWith(k.toLowerCase()));
    if (key === undefined) out.push(line);
    else if (changes[key] !== null) out.push(changes[key]!);
  }
  return [...out, ...extra];
}
