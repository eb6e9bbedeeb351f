/**
 * The SIP message as data (RFC 3261 §7): a start line, an ordered list of header fields and a body.
 * Parsing lives in parse.ts, writing in serialize.ts, header access in header-list.ts.
 */

/** One header field line. `name` is canonical: lower-case long form (compact forms mapped). */
export interface SipHeader {
  name: string;
  /** Unfolded and trimmed, otherwise as written. */
  value: string;
}

export interface SipRequest {
  type: 'request';
  method: string;
  uri: string;
  version: string;
  headers: SipHeader[];
  body: Buffer;
}

export interface SipResponse {
  type: 'response';
  status: number;
  reason: string;
  version: string;
  headers: SipHeader[];
  body: Buffer;
}

export type SipMessage = SipRequest | SipResponse;

/*
 * RFC 3261 §7.3.3 Compact Form: "SIP provides a mechanism to represent common header field names in
 * an abbreviated form." Table from RFC 3261 §20 and the IANA registry (RFC 3515, 3841, 3892, 3903,
 * 4028, 4474, 6665).
 */
const COMPACT: Readonly<Record<string, string>> = {
  a: 'accept-contact',
  b: 'referred-by',
  c: 'content-type',
  d: 'request-disposition',
  e: 'content-encoding',
  f: 'from',
  i: 'call-id',
  j: 'reject-contact',
  k: 'supported',
  l: 'content-length',
  m: 'contact',
  n: 'identity-info',
  o: 'event',
  r: 'refer-to',
  s: 'subject',
  t: 'to',
  u: 'allow-events',
  v: 'via',
  x: 'session-expires',
  y: 'identity',
};

/** Header names whose usual spelling is not plain Word-Capitalisation. */
const SPELLING: Readonly<Record<string, string>> = {
  'call-id': 'Call-ID',
  cseq: 'CSeq',
  'www-authenticate': 'WWW-Authenticate',
  'mime-version': 'MIME-Version',
  'min-se': 'Min-SE',
  rseq: 'RSeq',
  rack: 'RAck',
  'sip-etag': 'SIP-ETag',
  'sip-if-match': 'SIP-If-Match',
  'p-asserted-identity': 'P-Asserted-Identity',
  'p-preferred-identity': 'P-Preferred-Identity',
};

/** Lower-case long form of a header name: `V` -> `via`, `Call-Id` -> `call-id`. */
export function canonicalName(name: string): string {
  const lower = name.toLowerCase();
  return COMPACT[lower] ?? lower;
}

/** The conventional spelling to write a header name with: `call-id` -> `Call-ID`, `via` -> `Via`. */
export function displayName(name: string): string {
  const canon = canonicalName(name);
  const known = SPELLING[canon];
  if (known) return known;
  return canon
    .split('-')
    .map((w) => (w ? w[0]!.toUpperCase() + w.slice(1) : w))
    .join('-');
}

export function isRequest(msg: SipMessage): msg is SipRequest {
  return msg.type === 'request';
}

export function isResponse(msg: SipMessage): msg is SipResponse {
  return msg.type === 'response';
}
