/**
 * Builds DNS messages byte by byte for tests (RFC 1035 §4.1; RDATA per RFC 1035, 3596, 2782, 3403),
 * independently of the code under test: the fake servers answer with these, and the decoder's golden
 * inputs are made of them. Names are written uncompressed unless a test writes its own pointer.
 */
import { isIP } from 'node:net';

export const T = { A: 1, CNAME: 5, SOA: 6, TXT: 16, AAAA: 28, SRV: 33, NAPTR: 35 } as const;

export interface WireRecord {
  readonly name: string;
  readonly type: number;
  readonly ttl: number;
  readonly rdata: Buffer;
  readonly class?: number;
}

export function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n, 0);
  return b;
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

/** A name as length-prefixed labels ending in the root label ('.' is the root alone). */
export function wireName(name: string): Buffer {
  const labels = name === '.' ? [] : name.replace(/\.$/, '').split('.');
  return Buffer.concat([
    ...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')])),
    Buffer.from([0]),
  ]);
}

/** A <character-string>: one length octet, then the bytes. */
export function charString(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([Buffer.from([b.length]), b]);
}

export function a(name: string, address: string, ttl = 300): WireRecord {
  return { name, type: T.A, ttl, rdata: Buffer.from(address.split('.').map(Number)) };
}

export function aaaa(name: string, address: string, ttl = 300): WireRecord {
  if (isIP(address) !== 6) throw new TypeError(address);
  const [head = '', tail = ''] = address.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = address.includes('::')
    ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t]
    : h;
  return { name, type: T.AAAA, ttl, rdata: Buffer.concat(groups.map((g) => u16(Number.parseInt(g, 16)))) };
}

export function cname(name: string, target: string, ttl = 300): WireRecord {
  return { name, type: T.CNAME, ttl, rdata: wireName(target) };
}

export function srv(
  name: string,
  priority: number,
  weight: number,
  port: number,
  target: string,
  ttl = 300,
): WireRecord {
  return {
    name,
    type: T.SRV,
    ttl,
    rdata: Buffer.concat([u16(priority), u16(weight), u16(port), wireName(target)]),
  };
}

export function naptr(
  name: string,
  order: number,
  preference: number,
  flags: string,
  services: string,
  regexp: string,
  replacement: string,
  ttl = 300,
): WireRecord {
  return {
    name,
    type: T.NAPTR,
    ttl,
    rdata: Buffer.concat([
      u16(order),
      u16(preference),
      charString(flags),
      charString(services),
      charString(regexp),
      wireName(replacement),
    ]),
  };
}

export function encodeRecord(r: WireRecord): Buffer {
  return Buffer.concat([
    wireName(r.name),
    u16(r.type),
    u16(r.class ?? 1),
    u32(r.ttl),
    u16(r.rdata.length),
    r.rdata,
  ]);
}

export interface WireMessage {
  readonly id: number;
  /** Whole flags word; default a response with RD and RA set and RCODE 0 (0x8180). */
  readonly flags?: number;
  readonly rcode?: number;
  readonly truncated?: boolean;
  readonly question?: { name: string; type: number; class?: number };
  readonly answers?: readonly WireRecord[];
  readonly authorities?: readonly WireRecord[];
  readonly additionals?: readonly WireRecord[];
}

export function encodeMessage(m: WireMessage): Buffer {
  let flags = m.flags ?? 0x8180;
  if (m.truncated) flags |= 0x0200;
  flags = (flags & ~0x000f) | ((m.rcode ?? flags) & 0x000f);
  const q = m.question;
  const sections = [m.answers ?? [], m.authorities ?? [], m.additionals ?? []];
  return Buffer.concat([
    u16(m.id),
    u16(flags),
    u16(q ? 1 : 0),
    ...sections.map((s) => u16(s.length)),
    ...(q ? [wireName(q.name), u16(q.type), u16(q.class ?? 1)] : []),
    ...sections.flatMap((s) => s.map(encodeRecord)),
  ]);
}

/** The question of a query packet: id, name (as sent), type. Enough for the fake servers. */
export function readQuery(buf: Buffer): { id: number; name: string; type: number } | null {
  if (buf.length < 17) return null;
  const labels: string[] = [];
  let at = 12;
  while (at < buf.length && buf[at] !== 0) {
    const len = buf[at]!;
    if (len > 63 || at + 1 + len > buf.length) return null;
    labels.push(buf.toString('latin1', at + 1, at + 1 + len));
    at += 1 + len;
  }
  if (at + 5 > buf.length) return null;
  return { id: buf.readUInt16BE(0), name: labels.join('.'), type: buf.readUInt16BE(at + 1) };
}

/** A small deterministic PRNG (mulberry32) for the RFC 2782 weighted choice in tests. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
