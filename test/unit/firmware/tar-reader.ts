/**
 * A small, independent ustar reader for the tests (it shares no code with scripts/lib/tar.mjs, so a
 * bug in the writer is not mirrored here): parses headers, checks each checksum, returns the entries.
 */
import { gunzipSync } from 'node:zlib';

export interface TarEntry {
  readonly name: string;
  readonly type: 'file' | 'dir' | 'other';
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly uname: string;
  readonly gname: string;
  readonly mtime: number;
  readonly magic: string;
  readonly data: Buffer;
}

function field(h: Buffer, off: number, len: number): string {
  const raw = h.subarray(off, off + len);
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul < 0 ? len : nul).toString('utf8');
}

function num(h: Buffer, off: number, len: number): number {
  const text = field(h, off, len).trim();
  if (!/^[0-7]*$/.test(text)) throw new Error(`tar: bad octal field ${JSON.stringify(text)}`);
  return text === '' ? 0 : Number.parseInt(text, 8);
}

export function readTar(buf: Buffer): TarEntry[] {
  const out: TarEntry[] = [];
  let off = 0;
  while (off + 512 <= buf.length) {
    const h = buf.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : (h[i] ?? 0);
    const stored = num(h, 148, 8);
    if (stored !== sum) throw new Error(`tar: checksum mismatch at offset ${off}: ${stored} != ${sum}`);
    const prefix = field(h, 345, 155);
    const name = prefix ? `${prefix}/${field(h, 0, 100)}` : field(h, 0, 100);
    const size = num(h, 124, 12);
    const flag = String.fromCharCode(h[156] ?? 0);
    out.push({
      name,
      type: flag === '5' ? 'dir' : flag === '0' || flag === '\0' ? 'file' : 'other',
      mode: num(h, 100, 8),
      uid: num(h, 108, 8),
      gid: num(h, 116, 8),
      uname: field(h, 265, 32),
      gname: field(h, 297, 32),
      mtime: num(h, 136, 12),
      magic: `${field(h, 257, 6)}/${h.subarray(263, 265).toString('latin1')}`,
      data: Buffer.from(buf.subarray(off + 512, off + 512 + size)),
    });
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

export const readTarGz = (buf: Buffer): TarEntry[] => readTar(gunzipSync(buf));
