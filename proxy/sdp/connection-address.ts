/**
 * The `<nettype> <addrtype> <connection-address>` triple shared by c= (RFC 8866 §5.7) and a=rtcp
 * (RFC 3605 §2.1), and the hold address test of RFC 3264 §8.4.
 */
import { canonicalIp, ipFamily } from '../../common/net.ts';

export type AddrType = 'IP4' | 'IP6';

export type ConnectionResult = { ok: true; addrtype: AddrType; addr: string } | { ok: false; reason: string };

/**
 * RFC 8866 §5.7:
 *   c=<nettype> <addrtype> <connection-address>
 * "The TTL for the session is appended to the address using a slash as a separator" (IP4 multicast), and
 * "<base multicast address>[/<ttl>]/<number of addresses>". The suffix is stripped: a relay sends unicast.
 *
 * Only `IN IP4` and `IN IP6` with a literal address are accepted: the media path needs an address it can
 * send to, and a domain name here would have to be resolved by a layer that has no reason to.
 */
export function parseConnection(parts: readonly string[]): ConnectionResult {
  if (parts.length !== 3) return { ok: false, reason: `expected 3 fields, got ${parts.length}` };
  const [nettype, addrtype, raw] = parts as [string, string, string];
  if (nettype !== 'IN') return { ok: false, reason: `unknown nettype ${JSON.stringify(nettype)}` };
  if (addrtype !== 'IP4' && addrtype !== 'IP6')
    return { ok: false, reason: `unknown addrtype ${JSON.stringify(addrtype)}` };
  const addr = raw.split('/')[0] ?? '';
  const want = addrtype === 'IP4' ? 4 : 6;
  if (ipFamily(addr) !== want || addr.includes('%'))
    return { ok: false, reason: `${JSON.stringify(addr)} is not an ${addrtype} address literal` };
  return { ok: true, addrtype, addr };
}

/** IP4 or IP6, for an address known to be valid. */
export function addrTypeOf(addr: string): AddrType {
  return ipFamily(addr) === 6 ? 'IP6' : 'IP4';
}

/**
 * RFC 3264 §8.4: "the older approach of setting the connection address to 0.0.0.0 (RFC 2543)" marks a
 * stream on hold; `::` is its IPv6 counterpart.
 */
export function isHoldAddress(addr: string): boolean {
  const c = canonicalIp(addr);
  return c === '0.0.0.0' || c === '::';
}

/** True when a plan address is something we may write into SDP: an IP literal without brackets or zone. */
export function isWritableAddress(addr: unknown): addr is string {
  return typeof addr === 'string' && ipFamily(addr) !== null && !addr.includes('%');
}
