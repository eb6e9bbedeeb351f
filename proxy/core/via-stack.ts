/**
 * Via handling for a stateless-forwarding proxy: stamp received/rport on arrival, push our own Via
 * with a branch that is the same for retransmissions and for the CANCEL of an INVITE, pop it from
 * responses and find where the response goes next.
 */
import { createHash } from 'node:crypto';
import { formatHostPort, ipFamily, sameAddress } from '../../common/net.ts';
import type { Side } from '../../rtpproxy/control.ts';
import { getHeader, getHeaderValues, prependHeader, setHeaderValues } from '../sip/header-list.ts';
import type { SipMessage, SipRequest } from '../sip/message.ts';
import { getParam, setParam } from '../sip/params.ts';
import { formatVia, parseVia, type Via } from '../sip/via.ts';

const OUR_BRANCH_PREFIX = 'z9hG4bKsmq';

/**
 * RFC 3261 §18.2.1: "If the host portion of the "sent-by" parameter contains a domain name, or if it
 * contains an IP address that differs from the packet source address, the server MUST add a "received"
 * parameter to that Via header field value."
 * RFC 3581 §4: "When a server compliant to this specification ... receives a request, it examines the
 * topmost Via header field value. If this Via header field value contains an "rport" parameter with no
 * value, it MUST set the value of the parameter to the source port of the request."
 * Returns false when the top Via cannot be read.
 */
export function stampReceived(msg: SipRequest, srcAddr: string, srcPort: number, stream = false): boolean {
  const vias = getHeaderValues(msg, 'via');
  const top = vias[0] !== undefined ? parseVia(vias[0]) : null;
  if (!top) return false;
  let changed = false;
  if (!ipFamily(top.host) || !sameAddress(top.host, srcAddr)) {
    setParam(top.params, 'received', srcAddr);
    changed = true;
  }
  // RFC 3261 §18.2.2: a response to a request over a connection goes back on that connection, so the
  // connection's far end (address and port) is recorded even when the client did not ask for rport.
  const rport = getParam(top.params, 'rport');
  if (rport === null || (stream && rport === undefined)) {
    setParam(top.params, 'rport', String(srcPort));
    if (getParam(top.params, 'received') === undefined) setParam(top.params, 'received', srcAddr);
    changed = true;
  }
  if (changed) setHeaderValues(msg, 'via', [formatVia(top), ...vias.slice(1)]);
  return true;
}

/**
 * RFC 3261 §16.11 (stateless proxy): "the value placed in the branch parameter ... MUST be the same
 * for a retransmission of the request" — and a CANCEL must carry the branch of the INVITE it cancels,
 * so the branch is a hash of the incoming top Via's branch (or, for RFC 2543 peers without the magic
 * cookie, of the fields §16.11 lists), marked with the side the request came from so the response
 * can be sent back out of the right socket.
 */
export function branchFor(req: SipRequest, from: Side, intercepted = false): string {
  const top = parseVia(getHeaderValues(req, 'via')[0] ?? '');
  const incoming = top ? getParam(top.params, 'branch') : undefined;
  const h = createHash('sha1');
  if (incoming?.startsWith('z9hG4bK')) h.update(`${incoming}\n${top?.host}:${top?.port ?? ''}`);
  else {
    const cseq = (getHeader(req, 'cseq') ?? '').split(/\s+/)[0];
    h.update(
      [
        req.uri,
        getHeader(req, 'to'),
        getHeader(req, 'from'),
        getHeader(req, 'call-id'),
        cseq,
        top ? formatVia(top) : '',
      ].join('\n'),
    );
  }
  if (req.method === 'ACK' && !incoming?.startsWith('z9hG4bK')) h.update('ack');
  return `${OUR_BRANCH_PREFIX}${from === 'wan' ? 'W' : intercepted ? 'T' : 'L'}${h.digest('base64url').slice(0, 20).replace(/[-_]/g, 'x')}`;
}

export function pushVia(
  msg: SipRequest,
  host: string,
  port: number,
  branch: string,
  transport = 'UDP',
): void {
  prependHeader(msg, 'via', `SIP/2.0/${transport} ${formatHostPort(host, port)};branch=${branch};rport`);
}

export interface PoppedVia {
  /** The side the request had come from: where the response goes back out. */
  readonly back: Side;
  /** It came in on the intercept socket (transparent mode): the response goes back out of it. */
  readonly intercepted: boolean;
  readonly branch: string;
  /** The next Via, the one the response is sent to. */
  readonly next: Via;
}

/**
 * RFC 3261 §16.7 step 3: "The proxy removes the topmost Via header field value from the response.
 * If no Via header field values remain in the response, the response was meant for this element and
 * MUST NOT be forwarded." Returns null when the top Via is not ours or nothing remains.
 */
export function popOwnVia(
  msg: SipMessage,
  isSelf: (host: string, port: number | undefined) => boolean,
): PoppedVia | null {
  const vias = getHeaderValues(msg, 'via');
  const top = vias[0] !== undefined ? parseVia(vias[0]) : null;
  if (!top || !isSelf(top.host, top.port)) return null;
  const branch = getParam(top.params, 'branch');
  if (typeof branch !== 'string' || !branch.startsWith(OUR_BRANCH_PREFIX)) return null;
  const next = vias[1] !== undefined ? parseVia(vias[1]) : null;
  if (!next) return null;
  setHeaderValues(msg, 'via', vias.slice(1));
  const flag = branch[OUR_BRANCH_PREFIX.length];
  return { back: flag === 'W' ? 'wan' : 'lan', intercepted: flag === 'T', branch, next };
}

/**
 * RFC 3261 §18.2.2 and RFC 3581 §4: a response goes to the `received` address (or sent-by host) and to
 * the `rport` port when it has a value, else to the sent-by port (5060 by default).
 */
export function responseDestination(via: Via): { address: string; port: number } | null {
  const received = getParam(via.params, 'received');
  const rport = getParam(via.params, 'rport');
  const address = typeof received === 'string' && ipFamily(received) ? received : via.host;
  if (!ipFamily(address)) return null;
  const port = typeof rport === 'string' && /^\d+$/.test(rport) ? Number(rport) : (via.port ?? 5060);
  return { address, port };
}
