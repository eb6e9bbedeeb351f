/**
 * sipmasq's rules in the router's firewall: the wanted rules by owner (the SIP port, each stream's
 * pinhole or kernel mapping, the redirects), applied as one atomic replacement of our chains whenever
 * they change, and a watchdog that looks every couple of seconds whether the router's firewall was
 * reloaded under us (our hooks or markers gone) and puts everything back, counting it.
 *
 * Every backend operation is serialised; a failed apply rejects (SMQ_ERR_FIREWALL) and leaves the
 * wanted state as the caller sets it back (see MediaRouter), so a failure never passes for success.
 * Every `counterMs` the watchdog's look also reads every rule's counters (kernel-path media activity);
 * the looks in between check only hooks and markers. Where the backend can watch the firewall (nft
 * monitor), those in-between looks happen only when the firewall changed: with nothing changing,
 * sipmasq spends nothing but the counter reads. If watching stops working, it polls again (and tries to
 * watch again later).
 *
 * A commit hands the backend what was applied before, so that a backend that can (nftables: set
 * elements) changes only the difference; after a firewall reload, the restore applies everything.
 */
import type { Clock, Timer } from '../../common/clock.ts';
import { errorText, SipmasqError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { WatchHandle } from '../command-runner.ts';
import type { FirewallStatus } from '../control.ts';
import type { FirewallBackend } from './firewall-backend.ts';
import { ALL_ROLES, type ChainRole, checkRule, type FwRule, type RuleCounter, rolesOf } from './fw-rule.ts';
import { markerComment } from './rule-comment.ts';

/** The firewall's part of FirewallStatus (the SIP helper's part comes from sip-helper.ts). */
export type FirewallState = Omit<FirewallStatus, 'sipHelper'>;

export interface FirewallOptions {
  backend: FirewallBackend;
  /** Why this backend (for status). */
  reason: string;
  clock: Clock;
  logger: Logger;
  /** Watchdog period (default 2000 ms). */
  watchdogMs?: number;
  /** How often the watchdog's look reads all counters too (default 10000 ms). */
  counterMs?: number;
}

/** One marker per chain in use: the permanent ones always, an optional one while it has rules. */
function markers(roles: ReadonlySet<ChainRole>): FwRule[] {
  return ALL_ROLES.filter((r) => roles.has(r)).map((chain) => ({
    kind: 'marker',
    chain,
    comment: markerComment(chain),
  }));
}

export class Firewall {
  private readonly entries = new Map<string, readonly FwRule[]>();
  private readonly live = new Map<string, RuleCounter>();
  private readonly base = new Map<string, RuleCounter>();
  private readonly checkListeners = new Set<() => void>();
  private readonly warnings = new Set<string>();
  private readonly log: Logger;
  private tail: Promise<unknown> = Promise.resolve();
  private applied: string | null = null;
  private appliedRules: readonly FwRule[] | null = null;
  private countersAt: number | null = null;
  private watcher: WatchHandle | null = null;
  /** The firewall changed since the last look (a watched backend said so). */
  private changed = false;
  private soon: Timer | null = null;
  private rewatch: Timer | null = null;
  private watchLost = 0;
  private healthy = false;
  private restored = 0;
  private timer: Timer | null = null;
  private checking = false;
  private closing: Promise<void> | null = null;

  constructor(private readonly opts: FirewallOptions) {
    this.log = opts.logger.child('firewall');
  }

  get backendName(): string {
    return this.opts.backend.name;
  }

  /** True when rules have an effect (a real backend). */
  get active(): boolean {
    return this.opts.backend.name !== 'none';
  }

  /** Stage the rules of one owner (checked now: a bad value throws here and nothing is staged). */
  set(key: string, rules: readonly FwRule[]): void {
    const checked = rules.map(checkRule);
    const seen = new Set<string>();
    for (const r of checked) {
      if (seen.has(r.comment))
        throw new SipmasqError('SMQ_ERR_FIREWALL', `two rules with the comment ${r.comment}`, { key });
      seen.add(r.comment);
    }
    if (checked.length === 0) this.entries.delete(key);
    else this.entries.set(key, checked);
  }

  get(key: string): readonly FwRule[] | undefined {
    return this.entries.get(key);
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  /** Apply the staged rules if they differ from what was applied. Rejects on any backend failure. */
  commit(): Promise<void> {
    return this.serial(() => this.applyNow(false));
  }

  /** First apply, then the watchdog. */
  async start(): Promise<void> {
    await this.commit();
    this.healthy = true;
    this.timer = this.opts.clock.setInterval(() => this.watch(), this.opts.watchdogMs ?? 2000);
    this.startWatching();
  }

  /** True while a backend watch tells of changes (the watchdog then looks only when told or due). */
  get watching(): boolean {
    return this.watcher !== null;
  }

  private startWatching(): void {
    this.rewatch = null;
    if (this.closing || !this.opts.backend.watch) return;
    let handle: WatchHandle | null = null;
    try {
      handle = this.opts.backend.watch(
        () => this.onChange(),
        (why) => {
          if (this.watcher !== handle) return;
          this.watcher = null;
          // Said once; a monitor that keeps failing to start is retried quietly.
          if (this.watchLost++ === 0)
            this.log.warn('firewall monitor stopped: looking every few seconds instead', { why });
          else this.log.debug('firewall monitor stopped again', { why });
          if (!this.closing) this.rewatch = this.opts.clock.setTimeout(() => this.startWatching(), 30_000);
        },
      );
    } catch (err) {
      this.log.warn('cannot watch the firewall: looking every few seconds instead', {
        error: errorText(err),
      });
    }
    this.watcher = handle;
    // Whatever happened before the monitor started listening is seen by one look now.
    if (handle) this.onChange();
  }

  private onChange(): void {
    this.changed = true;
    if (this.soon || this.closing) return;
    this.soon = this.opts.clock.setTimeout(() => {
      this.soon = null;
      this.watch();
    }, 100);
  }

  /**
   * One watchdog look: restore what a firewall reload removed; read the counters when they are due or
   * `withCounters` asks for them now. Never rejects.
   */
  check(withCounters = false): Promise<void> {
    return this.serial(async () => {
      if (this.closing) return;
      this.changed = false;
      try {
        const now = this.opts.clock.now();
        const due = withCounters || this.countersDue();
        const seen = await this.opts.backend.inspect(due ? 'counters' : 'hooks');
        if (due) this.countersAt = now;
        if ((!seen.hooked || !seen.marked) && this.applied !== null) {
          this.log.warn('sipmasq rules missing (firewall reloaded?): restoring', {
            missing: seen.details.join('; '),
          });
          await this.applyNow(true);
          this.restored++;
          this.log.info('sipmasq rules restored', { restored: this.restored });
        }
        this.takeCounters(seen.rules);
        this.healthy = true;
        this.warnings.delete('watchdog');
      } catch (err) {
        this.healthy = false;
        this.warnings.add('watchdog');
        this.log.error('firewall check failed', { error: errorText(err) });
      }
      for (const fn of this.checkListeners) fn();
    });
  }

  /** Called after every watchdog look (counters are fresh). */
  onCheck(fn: () => void): () => void {
    this.checkListeners.add(fn);
    return () => this.checkListeners.delete(fn);
  }

  /** Accumulated counters of the rule with this comment (across firewall reloads). */
  counter(comment: string): RuleCounter | undefined {
    const l = this.live.get(comment);
    if (!l) return undefined;
    const b = this.base.get(comment);
    return b ? { packets: b.packets + l.packets, bytes: b.bytes + l.bytes } : { ...l };
  }

  /** Read what the backend finds of ours right now (reconcile). */
  inspect(): Promise<ReadonlyMap<string, RuleCounter>> {
    return this.serial(async () => {
      const seen = await this.opts.backend.inspect('all');
      this.takeCounters(seen.rules);
      return seen.rules;
    });
  }

  warn(key: string, text: string): void {
    if (!this.warnings.has(text)) this.log.warn(text, { key });
    this.warnings.add(text);
  }

  status(): FirewallState {
    return {
      backend: this.opts.backend.name,
      reason: this.opts.reason,
      healthy: this.active ? this.healthy : true,
      restored: this.restored,
      openings: [...this.entries.values()]
        .flat()
        .filter((r) => r.kind === 'accept-in' || r.kind === 'dnat' || r.kind === 'redirect')
        .map(describe),
      warnings: [...this.warnings].filter((w) => w !== 'watchdog'),
    };
  }

  /** Stop the watchdog and delete every rule, chain and hook of ours. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.timer?.cancel();
      this.soon?.cancel();
      this.rewatch?.cancel();
      this.watcher?.stop();
      this.watcher = null;
      this.entries.clear();
      await this.serial(async () => {
        if (this.applied === null && !this.active) return;
        await this.opts.backend.remove();
        this.applied = null;
        this.appliedRules = null;
      });
    })();
    return this.closing;
  }

  private watch(): void {
    if (this.checking) return;
    if (this.watcher !== null && !this.changed && !this.countersDue()) return;
    this.checking = true;
    void this.check().finally(() => {
      this.checking = false;
      // A change told while this look ran (our own restore's included) gets a look of its own.
      if (this.changed) this.onChange();
    });
  }

  private countersDue(): boolean {
    return (
      this.countersAt === null || this.opts.clock.now() - this.countersAt >= (this.opts.counterMs ?? 10_000)
    );
  }

  private async applyNow(force: boolean): Promise<void> {
    if (this.closing) throw new SipmasqError('SMQ_ERR_FIREWALL', 'firewall is closed');
    const wanted = [...this.entries.keys()].sort().flatMap((k) => this.entries.get(k) ?? []);
    const rules = [...markers(rolesOf(wanted)), ...wanted];
    const text = JSON.stringify(rules);
    if (!force && text === this.applied) return;
    await this.opts.backend.apply(rules, this.live, force ? null : this.appliedRules);
    this.applied = text;
    this.appliedRules = rules;
    const comments = new Set(rules.map((r) => r.comment));
    for (const k of [...this.live.keys()]) if (!comments.has(k)) this.live.delete(k);
    for (const k of [...this.base.keys()]) if (!comments.has(k)) this.base.delete(k);
  }

  private takeCounters(rules: ReadonlyMap<string, RuleCounter>): void {
    for (const [comment, c] of rules) {
      const prev = this.live.get(comment);
      if (prev && c.packets < prev.packets) {
        // Counters went back: the rule was replaced by someone else. Keep what was counted so far.
        const b = this.base.get(comment) ?? { packets: 0, bytes: 0 };
        this.base.set(comment, { packets: b.packets + prev.packets, bytes: b.bytes + prev.bytes });
      }
      this.live.set(comment, { packets: c.packets, bytes: c.bytes });
    }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }
}

function describe(r: FwRule): string {
  switch (r.kind) {
    case 'accept-in':
      return `${r.proto} ${r.dev} ${r.daddr}:${r.ports[0]}${r.ports[1] !== r.ports[0] ? `-${r.ports[1]}` : ''} from ${r.saddr ?? 'any'} (${r.comment})`;
    case 'dnat':
      return `udp ${r.dev} ${r.daddr}:${r.dport} -> ${r.to}:${r.toPort} from ${r.saddr ?? 'any'} (${r.comment})`;
    case 'redirect':
      return `redirect ${r.proto} ${r.dev} :${r.dport} -> :${r.toPort}`;
    case 'map-source':
      return `${r.proto} ${r.saddr}:${r.sport} -> ${r.daddr}:${r.dport} as ${r.to}:${r.toPort}`;
    default:
      return `${r.kind} (${r.comment})`;
  }
}
