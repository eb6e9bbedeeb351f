/**
 * The userspace relay behind the MediaControl seam: per session and media index a RelayStream with a
 * LAN-facing and a WAN-facing socket pair from the port pools, latching and strict source (RFC 7362),
 * symmetric RTP (RFC 4961), a=rtcp (RFC 3605) and rtcp-mux (RFC 5761), hold-aware idle timeouts.
 *
 * It is the composite MediaRouter (rtpproxy/media/) with no firewall and no kernel path: every stream
 * is relayed from its first SDP on. Kept as its own name for tests and for a relay-only set-up.
 */
import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import type { SocketFactory } from '../../common/socket-factory.ts';
import { MediaRouter } from '../media/media-router.ts';

export interface RelayOptions {
  /** Bind address for LAN-facing sockets (phones send here). */
  lanAddress: string;
  /** Bind address for WAN-facing sockets. */
  wanAddress: string;
  /** Address to put in grants for the WAN side (may change at runtime: hotplug). */
  publicAddress: () => string;
  /** Inclusive range; pairs are (even, even + 1). Each bind address has its own pool over the range. */
  portMin: number;
  portMax: number;
  /** No packet in either direction (and no SDP) for this long: release, reason 'timeout'. */
  idleTimeoutMs: number;
  /** Used instead while any stream is on hold. */
  holdTimeoutMs: number;
  clock: Clock;
  sockets: SocketFactory;
  logger: Logger;
  /** For the random starting point in the port range (tests inject). */
  random?: () => number;
  /** RFC 7362 learning window after the first latch (default 2000 ms). */
  latchWindowMs?: number;
  /** How long a released port pair is avoided while others are free (default 30 s). */
  portCooldownMs?: number;
  /** Period of the idle check (default 1000 ms). */
  sweepIntervalMs?: number;
  /**
   * connect() each media socket to its peer once the latch is locked (default true): the kernel then
   * enforces strict source and sends skip the per-packet lookup (about 1.4x less CPU per packet), but
   * packets from other sources after the lock are no longer seen nor counted in `dropped`.
   */
  connectWhenLocked?: boolean;
}

export class RelayControl extends MediaRouter {
  constructor(opts: RelayOptions) {
    super({ ...opts, firewall: undefined, kernel: null });
  }
}
