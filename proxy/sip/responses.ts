/**
 * Building a response to a request (RFC 3261 §8.2.6).
 *
 * RFC 3261 §8.2.6.2: "The From field of the response MUST equal the From header field of the
 * request. The Call-ID header field of the response MUST equal the Call-ID header field of the
 * request. The CSeq header field of the response MUST equal the CSeq field of the request. The Via
 * header field values in the response MUST equal the Via header field values in the request and
 * MUST maintain the same ordering. If a request contained a To tag in the request, the To header
 * field in the response MUST equal that of the request. However, if the To header field in the
 * request did not contain a tag, the URI in the To header field in the response MUST equal the URI
 * in the To header field; additionally, the UAS MUST add a tag to the To header field in the
 * response (with the exception of the 100 (Trying) response, in which a tag MAY be present)."
 */
import { randomBytes } from 'node:crypto';
import type { SipHeader, SipRequest, SipResponse } from './message.ts';
import { canonicalName } from './message.ts';
import { getTag } from './name-addr.ts';
import { copyHeader } from './original-bytes.ts';

const COPIED = new Set(['via', 'from', 'to', 'call-id', 'cseq']);

/* RFC 3261 §21 and later RFCs (3265, 3329, 3903, 4412, 4474, 5079, 5360, 5393, 5626, 6228, 6665, 8599). */
const REASONS: Readonly<Record<number, string>> = {
  100: 'Trying',
  180: 'Ringing',
  181: 'Call Is Being Forwarded',
  182: 'Queued',
  183: 'Session Progress',
  199: 'Early Dialog Terminated',
  200: 'OK',
  202: 'Accepted',
  204: 'No Notification',
  300: 'Multiple Choices',
  301: 'Moved Permanently',
  302: 'Moved Temporarily',
  305: 'Use Proxy',
  380: 'Alternative Service',
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  410: 'Gone',
  412: 'Conditional Request Failed',
  413: 'Request Entity Too Large',
  414: 'Request-URI Too Long',
  415: 'Unsupported Media Type',
  416: 'Unsupported URI Scheme',
  417: 'Unknown Resource-Priority',
  420: 'Bad Extension',
  421: 'Extension Required',
  422: 'Session Interval Too Small',
  423: 'Interval Too Brief',
  428: 'Use Identity Header',
  429: 'Provide Referrer Identity',
  430: 'Flow Failed',
  433: 'Anonymity Disallowed',
  436: 'Bad Identity-Info',
  437: 'Unsupported Certificate',
  438: 'Invalid Identity Header',
  439: 'First Hop Lacks Outbound Support',
  440: 'Max-Breadth Exceeded',
  469: 'Bad Info Package',
  470: 'Consent Needed',
  480: 'Temporarily Unavailable',
  481: 'Call/Transaction Does Not Exist',
  482: 'Loop Detected',
  483: 'Too Many Hops',
  484: 'Address Incomplete',
  485: 'Ambiguous',
  486: 'Busy Here',
  487: 'Request Terminated',
  488: 'Not Acceptable Here',
  489: 'Bad Event',
  491: 'Request Pending',
  493: 'Undecipherable',
  494: 'Security Agreement Required',
  500: 'Server Internal Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Server Time-out',
  505: 'Version Not Supported',
  513: 'Message Too Large',
  580: 'Precondition Failure',
  600: 'Busy Everywhere',
  603: 'Decline',
  604: 'Does Not Exist Anywhere',
  606: 'Not Acceptable',
  607: 'Unwanted',
};

/** The standard reason phrase; for an unknown code, the phrase of its class (x00). */
export function reasonPhrase(status: number): string {
  return REASONS[status] ?? REASONS[Math.floor(status / 100) * 100] ?? 'Unknown';
}

/** A random To tag (64 bits, hex). */
export function createTag(): string {
  return randomBytes(8).toString('hex');
}

function withTag(to: string, tag: string): string {
  return getTag(to) === undefined ? `${to};tag=${tag}` : to;
}

/**
 * A response to `req`: Via (all, in order), From, To (tagged for status > 100 if untagged), Call-ID
 * and CSeq copied (untouched lines keep their bytes), then `opts.headers`, then Content-Length: 0.
 */
export function createResponse(
  req: SipRequest,
  status: number,
  opts: { reason?: string; toTag?: string; headers?: Array<[string, string]> } = {},
): SipResponse {
  if (!Number.isInteger(status) || status < 100 || status > 699)
    throw new TypeError(`bad status code ${status}`);
  const headers: SipHeader[] = [];
  for (const h of req.headers) {
    if (!COPIED.has(h.name)) continue;
    if (h.name === 'to' && status > 100) {
      const value = withTag(h.value, opts.toTag ?? createTag());
      headers.push(value === h.value ? copyHeader(h) : { name: 'to', value });
    } else headers.push(copyHeader(h));
  }
  for (const [name, value] of opts.headers ?? []) headers.push({ name: canonicalName(name), value });
  if (!headers.some((h) => h.name === 'content-length')) headers.push({ name: 'content-length', value: '0' });
  return {
    type: 'response',
    status,
    reason: opts.reason ?? reasonPhrase(status),
    version: 'SIP/2.0',
    headers,
    body: Buffer.alloc(0),
  };
}
