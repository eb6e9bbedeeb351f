/** Address helpers shared by both sides: families, private ranges, CIDR matching, host:port formatting. */
import { isIP } from 'node:net';

export type Family = 4 | 6;

export interface Cidr {
  readonly family: Family;
  readonly bytes: Uint8Array;
  readonly prefix: number;
  readonly text: string;
}

export function ipFamily(addr: string): Family | null {
  const f = isIP(addr);
  return f === 4 || f === 6 ? f : null;
}

/** Bytes of an IPv4 or IPv6 address (IPv4-mapped IPv6 becomes IPv4), or null. */
export function ipBytes(addr: string): Uint8Array | null {
  const fam = ipFamily(addr);
  if (fam === 4) return Uint8Array.from(addr.split('.').map(Number));
  if (fam !== 6) return null;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr);
  if (mapped?.[1]) return ipBytes(mapped[1]);
  let text = addr.split('%')[0] ?? addr;
  const v4tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4tail?.[1]) {
    const b = ipBytes(v4tail[1]);
    if (!b) return null;
    text = `${text.slice(0, -v4tail[1].length)}${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const fill = tail === undefined ? 0 : 8 - h.length - t.length;
  const groups = [...h, ...Array<string>(fill).fill('0'), ...t];
  if (groups.length !== 8) return null;
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = Number.parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  return out;
}

export function parseCidr(text: string): Cidr | null {
  const parts = text.trim().split('/');
  if (parts.length > 2) return null;
  const [addr = '', prefixText] = parts;
  const bytes = ipBytes(addr);
  if (!bytes) return null;
  const family: Family = bytes.length === 4 ? 4 : 6;
  const max = family === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (
    !Number.isInteger(prefix) ||
    prefix < 0 ||
    prefix > max ||
    (prefixText !== undefined && !/^\d+$/.test(prefixText))
  )
    return null;
  return { family, bytes, prefix, text: `${addr}/${prefix}` };
}

export function cidrContains(cidr: Cidr, addr: string): boolean {
  const b = ipBytes(addr);
  if (!b || b.length !== cidr.bytes.length) return false;
  let bits = cidr.prefix;
  for (let i = 0; i < b.length && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((b[i]! & mask) !== (cidr.bytes[i]! & mask)) return false;
  }
  return true;
}

const PRIVATE = [
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '100.64.0.0/10', // RFC 6598 shared address space (carrier-grade NAT)
  '169.254.0.0/16',
  '127.0.0.0/8',
  'fc00::/7',
  'fe80::/10',
  '::1/128',
].map((c) => parseCidr(c)!);

/** True for RFC 1918, RFC 6598 (100.64/10), link-local, loopback and IPv6 ULA/link-local addresses. */
export function isPrivateAddress(addr: string): boolean {
  return PRIVATE.some((c) => cidrContains(c, addr));
}

/** `host:port`, with IPv6 literals in brackets as SIP and URLs want them. */
export function formatHostPort(host: string, port?: number): string {
  const h = ipFamily(host) === 6 && !host.startsWith('[') ? `[${host}]` : host;
  return port === undefined ? h : `${h}:${port}`;
}

/** A host as written in SIP (may carry IPv6 brackets) to a bare address or name. */
export function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

export function isValidPort(port: unknown): port is number {
  return typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65535;
}

/** Canonical text of an IP address (IPv6 compressed as Node prints it), or null. */
export function canonicalIp(addr: string): string | null {
  const b = ipBytes(stripBrackets(addr));
  if (!b) return null;
  if (b.length === 4) return Array.from(b).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

export function sameAddress(a: string, b: string): boolean {
  const ca = canonicalIp(a);
  return ca !== null && ca === canonicalIp(b);
}
