/**
 * Kernel or relay for one stream (pure), decided when the far side's SDP is known.
 *
 * The kernel path forwards media between the far side and the phone by NAT alone, so it needs a far
 * side that is reachable at the address its SDP states. It is refused (relay instead, which latches
 * onto where packets really come from, RFC 7362) when:
 *   - the kernel path is unavailable (no firewall backend, mediaPath relay, devices unknown, IPv6);
 *   - the far side's address is private (RFC 1918 / RFC 6598 / link-local: its SDP is wrong for us,
 *     or it is a LAN phone reached through the provider), or one of our own addresses;
 *   - the address is 0.0.0.0 (RFC 2543 hold: no peer to map to), not IPv4, or not an address at all;
 *   - its RTCP goes to another address than its RTP (the DNAT peer filter is one address).
 */
import { canonicalIp, ipFamily, isPrivateAddress, sameAddress } from '../../common/net.ts';
import type { MediaPath, StreamEndpoint } from '../control.ts';

export interface PathContext {
  /** Null when the kernel path is possible, else why not. */
  readonly kernelUnavailable: string | null;
  /** Our own addresses (public, WAN, LAN). */
  readonly own: readonly string[];
}

export interface PathDecision {
  readonly path: MediaPath;
  readonly reason: string;
}

export function choosePath(
  far: StreamEndpoint,
  phone: StreamEndpoint | null,
  ctx: PathContext,
): PathDecision {
  const relay = (reason: string): PathDecision => ({ path: 'relay', reason });
  if (ctx.kernelUnavailable !== null) return relay(ctx.kernelUnavailable);
  const addr = canonicalIp(far.addr);
  if (addr === null) return relay('far side address unknown');
  if (addr === '0.0.0.0') return relay('far side on hold (0.0.0.0)');
  if (ipFamily(addr) !== 4) return relay('far side not IPv4');
  if (isPrivateAddress(addr)) return relay('far side address private');
  if (ctx.own.some((o) => sameAddress(o, addr))) return relay('far side is our own address');
  if (far.rtcpAddr !== undefined && !far.rtcpMux && !sameAddress(far.rtcpAddr, addr))
    return relay('far side RTCP on another address');
  if (phone !== null && ipFamily(phone.addr) !== 4) return relay('phone not IPv4');
  return { path: 'kernel', reason: 'public far side' };
}
