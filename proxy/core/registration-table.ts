/**
 * The registration table: which phone is behind which masqueraded Contact, so that requests from the
 * provider reach the right phone. Kept in memory, written through the store in batches, restored at
 * start so incoming calls work at once after a restart.
 */
import type { Clock, Timer } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import type { BindingRecord } from '../store/binding-record.ts';
import type { RegistrationStore } from '../store/registration-store.ts';

/** Kept a little past the registrar's expiry: a refresh may arrive late. RFC 3261 §10.2.1 (T1 * 64). */
const GRACE_MS = 32_000;

export class RegistrationTable {
  private readonly byToken = new Map<string, BindingRecord>();
  private sweepTimer: Timer | null = null;
  private readonly listeners: Array<() => void> = [];

  constructor(
    private readonly store: RegistrationStore,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** Load stored bindings, dropping the expired ones. */
  restore(): number {
    const now = this.clock.now();
    let restored = 0;
    for (const rec of this.store.loadAll()) {
      if (rec.expiresAt + GRACE_MS <= now) {
        this.store.delete(rec.token);
        continue;
      }
      this.byToken.set(rec.token, rec);
      restored++;
    }
    this.sweepTimer = this.clock.setInterval(() => this.sweep(), 15_000);
    return restored;
  }

  /** Called after any binding is added, changed or removed. */
  onChange(fn: () => void): void {
    this.listeners.push(fn);
  }

  private changed(): void {
    for (const fn of this.listeners) fn();
  }

  get(token: string): BindingRecord | undefined {
    const rec = this.byToken.get(token);
    return rec && this.isLive(rec) ? rec : undefined;
  }

  /** A binding for this phone contact already known (after restart its token is reused). */
  find(aor: string, contact: string): BindingRecord | undefined {
    for (const rec of this.byToken.values()) if (rec.aor === aor && rec.contact === contact) return rec;
    return undefined;
  }

  isLive(rec: BindingRecord): boolean {
    return rec.expiresAt + GRACE_MS > this.clock.now();
  }

  /** Live bindings whose AOR user (or phone contact user) is `user`: fallback routing when the provider ignores our Contact user. */
  byUser(user: string): BindingRecord[] {
    const out: BindingRecord[] = [];
    for (const rec of this.byToken.values()) {
      if (!this.isLive(rec)) continue;
      if (userOf(rec.aor) === user || userOf(rec.contact) === user) out.push(rec);
    }
    return out.sort((a, b) => b.updatedAt - a.updatedAt);
  }

  byAor(aor: string): BindingRecord[] {
    return [...this.byToken.values()].filter((r) => r.aor === aor);
  }

  put(rec: BindingRecord): void {
    const before = this.byToken.get(rec.token);
    this.byToken.set(rec.token, rec);
    this.store.put(rec);
    if (
      !before ||
      before.phoneAddr !== rec.phoneAddr ||
      before.phonePort !== rec.phonePort ||
      before.registrar !== rec.registrar
    )
      this.changed();
    if (!before)
      this.log.info('registered', { aor: rec.aor, contact: rec.contact, token: rec.token, call: rec.callId });
  }

  remove(token: string, why: string): void {
    const rec = this.byToken.get(token);
    if (!rec) return;
    this.byToken.delete(token);
    this.store.delete(token);
    this.changed();
    this.log.info('unregistered', { aor: rec.aor, contact: rec.contact, token, why });
  }

  list(): BindingRecord[] {
    return [...this.byToken.values()].filter((r) => this.isLive(r));
  }

  /** Distinct registrars of live bindings (keep-alive targets). */
  registrars(): string[] {
    return [...new Set(this.list().map((r) => r.registrar))];
  }

  sweep(): void {
    for (const rec of [...this.byToken.values()]) if (!this.isLive(rec)) this.remove(rec.token, 'expired');
  }

  close(): void {
    this.sweepTimer?.cancel();
    this.sweepTimer = null;
  }
}

function userOf(uri: string): string | undefined {
  const m = /^[a-z]+:([^@;?]+)@/i.exec(uri);
  return m?.[1];
}
