/**
 * Domain names on the wire (RFC 1035 §3.1, §4.1.4): a sequence of length-prefixed labels ending in the
 * zero-length root label, where a two-octet pointer (top bits 11) may stand for the rest of the name.
 * Decoding reads untrusted bytes: it never throws and never loops.
 */

export type NameResult = { ok: true; name: string; end: number } | { ok: false; error: string };

/*
 * RFC 1035 §2.3.4: "labels 63 octets or less", "names 255 octets or less" (counted on the wire,
 * length octets and the root label included).
 */
export const MAX_LABEL_LENGTH = 63;
export const MAX_NAME_LENGTH = 255;
/** More jumps than a 255-octet name could need: anything beyond is a crafted message. */
const MAX_POINTERS = 128;

const HOST_LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?$/;

/**
 * Wire form of a name we are about to ask for, or null when it is not a name we will send: letters,
 * digits, '-' and '_' (for `_sip._udp` and friends) only — internationalised names arrive here already in
 * their ASCII (punycode) form or not at all. A trailing dot is allowed.
 */
export function encodeName(name: string): Buffer | null {
  const text = name.endsWith('.') ? name.slice(0, -1) : name;
  if (text === '') return null;
  const labels = text.split('.');
  let size = 1;
  for (const label of labels) {
    if (label.length > MAX_LABEL_LENGTH || !HOST_LABEL.test(label)) return null;
    size += 1 + label.length;
  }
  if (size > MAX_NAME_LENGTH) return null;
  const out = Buffer.alloc(size);
  let at = 0;
  for (const label of labels) {
    out[at++] = label.length;
    at += out.write(label, at, 'latin1');
  }
  out[at] = 0;
  return out;
}

export function isValidQueryName(name: string): boolean {
  return encodeName(name) !== null;
}

/** A label as text: printable ASCII kept; '.', '\' and all else escaped as \DDD (RFC 4343 §2.1). */
function labelText(buf: Buffer, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (c > 0x20 && c < 0x7f && c !== 0x2e && c !== 0x5c) s += String.fromCharCode(c);
    else s += `\\${c.toString().padStart(3, '0')}`;
  }
  return s;
}

/**
 * Read the name at `offset`. `end` is where the name ends at its own place (after the first pointer, if
 * any). `limit` bounds the bytes the name may occupy at its own place (the end of an RDATA); pointers may
 * reach back anywhere before. Every pointer must point strictly before the start of the labels it was
 * found in, so that a chain of pointers can only move backwards and must stop.
 */
export function decodeName(buf: Buffer, offset: number, limit = buf.length): NameResult {
  const labels: string[] = [];
  let wire = 1;
  let pos = offset;
  let segmentStart = offset;
  let bound = Math.min(limit, buf.length);
  let end = -1;
  let jumps = 0;
  for (;;) {
    if (pos >= bound) return { ok: false, error: `name at ${offset} runs past its end` };
    const len = buf[pos]!;
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= bound) return { ok: false, error: `name at ${offset}: pointer cut short` };
      const target = ((len & 0x3f) << 8) | buf[pos + 1]!;
      if (end < 0) end = pos + 2;
      if (++jumps > MAX_POINTERS) return { ok: false, error: `name at ${offset}: too many pointers` };
      if (target >= segmentStart)
        return { ok: false, error: `name at ${offset}: pointer does not point back` };
      pos = target;
      segmentStart = target;
      bound = buf.length;
      continue;
    }
    if (kind !== 0) return { ok: false, error: `name at ${offset}: unsupported label type ${kind >> 6}` };
    if (len === 0) {
      if (end < 0) end = pos + 1;
      return { ok: true, name: labels.length ? labels.join('.') : '.', end };
    }
    wire += 1 + len;
    if (wire > MAX_NAME_LENGTH) return { ok: false, error: `name at ${offset} is longer than 255 octets` };
    if (pos + 1 + len > bound) return { ok: false, error: `name at ${offset}: label runs past its end` };
    labels.push(labelText(buf, pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
}
