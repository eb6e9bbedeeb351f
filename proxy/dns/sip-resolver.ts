/**
 * Locating SIP servers, RFC 3263 §4: from a URI's host, port, transport and scheme to the ordered list of
 * (address, port, transport) to try, the next one whenever one fails (§4.3). NAPTR -> SRV -> A/AAAA,
 * every answer cached for its TTL (see DnsLookup).
 *
 * Failures: an empty list means DNS said there is nothing (NXDOMAIN, no records, a name we will not
 * ask for); SMQ_ERR_DNS means no name server answered. A NAPTR query that gets no answer counts as "no
 * NAPTR records" (forwarders in home routers are known to drop types they do not know) and is remembered
 * as such for the negative TTL; SRV and address queries that get no answer fail the lookup.
 */
import { type Clock, systemClock } from '../../common/clock.ts';
import { errorText } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import { ipFamily, isValidPort, stripBrackets } from '../../common/net.ts';
import type { DnsClient } from './dns-client.ts';
import { DnsLookup, type DnsLookupOptions, type DnsLookupStats } from './dns-lookup.ts';
import { isValidQueryName } from './dns-name.ts';
import type { NaptrRecord, SrvRecord } from './dns-record.ts';
import { type SipTransport, selectNaptr } from './naptr-select.ts';
import { orderSrv, type RandomSource, srvSaysUnavailable } from './srv-order.ts';

export type { SipTransport } from './naptr-select.ts';

export interface SipTarget {
  readonly address: string;
  readonly port: number;
  readonly transport: SipTransport;
}

export interface ResolveRequest {
  readonly host: string;
  readonly port?: number;
  readonly transport?: SipTransport;
  /** A SIPS URI: TLS only. */
  readonly secure?: boolean;
}

export interface Rfc3263ResolverOptions extends DnsLookupOptions {
  readonly clock?: Clock;
  /** Transports we can use, in our order of preference; default udp then tcp. */
  readonly transports?: readonly SipTransport[];
  /** Ask for AAAA records too; default false (the daemon binds IPv4). */
  readonly ipv6?: boolean;
  /** With ipv6: IPv4 addresses of a host before its IPv6 ones; default true. */
  readonly preferIPv4?: boolean;
  /** For the RFC 2782 weighted choice; default Math.random. */
  readonly random?: RandomSource;
  readonly logger?: Logger;
}

export interface Rfc3263ResolverStats extends DnsLookupStats {
  readonly resolves: number;
  readonly empty: number;
  readonly failures: number;
}

/* RFC 3263 §4.2: "it uses the default port for the particular transport protocol" — RFC 3261 §19.1.2. */
export function defaultPort(transport: SipTransport): number {
  return transport === 'tls' ? 5061 : 5060;
}

/* RFC 3263 §4.2: '_sips' for SIPS URIs (and TLS), '_sip' otherwise; TLS runs over TCP. */
function srvName(transport: SipTransport, host: string): string {
  return transport === 'tls' ? `_sips._tcp.${host}` : `_sip._${transport}.${host}`;
}

interface SrvTargets {
  /** Whether any SRV record was found: if so, no fallback to the domain's own addresses. */
  readonly found: boolean;
  readonly targets: SipTarget[];
}

export class Rfc3263Resolver {
  private readonly lookup: DnsLookup;
  private readonly transports: readonly SipTransport[];
  private readonly random: RandomSource;
  private counters = { resolves: 0, empty: 0, failures: 0 };

  constructor(
    client: DnsClient,
    private readonly opts: Rfc3263ResolverOptions = {},
  ) {
    this.lookup = new DnsLookup(client, opts.clock ?? systemClock, opts);
    this.transports = opts.transports ?? ['udp', 'tcp'];
    if (!this.transports.length) throw new TypeError('Rfc3263Resolver needs at least one transport');
    this.random = opts.random ?? Math.random;
  }

  stats(): Rfc3263ResolverStats {
    return { ...this.lookup.stats(), ...this.counters };
  }

  async resolve(req: ResolveRequest): Promise<SipTarget[]> {
    if (req.port !== undefined && !isValidPort(req.port)) throw new TypeError(`bad port ${req.port}`);
    this.counters.resolves++;
    try {
      const out = dedupe(await this.locate(req));
      if (!out.length) this.counters.empty++;
      return out;
    } catch (err) {
      this.counters.failures++;
      throw err;
    }
  }

  private async locate(req: ResolveRequest): Promise<SipTarget[]> {
    const host = stripBrackets(req.host);
    const secure = req.secure === true;
    /* RFC 3261 §26.2.2 / §19.1.1: a SIPS URI over TCP is TLS; SIPS over UDP is not a thing. */
    let transport = req.transport;
    if (secure && transport === 'tcp') transport = 'tls';
    if (secure && transport === 'udp') return [];
    if (transport && !this.transports.includes(transport)) return [];
    if (secure && !this.transports.includes('tls')) return [];
    /*
     * RFC 3263 §4.1: "If no transport protocol is specified, but the TARGET is a numeric IP address, the
     * client SHOULD use UDP for a SIP URI, and TCP for a SIPS URI. Similarly, if no transport protocol is
     * specified, and the TARGET is not numeric, but an explicit port is provided, the client SHOULD use
     * UDP for a SIP URI, and TCP for a SIPS URI." (TCP carrying TLS, for SIPS.)
     */
    const plain: SipTransport = transport ?? (secure ? 'tls' : 'udp');
    /* §4.2: "If TARGET is a numeric IP address, the client uses that address. If the URI also contains a
     * port, it uses that port. If no port is specified, it uses the default port for the particular
     * transport protocol." */
    if (ipFamily(host)) return [{ address: host, port: req.port ?? defaultPort(plain), transport: plain }];
    if (!isValidQueryName(host)) return [];
    /* §4.2: "If the TARGET was not a numeric IP address, but a port is present in the URI, the client
     * performs an A or AAAA record lookup of the domain name." */
    if (req.port !== undefined) {
      if (!this.transports.includes(plain)) return [];
      return this.addresses(host, req.port, plain);
    }
    /* §4.2: "... the client performs an SRV query on the record returned from the NAPTR processing of
     * Section 4.1, if such processing was performed. If it was not, because a transport was specified
     * explicitly, the client performs an SRV query for that specific transport". */
    if (transport) {
      const srv = await this.srvTargets([{ name: srvName(transport, host), transport }]);
      return srv.found ? srv.targets : this.addresses(host, defaultPort(transport), transport);
    }
    const fromNaptr = await this.naptr(host, secure);
    if (fromNaptr) {
      const srv = await this.srvTargets(fromNaptr);
      if (srv.found) return srv.targets;
    } else {
      /* §4.1: "If no NAPTR records are found, the client constructs SRV queries for those transport
       * protocols it supports, and does a query for each. Queries are done using the service identifier
       * "_sip" for SIP URIs and "_sips" for SIPS URIs. A particular transport is supported if the query
       * is successful. The client MAY use any transport protocol it desires which is supported by the
       * server." We take them in our own order of preference. */
      const wanted = this.transports.filter((t) => !secure || t === 'tls');
      const srv = await this.srvTargets(wanted.map((t) => ({ name: srvName(t, host), transport: t })));
      if (srv.found) return srv.targets;
    }
    /* §4.1: "If no SRV records are found, the client SHOULD use TCP for a SIPS URI, and UDP for a SIP URI."
     * §4.2: "If no SRV records were found, the client performs an A or AAAA record lookup of the domain
     * name ... at the default port for that transport." (With NAPTR, the transport it chose.) */
    const fallback = fromNaptr?.[0]?.transport ?? (secure ? 'tls' : this.firstOf(['udp', 'tcp']));
    if (!fallback || !this.transports.includes(fallback)) return [];
    return this.addresses(host, defaultPort(fallback), fallback);
  }

  /** The SRV names the domain's NAPTR records lead to, best first; null when there are none usable. */
  private async naptr(
    host: string,
    secure: boolean,
  ): Promise<{ name: string; transport: SipTransport }[] | null> {
    let records: NaptrRecord[];
    try {
      const res = await this.lookup.lookup(host, 'NAPTR');
      records = res.records.filter((r): r is NaptrRecord => r.type === 'NAPTR');
    } catch (err) {
      this.opts.logger?.debug('NAPTR query failed, going on without', { host, error: errorText(err) });
      this.lookup.rememberMissing(host, 'NAPTR');
      return null;
    }
    const chosen = selectNaptr(records, secure, this.transports);
    return chosen.length ? chosen.map((c) => ({ name: c.replacement, transport: c.transport })) : null;
  }

  /**
   * RFC 2782 ordering of each SRV RRset (the sets in the order given), each target expanded to its
   * addresses. Queries run together; a set whose query failed counts as not found unless all failed.
   */
  private async srvTargets(sets: { name: string; transport: SipTransport }[]): Promise<SrvTargets> {
    const answers = await Promise.allSettled(sets.map((s) => this.lookup.lookup(s.name, 'SRV')));
    const failed = answers.find((a): a is PromiseRejectedResult => a.status === 'rejected');
    if (failed && answers.every((a) => a.status === 'rejected')) throw failed.reason;
    let found = false;
    const plan: { target: string; port: number; transport: SipTransport }[] = [];
    answers.forEach((a, i) => {
      if (a.status !== 'fulfilled') return;
      const records = a.value.records.filter((r): r is SrvRecord => r.type === 'SRV');
      if (!records.length) return;
      found = true;
      if (srvSaysUnavailable(records)) return;
      const transport = sets[i]!.transport;
      for (const r of orderSrv(records, this.random))
        plan.push({ target: r.target, port: r.port, transport });
    });
    if (!plan.length) return { found, targets: [] };
    const unique = [...new Set(plan.map((p) => p.target.toLowerCase()))];
    const resolved = await Promise.allSettled(unique.map((name) => this.hostAddresses(name)));
    const byName = new Map<string, string[]>();
    resolved.forEach((r, i) => {
      if (r.status === 'fulfilled') byName.set(unique[i]!, r.value);
      else
        this.opts.logger?.debug('SRV target did not resolve', {
          target: unique[i],
          error: errorText(r.reason),
        });
    });
    const firstFailure = resolved.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    const targets = plan.flatMap((p) =>
      (byName.get(p.target.toLowerCase()) ?? []).map((address) => ({
        address,
        port: p.port,
        transport: p.transport,
      })),
    );
    if (!targets.length && firstFailure) throw firstFailure.reason;
    return { found, targets };
  }

  /* §4.2: "The result will be a list of IP addresses, each of which can be contacted at the specific port
   * from the URI and transport protocol determined previously." */
  private async addresses(host: string, port: number, transport: SipTransport): Promise<SipTarget[]> {
    return (await this.hostAddresses(host)).map((address) => ({ address, port, transport }));
  }

  /** A (and, with ipv6, AAAA) addresses of a host, the preferred family first. */
  private async hostAddresses(host: string): Promise<string[]> {
    const v6 = this.opts.ipv6 === true;
    const types = v6
      ? this.opts.preferIPv4 === false
        ? (['AAAA', 'A'] as const)
        : (['A', 'AAAA'] as const)
      : (['A'] as const);
    const settled = await Promise.allSettled(types.map((t) => this.lookup.lookup(host, t)));
    const out: string[] = [];
    for (const s of settled)
      if (s.status === 'fulfilled')
        for (const r of s.value.records) if (r.type === 'A' || r.type === 'AAAA') out.push(r.address);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (!out.length && failed) throw failed.reason;
    return out;
  }

  private firstOf(candidates: SipTransport[]): SipTransport | undefined {
    return candidates.find((t) => this.transports.includes(t));
  }
}

function dedupe(targets: SipTarget[]): SipTarget[] {
  const seen = new Set<string>();
  return targets.filter((t) => {
    const key = `${t.transport} ${t.address} ${t.port}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
