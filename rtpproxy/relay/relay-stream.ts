/**
 * One relayed media stream (one m= line): a LAN-facing socket pair the phone sends to and a WAN-facing
 * pair the far side sends to. A packet from the phone arrives on the LAN pair and leaves from the WAN
 * pair, so the far side sees our public address and the port it was told (RFC 4961 symmetric RTP); the
 * reverse for the far side.
 *
 * The per-packet path (onPacket) is kept allocation-free beyond what dgram hands us: two field
 * comparisons for the latched source, one send (on a connected socket once the latch is locked, see
 * PeerSocket), counters. It never logs and never throws.
 */
import type dgram from 'node:dgram';
import type { Clock } from '../../common/clock.ts';
import { errorText } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { Side, StreamGrant, StreamRequest, StreamStatus } from '../control.ts';
import type { Latch } from './latch.ts';
import { isLatchable, isMuxedRtcp, type PayloadMode, payloadModeOf } from './packet-kind.ts';
import type { PeerSocket } from './peer-socket.ts';
import { RelaySide } from './relay-side.ts';
import type { SocketPair } from './socket-pair.ts';

export interface RelayStreamOptions {
  clock: Clock;
  logger: Logger;
  /** RFC 7362 learning window: a packet from the exact signalled address re-latches once within it. */
  latchWindowMs: number;
  /** connect() each socket to its peer once the latch is locked (see PeerSocket). */
  connectWhenLocked: boolean;
  /** For the `call` field of every log line. */
  callId: string;
}

/** At most one socket error line per stream in this period. */
const ERROR_LOG_INTERVAL_MS = 10_000;

export class RelayStream {
  readonly lan: RelaySide;
  readonly wan: RelaySide;
  lastPacketAt: number | null = null;
  private mode: PayloadMode = 'rtp';
  private closed = false;
  private closing: Promise<void> | null = null;
  private lastErrorLogAt = Number.NEGATIVE_INFINITY;
  private suppressedErrors = 0;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly callId: string;

  constructor(
    readonly index: number,
    lanPair: SocketPair,
    wanPair: SocketPair,
    opts: RelayStreamOptions,
  ) {
    this.clock = opts.clock;
    this.logger = opts.logger;
    this.callId = opts.callId;
    this.lan = new RelaySide('lan', lanPair, opts.latchWindowMs, opts.connectWhenLocked);
    this.wan = new RelaySide('wan', wanPair, opts.latchWindowMs, opts.connectWhenLocked);
    this.listen(this.lan, this.wan);
    this.listen(this.wan, this.lan);
  }

  /** Apply one SDP's view of this stream from `from`. Returns true if that side's media moved. */
  update(from: Side, req: StreamRequest): boolean {
    if (req.endpoint === null) return false;
    this.mode = payloadModeOf(req.proto);
    const side = from === 'lan' ? this.lan : this.wan;
    return side.signal(req.endpoint, req.direction);
  }

  /**
   * What to write in the SDP sent on: an SDP from the LAN goes to the WAN, so it carries the WAN-facing
   * pair (at the public address), and the reverse. RFC 3605 a=rtcp / RFC 5761: with rtcp-mux the RTCP
   * port is the RTP port.
   */
  grant(from: Side, req: StreamRequest, addr: string): StreamGrant {
    const pair = from === 'lan' ? this.wan.pair : this.lan.pair;
    const mux = req.endpoint?.rtcpMux ?? false;
    return {
      index: this.index,
      addr,
      port: pair.port,
      rtcpPort: mux ? pair.port : pair.rtcpPort,
      path: 'relay',
    };
  }

  get onHold(): boolean {
    return this.lan.onHold || this.wan.onHold;
  }

  get pairs(): readonly SocketPair[] {
    return [this.lan.pair, this.wan.pair];
  }

  status(): StreamStatus {
    return {
      index: this.index,
      path: 'relay',
      lanLocal: this.lan.local,
      wanLocal: this.wan.local,
      lanPeer: this.lan.peer,
      wanPeer: this.wan.peer,
      lanLatched: this.lan.rtp.latched,
      wanLatched: this.wan.rtp.latched,
      onHold: this.onHold,
      lanToWan: { ...this.lan.counters },
      wanToLan: { ...this.wan.counters },
      lastPacketAt: this.lastPacketAt,
    };
  }

  /** Close the four sockets. Idempotent; resolves when they are closed. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.closing = Promise.all([this.lan.pair.close(), this.wan.pair.close()]).then(() => undefined);
    return this.closing;
  }

  private listen(src: RelaySide, dst: RelaySide): void {
    src.pair.rtp.on('message', (msg: Buffer, rinfo: dgram.RemoteInfo) =>
      this.onPacket(src, dst, false, msg, rinfo),
    );
    src.pair.rtcp.on('message', (msg: Buffer, rinfo: dgram.RemoteInfo) =>
      this.onPacket(src, dst, true, msg, rinfo),
    );
    src.pair.rtp.on('error', (err) => this.onSocketError(err, src.name, 'rtp'));
    src.pair.rtcp.on('error', (err) => this.onSocketError(err, src.name, 'rtcp'));
  }

  /**
   * RFC 7362 §4: accept from the latched source (or latch to the first valid packet), then relay
   * symmetrically. Strict source: anything else is dropped and counted.
   */
  private onPacket(
    src: RelaySide,
    dst: RelaySide,
    rtcpSocket: boolean,
    msg: Buffer,
    rinfo: dgram.RemoteInfo,
  ): void {
    if (this.closed) return;
    const counters = src.counters;
    const from = rtcpSocket ? src.rtcpPeer : src.rtpPeer;
    const latch = from.latch;
    const now = this.clock.now();
    if (!latch.matches(rinfo.address, rinfo.port)) {
      if (!latch.admit(rinfo.address, rinfo.port, isLatchable(msg, rtcpSocket, src.mux, this.mode), now)) {
        counters.dropped++;
        return;
      }
      this.onLatched(src, rtcpSocket, latch);
    }
    if (from.state === 0) from.settle(now);
    this.lastPacketAt = now;
    // RFC 5761 §4: with rtcp-mux, RTCP (PT 200-204, seen as RTP PT 72-76) shares the RTP port. Translate
    // between a muxing side and a side with a separate RTCP port. Never send toward 0.0.0.0 / port 0:
    // while the destination is unknown the packet is dropped.
    let to: PeerSocket;
    if (rtcpSocket || (src.mux && isMuxedRtcp(msg)))
      to = dst.rtcp.destPort !== 0 || !dst.mux ? dst.rtcpPeer : dst.rtpPeer;
    else to = dst.rtpPeer;
    if (!to.send(msg)) {
      counters.dropped++;
      return;
    }
    counters.packets++;
    counters.bytes += msg.length;
  }

  /** Slow path, at most a few times per endpoint: note the latch in the debug log. */
  private onLatched(side: RelaySide, rtcpSocket: boolean, latch: Latch): void {
    if (!this.logger.enabled('debug')) return;
    this.logger.debug('latched', {
      call: this.callId,
      index: this.index,
      side: side.name,
      socket: rtcpSocket ? 'rtcp' : 'rtp',
      source: `${latch.latchedAddr}:${latch.latchedPort}`,
      locked: latch.locked,
    });
  }

  /** Socket errors are logged (at most once per interval per stream), never thrown. */
  private onSocketError(err: Error, side: Side, socket: string): void {
    const now = this.clock.now();
    if (now - this.lastErrorLogAt < ERROR_LOG_INTERVAL_MS) {
      this.suppressedErrors++;
      return;
    }
    this.lastErrorLogAt = now;
    this.logger.warn('media socket error', {
      call: this.callId,
      index: this.index,
      side,
      socket,
      error: errorText(err),
      suppressed: this.suppressedErrors,
    });
    this.suppressedErrors = 0;
  }
}
