/**
 * The rules of one kernel-path stream (pure): a fixed two-way mapping WAN:X <-> phone:rtp and
 * WAN:X+1 <-> phone:rtcp.
 *
 *   dstnat   far side -> WAN:X          DNAT to the phone (only from the peer's IP once it is known)
 *   srcnat   phone:rtp -> WAN device    SNAT to WAN:X, so conntrack never picks another port and the
 *                                       far side sees the address and port it was told (RFC 4787
 *                                       endpoint-independent mapping, RFC 4961 symmetric RTP)
 *   forward  both directions accepted (and counted: the kernel path's packet counters)
 *
 * NAT hooks see only the first packet of a flow; the forward rules see every packet, so their counters
 * tell whether media flows. On nftables each of these rules is an element of one of sipmasq's sets or
 * maps (firewall/nft-sets.ts), on iptables a rule of its own. The forward accept comes before fw4's
 * `flow offload` statement (our chain is jumped to first), so media flows are not offloaded and their
 * counters keep counting.
 */
import type { FwRule } from '../firewall/fw-rule.ts';
import { type KernelMapping, type KernelRole, kernelComment } from '../firewall/rule-comment.ts';

export interface KernelContext {
  readonly wanDevice: string;
  readonly lanDevice: string;
  /** The router's WAN address (DNAT matches it, SNAT writes it). */
  readonly wanAddress: string;
}

export const IN_ROLES: readonly KernelRole[] = ['in-rtp', 'in-rtcp'];
export const OUT_ROLES: readonly KernelRole[] = ['out-rtp', 'out-rtcp'];

export function kernelRules(
  sessionId: string,
  index: number,
  m: KernelMapping,
  ctx: KernelContext,
): FwRule[] {
  const c = (role: KernelRole): string => kernelComment(sessionId, index, role, m);
  const legs: { x: number; phonePort: number; rtcp: boolean }[] = [
    { x: m.x, phonePort: m.phoneRtp, rtcp: false },
  ];
  // An RTCP port equal to the RTP port (rtcp-mux signalled as a=rtcp:<rtp port>) needs no second leg.
  if (m.phoneRtcp !== m.phoneRtp) legs.push({ x: m.x + 1, phonePort: m.phoneRtcp, rtcp: true });
  const rules: FwRule[] = [];
  for (const leg of legs) {
    const k = leg.rtcp ? 'rtcp' : 'rtp';
    rules.push(
      {
        kind: 'dnat',
        comment: c(`dnat-${k}`),
        dev: ctx.wanDevice,
        daddr: ctx.wanAddress,
        dport: leg.x,
        saddr: m.peer,
        to: m.phone,
        toPort: leg.phonePort,
      },
      {
        kind: 'snat',
        comment: c(`snat-${k}`),
        dev: ctx.wanDevice,
        saddr: m.phone,
        sport: leg.phonePort,
        to: ctx.wanAddress,
        toPort: leg.x,
      },
      {
        kind: 'fwd-in',
        comment: c(`in-${k}`),
        inDev: ctx.wanDevice,
        outDev: ctx.lanDevice,
        daddr: m.phone,
        dport: leg.phonePort,
        saddr: m.peer,
      },
      {
        kind: 'fwd-out',
        comment: c(`out-${k}`),
        inDev: ctx.lanDevice,
        outDev: ctx.wanDevice,
        saddr: m.phone,
        sport: leg.phonePort,
      },
    );
  }
  return rules;
}

export function sameMapping(a: KernelMapping | null, b: KernelMapping | null): boolean {
  if (a === null || b === null) return a === b;
  return (
    a.x === b.x &&
    a.phone === b.phone &&
    a.phoneRtp === b.phoneRtp &&
    a.phoneRtcp === b.phoneRtcp &&
    a.peer === b.peer
  );
}
