/**
 * RFC 3263 §4.3 failover for requests sent to the internet: the resolver gives an ordered list of
 * targets; "If a failure occurs, the client SHOULD create a new request ... That request is sent to the
 * next element in the list." A failure here is a 503, or no answer at all (not even 100 Trying) within
 * `timeoutMs` — a much shorter wait than Timer B/F, because a phone gives up after 32 s and a router
 * should find the working server long before. Retransmissions, the CANCEL of an INVITE and the ACK of a
 * non-2xx answer carry the same branch and go to the target in use, never back to the first.
 */
import type { Clock, Timer } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import type { Target } from './next-hop.ts';

interface Attempt {
  request: Buffer;
  readonly targets: readonly Target[];
  index: number;
  answered: boolean;
  timer: Timer | null;
  readonly expiresAt: number;
  readonly callId: string;
}

/** Same lifetime as the transaction memo: INVITE transactions may last past Timer C. */
const KEEP_MS = 200_000;
/**
 * A server that failed is tried last for this long, so the next request (the REGISTER after its 401,
 * the next call) does not wait out the same silence again.
 */
const DOWN_MS = 60_000;
const MAX_ATTEMPTS = 20_000;

export class Failover {
  private readonly attempts = new Map<string, Attempt>();
  private readonly down = new Map<string, number>();

  constructor(
    private readonly clock: Clock,
    private readonly send: (data: Buffer, target: Target) => void,
    private readonly timeoutMs: number,
    private readonly log: Logger,
  ) {}

  /**
   * Send a request for `branch`: a retransmission (or CANCEL/ACK on the same branch) goes where the
   * transaction went; a new one to the first target, with the others kept for failover.
   */
  dispatch(
    branch: string,
    request: Buffer,
    targets: readonly Target[],
    callId: string,
    isNewTransaction: boolean,
  ): Target {
    const known = this.attempts.get(branch);
    if (known && known.expiresAt > this.clock.now()) {
      const target = known.targets[known.index]!;
      if (isNewTransaction) known.request = request;
      this.send(request, target);
      return target;
    }
    if (targets.length === 0) throw new TypeError('no target to send to');
    targets = this.order(targets);
    const first = targets[0]!;
    if (targets.length > 1 && isNewTransaction) {
      this.sweep();
      const attempt: Attempt = {
        request,
        targets,
        index: 0,
        answered: false,
        timer: null,
        expiresAt: this.clock.now() + KEEP_MS,
        callId,
      };
      this.attempts.set(branch, attempt);
      this.arm(branch, attempt);
    }
    this.send(request, first);
    return first;
  }

  /**
   * A response came back on `branch`. Returns true when it was a 503 and the request went on to the
   * next target instead: the caller then drops the 503.
   */
  onResponse(branch: string, status: number): boolean {
    const a = this.attempts.get(branch);
    if (!a) return false;
    a.answered = true;
    a.timer?.cancel();
    a.timer = null;
    if (status === 503 && this.next(branch, a, '503')) return true;
    if (status >= 200) this.attempts.delete(branch);
    return false;
  }

  private arm(branch: string, a: Attempt): void {
    a.timer = this.clock.setTimeout(() => {
      a.timer = null;
      if (!a.answered) this.next(branch, a, 'no answer');
    }, this.timeoutMs);
  }

  /** Targets known to have failed recently go last, in their order (all of them, if all failed). */
  private order(targets: readonly Target[]): readonly Target[] {
    const now = this.clock.now();
    const isDown = (t: Target) => (this.down.get(`${t.address}:${t.port}`) ?? 0) > now;
    if (!targets.some(isDown)) return targets;
    return [...targets.filter((t) => !isDown(t)), ...targets.filter(isDown)];
  }

  /** Servers currently tried last, for status. */
  downTargets(): string[] {
    const now = this.clock.now();
    return [...this.down].filter(([, until]) => until > now).map(([k]) => k);
  }

  private next(branch: string, a: Attempt, why: string): boolean {
    const from = a.targets[a.index]!;
    this.down.set(`${from.address}:${from.port}`, this.clock.now() + DOWN_MS);
    if (this.down.size > 1000)
      for (const [k, until] of this.down) if (until <= this.clock.now()) this.down.delete(k);
    if (a.index + 1 >= a.targets.length) return false;
    a.index++;
    a.answered = false;
    const to = a.targets[a.index]!;
    this.log.warn('next hop failed, trying the next one', {
      call: a.callId,
      why,
      from: `${from.address}:${from.port}`,
      to: `${to.address}:${to.port}`,
    });
    this.send(a.request, to);
    if (a.index + 1 < a.targets.length) this.arm(branch, a);
    return true;
  }

  private sweep(): void {
    const now = this.clock.now();
    for (const [k, a] of this.attempts) {
      if (a.expiresAt <= now) {
        a.timer?.cancel();
        this.attempts.delete(k);
      }
    }
    while (this.attempts.size >= MAX_ATTEMPTS) {
      const oldest = this.attempts.keys().next().value;
      if (oldest === undefined) break;
      this.attempts.get(oldest)?.timer?.cancel();
      this.attempts.delete(oldest);
    }
  }

  close(): void {
    for (const a of this.attempts.values()) a.timer?.cancel();
    this.attempts.clear();
  }
}
