/**
 * One media stream (one m= line) behind the composite: the WAN port pair X it owns from allocation to
 * release, and the path serving it.
 *
 *   pending  X is granted to the far side (the phone's offer came first) and held by a bound socket
 *            pair; nothing is open. The far side's SDP decides (path-choice.ts).
 *   kernel   X stays a reservation (DNAT happens in prerouting, the sockets never receive); NAT rules
 *            map WAN:X <-> phone once both ends are known. The phone is told the far side's own
 *            endpoint.
 *   relay    the bound pair X becomes the WAN side of a RelayStream with a LAN pair; the WAN pinhole
 *            for X and X+1 is opened (only from the far side's IP when its SDP address is public).
 *
 * A stream goes pending -> kernel | relay, and kernel -> relay when a re-INVITE moves the far side
 * somewhere the kernel path cannot serve; never back from relay. Firewall changes are staged here and
 * committed by the router, which also runs the conntrack clean-ups collected in `forgets`.
 */
import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import { canonicalIp, formatHostPort, ipFamily, isPrivateAddress, sameAddress } from '../../common/net.ts';
import type {
  DirectionCounters,
  MediaPath,
  Side,
  StreamGrant,
  StreamRequest,
  StreamStatus,
} from '../control.ts';
import type { ConntrackTarget } from '../firewall/conntrack-cleaner.ts';
import type { Firewall } from '../firewall/firewall.ts';
import type { FwRule } from '../firewall/fw-rule.ts';
import { type KernelMapping, pinholeComment } from '../firewall/rule-comment.ts';
import { IN_ROLES, type KernelContext, kernelRules, OUT_ROLES, sameMapping } from '../kernel/kernel-rules.ts';
import { RelayStream } from '../relay/relay-stream.ts';
import type { SocketPair } from '../relay/socket-pair.ts';
import { choosePath, type PathContext } from './path-choice.ts';

export interface StreamEnv {
  readonly sessionId: string;
  readonly callId: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly lanAddress: string;
  readonly publicAddress: () => string;
  readonly latchWindowMs: number;
  readonly connectWhenLocked: boolean;
  readonly leaseLan: () => Promise<SocketPair>;
  readonly firewall: Firewall;
  /** Where relay pinholes go; null when there are none to make (no backend, no WAN device). */
  readonly pinholes: { readonly dev: string; readonly wanAddress: string } | null;
  readonly kernel: KernelContext | null;
  readonly pathContext: () => PathContext;
}

export type StreamMode = 'pending' | 'kernel' | 'relay';

export class MediaStream {
  mode: StreamMode;
  relay: RelayStream | null = null;
  /** The staged kernel mapping (null until both ends are known). */
  mapping: KernelMapping | null = null;
  lanReq: StreamRequest | null = null;
  wanReq: StreamRequest | null = null;
  /** Conntrack clean-ups to run once the staged rules are committed. */
  readonly forgets: ConntrackTarget[] = [];
  private readonly lanToWan: DirectionCounters = { packets: 0, bytes: 0, dropped: 0 };
  private readonly wanToLan: DirectionCounters = { packets: 0, bytes: 0, dropped: 0 };
  private kernelPacketAt: number | null = null;
  private closing: Promise<readonly SocketPair[]> | null = null;

  constructor(
    readonly index: number,
    readonly wan: SocketPair,
    private readonly env: StreamEnv,
    lanPair: SocketPair | null,
  ) {
    this.mode = lanPair === null ? 'pending' : 'relay';
    if (lanPair !== null) this.relay = this.makeRelay(lanPair);
  }

  get key(): string {
    return `${this.env.sessionId}#${this.index}`;
  }

  /** Rebuild a kernel stream from its rules (reconcile after a restart). */
  adopt(mapping: KernelMapping): void {
    this.mode = 'kernel';
    this.mapping = mapping;
    const endpoint = {
      addr: mapping.phone,
      port: mapping.phoneRtp,
      rtcpPort: mapping.phoneRtcp,
      rtcpMux: false,
    };
    this.lanReq = { index: this.index, endpoint, direction: 'sendrecv', proto: 'RTP/AVP' };
    this.stage();
  }

  /** Apply one SDP's view of this stream (endpoint not null). */
  async update(from: Side, req: StreamRequest): Promise<void> {
    if (from === 'lan') this.lanReq = req;
    else this.wanReq = req;
    if (from === 'wan' && req.endpoint !== null && this.mode !== 'relay') {
      const d = choosePath(req.endpoint, this.lanReq?.endpoint ?? null, this.env.pathContext());
      if (d.path === 'relay') await this.toRelay(d.reason);
      else if (this.mode === 'pending') {
        this.mode = 'kernel';
        this.env.logger.debug('kernel path', { call: this.env.callId, index: this.index, reason: d.reason });
      }
    }
    if (this.relay) this.relay.update(from, req);
    this.stage();
  }

  grant(from: Side, req: StreamRequest): StreamGrant {
    const mux = req.endpoint?.rtcpMux ?? false;
    if (from === 'lan') {
      const addr = this.env.publicAddress();
      if (this.relay) return this.relay.grant('lan', req, addr);
      return {
        index: this.index,
        addr,
        port: this.wan.port,
        rtcpPort: mux ? this.wan.port : this.wan.rtcpPort,
        path: this.path,
      };
    }
    if (this.relay) return this.relay.grant('wan', req, this.env.lanAddress);
    // Kernel path: the phone talks to the far side's own endpoint; the router NATs it to WAN:X.
    const far = req.endpoint!;
    return {
      index: this.index,
      addr: far.addr,
      port: far.port,
      rtcpPort: mux ? far.port : far.rtcpPort,
      path: 'kernel',
    };
  }

  get path(): MediaPath {
    return this.mode === 'relay' || this.env.kernel === null ? 'relay' : 'kernel';
  }

  get onHold(): boolean {
    if (this.relay) return this.relay.onHold;
    return [this.lanReq, this.wanReq].some(
      (r) => r !== null && (r.direction !== 'sendrecv' || canonicalIp(r.endpoint?.addr ?? '') === '0.0.0.0'),
    );
  }

  get lastPacketAt(): number | null {
    return this.relay ? this.relay.lastPacketAt : this.kernelPacketAt;
  }

  /** The sockets this stream holds (to return their ports to the pools). */
  get pairs(): readonly SocketPair[] {
    return this.relay ? this.relay.pairs : [this.wan];
  }

  /** Take the kernel counters the firewall just read; packets seen since the last look = activity. */
  readCounters(now: number): void {
    if (this.mode !== 'kernel' || this.mapping === null) return;
    const m = this.mapping;
    const sum = (roles: readonly string[], into: DirectionCounters): boolean => {
      let packets = 0;
      let bytes = 0;
      for (const r of this.env.firewall.get(this.key) ?? []) {
        if (!roles.some((role) => r.comment.includes(`:k:${role}:`))) continue;
        const c = this.env.firewall.counter(r.comment);
        packets += c?.packets ?? 0;
        bytes += c?.bytes ?? 0;
      }
      const moved = packets > into.packets;
      into.packets = Math.max(into.packets, packets);
      into.bytes = Math.max(into.bytes, bytes);
      return moved;
    };
    const a = sum(OUT_ROLES, this.lanToWan);
    const b = sum(IN_ROLES, this.wanToLan);
    if ((a || b) && m === this.mapping) this.kernelPacketAt = now;
  }

  status(): StreamStatus {
    if (this.relay) return this.relay.status();
    const m = this.mapping;
    const far = this.wanReq?.endpoint;
    const phone = this.lanReq?.endpoint;
    return {
      index: this.index,
      path: this.path,
      lanLocal: far ? formatHostPort(far.addr, far.port) : '',
      wanLocal: formatHostPort(this.env.publicAddress(), this.wan.port),
      lanPeer: phone
        ? formatHostPort(phone.addr, phone.port)
        : m
          ? formatHostPort(m.phone, m.phoneRtp)
          : null,
      wanPeer: far ? formatHostPort(far.addr, far.port) : (m?.peer ?? null),
      lanLatched: this.lanToWan.packets > 0,
      wanLatched: this.wanToLan.packets > 0,
      onHold: this.onHold,
      lanToWan: { ...this.lanToWan },
      wanToLan: { ...this.wanToLan },
      lastPacketAt: this.kernelPacketAt,
    };
  }

  /** Close the sockets and unstage the rules (the router commits). Idempotent; resolves with the pairs. */
  close(): Promise<readonly SocketPair[]> {
    if (this.closing) return this.closing;
    this.env.firewall.delete(this.key);
    if (this.mapping) this.forgets.push(this.mapping);
    this.mapping = null;
    const pairs = this.pairs;
    this.closing = (this.relay ? this.relay.close() : this.wan.close()).then(() => pairs);
    return this.closing;
  }

  private async toRelay(reason: string): Promise<void> {
    const lan = await this.env.leaseLan();
    const was = this.mode;
    if (this.mapping) this.forgets.push(this.mapping);
    this.mapping = null;
    this.mode = 'relay';
    this.relay = this.makeRelay(lan);
    if (this.lanReq?.endpoint) this.relay.update('lan', this.lanReq);
    this.env.logger.info('relay path', { call: this.env.callId, index: this.index, reason, was });
  }

  private makeRelay(lan: SocketPair): RelayStream {
    return new RelayStream(this.index, lan, this.wan, {
      clock: this.env.clock,
      logger: this.env.logger,
      latchWindowMs: this.env.latchWindowMs,
      connectWhenLocked: this.env.connectWhenLocked,
      callId: this.env.callId,
    });
  }

  /** Stage this stream's rules in the firewall (kernel mapping or relay pinhole). */
  private stage(): void {
    let rules: FwRule[] = [];
    if (this.mode === 'kernel' && this.env.kernel) {
      const next = this.nextMapping();
      if (!sameMapping(next, this.mapping)) {
        if (this.mapping) this.forgets.push(this.mapping);
        if (next) this.forgets.push(next);
        this.mapping = next;
      }
      if (next) rules = kernelRules(this.env.sessionId, this.index, next, this.env.kernel);
    } else if (this.mode === 'relay' && this.env.pinholes) {
      const p = this.env.pinholes;
      rules = [
        {
          kind: 'accept-in',
          comment: pinholeComment(this.env.sessionId, this.index),
          dev: p.dev,
          daddr: p.wanAddress,
          proto: 'udp',
          ports: [this.wan.port, this.wan.rtcpPort],
          saddr: this.pinholePeer(p.wanAddress),
        },
      ];
    }
    this.env.firewall.set(this.key, rules);
  }

  /** Phone and peer from the latest SDPs; a hold (0.0.0.0) keeps the previous ends. */
  private nextMapping(): KernelMapping | null {
    const prev = this.mapping;
    const ph = this.lanReq?.endpoint;
    const phoneAddr = ph ? canonicalIp(ph.addr) : null;
    const phoneOk = ph && phoneAddr !== null && phoneAddr !== '0.0.0.0' && ipFamily(phoneAddr) === 4;
    const phone = phoneOk
      ? { phone: phoneAddr, phoneRtp: ph.port, phoneRtcp: ph.rtcpMux ? ph.port : ph.rtcpPort }
      : prev
        ? { phone: prev.phone, phoneRtp: prev.phoneRtp, phoneRtcp: prev.phoneRtcp }
        : null;
    if (phone === null) return null;
    const far = this.wanReq?.endpoint;
    const farAddr = far ? canonicalIp(far.addr) : null;
    const peer =
      farAddr !== null && farAddr !== '0.0.0.0' && ipFamily(farAddr) === 4 ? farAddr : (prev?.peer ?? null);
    return { x: this.wan.port, ...phone, peer };
  }

  /** The relay pinhole is narrowed to the far side's IP only when its SDP address is a usable public one. */
  private pinholePeer(wanAddress: string): string | null {
    const addr = canonicalIp(this.wanReq?.endpoint?.addr ?? '');
    if (addr === null || addr === '0.0.0.0' || addr === '::') return null;
    if (ipFamily(addr) !== ipFamily(wanAddress) || isPrivateAddress(addr)) return null;
    if (this.env.pathContext().own.some((o) => sameAddress(o, addr))) return null;
    return addr;
  }
}
