/**
 * Even/odd port pairs from an inclusive range, for one bind address. RFC 3550 §11: "For UDP and similar
 * protocols, RTP SHOULD use an even destination port number and the corresponding RTCP stream SHOULD use
 * the next higher (odd) destination port number".
 *
 * The search starts at a random even port in the range (so that ports are not predictable) and wraps.
 * Pairs that were just released cool down: they are taken only when no other pair is free, so that late
 * packets of an ended call do not reach a new one. A pair whose bind fails with EADDRINUSE (or EACCES)
 * is skipped; when no pair can be bound the pool throws SMQ_ERR_PORTS_EXHAUSTED.
 */
import type { Clock } from '../../common/clock.ts';
import { SipmasqError } from '../../common/errors.ts';

export interface PortPoolOptions {
  portMin: number;
  portMax: number;
  clock: Clock;
  /** Uniform in [0, 1); Math.random by default. */
  random?: () => number;
  /** How long a released pair is avoided while others are free (default 30 s). */
  cooldownMs?: number;
}

/** Bind errors that mean "this pair is taken, try another". */
const SKIP_CODES = new Set(['EADDRINUSE', 'EACCES']);

export class PortPool {
  private readonly first: number;
  private readonly pairs: number;
  private readonly inUse = new Set<number>();
  private readonly releasedAt = new Map<number, number>();
  private readonly random: () => number;
  private readonly cooldownMs: number;

  constructor(private readonly opts: PortPoolOptions) {
    const { portMin, portMax } = opts;
    if (!Number.isInteger(portMin) || !Number.isInteger(portMax) || portMin < 1 || portMax > 65535)
      throw new TypeError(`invalid port range ${portMin}-${portMax}`);
    this.first = portMin % 2 === 0 ? portMin : portMin + 1;
    this.pairs = Math.max(0, Math.floor((portMax - this.first + 1) / 2));
    if (this.pairs === 0) throw new TypeError(`port range ${portMin}-${portMax} holds no even/odd pair`);
    this.random = opts.random ?? Math.random;
    this.cooldownMs = opts.cooldownMs ?? 30_000;
  }

  /** Number of pairs in the range. */
  get capacity(): number {
    return this.pairs;
  }

  /** Number of pairs handed out and not yet released. */
  get used(): number {
    return this.inUse.size;
  }

  /**
   * Find a free pair and bind it with `bind(rtpPort)`. A bind that fails with EADDRINUSE/EACCES moves
   * on to the next pair; any other failure is rethrown. The pair stays reserved until release().
   */
  async acquire<T>(bind: (rtpPort: number) => Promise<T>): Promise<{ port: number; value: T }> {
    const tried = new Set<number>();
    for (;;) {
      const port = this.pick(tried);
      if (port === null) {
        throw new SipmasqError('SMQ_ERR_PORTS_EXHAUSTED', `${this.opts.portMin}-${this.opts.portMax}`, {
          used: this.inUse.size,
          capacity: this.pairs,
          bindFailures: tried.size,
        });
      }
      this.inUse.add(port);
      try {
        return { port, value: await bind(port) };
      } catch (err) {
        this.inUse.delete(port);
        if (!SKIP_CODES.has((err as NodeJS.ErrnoException | undefined)?.code ?? '')) throw err;
        tried.add(port);
      }
    }
  }

  /**
   * Mark one specific pair as in use (adopting a stream that survived a restart). False when the port is
   * not an even port of the range or already in use.
   */
  claim(rtpPort: number): boolean {
    const offset = rtpPort - this.first;
    if (!Number.isInteger(offset) || offset < 0 || offset % 2 !== 0 || offset / 2 >= this.pairs) return false;
    if (this.inUse.has(rtpPort)) return false;
    this.inUse.add(rtpPort);
    this.releasedAt.delete(rtpPort);
    return true;
  }

  /** Return a pair to the pool. Unknown ports are ignored. */
  release(rtpPort: number): void {
    if (!this.inUse.delete(rtpPort)) return;
    this.releasedAt.set(rtpPort, this.opts.clock.now());
  }

  /** The next candidate RTP port, or null when none is left. */
  private pick(tried: ReadonlySet<number>): number | null {
    const now = this.opts.clock.now();
    const start = Math.min(this.pairs - 1, Math.floor(this.random() * this.pairs));
    let cooling: number | null = null;
    let coolingSince = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.pairs; i++) {
      const port = this.first + ((start + i) % this.pairs) * 2;
      if (this.inUse.has(port) || tried.has(port)) continue;
      const at = this.releasedAt.get(port);
      if (at === undefined) return port;
      if (now - at >= this.cooldownMs) {
        this.releasedAt.delete(port);
        return port;
      }
      if (at < coolingSince) {
        cooling = port;
        coolingSince = at;
      }
    }
    // Every free pair is cooling down: take the one released longest ago.
    return cooling;
  }
}
