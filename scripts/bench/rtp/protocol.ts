/**
 * What the runner and a forwarder process (sipmasq's media side, or the minimal relay) say to each
 * other: one JSON object per line on the forwarder's stdin, one reply line on its stdout.
 *
 *   -> {"grow": N}     make streams 0..N-1 exist (those already made are kept)
 *   <- {"routes": [...]} where the phone and the far side must send, per stream; sipmasq on the kernel
 *      path adds "counterReadMs": how long one read of the kernel counters took (nft, wall time)
 *   -> {"close": true} release everything and exit (stdin closing does the same)
 *   <- {"error": "..."} when a command fails
 */
export interface ForwarderConfig {
  readonly lanAddress: string;
  readonly wanAddress: string;
  readonly lanDevice: string;
  readonly wanDevice: string;
  readonly phoneAddress: string;
  readonly farAddress: string;
  readonly phoneBase: number;
  readonly farBase: number;
  /** sipmasq: 'kernel' (nftables) or 'relay' (firewall none). Minimal relay: its first port. */
  readonly mediaPath?: 'kernel' | 'relay';
  readonly portBase?: number;
}

export interface Route {
  readonly i: number;
  /** Where the phone sends (the far side's own endpoint on the kernel path, the relay's LAN port). */
  readonly phoneDst: readonly [string, number];
  /** Where the far side sends (WAN:X); null: it answers wherever packets come from. */
  readonly farDst: readonly [string, number] | null;
  /** What sipmasq granted: kernel or relay. */
  readonly path: string;
}

export type Reply = { routes: Route[]; counterReadMs?: number } | { error: string };

export function phonePort(base: number, i: number): number {
  return base + 2 * i;
}
