/**
 * One side (LAN: the phone, WAN: the far side) of a relayed stream: the local socket pair that side
 * sends to, what its SDP said (endpoint, direction, rtcp-mux), the RTP and RTCP latches that learn where
 * its packets really come from, and the counters of the packets it sent us.
 */

import { canonicalIp, formatHostPort, ipFamily } from '../../common/net.ts';
import type { DirectionCounters, MediaDirection, Side, StreamEndpoint } from '../control.ts';
import { isUnspecified, Latch } from './latch.ts';
import { PeerSocket } from './peer-socket.ts';
import type { SocketPair } from './socket-pair.ts';

export class RelaySide {
  readonly rtp: Latch;
  readonly rtcp: Latch;
  /** The local RTP/RTCP socket together with the latch of this side's peer. */
  readonly rtpPeer: PeerSocket;
  readonly rtcpPeer: PeerSocket;
  /** Packets received from this side (and sent on), bytes, and drops. */
  readonly counters: DirectionCounters = { packets: 0, bytes: 0, dropped: 0 };
  /** RFC 5761: this side multiplexes RTCP on its RTP port. */
  mux = false;
  direction: MediaDirection = 'sendrecv';
  endpoint: StreamEndpoint | null = null;

  constructor(
    readonly name: Side,
    readonly pair: SocketPair,
    latchWindowMs: number,
    connectWhenLocked: boolean,
  ) {
    this.rtp = new Latch(latchWindowMs);
    this.rtcp = new Latch(latchWindowMs);
    this.rtpPeer = new PeerSocket(pair.rtp, this.rtp, connectWhenLocked);
    this.rtcpPeer = new PeerSocket(pair.rtcp, this.rtcp, connectWhenLocked);
  }

  /**
   * Take what this side's SDP says. Returns true if its media moved (the latches were reset); the same
   * endpoint again (a retransmitted or repeated SDP) keeps what was learnt.
   *
   * RFC 3605: the RTCP port is a=rtcp when present, else RTP port + 1 (the caller resolves that into
   * `rtcpPort`). RFC 5761 §5.1.3: with rtcp-mux, RTCP goes to the RTP port; the RTCP latch then has no
   * signalled address and learns only if the peer falls back to a separate RTCP port.
   */
  signal(endpoint: StreamEndpoint, direction: MediaDirection): boolean {
    this.endpoint = endpoint;
    this.direction = direction;
    this.mux = endpoint.rtcpMux;
    const addr = this.usable(endpoint.addr);
    const rtcpAddr = this.usable(endpoint.rtcpAddr ?? endpoint.addr);
    const movedRtp = this.rtp.signal(addr, endpoint.port);
    const movedRtcp = endpoint.rtcpMux
      ? this.rtcp.signal(null, 0)
      : this.rtcp.signal(rtcpAddr, endpoint.rtcpPort);
    if (movedRtp) this.rtpPeer.reset();
    if (movedRtcp) this.rtcpPeer.reset();
    return movedRtp || movedRtcp;
  }

  /** RFC 3264 §8.4: hold is sendonly/recvonly/inactive, or (RFC 2543 style) a 0.0.0.0 address. */
  get onHold(): boolean {
    if (this.endpoint === null) return false;
    if (this.direction !== 'sendrecv') return true;
    const canon = canonicalIp(this.endpoint.addr);
    return canon !== null && isUnspecified(canon);
  }

  /** The peer as we see it: the latched RTP source, else the signalled RTP endpoint. */
  get peer(): string | null {
    const l = this.rtp;
    if (l.latchedAddr !== null) return formatHostPort(l.latchedAddr, l.latchedPort);
    if (l.signalledAddr !== null) return formatHostPort(l.signalledAddr, l.signalledPort);
    return null;
  }

  get local(): string {
    return formatHostPort(this.pair.address, this.pair.port);
  }

  /** An address we can send to from this side's sockets: same family, not unspecified. */
  private usable(addr: string): string | null {
    const canon = canonicalIp(addr);
    if (canon === null || isUnspecified(canon)) return null;
    return ipFamily(canon) === ipFamily(this.pair.address) ? canon : null;
  }
}
