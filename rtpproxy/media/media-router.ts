/**
 * The composite behind the MediaControl seam: it owns the port pools and, per stream, a MediaStream that
 * is served by the kernel path (NAT rules) or the userspace relay (rtpproxy/relay), see media-stream.ts.
 * Firewall changes of one update are committed in one step before update() resolves (the proxy
 * forwards the SDP afterwards), and conntrack entries of changed or removed mappings are deleted.
 *
 * Every operation on one session is serialised (OpQueue); sessions idle past their (hold-aware)
 * timeout are released with reason 'timeout' and a `released` event.
 */
import type { Clock, Timer } from '../../common/clock.ts';
import { errorText, isSipmasqError, SipmasqError } from '../../common/errors.ts';
import { TypedEvents } from '../../common/events.ts';
import type { Logger } from '../../common/logger.ts';
import { ipFamily } from '../../common/net.ts';
import type { SocketFactory } from '../../common/socket-factory.ts';
import type {
  MediaControl,
  MediaEvents,
  ReleaseReason,
  SessionStatus,
  StreamGrant,
  StreamRequest,
  UpdateRequest,
} from '../control.ts';
import type { ConntrackCleaner } from '../firewall/conntrack-cleaner.ts';
import { Firewall } from '../firewall/firewall.ts';
import { NoneBackend } from '../firewall/none-backend.ts';
import type { KernelMapping } from '../firewall/rule-comment.ts';
import type { KernelContext } from '../kernel/kernel-rules.ts';
import { OpQueue } from '../relay/op-queue.ts';
import { SocketPair } from '../relay/socket-pair.ts';
import { MediaSession } from './media-session.ts';
import { MediaStream, type StreamEnv } from './media-stream.ts';
import { PortLeases } from './port-leases.ts';

/** Sessions finished at once when the media side closes. */
const CLOSE_CONCURRENCY = 4;
export interface MediaRouterOptions {
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
  /** Default: a firewall with no backend. */
  firewall?: Firewall;
  /** Devices and WAN address for kernel rules; null (default) = relay only. */
  kernel?: KernelContext | null;
  /** Why the kernel path is unavailable (status and logs) when `kernel` is null. */
  kernelUnavailable?: string;
  /** WAN device for relay pinholes; null (default) = none. */
  pinholeDevice?: string | null;
  conntrack?: ConntrackCleaner | null;
}

export class MediaRouter implements MediaControl {
  private readonly sessions = new Map<string, MediaSession>();
  private readonly queue = new OpQueue();
  private readonly ports: PortLeases;
  private readonly events = new TypedEvents<{ [K in keyof MediaEvents]: MediaEvents[K] }>();
  private readonly log: Logger;
  private readonly timer: Timer;
  private readonly firewall: Firewall;
  private readonly stopCheck: () => void;
  private closing: Promise<void> | null = null;

  constructor(private readonly opts: MediaRouterOptions) {
    for (const a of [opts.lanAddress, opts.wanAddress])
      if (ipFamily(a) === null) throw new TypeError(`media bind address is not an IP address: ${a}`);
    for (const t of [opts.idleTimeoutMs, opts.holdTimeoutMs])
      if (!(t > 0)) throw new TypeError(`media timeout must be positive: ${t}`);
    this.log = opts.logger.child('relay');
    this.firewall =
      opts.firewall ??
      new Firewall({ backend: new NoneBackend(), reason: 'none', clock: opts.clock, logger: this.log });
    this.ports = new PortLeases(opts);
    this.timer = opts.clock.setInterval(() => this.sweep(), opts.sweepIntervalMs ?? 1000);
    this.stopCheck = this.firewall.onCheck(() => this.readCounters());
  }

  update(req: UpdateRequest): Promise<StreamGrant[]> {
    checkRequest(req);
    if (this.closing)
      return Promise.reject(new SipmasqError('SMQ_ERR_MEDIA_SESSION', 'media side is closed'));
    return this.queue.run(req.sessionId, () => this.apply(req));
  }

  release(sessionId: string, reason: ReleaseReason): Promise<void> {
    return this.queue.run(sessionId, async () => {
      await this.releaseNow(sessionId, reason);
    });
  }

  query(): SessionStatus[] {
    return [...this.sessions.values()].map((s) => s.status());
  }

  on<K extends keyof MediaEvents>(event: K, fn: (payload: MediaEvents[K]) => void): () => void {
    return this.events.on(event, fn);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.timer.cancel();
      this.stopCheck();
      await this.queue.drain();
      // Unstage every stream first and change the firewall once for all of them; then finish the
      // sessions a few at a time (each starts conntrack programs to forget its flows).
      const streams = [...this.sessions.values()].flatMap((s) => [...s.streams.values()]);
      await Promise.all(streams.map((st) => st.close()));
      await this.firewall.commit().catch(() => undefined); // a failure is reported by releaseNow below
      const ids = [...this.sessions.keys()];
      const failures: unknown[] = [];
      const worker = async (): Promise<void> => {
        for (let id = ids.shift(); id !== undefined; id = ids.shift())
          await this.releaseNow(id, 'shutdown').catch((err: unknown) => failures.push(err));
      };
      await Promise.all(Array.from({ length: CLOSE_CONCURRENCY }, worker));
      if (failures.length > 0) throw failures[0];
    })();
    return this.closing;
  }

  /** Take over a kernel stream found in the firewall after a restart (its rules are already staged). */
  adopt(sessionId: string, index: number, mapping: KernelMapping): Promise<void> {
    return this.queue.run(sessionId, async () => {
      const now = this.opts.clock.now();
      let session = this.sessions.get(sessionId);
      if (!session) {
        session = new MediaSession(sessionId, sessionId, now, this.log.child('session'));
        this.sessions.set(sessionId, session);
      }
      if (session.streams.has(index)) return;
      const pool = this.ports.poolFor(this.opts.wanAddress);
      if (!pool.claim(mapping.x))
        throw new SipmasqError('SMQ_ERR_MEDIA_SESSION', `port ${mapping.x} is not free to adopt`, {
          sessionId,
        });
      let wan: SocketPair;
      try {
        wan = await SocketPair.bind(this.opts.sockets, this.opts.wanAddress, mapping.x);
      } catch (err) {
        pool.release(mapping.x);
        throw new SipmasqError(
          'SMQ_ERR_BIND',
          `adopting port ${mapping.x}: ${errorText(err)}`,
          {},
          { cause: err },
        );
      }
      const stream = new MediaStream(index, wan, this.env(session), null);
      stream.adopt(mapping);
      stream.forgets.length = 0; // the adopted flows are the call's audio: keep them
      session.streams.set(index, stream);
      session.logger.info('kernel stream adopted', {
        session: sessionId,
        index,
        x: mapping.x,
        phone: mapping.phone,
      });
    });
  }

  private async apply(req: UpdateRequest): Promise<StreamGrant[]> {
    const now = this.opts.clock.now();
    let session = this.sessions.get(req.sessionId);
    const created = session === undefined;
    session ??= new MediaSession(req.sessionId, req.callId, now, this.log.child('session'));
    const log = session.logger;
    // Phase 1: allocate every new stream; on failure undo only what this call allocated.
    const fresh: MediaStream[] = [];
    try {
      for (const s of req.streams)
        if (s.endpoint !== null && !session.streams.has(s.index))
          fresh.push(await this.createStream(session, s.index));
      if (this.closing) throw new SipmasqError('SMQ_ERR_MEDIA_SESSION', 'media side is closing');
    } catch (err) {
      await Promise.all(fresh.map((f) => this.closeStream(f)));
      throw this.failed(err, req, log);
    }
    if (created) {
      this.sessions.set(req.sessionId, session);
      log.info('media session created', { call: req.callId, session: req.sessionId });
    }
    session.lastSignalAt = now;
    for (const f of fresh) session.streams.set(f.index, f);
    // Phase 2: apply the SDP to each stream, stage the firewall, commit once, then grant.
    const grants: StreamGrant[] = [];
    const dropped: MediaStream[] = [];
    try {
      for (const s of req.streams) {
        const stream = session.streams.get(s.index);
        if (s.endpoint === null) {
          // RFC 3264 §8.2: a stream rejected or removed with port 0 is released; the grant keeps port 0.
          if (stream) {
            session.streams.delete(s.index);
            dropped.push(stream);
            await stream.close();
          }
          const addr = req.from === 'lan' ? this.opts.publicAddress() : this.opts.lanAddress;
          grants.push({ index: s.index, addr, port: 0, rtcpPort: 0, path: 'relay' });
          continue;
        }
        if (!stream) throw new Error('unreachable: stream allocated above');
        await stream.update(req.from, s);
        grants.push(stream.grant(req.from, s));
      }
      await this.firewall.commit();
    } catch (err) {
      // A stream whose rules could not be put in place must not look served: end the session.
      const coded = this.failed(err, req, log);
      await this.releaseNow(req.sessionId, 'failure').catch((e: unknown) =>
        log.error('release after failure failed', { call: req.callId, error: errorText(e) }),
      );
      for (const d of dropped) this.ports.returnPorts(d.pairs);
      throw coded;
    }
    for (const d of dropped) this.ports.returnPorts(d.pairs);
    await this.forget([...session.streams.values(), ...dropped]);
    return grants;
  }

  private failed(err: unknown, req: UpdateRequest, log: Logger): SipmasqError {
    const coded = isSipmasqError(err)
      ? err
      : new SipmasqError(
          'SMQ_ERR_MEDIA_SESSION',
          errorText(err),
          { sessionId: req.sessionId },
          { cause: err },
        );
    log.warn('media update failed', { call: req.callId, session: req.sessionId, error: errorText(coded) });
    return coded;
  }

  private async createStream(session: MediaSession, index: number): Promise<MediaStream> {
    const relayOnly = this.opts.kernel == null;
    const lan = relayOnly ? await this.ports.lease(this.opts.lanAddress) : null;
    let wan: SocketPair;
    try {
      wan = await this.ports.lease(this.opts.wanAddress);
    } catch (err) {
      if (lan) await this.ports.returnPair(lan);
      throw err;
    }
    const stream = new MediaStream(index, wan, this.env(session), lan);
    session.logger.debug('media stream allocated', {
      call: session.callId,
      index,
      wan: wan.port,
      lan: lan?.port,
    });
    return stream;
  }

  private env(session: MediaSession): StreamEnv {
    const o = this.opts;
    const own = (): string[] => [o.publicAddress(), o.wanAddress, o.lanAddress];
    const pin =
      o.pinholeDevice && this.firewall.active ? { dev: o.pinholeDevice, wanAddress: o.wanAddress } : null;
    return {
      sessionId: session.id,
      callId: session.callId,
      clock: o.clock,
      logger: session.logger,
      lanAddress: o.lanAddress,
      publicAddress: o.publicAddress,
      latchWindowMs: o.latchWindowMs ?? 2000,
      connectWhenLocked: o.connectWhenLocked ?? true,
      leaseLan: () => this.ports.lease(o.lanAddress),
      firewall: this.firewall,
      pinholes: pin,
      kernel: o.kernel ?? null,
      pathContext: () => ({
        kernelUnavailable: o.kernel ? null : (o.kernelUnavailable ?? 'relay only'),
        own: own(),
      }),
    };
  }

  private async closeStream(stream: MediaStream): Promise<void> {
    this.ports.returnPorts(await stream.close());
  }

  /** Delete the conntrack entries of mappings that changed or ended (after their rules were committed). */
  private async forget(streams: readonly MediaStream[]): Promise<void> {
    const c = this.opts.conntrack;
    for (const s of streams) {
      const targets = s.forgets.splice(0);
      if (c && this.firewall.active) for (const t of targets) await c.forget(t);
    }
  }

  /** Release now; false when the session was not (or no longer) live. */
  private async releaseNow(sessionId: string, reason: ReleaseReason): Promise<boolean> {
    const session = this.sessions.get(sessionId);
    if (!session) return false;
    this.sessions.delete(sessionId);
    const streams = [...session.streams.values()];
    session.streams.clear();
    const pairs = await Promise.all(streams.map((s) => s.close()));
    let failure: unknown = null;
    try {
      await this.firewall.commit();
    } catch (err) {
      failure = err;
    }
    for (const p of pairs) this.ports.returnPorts(p);
    await this.forget(streams);
    const total = streams.map((s) => s.status());
    session.logger.info('media session released', {
      call: session.callId,
      session: sessionId,
      reason,
      paths: total.map((s) => s.path).join(','),
      lanToWan: total.reduce((n, s) => n + s.lanToWan.packets, 0),
      wanToLan: total.reduce((n, s) => n + s.wanToLan.packets, 0),
    });
    if (failure !== null) {
      session.logger.error('removing media rules failed', {
        call: session.callId,
        error: errorText(failure),
      });
      throw failure;
    }
    return true;
  }

  private readCounters(): void {
    const now = this.opts.clock.now();
    for (const s of this.sessions.values()) for (const st of s.streams.values()) st.readCounters(now);
  }

  /** One periodic check: release sessions silent for longer than their (idle or hold) timeout. */
  private sweep(): void {
    const now = this.opts.clock.now();
    for (const session of this.sessions.values()) {
      if (this.queue.busy(session.id)) continue;
      const limit = session.onHold ? this.opts.holdTimeoutMs : this.opts.idleTimeoutMs;
      if (now - session.lastActivity() <= limit) continue;
      const payload = { sessionId: session.id, callId: session.callId, reason: 'timeout' as const };
      this.queue
        .run(session.id, () => this.releaseNow(session.id, 'timeout'))
        .then(
          (done) => {
            if (done)
              this.events.emit('released', payload, (err) =>
                this.log.error('released listener failed', { call: session.callId, error: errorText(err) }),
              );
          },
          (err) => this.log.error('timeout release failed', { call: session.callId, error: errorText(err) }),
        );
    }
  }
}

/** Bad arguments from our own code are TypeErrors. */
export function checkRequest(req: UpdateRequest): void {
  if (typeof req.sessionId !== 'string' || req.sessionId === '')
    throw new TypeError('update: empty sessionId');
  if (req.from !== 'lan' && req.from !== 'wan') throw new TypeError(`update: bad side ${String(req.from)}`);
  const seen = new Set<number>();
  for (const s of req.streams as readonly StreamRequest[]) {
    if (!Number.isInteger(s.index) || s.index < 0 || seen.has(s.index))
      throw new TypeError(`update: bad or repeated stream index ${s.index}`);
    seen.add(s.index);
  }
}
