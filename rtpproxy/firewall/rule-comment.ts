/**
 * The comment every sipmasq rule carries, so that sipmasq finds its own rules again (watchdog, counters,
 * reconcile after a crash). Grammar (fields separated by ':'; kernel-path rules are IPv4 only, so no
 * field holds a colon):
 *
 *   smq:@marker:<chain role>          one per chain: our rules are loaded
 *   smq:@hook                         a jump we inserted into the router's chain
 *   smq:@sip:<udp|tcp>:<port>         the SIP port opening
 *   smq:@redirect:<udp|tcp>:<port>    a transparent-mode redirect
 *   smq:@srcmap:<udp|tcp>:<phone>:<port>
 *                                     a transparent-mode source mapping towards one phone (IPv4)
 *   smq:@nohelper:<udp|tcp>:<port>    no SIP helper for flows to sipmasq's own port
 *   smq:@nohelper:redirect:<udp|tcp>:<port>
 *                                     no SIP helper for flows redirected to sipmasq from <port>
 *   smq:<session>:<index>:pin         the WAN pinhole of a relayed stream
 *   smq:<session>:<index>:k:<role>:<X>:<phone>:<phone rtp>:<phone rtcp>:<peer or *>
 *                                     a kernel-path rule; every one of them carries the whole mapping
 *                                     so that any of them is enough to rebuild the stream
 *
 * <session> is the proxy's session id when it is short and plain (the proxy's ids are 16 base64url
 * characters), else `h` and a hash of it.
 */
import { createHash } from 'node:crypto';
import { ipFamily, isValidPort } from '../../common/net.ts';
import type { ChainRole } from './fw-rule.ts';

export const PREFIX = 'smq:';

export function markerComment(role: ChainRole): string {
  return `${PREFIX}@marker:${role}`;
}

export function sipComment(proto: string, port: number): string {
  return `${PREFIX}@sip:${proto}:${port}`;
}

export function redirectComment(proto: string, port: number): string {
  return `${PREFIX}@redirect:${proto}:${port}`;
}

export function sourceMapComment(proto: string, phone: string, port: number): string {
  return `${PREFIX}@srcmap:${proto}:${phone}:${port}`;
}

export function noHelperComment(proto: string, port: number, redirected: boolean): string {
  return `${PREFIX}@nohelper:${redirected ? 'redirect:' : ''}${proto}:${port}`;
}

const PLAIN_ID = /^[A-Za-z0-9_-]{1,16}$/;

/** The session's name in comments. */
export function sessionTag(sessionId: string): string {
  if (PLAIN_ID.test(sessionId)) return sessionId;
  return `h${createHash('sha1').update(sessionId).digest('base64url').slice(0, 15)}`;
}

export function pinholeComment(sessionId: string, index: number): string {
  return `${PREFIX}${sessionTag(sessionId)}:${index}:pin`;
}

/** The kernel mapping of one stream: WAN:X <-> phone RTP, WAN:X+1 <-> phone RTCP. */
export interface KernelMapping {
  /** Public (WAN) RTP port; RTCP is X + 1. */
  readonly x: number;
  readonly phone: string;
  readonly phoneRtp: number;
  readonly phoneRtcp: number;
  /** The far side's address (by IP only), or null when anyone may send to X. */
  readonly peer: string | null;
}

export type KernelRole =
  | 'dnat-rtp'
  | 'dnat-rtcp'
  | 'snat-rtp'
  | 'snat-rtcp'
  | 'in-rtp'
  | 'in-rtcp'
  | 'out-rtp'
  | 'out-rtcp';

const KERNEL_ROLES = new Set<string>([
  'dnat-rtp',
  'dnat-rtcp',
  'snat-rtp',
  'snat-rtcp',
  'in-rtp',
  'in-rtcp',
  'out-rtp',
  'out-rtcp',
]);

export function kernelComment(sessionId: string, index: number, role: KernelRole, m: KernelMapping): string {
  return `${PREFIX}${sessionTag(sessionId)}:${index}:k:${role}:${m.x}:${m.phone}:${m.phoneRtp}:${m.phoneRtcp}:${m.peer ?? '*'}`;
}

export type ParsedComment =
  | { readonly type: 'marker' | 'hook' | 'sip' | 'redirect' | 'srcmap' | 'nohelper' }
  | { readonly type: 'pinhole'; readonly tag: string; readonly index: number }
  | {
      readonly type: 'kernel';
      readonly tag: string;
      readonly index: number;
      readonly role: KernelRole;
      readonly mapping: KernelMapping;
    };

/** Read one of our comments back; null for anything that is not ours or does not parse exactly. */
export function parseComment(comment: string): ParsedComment | null {
  if (!comment.startsWith(PREFIX)) return null;
  const f = comment.slice(PREFIX.length).split(':');
  const head = f[0] ?? '';
  if (head === '@marker') return { type: 'marker' };
  if (head === '@hook') return { type: 'hook' };
  if (head === '@sip') return { type: 'sip' };
  if (head === '@redirect') return { type: 'redirect' };
  if (head === '@srcmap') return { type: 'srcmap' };
  if (head === '@nohelper') return { type: 'nohelper' };
  if (!PLAIN_ID.test(head)) return null;
  const index = Number(f[1]);
  if (!/^\d{1,3}$/.test(f[1] ?? '')) return null;
  if (f[2] === 'pin' && f.length === 3) return { type: 'pinhole', tag: head, index };
  if (f[2] !== 'k' || f.length !== 9) return null;
  const [, , , role = '', x, phone = '', rtp, rtcp, peer = ''] = f;
  const m = {
    x: Number(x),
    phone,
    phoneRtp: Number(rtp),
    phoneRtcp: Number(rtcp),
    peer: peer === '*' ? null : peer,
  };
  if (!KERNEL_ROLES.has(role) || !isValidPort(m.x) || !isValidPort(m.phoneRtp) || !isValidPort(m.phoneRtcp))
    return null;
  if (ipFamily(m.phone) !== 4 || (m.peer !== null && ipFamily(m.peer) !== 4)) return null;
  return { type: 'kernel', tag: head, index, role: role as KernelRole, mapping: m };
}
