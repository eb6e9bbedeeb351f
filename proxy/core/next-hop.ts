/**
 * Where a request goes next: the interface the proxy routes through. The implementation is the
 * RFC 3263 resolver in proxy/dns/ (resolver-next-hop.ts): numeric hosts as they are, names through
 * NAPTR, SRV and A records, cached for their TTL, as an ordered list of targets.
 */
export interface Target {
  readonly address: string;
  readonly port: number;
}

export interface NextHopResolver {
  resolve(host: string, port: number | undefined): Promise<Target[]>;
}
