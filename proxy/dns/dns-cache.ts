/**
 * Answers kept for their time to live (RFC 1035 §3.2.1: "the time interval that the resource record may
 * be cached before the source of the information should again be consulted"), by the injected clock.
 * Negative answers (NXDOMAIN, no data) are kept too (RFC 2308), for a fixed time chosen by the caller.
 * Bounded: when full, expired entries go first, then the oldest.
 */
import type { Clock } from '../../common/clock.ts';

export interface DnsCacheStats {
  readonly entries: number;
  readonly negative: number;
  readonly hits: number;
  readonly misses: number;
  readonly evictions: number;
}

interface Entry<V> {
  readonly value: V;
  readonly until: number;
  readonly negative: boolean;
}

export class DnsCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private hits = 0;
  private misses = 0;
  private evictions = 0;

  constructor(
    private readonly clock: Clock,
    readonly maxEntries = 2048,
  ) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new TypeError(`bad cache size ${maxEntries}`);
  }

  get(key: string): V | undefined {
    const e = this.entries.get(key);
    if (e && e.until > this.clock.now()) {
      this.hits++;
      return e.value;
    }
    if (e) this.entries.delete(key);
    this.misses++;
    return undefined;
  }

  set(key: string, value: V, ttlMs: number, negative: boolean): void {
    if (ttlMs <= 0) {
      this.entries.delete(key);
      return;
    }
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) this.makeRoom();
    this.entries.set(key, { value, until: this.clock.now() + ttlMs, negative });
  }

  /** Milliseconds `key` stays cached, or 0 (for tests and the status output). */
  remainingMs(key: string): number {
    const e = this.entries.get(key);
    return e ? Math.max(0, e.until - this.clock.now()) : 0;
  }

  clear(): void {
    this.entries.clear();
  }

  stats(): DnsCacheStats {
    const now = this.clock.now();
    let entries = 0;
    let negative = 0;
    for (const e of this.entries.values()) {
      if (e.until <= now) continue;
      entries++;
      if (e.negative) negative++;
    }
    return { entries, negative, hits: this.hits, misses: this.misses, evictions: this.evictions };
  }

  private makeRoom(): void {
    const now = this.clock.now();
    for (const [k, e] of this.entries) if (e.until <= now) this.entries.delete(k);
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) return;
      this.entries.delete(oldest.value);
      this.evictions++;
    }
  }
}
