/**
 * A DnsClient answering from a zone table, as a recursive server would: records of the asked type, the
 * CNAME chain leading to them (whole, unless `chainInOneAnswer` is off), NXDOMAIN for a name with no
 * records at all. Names listed in `timeouts` fail as a dead server does. Every query is logged.
 */
import { SipmasqError } from '../../../../common/errors.ts';
import type { DnsAnswer, DnsClient } from '../../../../proxy/dns/dns-client.ts';
import {
  type CnameRecord,
  type DnsRecord,
  normalName,
  type QueryType,
  Rcode,
} from '../../../../proxy/dns/dns-record.ts';

export class FakeDnsClient implements DnsClient {
  readonly log: string[] = [];
  readonly zone: DnsRecord[] = [];
  readonly timeouts = new Set<string>();
  chainInOneAnswer = true;
  /** Answers wait for this before they resolve (for tests of concurrent lookups). */
  gate: Promise<void> = Promise.resolve();

  add(...records: DnsRecord[]): this {
    this.zone.push(...records);
    return this;
  }

  /** Replace every record of a name and type. */
  set(name: string, type: QueryType, ...records: DnsRecord[]): void {
    for (let i = this.zone.length - 1; i >= 0; i--) {
      const r = this.zone[i]!;
      if (normalName(r.name) === normalName(name) && r.type === type) this.zone.splice(i, 1);
    }
    this.add(...records);
  }

  async query(name: string, type: QueryType): Promise<DnsAnswer> {
    this.log.push(`${type} ${name}`);
    await this.gate;
    if (this.timeouts.has(`${type} ${name}`) || this.timeouts.has(`* ${name}`))
      throw new SipmasqError('SMQ_ERR_DNS', `${type} ${name}: no answer from 127.0.0.1 in 5000 ms`);
    const answers: DnsRecord[] = [];
    let owner = normalName(name);
    for (let hop = 0; hop < 20; hop++) {
      const here = this.zone.filter((r) => normalName(r.name) === owner);
      const wanted = here.filter((r) => r.type === type);
      if (wanted.length) return this.answer(Rcode.NOERROR, [...answers, ...wanted]);
      const alias = here.find((r): r is CnameRecord => r.type === 'CNAME');
      if (!alias) {
        return this.answer(here.length || answers.length ? Rcode.NOERROR : Rcode.NXDOMAIN, answers);
      }
      answers.push(alias);
      if (!this.chainInOneAnswer) break;
      owner = normalName(alias.target);
    }
    return this.answer(Rcode.NOERROR, answers);
  }

  private answer(rcode: number, answers: DnsRecord[]): DnsAnswer {
    return { rcode, answers, server: '127.0.0.1', transport: 'udp' };
  }
}

const base = (name: string, ttl: number) => ({ name, ttl, class: 1 });

export const rr = {
  a: (name: string, address: string, ttl = 300): DnsRecord => ({ ...base(name, ttl), type: 'A', address }),
  aaaa: (name: string, address: string, ttl = 300): DnsRecord => ({
    ...base(name, ttl),
    type: 'AAAA',
    address,
  }),
  cname: (name: string, target: string, ttl = 300): DnsRecord => ({
    ...base(name, ttl),
    type: 'CNAME',
    target,
  }),
  srv: (
    name: string,
    priority: number,
    weight: number,
    port: number,
    target: string,
    ttl = 300,
  ): DnsRecord => ({
    ...base(name, ttl),
    type: 'SRV',
    priority,
    weight,
    port,
    target,
  }),
  naptr: (
    name: string,
    order: number,
    preference: number,
    services: string,
    replacement: string,
    ttl = 300,
  ): DnsRecord => ({
    ...base(name, ttl),
    type: 'NAPTR',
    order,
    preference,
    flags: 'S',
    services,
    regexp: '',
    replacement,
  }),
};
