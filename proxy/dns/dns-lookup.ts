/**
 * "Give me the records of this type for this name", through a DnsClient, following CNAMEs and caching.
 *
 * RFC 1034 §3.6.2: "If a CNAME RR is present at a node, no other data should be present", and a
 * resolver asked for another type restarts the query at the canonical name. A recursive server usually
 * puts the whole chain in one answer; when it stops part way, the rest is asked for, up to MAX_CNAME_HOPS.
 * A chain's answer lives as long as its shortest TTL. Positive answers are cached for their TTL (kept
 * within [minTtlMs, maxTtlMs]); NXDOMAIN, NODATA and server failures for negativeTtlMs. Identical
 * lookups in flight share one query.
 */
import type { Clock } from '../../common/clock.ts';
import { DnsCache, type DnsCacheStats } from './dns-cache.ts';
import type { DnsClient } from './dns-client.ts';
import {
  CLASS_IN,
  type CnameRecord,
  type DnsRecord,
  normalName,
  type QueryType,
  Rcode,
  sameName,
} from './dns-record.ts';

export const MAX_CNAME_HOPS = 8;

export interface LookupResult {
  /** Records of the asked type, owned by the end of the CNAME chain. */
  readonly records: readonly DnsRecord[];
  readonly rcode: number;
  /** The canonical name the records belong to (the asked name when there was no CNAME). */
  readonly canonical: string;
}

export interface DnsLookupOptions {
  /** Shortest time an answer is kept, default 5 s: a TTL of 0 must not mean one query per SIP request. */
  readonly minTtlMs?: number;
  /** Longest, default one day. */
  readonly maxTtlMs?: number;
  /** How long "no such record" is kept, default 30 s. */
  readonly negativeTtlMs?: number;
  readonly maxEntries?: number;
}

export interface DnsLookupStats {
  readonly cache: DnsCacheStats;
  readonly queries: number;
  readonly errors: number;
}

export class DnsLookup {
  private readonly cache: DnsCache<LookupResult>;
  private readonly inflight = new Map<string, Promise<LookupResult>>();
  private readonly minTtlMs: number;
  private readonly maxTtlMs: number;
  private readonly negativeTtlMs: number;
  private queries = 0;
  private errors = 0;

  constructor(
    private readonly client: DnsClient,
    clock: Clock,
    opts: DnsLookupOptions = {},
  ) {
    this.cache = new DnsCache(clock, opts.maxEntries ?? 2048);
    this.minTtlMs = opts.minTtlMs ?? 5_000;
    this.maxTtlMs = opts.maxTtlMs ?? 86_400_000;
    this.negativeTtlMs = opts.negativeTtlMs ?? 30_000;
  }

  /** Records of `type` for `name`. Rejects (SMQ_ERR_DNS) only when no server answered. */
  lookup(name: string, type: QueryType): Promise<LookupResult> {
    return this.lookupAt(name, type, 0);
  }

  /** Remember that `name` has no `type` records, as if a server had said so (for a query that failed). */
  rememberMissing(name: string, type: QueryType): void {
    const value = { records: [], rcode: Rcode.SERVFAIL, canonical: name };
    this.cache.set(keyOf(name, type), value, this.negativeTtlMs, true);
  }

  /** Milliseconds the answer for name/type stays cached (0 when it is not cached). */
  cachedFor(name: string, type: QueryType): number {
    return this.cache.remainingMs(keyOf(name, type));
  }

  stats(): DnsLookupStats {
    return { cache: this.cache.stats(), queries: this.queries, errors: this.errors };
  }

  clear(): void {
    this.cache.clear();
  }

  private lookupAt(name: string, type: QueryType, hops: number): Promise<LookupResult> {
    const key = keyOf(name, type);
    const hit = this.cache.get(key);
    if (hit) return Promise.resolve(hit);
    // A lookup made while following a chain never waits on one in flight: that one may be waiting on it.
    if (hops > 0) return this.fetch(name, type, hops);
    const running = this.inflight.get(key);
    if (running) return running;
    const p = this.fetch(name, type, hops).finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  private async fetch(name: string, type: QueryType, hops: number): Promise<LookupResult> {
    this.queries++;
    const answer = await this.client.query(name, type).catch((err: unknown) => {
      this.errors++;
      throw err;
    });
    const inClass = answer.answers.filter((r) => r.class === CLASS_IN);
    const owned = (owner: string) => inClass.filter((r) => r.type === type && sameName(r.name, owner));
    let canonical = name;
    let ttl = Number.POSITIVE_INFINITY;
    let records = owned(canonical);
    const seen = new Set([normalName(name)]);
    while (!records.length && type !== 'CNAME' && hops < MAX_CNAME_HOPS) {
      const alias = inClass.find((r): r is CnameRecord => r.type === 'CNAME' && sameName(r.name, canonical));
      if (!alias || seen.has(normalName(alias.target))) break;
      seen.add(normalName(alias.target));
      hops++;
      ttl = Math.min(ttl, alias.ttl);
      canonical = alias.target;
      records = owned(canonical);
    }
    let rcode = answer.rcode;
    if (!records.length && rcode === Rcode.NOERROR && canonical !== name && hops < MAX_CNAME_HOPS) {
      // The chain in the answer stopped part way: ask for the rest (cached under its own name).
      const asked = canonical;
      const rest = await this.lookupAt(asked, type, hops + 1);
      records = [...rest.records];
      rcode = rest.rcode;
      canonical = rest.canonical;
      const left = this.cache.remainingMs(keyOf(asked, type));
      if (left > 0) ttl = Math.min(ttl, left / 1000);
    }
    for (const r of records) ttl = Math.min(ttl, r.ttl);
    const result: LookupResult = { records, rcode, canonical };
    if (records.length) {
      const ms = Math.min(this.maxTtlMs, Math.max(this.minTtlMs, ttl * 1000));
      this.cache.set(keyOf(name, type), result, ms, false);
    } else {
      this.cache.set(keyOf(name, type), result, this.negativeTtlMs, true);
    }
    return result;
  }
}

function keyOf(name: string, type: QueryType): string {
  return `${type} ${normalName(name)}`;
}
