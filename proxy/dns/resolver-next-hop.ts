/**
 * The proxy's NextHopResolver (proxy/core/next-hop.ts) on top of the RFC 3263 resolver, for the UDP
 * transport the daemon speaks today: the targets are the RFC 3263 list with UDP the only transport we
 * support (so NAPTR leads only to SIP+D2U, SRV only to _sip._udp), in order, and
 * "nothing found" is an error (SMQ_ERR_DNS naming the host), as the proxy expects.
 */
import type { Clock } from '../../common/clock.ts';
import { SipmasqError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { NextHopResolver, Target } from '../core/next-hop.ts';
import { type DnsClient, UdpDnsClient } from './dns-client.ts';
import { Rfc3263Resolver, type Rfc3263ResolverOptions, type Rfc3263ResolverStats } from './sip-resolver.ts';

export interface ResolverNextHopOptions extends Omit<Rfc3263ResolverOptions, 'transports'> {
  /** Default: a UdpDnsClient on /etc/resolv.conf with the same clock. */
  readonly client?: DnsClient;
}

export class ResolverNextHop implements NextHopResolver {
  readonly resolver: Rfc3263Resolver;
  private readonly owned: UdpDnsClient | null;

  constructor(clock: Clock, opts: ResolverNextHopOptions = {}, logger?: Logger) {
    this.owned = opts.client ? null : new UdpDnsClient({ clock, ...(logger ? { logger } : {}) });
    const client = opts.client ?? this.owned!;
    this.resolver = new Rfc3263Resolver(client, {
      ...opts,
      clock,
      transports: ['udp'],
      ...(logger ? { logger } : {}),
    });
  }

  async resolve(host: string, port: number | undefined): Promise<Target[]> {
    // No transport named: NAPTR still runs (restricted to SIP+D2U), then _sip._udp, then A.
    const found = await this.resolver.resolve(port === undefined ? { host } : { host, port });
    if (!found.length) throw new SipmasqError('SMQ_ERR_DNS', `no address for ${host}`, { host });
    return found.map((t) => ({ address: t.address, port: t.port }));
  }

  stats(): Rfc3263ResolverStats {
    return this.resolver.stats();
  }

  /** Abandon queries in flight on the client this object made (not on one it was given). Idempotent. */
  close(): void {
    this.owned?.close();
  }
}
