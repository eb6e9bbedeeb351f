/**
 * The DNS data sipmasq reads: resource record types and response codes as numbers (RFC 1035 §3.2.2,
 * §4.1.1; RFC 3596 AAAA; RFC 2782 SRV; RFC 3403 NAPTR), and the decoded records as plain values.
 * Names are written without the trailing dot, as received (compare them with sameName); the root is '.'.
 */

export const RecordType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  AAAA: 28,
  SRV: 33,
  NAPTR: 35,
  OPT: 41,
} as const;

/** The record types sipmasq asks for. */
export type QueryType = 'A' | 'AAAA' | 'CNAME' | 'SRV' | 'NAPTR';

export const CLASS_IN = 1;

/** RFC 1035 §4.1.1 RCODE values (RFC 6895 registry for the names). */
export const Rcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
} as const;

export function rcodeName(rcode: number): string {
  for (const [name, value] of Object.entries(Rcode)) if (value === rcode) return name;
  return `RCODE${rcode}`;
}

interface RecordBase {
  /** Owner name, without the trailing dot. */
  readonly name: string;
  /** Seconds (RFC 2181 §8: a value with the top bit set is read as 0). */
  readonly ttl: number;
  readonly class: number;
}

export interface ARecord extends RecordBase {
  readonly type: 'A';
  readonly address: string;
}

export interface AaaaRecord extends RecordBase {
  readonly type: 'AAAA';
  readonly address: string;
}

export interface CnameRecord extends RecordBase {
  readonly type: 'CNAME';
  readonly target: string;
}

export interface SrvRecord extends RecordBase {
  readonly type: 'SRV';
  readonly priority: number;
  readonly weight: number;
  readonly port: number;
  /** '.' means "decidedly not available at this domain" (RFC 2782). */
  readonly target: string;
}

export interface NaptrRecord extends RecordBase {
  readonly type: 'NAPTR';
  readonly order: number;
  readonly preference: number;
  readonly flags: string;
  readonly services: string;
  readonly regexp: string;
  /** '.' when there is no replacement. */
  readonly replacement: string;
}

/** Any other type, kept as its raw RDATA. */
export interface OtherRecord extends RecordBase {
  readonly type: 'OTHER';
  readonly typeCode: number;
  readonly data: Buffer;
}

export type DnsRecord = ARecord | AaaaRecord | CnameRecord | SrvRecord | NaptrRecord | OtherRecord;

export function typeCodeOf(type: QueryType): number {
  return RecordType[type];
}

/** DNS names compare case-insensitively (RFC 4343), with or without a trailing dot. */
export function sameName(a: string, b: string): boolean {
  return normalName(a) === normalName(b);
}

export function normalName(name: string): string {
  const lower = name.toLowerCase();
  return lower.length > 1 && lower.endsWith('.') ? lower.slice(0, -1) : lower;
}
