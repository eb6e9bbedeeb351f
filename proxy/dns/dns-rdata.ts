/**
 * One resource record (RFC 1035 §4.1.3: NAME TYPE CLASS TTL RDLENGTH RDATA) and the RDATA of the types
 * sipmasq uses. Every field is bounds-checked against RDLENGTH; a record that does not fill its RDATA
 * exactly is an error, not a guess.
 */
import { canonicalIp } from '../../common/net.ts';
import { decodeName } from './dns-name.ts';
import { type DnsRecord, RecordType } from './dns-record.ts';

export type RecordResult = { ok: true; record: DnsRecord; end: number } | { ok: false; error: string };

type Fail = { ok: false; error: string };
type Base = { name: string; ttl: number; class: number };

function fail(error: string): Fail {
  return { ok: false, error };
}

/** RFC 2181 §8: "a TTL value ... with the most significant bit set ... should be treated as zero". */
function readTtl(buf: Buffer, at: number): number {
  const v = buf.readUInt32BE(at);
  return v > 0x7fffffff ? 0 : v;
}

export function decodeRecord(buf: Buffer, offset: number): RecordResult {
  const owner = decodeName(buf, offset);
  if (!owner.ok) return owner;
  const at = owner.end;
  if (at + 10 > buf.length) return fail(`record at ${offset} is cut short`);
  const typeCode = buf.readUInt16BE(at);
  const base: Base = { name: owner.name, class: buf.readUInt16BE(at + 2), ttl: readTtl(buf, at + 4) };
  const rdlength = buf.readUInt16BE(at + 8);
  const start = at + 10;
  const end = start + rdlength;
  if (end > buf.length) return fail(`record at ${offset}: RDLENGTH ${rdlength} runs past the message`);
  const data = decodeRdata(buf, typeCode, start, end, base);
  if ('ok' in data) return data;
  return { ok: true, record: data, end };
}

function decodeRdata(
  buf: Buffer,
  typeCode: number,
  start: number,
  end: number,
  base: Base,
): DnsRecord | Fail {
  const length = end - start;
  switch (typeCode) {
    /* RFC 1035 §3.4.1: "ADDRESS  A 32 bit Internet address." */
    case RecordType.A:
      if (length !== 4) return fail(`A record with RDLENGTH ${length}`);
      return { ...base, type: 'A', address: Array.from(buf.subarray(start, end)).join('.') };
    /* RFC 3596 §2.2: "A 128 bit IPv6 address is encoded in the data portion of an AAAA resource record". */
    case RecordType.AAAA: {
      if (length !== 16) return fail(`AAAA record with RDLENGTH ${length}`);
      const groups: string[] = [];
      for (let i = start; i < end; i += 2) groups.push(buf.readUInt16BE(i).toString(16));
      return { ...base, type: 'AAAA', address: canonicalIp(groups.join(':')) ?? groups.join(':') };
    }
    /* RFC 1035 §3.3.1: "A <domain-name> which specifies the canonical or primary name for the owner." */
    case RecordType.CNAME: {
      const target = decodeName(buf, start, end);
      if (!target.ok) return target;
      if (target.end !== end) return fail('CNAME RDATA has bytes after the name');
      return { ...base, type: 'CNAME', target: target.name };
    }
    /* RFC 2782: "Priority ... Weight ... Port ... Target" — three 16-bit numbers, then a domain name. */
    case RecordType.SRV: {
      if (length < 7) return fail(`SRV record with RDLENGTH ${length}`);
      const target = decodeName(buf, start + 6, end);
      if (!target.ok) return target;
      if (target.end !== end) return fail('SRV RDATA has bytes after the target');
      return {
        ...base,
        type: 'SRV',
        priority: buf.readUInt16BE(start),
        weight: buf.readUInt16BE(start + 2),
        port: buf.readUInt16BE(start + 4),
        target: target.name,
      };
    }
    /*
     * RFC 3403 §4.1: ORDER (16 bit), PREFERENCE (16 bit), FLAGS, SERVICES, REGEXP (each a
     * <character-string>), REPLACEMENT (a <domain-name>).
     */
    case RecordType.NAPTR:
      return decodeNaptr(buf, start, end, base);
    default:
      return { ...base, type: 'OTHER', typeCode, data: Buffer.from(buf.subarray(start, end)) };
  }
}

function decodeNaptr(buf: Buffer, start: number, end: number, base: Base): DnsRecord | Fail {
  if (end - start < 4) return fail('NAPTR record cut short');
  const strings: string[] = [];
  let at = start + 4;
  for (let i = 0; i < 3; i++) {
    /* RFC 1035 §3.3: "<character-string> is a single length octet followed by that number of characters." */
    if (at >= end) return fail('NAPTR character-string missing');
    const len = buf[at]!;
    if (at + 1 + len > end) return fail('NAPTR character-string runs past its RDATA');
    strings.push(buf.toString('utf8', at + 1, at + 1 + len));
    at += 1 + len;
  }
  const replacement = decodeName(buf, at, end);
  if (!replacement.ok) return replacement;
  if (replacement.end !== end) return fail('NAPTR RDATA has bytes after the replacement');
  const [flags = '', services = '', regexp = ''] = strings;
  return {
    ...base,
    type: 'NAPTR',
    order: buf.readUInt16BE(start),
    preference: buf.readUInt16BE(start + 2),
    flags,
    services,
    regexp,
    replacement: replacement.name,
  };
}
