/**
 * The userspace relay behind the MediaControl seam: per session and media index a RelayStream with a
 * LAN-facing and a WAN-facing socket pair from the port pools, latching and strict source (RFC 7362),
 * symmetric RTP (RFC 4961), a=rtcp (RFC 3605) and rtcp-mux (RFC 5761), hold-aware idle timeouts.
 *
 * Every operation on one session is serialised through an OpQueue.
 */
import type { Clock, Timer } from '../../common/clock.ts';
import { errorText, isSipmasqError, SipmasqError } from '../../common/errors.ts';
import { TypedEvents } from '../../common/events.ts';
import type { Logger } from '../../common/logger.ts';
import { canonicalIp, ipFamily } from '../../common/net.ts';
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
import { OpQueue } from './op-queue.ts';
import { PortPool } from './port-pool.ts';
import { RelaySession } from './relay-session.ts';
import { RelayStream } from './relay-stream.ts';
import { SocketPair } from './socket-pair.ts';

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

export class RelayControl implements MediaControl {
  private readonly sessions = new Map<string, RelaySession>();
  private readonly queue = new OpQueue();
  private readonly pools = new Map<string, PortPool>();
  private readonly events = new TypedEvents<{ [K in keyof MediaEvents]: MediaEvents[K] }>();
  private readonly log: Logger;
  private readonly timer: Timer;
  private closing: Promise<void> | null = null;

  constructor(private readonly opts: RelayOptions) {
    for (const a of [opts.lanAddress, opts.wanAddress])
      if (ipFamily(a) === null) throw new TypeError(`relay bind address is not an IP address: ${a}`);
    for (const t of [opts.idleTimeoutMs, opts.holdTimeoutMs])
      if (!(t > 0)) throw new TypeError(`relay timeout must be positive: ${t}`);
    this.log = opts.logger.child('relay');
    for (const a of [opts.lanAddress, opts.wanAddress]) this.poolFor(a);
    this.timer = opts.clock.setInterval(() => this.sweep(), opts.sweepIntervalMs ?? 1000);
  }

  update(req: UpdateRequest): Promise<StreamGrant[]> {
    checkRequest(req);
    if (this.closing) return Promise.reject(new SipmasqError('SMQ_ERR_MEDIA_SESSION', 'relay is closed'));
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
      await this.queue.drain();
      await Promise.all([...this.sessions.keys()].map((id) => this.releaseNow(id, 'shutdown')));
    })();
    return this.closing;
  }

  private async apply(req: UpdateRequest): Promise<StreamGrant[]> {
    const now = this.opts.clock.now();
    let session = this.sessions.get(req.sessionId);
    const created = session === undefined;
    session ??= new RelaySession(req.sessionId, req.callId, now, this.log.child('session'));
    const log = session.logger;
    // Phase 1: allocate every new stream; on failure undo only what this call allocated.
    const fresh: RelayStream[] = [];
    try {
      for (const s of req.streams)
        if (s.endpoint !== null && !session.streams.has(s.index))
          fresh.push(await this.createStream(s.index, log, req.callId));
      if (this.closing) throw new SipmasqError('SMQ_ERR_MEDIA_SESSION', 'relay is closing');
    } catch (err) {
      await Promise.all(fresh.map((f) => this.closeStream(f)));
      const coded = isSipmasqError(err)
        ? err
        : new SipmasqError(
            'SMQ_ERR_MEDIA_SESSION',
            errorText(err),
            { sessionId: req.sessionId },
            { cause: err },
          );
      log.warn('media allocation failed', {
        call: req.callId,
        session: req.sessionId,
        error: errorText(coded),
      });
      throw coded;
    }
    // Phase 2: apply the SDP. Nothing here awaits before the session is registered.
    if (created) {
      this.sessions.set(req.sessionId, session);
      log.info('media session created', { call: req.callId, session: req.sessionId });
    }
    session.lastSignalAt = now;
    for (const f of fresh) session.streams.set(f.index, f);
    const grants: StreamGrant[] = [];
    const released: RelayStream[] = [];
    for (const s of req.streams) {
      const addr = req.from === 'lan' ? this.opts.publicAddress() : this.opts.lanAddress;
      const stream = session.streams.get(s.index);
      if (s.endpoint === null) {
        // RFC 3264 §8.2: a stream rejected or removed with port 0 is released; the grant keeps port 0.
        if (stream) {
          session.streams.delete(s.index);
          released.push(stream);
        }
        grants.push({ index: s.index, addr, port: 0, rtcpPort: 0, path: 'relay' });
        continue;
      }
      if (!stream) throw new Error('unreachable: stream allocated above');
      if (stream.update(req.from, s))
        log.debug('media endpoint', {
          call: req.callId,
          index: s.index,
          side: req.from,
          peer: stream[req.from].peer,
        });
      grants.push(stream.grant(req.from, s, addr));
    }
    await Promise.all(released.map((s) => this.closeStream(s)));
    return grants;
  }

  private async createStream(index: number, log: Logger, callId: string): Promise<RelayStream> {
    const lan = await this.lease(this.opts.lanAddress);
    let wan: SocketPair;
    try {
      wan = await this.lease(this.opts.wanAddress);
    } catch (err) {
      await this.returnPair(lan);
      throw err;
    }
    const stream = new RelayStream(index, lan, wan, {
      clock: this.opts.clock,
      logger: log,
      latchWindowMs: this.opts.latchWindowMs ?? 2000,
      connectWhenLocked: this.opts.connectWhenLocked ?? true,
      callId,
    });
    log.debug('media stream allocated', {
      call: callId,
      index,
      lan: stream.lan.local,
      wan: stream.wan.local,
    });
    return stream;
  }

  /** A bound pair from the pool of `address`; bind failures other than "port taken" are SMQ_ERR_BIND. */
  private async lease(address: string): Promise<SocketPair> {
    try {
      const { value } = await this.poolFor(address).acquire((port) =>
        SocketPair.bind(this.opts.sockets, address, port),
      );
      return value;
    } catch (err) {
      if (isSipmasqError(err)) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      throw new SipmasqError(
        'SMQ_ERR_BIND',
        `media socket on ${address}: ${errorText(err)}`,
        { address, code },
        { cause: err },
      );
    }
  }

  private async returnPair(pair: SocketPair): Promise<void> {
    await pair.close();
    this.poolFor(pair.address).release(pair.port);
  }

  private async closeStream(stream: RelayStream): Promise<void> {
    await stream.close();
    for (const p of stream.pairs) this.poolFor(p.address).release(p.port);
  }

  /** Release now; false when the session was not (or no longer) live. */
  private async releaseNow(sessionId: string, reason: ReleaseReason): Promise<boolean> {
    const session = this.sessions.get(sessionId);
    if (!session) return false;
    this.sessions.delete(sessionId);
    const streams = await session.close();
    for (const s of streams) for (const p of s.pairs) this.poolFor(p.address).release(p.port);
    const total = streams.reduce(
      (acc, s) => {
        acc.in += s.lan.counters.packets;
        acc.out += s.wan.counters.packets;
        acc.dropped += s.lan.counters.dropped + s.wan.counters.dropped;
        return acc;
      },
      { in: 0, out: 0, dropped: 0 },
    );
    session.logger.info('media session released', {
      call: session.callId,
      session: sessionId,
      reason,
      lanToWan: total.in,
      wanToLan: total.out,
      dropped: total.dropped,
    });
    return true;
  }

  /** One periodic check: release sessions silent for longer than their (idle or hold) timeout. */
  private sweep(): void {
    const now = this.opts.clock.now();
    for (const session of this.sessions.values()) {
      if (this.queue.busy(session.id)) continue; // an operation is in flight: not idle
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

  private poolFor(address: string): PortPool {
    const key = canonicalIp(address) ?? address;
    let pool = this.pools.get(key);
    if (!pool) {
      pool = new PortPool({
        portMin: this.opts.portMin,
        portMax: this.opts.portMax,
        clock: this.opts.clock,
        ...(this.opts.random ? { random: this.opts.random } : {}),
        ...(this.opts.portCooldownMs !== undefined ? { cooldownMs: this.opts.portCooldownMs } : {}),
      });
      this.pools.set(key, pool);
    }
    return pool;
  }
}

/** Bad arguments from our own code are TypeErrors. */
function checkRequest(req: UpdateRequest): void {
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
