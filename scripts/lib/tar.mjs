// Minimal deterministic ustar writer (POSIX.1-1988 "ustar\0" "00"), enough for OpenWrt's .ipk:
// regular files and directories, owner root:root (uid/gid 0), explicit modes, one fixed mtime.
// No reliance on the host's tar or its flags; the same inputs give the same bytes.
import { gzipSync } from 'node:zlib';

const BLOCK = 512;
const RECORD = 20 * BLOCK; // tar's default blocking factor: archives are padded to whole records

function octal(value, width) {
  // width includes the terminating NUL
  const text = value.toString(8).padStart(width - 1, '0');
  if (text.length > width - 1)
    throw new RangeError(`tar: ${value} does not fit in ${width - 1} octal digits`);
  return `${text}\0`;
}

function splitName(name) {
  if (Buffer.byteLength(name) <= 100) return { name, prefix: '' };
  for (let i = name.lastIndexOf('/', name.length - 2); i > 0; i = name.lastIndexOf('/', i - 1)) {
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(rest) <= 100) return { name: rest, prefix };
  }
  throw new RangeError(`tar: path too long for ustar: ${name}`);
}

/**
 * One header block. entry: { name, type: 'file' | 'dir', mode, size, mtime }.
 */
function header(entry) {
  const h = Buffer.alloc(BLOCK, 0);
  const { name, prefix } = splitName(entry.name);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(entry.mode & 0o7777, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii'); // uid root
  h.write(octal(0, 8), 116, 'ascii'); // gid root
  h.write(octal(entry.type === 'dir' ? 0 : entry.size, 12), 124, 'ascii');
  h.write(octal(entry.mtime, 12), 136, 'ascii');
  h.write('        ', 148, 'ascii'); // checksum field counts as spaces while summing
  h.write(entry.type === 'dir' ? '5' : '0', 156, 'ascii');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  h.write('root', 265, 'ascii');
  h.write('root', 297, 'ascii');
  h.write(octal(0, 8), 329, 'ascii');
  h.write(octal(0, 8), 337, 'ascii');
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}

/**
 * Build a tar archive. entries: [{ name, type: 'file' | 'dir', mode, data?: Buffer }] in the order
 * they should appear; directory names end with '/'. mtime: seconds since the epoch for every entry.
 */
export function tar(entries, mtime) {
  const parts = [];
  for (const e of entries) {
    if (e.type === 'dir' && !e.name.endsWith('/'))
      throw new TypeError(`tar: directory name must end with /: ${e.name}`);
    const data = e.type === 'dir' ? Buffer.alloc(0) : Buffer.from(e.data ?? '');
    parts.push(header({ ...e, size: data.length, mtime }));
    if (data.length) {
      parts.push(data);
      const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
      if (pad) parts.push(Buffer.alloc(pad, 0));
    }
  }
  parts.push(Buffer.alloc(2 * BLOCK, 0));
  const body = Buffer.concat(parts);
  const padded = Buffer.alloc(Math.ceil(body.length / RECORD) * RECORD, 0);
  body.copy(padded);
  return padded;
}

/** gzip with a zeroed header mtime (Node writes 0) at the best compression: deterministic bytes. */
export function gzip(buffer) {
  return gzipSync(buffer, { level: 9 });
}

/**
 * Directory entries for every parent of the given paths ('./etc/config/x' -> './', './etc/', './etc/config/'),
 * followed by the files, sorted so that parents come first.
 */
export function withParents(files, dirMode = 0o755) {
  const dirs = new Set(['./']);
  for (const f of files) {
    const parts = f.name.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) dirs.add(`${parts.slice(0, i).join('/')}/`);
  }
  const all = [...[...dirs].map((name) => ({ name, type: 'dir', mode: dirMode })), ...files];
  return all.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
