/**
 * SDP as a list of lines, each with its own line ending, so that a rewrite can give back every line it does
 * not mean to change byte for byte, in order, with the body's own CRLF or LF.
 *
 * RFC 8866 §5: "The sequence CRLF (0x0d0a) is used to end a line, although parsers SHOULD be tolerant and
 * also accept lines terminated with a single newline character."
 */

export interface SdpLine {
  /** The line without its ending. */
  readonly text: string;
  /** '\r\n', '\n', or '' for a last line without an ending. */
  readonly eol: string;
}

/** Split a body into lines, keeping each line's ending. An empty body has no lines. */
export function splitLines(body: string): SdpLine[] {
  const lines: SdpLine[] = [];
  const re = /\r?\n/g;
  let start = 0;
  for (let m = re.exec(body); m !== null; m = re.exec(body)) {
    lines.push({ text: body.slice(start, m.index), eol: m[0] });
    start = m.index + m[0].length;
  }
  if (start < body.length) lines.push({ text: body.slice(start), eol: '' });
  return lines;
}

export function joinLines(lines: readonly SdpLine[]): string {
  let out = '';
  for (const l of lines) out += l.text + l.eol;
  return out;
}

/** The line's type letter when it has the `<type>=<value>` form (RFC 8866 §5), else null. */
export function lineType(text: string): string | null {
  return text.length >= 2 && text[1] === '=' ? text[0]! : null;
}

/** Name of an `a=` line's attribute: `a=<name>` or `a=<name>:<value>` (RFC 8866 §5.13). */
export function attributeName(text: string): string {
  const colon = text.indexOf(':', 2);
  return colon < 0 ? text.slice(2) : text.slice(2, colon);
}

/** Value of an `a=<name>:<value>` line, or '' for a property attribute. */
export function attributeValue(text: string): string {
  const colon = text.indexOf(':', 2);
  return colon < 0 ? '' : text.slice(colon + 1);
}

export interface Span {
  readonly start: number;
  readonly end: number;
}

/** Positions of the space- or tab-separated fields of a text, so one field can be replaced in place. */
export function fieldSpans(text: string, from = 0): Span[] {
  const spans: Span[] = [];
  const re = /[^ \t]+/g;
  re.lastIndex = from;
  for (let m = re.exec(text); m !== null; m = re.exec(text))
    spans.push({ start: m.index, end: m.index + m[0].length });
  return spans;
}

export function fields(text: string, from = 0): string[] {
  return fieldSpans(text, from).map((s) => text.slice(s.start, s.end));
}

/** Replace several fields at once; spans must not overlap. */
export function replaceFields(text: string, edits: ReadonlyArray<{ span: Span; value: string }>): string {
  const sorted = [...edits].sort((a, b) => b.span.start - a.span.start);
  let out = text;
  for (const e of sorted) out = out.slice(0, e.span.start) + e.value + out.slice(e.span.end);
  return out;
}
