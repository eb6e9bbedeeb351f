/**
 * Where a request goes next: RFC 3263 §4 in its UDP form. A numeric host (or maddr) is used as is,
 * with the URI's port or 5060. A name with a port is looked up as A/AAAA; a name without a port first
 * as SRV `_sip._udp.<name>` (RFC 2782 priority then weight), then as A/AAAA on port 5060.
 * Answers are cached for their TTL (SRV answers, which carry none in Node, for 60 s).
 */
import { promises as dns } from 'node:dns';
import type { Clock } from '../../common/clock.ts';
import { SipmasqError } from '../../common/errors.ts';
import { ipFamily, stripBrackets } from '../../common/net.ts';

export interface Target {
  readonly address: string;
  readonly port: number;
}

export interface DnsBackend {
  resolveSrv(name: string): Promise<{ name: string; port: number; priority: number; weight: number }[]>;
  resolve4(name: string): Promise<{ address: string; ttl: number }[]>;
}

const systemDns: DnsBackend = {
  resolveSrv: (name) => dns.resolveSrv(name),
  resolve4: (name) => dns.resolve4(name, { ttl: true }),
};

export interface NextHopResolver {
  resolve(host: string, port: number | undefined): Promise<Target[]>;
}

const SRV_TTL_MS = 60_000;
const MIN_TTL_MS = 5_000;

export class DnsNextHop implements NextHopResolver {
  private readonly cache = new Map<string, { until: number; targets: Target[] }>();

  constructor(
    private readonly clock: Clock,
    private readonly backend: DnsBackend = systemDns,
  ) {}

  async resolve(hostIn: string, port: number | undefined): Promise<Target[]> {
    const host = stripBrackets(hostIn);
    if (ipFamily(host)) return [{ address: host, port: port ?? 5060 }];
    const key = `${host.toLowerCase()}:${port ?? ''}`;
    const hit = this.cache.get(key);
    if (hit && hit.until > this.clock.now()) return hit.targets;
    const targets = await this.lookup(host, port);
    if (targets.length === 0) throw new SipmasqError('SMQ_ERR_DNS', `no address for ${host}`, { host });
    return targets;
  }

  private async lookup(host: string, port: number | undefined): Promise<Target[]> {
    const key = `${host.toLowerCase()}:${port ?? ''}`;
    if (port === undefined) {
      const srv = await this.backend.resolveSrv(`_sip._udp.${host}`).catch(() => []);
      if (srv.length) {
        const ordered = [...srv].sort((a, b) => a.priority - b.priority || b.weight - a.weight);
        const out: Target[] = [];
        for (const r of ordered) {
          const addrs = await this.backend.resolve4(r.name).catch(() => []);
          for (const a of addrs) out.push({ address: a.address, port: r.port });
        }
        if (out.length) {
          this.cache.set(key, { until: this.clock.now() + SRV_TTL_MS, targets: out });
          return out;
        }
      }
    }
    const addrs = await this.backend.resolve4(host).catch((err: unknown) => {
      throw new SipmasqError('SMQ_ERR_DNS', `${host}: ${(err as Error).message}`, { host }, { cause: err });
    });
    const ttl = Math.max(MIN_TTL_MS, Math.min(...addrs.map((a) => a.ttl * 1000)));
    const out = addrs.map((a) => ({ address: a.address, port: port ?? 5060 }));
    // An empty answer is not cached: its TTL would be min() of nothing, Infinity, and the name would stay
    // unresolvable (and resolve() would return [] instead of throwing) for the life of the process.
    if (out.length) this.cache.set(key, { until: this.clock.now() + ttl, targets: out });
    return out;
  }
}
