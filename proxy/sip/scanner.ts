/**
 * A cursor over one header value, for the small hand-written parsers of via.ts, uri.ts, params.ts and
 * name-addr.ts. Every method advances at most to the end of the text and never backtracks, so every
 * parser built on it runs in linear time.
 *
 * RFC 3261 §25.1:
 *   token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" )
 *   LWS   = [*WSP CRLF] 1*WSP ; linear whitespace   (values are unfolded, so only SP / HTAB remain)
 *   quoted-string = SWS DQUOTE *(qdtext / quoted-pair ) DQUOTE
 *   quoted-pair   = "\" (%x00-09 / %x0B-0C / %x0E-7F)
 */

const TOKEN = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if (/[A-Za-z0-9]/.test(ch) || "-.!%*_+`'~".includes(ch)) TOKEN[c] = 1;
}

export function isTokenChar(code: number): boolean {
  return code < 128 && TOKEN[code] === 1;
}

/** True for a non-empty RFC 3261 token. */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!isTokenChar(s.charCodeAt(i))) return false;
  return true;
}

export function isWs(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

export class Scanner {
  pos = 0;
  constructor(readonly text: string) {}

  get done(): boolean {
    return this.pos >= this.text.length;
  }

  peek(): string {
    return this.text[this.pos] ?? '';
  }

  /** Skips SP and HTAB; returns true if any was skipped. */
  skipWs(): boolean {
    const start = this.pos;
    while (this.pos < this.text.length && isWs(this.text.charCodeAt(this.pos))) this.pos++;
    return this.pos > start;
  }

  /** Consumes `ch` (after optional whitespace when `sws`) if it is next. */
  eat(ch: string, sws = false): boolean {
    const save = this.pos;
    if (sws) this.skipWs();
    if (this.text[this.pos] === ch) {
      this.pos++;
      return true;
    }
    this.pos = save;
    return false;
  }

  /** The longest run of token characters (possibly empty). */
  token(): string {
    const start = this.pos;
    while (this.pos < this.text.length && isTokenChar(this.text.charCodeAt(this.pos))) this.pos++;
    return this.text.slice(start, this.pos);
  }

  /** The longest run of characters not in `stop` and not whitespace (possibly empty). */
  until(stop: string): string {
    const start = this.pos;
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (isWs(c) || stop.includes(this.text[this.pos]!)) break;
      this.pos++;
    }
    return this.text.slice(start, this.pos);
  }

  /** A quoted string starting at the cursor, returned raw with its quotes; null if unterminated. */
  quoted(): string | null {
    if (this.text[this.pos] !== '"') return null;
    const start = this.pos;
    let i = this.pos + 1;
    while (i < this.text.length) {
      const c = this.text[i];
      if (c === '\\') {
        const next = this.text.charCodeAt(i + 1);
        if (Number.isNaN(next) || next === 0x0a || next === 0x0d) return null;
        i += 2;
        continue;
      }
      if (c === '"') {
        this.pos = i + 1;
        return this.text.slice(start, this.pos);
      }
      i++;
    }
    return null;
  }

  rest(): string {
    const r = this.text.slice(this.pos);
    this.pos = this.text.length;
    return r;
  }
}

/** Trims SP and HTAB only (String#trim would also eat a BOM or NBSP that belongs to the value). */
export function trimWs(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isWs(s.charCodeAt(a))) a++;
  while (b > a && isWs(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}
