/**
 * Line-based SDP rewrite: a proxy changes only what it means to change. The o= address, the m= ports, the
 * c= addresses and a=rtcp of the planned media are replaced with the relay's; ICE attributes are dropped
 * (the relay address replaces every candidate, and stale private candidates must not leak). Every other
 * line is given back byte for byte, in order, with its own line ending.
 *
 * The body is network input and never makes this throw; a bad plan is our own bug and throws TypeError.
 */
import { sameAddress } from '../../common/net.ts';
import { addrTypeOf, isHoldAddress, isWritableAddress } from './connection-address.ts';
import {
  attributeName,
  fieldSpans,
  joinLines,
  lineType,
  replaceFields,
  type SdpLine,
  splitLines,
} from './sdp-lines.ts';

export interface MediaRewrite {
  /** Position of the m= line, from 0. */
  index: number;
  /** Address to write for this stream (IPv4 or IPv6 literal, no brackets). */
  addr: string;
  /** RTP port to write; a port-0 m= line stays 0 whatever this says. */
  port: number;
  /** RTCP port to write into a=rtcp; 0 leaves the a=rtcp port alone. */
  rtcpPort: number;
}

export interface SdpRewritePlan {
  /** New unicast-address for o=, when given. */
  originAddr?: string;
  media: MediaRewrite[];
  /** Drop ICE attributes at both levels (default true). */
  removeIce?: boolean;
}

/**
 * RFC 8839 §5 attributes (and RFC 8840's end-of-candidates). Names are matched case-insensitively here,
 * unlike elsewhere, because a leaked candidate costs more than a dropped odd line.
 */
const ICE_ATTRIBUTES: ReadonlySet<string> = new Set([
  'candidate',
  'ice-ufrag',
  'ice-pwd',
  'ice-options',
  'ice-lite',
  'ice-mismatch',
  'remote-candidates',
  'end-of-candidates',
]);

function isPort(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 65535;
}

function validatePlan(plan: SdpRewritePlan): Map<number, MediaRewrite> {
  if (typeof plan !== 'object' || plan === null || !Array.isArray(plan.media))
    throw new TypeError('rewriteSdp: plan must be an object with a media array');
  if (plan.originAddr !== undefined && !isWritableAddress(plan.originAddr))
    throw new TypeError(`rewriteSdp: originAddr ${String(plan.originAddr)} is not an IP address`);
  const byIndex = new Map<number, MediaRewrite>();
  for (const m of plan.media) {
    if (!Number.isInteger(m?.index) || m.index < 0)
      throw new TypeError(`rewriteSdp: bad media index ${m?.index}`);
    if (byIndex.has(m.index)) throw new TypeError(`rewriteSdp: media index ${m.index} planned twice`);
    if (!isWritableAddress(m.addr))
      throw new TypeError(`rewriteSdp: media ${m.index} addr ${m.addr} is not an IP address`);
    if (!isPort(m.port) || !isPort(m.rtcpPort))
      throw new TypeError(`rewriteSdp: media ${m.index} has a bad port ${m.port}/${m.rtcpPort}`);
    byIndex.set(m.index, m);
  }
  return byIndex;
}

/** A section: the session part (before the first m=) or one media description (its m= line onwards). */
interface Section {
  lines: SdpLine[];
  /** m= port, or null for the session section or an m= line whose port we cannot read. */
  port: number | null;
  hasConnection: boolean;
  hasRtcp: boolean;
  hasRtcpMux: boolean;
}

function sectionsOf(lines: readonly SdpLine[]): Section[] {
  const sections: Section[] = [
    { lines: [], port: null, hasConnection: false, hasRtcp: false, hasRtcpMux: false },
  ];
  for (const line of lines) {
    const type = lineType(line.text);
    if (type === 'm') {
      const portText = line.text.slice(2).split(/[ \t]+/)[1] ?? '';
      const pm = /^(\d{1,5})(?:\/\d+)?$/.exec(portText);
      sections.push({
        lines: [],
        port: pm ? Number(pm[1]) : null,
        hasConnection: false,
        hasRtcp: false,
        hasRtcpMux: false,
      });
    }
    const s = sections.at(-1)!;
    s.lines.push(line);
    if (type === 'c') s.hasConnection = true;
    else if (type === 'a' && attributeName(line.text) === 'rtcp') s.hasRtcp = true;
    else if (type === 'a' && attributeName(line.text) === 'rtcp-mux') s.hasRtcpMux = true;
  }
  return sections;
}

/** The address of a c= line (suffix stripped), or null when it is not `IN <addrtype> <addr>`. */
function connectionAddr(text: string): string | null {
  const f = fieldSpans(text, 2);
  if (f.length !== 3 || text.slice(f[0]!.start, f[0]!.end) !== 'IN') return null;
  return text.slice(f[2]!.start, f[2]!.end).split('/')[0] ?? null;
}

/**
 * RFC 8866 §5.7: c=<nettype> <addrtype> <connection-address>. The addrtype follows the new address and a
 * multicast TTL suffix goes (the relay is unicast). RFC 3264 §8.4: a 0.0.0.0 (or ::) address is hold and
 * is kept as is. A c= line we cannot read is replaced whole.
 */
function rewriteConnection(text: string, addr: string): string {
  const old = connectionAddr(text);
  if (old !== null && isHoldAddress(old)) return text;
  if (old === null) return `c=IN ${addrTypeOf(addr)} ${addr}`;
  const f = fieldSpans(text, 2);
  return replaceFields(text, [
    { span: f[1]!, value: addrTypeOf(addr) },
    { span: f[2]!, value: addr },
  ]);
}

/** RFC 8866 §5.2: o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address> */
function rewriteOrigin(text: string, addr: string): string {
  const f = fieldSpans(text, 2);
  if (f.length !== 6) return text;
  return replaceFields(text, [
    { span: f[4]!, value: addrTypeOf(addr) },
    { span: f[5]!, value: addr },
  ]);
}

/** RFC 8866 §5.14: m=<media> <port>[/<number of ports>] <proto> <fmt> ...; port 0 stays 0 (RFC 3264 §6). */
function rewriteMediaLine(text: string, port: number): string {
  const f = fieldSpans(text, 2);
  const span = f[1];
  if (span === undefined) return text;
  const pm = /^(\d{1,5})(\/\d+)?$/.exec(text.slice(span.start, span.end));
  if (!pm || Number(pm[1]) === 0) return text;
  return replaceFields(text, [{ span, value: `${port}${pm[2] ?? ''}` }]);
}

/**
 * RFC 3605 §2.1: a=rtcp:<port> [<nettype> <addrtype> <connection-address>]. The port and the address (when
 * present) become ours; even a 0.0.0.0 one (JSEP's "9 IN IP4 0.0.0.0" placeholder, or a held stream): RTCP
 * sent to the relay is harmless, RTCP sent nowhere is not. A malformed a=rtcp is replaced whole.
 */
function rewriteRtcp(text: string, plan: MediaRewrite): string {
  const valueStart = text.indexOf(':') + 1;
  const f = fieldSpans(text, valueStart);
  const portSpan = f[0];
  const portOk = portSpan !== undefined && /^\d{1,5}$/.test(text.slice(portSpan.start, portSpan.end));
  if (!portOk || (f.length !== 1 && f.length !== 4))
    return plan.rtcpPort > 0 ? `a=rtcp:${plan.rtcpPort}` : text;
  const edits: { span: (typeof f)[number]; value: string }[] = [];
  if (plan.rtcpPort > 0) edits.push({ span: portSpan, value: String(plan.rtcpPort) });
  if (f.length === 4)
    edits.push({ span: f[2]!, value: addrTypeOf(plan.addr) }, { span: f[3]!, value: plan.addr });
  return replaceFields(text, edits);
}

/** Output lines; an inserted line takes the ending of the line before it. */
class LineWriter {
  readonly out: SdpLine[] = [];
  constructor(private readonly defaultEol: string) {}

  keep(line: SdpLine, text = line.text): void {
    this.out.push(text === line.text ? line : { text, eol: line.eol });
  }

  insert(text: string): void {
    const prev = this.out.at(-1);
    if (prev === undefined) {
      this.out.push({ text, eol: this.defaultEol });
      return;
    }
    this.out.push({ text, eol: prev.eol || this.defaultEol });
    if (prev.eol === '') this.out[this.out.length - 2] = { text: prev.text, eol: this.defaultEol };
  }
}

/**
 * The address the session-level c= takes: that of the first planned, enabled media that has no c= of its
 * own (it inherits the session one), else of the first planned enabled media, else of the first planned one.
 */
function sessionTarget(
  sections: readonly Section[],
  plans: ReadonlyMap<number, MediaRewrite>,
): string | null {
  const planned = [...plans.values()].sort((a, b) => a.index - b.index);
  const enabled = planned.filter((p) => sections[p.index + 1]?.port !== 0);
  const inheriting = enabled.find((p) => !sections[p.index + 1]?.hasConnection);
  return (inheriting ?? enabled[0] ?? planned[0])?.addr ?? null;
}

/** Rewrite an SDP body by a plan. See the file comment for what changes. */
export function rewriteSdp(body: string, plan: SdpRewritePlan): string {
  const plans = validatePlan(plan);
  const removeIce = plan.removeIce ?? true;
  const lines = splitLines(body);
  const sections = sectionsOf(lines);
  const mediaCount = sections.length - 1;
  for (const index of plans.keys())
    if (index >= mediaCount)
      throw new TypeError(`rewriteSdp: plan names media ${index}, the body has ${mediaCount}`);

  const writer = new LineWriter(lines.find((l) => l.eol !== '')?.eol ?? '\r\n');
  const session = sections[0]!;
  const oldSessionLine = session.lines.find((l) => lineType(l.text) === 'c')?.text ?? null;
  const oldSessionAddr = oldSessionLine === null ? null : connectionAddr(oldSessionLine);
  const target = sessionTarget(sections, plans);
  const newSessionLine =
    oldSessionLine === null || target === null ? oldSessionLine : rewriteConnection(oldSessionLine, target);
  const newSessionAddr = newSessionLine === null ? null : connectionAddr(newSessionLine);
  const sessionHold = oldSessionAddr !== null && isHoldAddress(oldSessionAddr);

  const dropped = (text: string): boolean =>
    removeIce && lineType(text) === 'a' && ICE_ATTRIBUTES.has(attributeName(text).toLowerCase());

  for (const line of session.lines) {
    const type = lineType(line.text);
    if (dropped(line.text)) continue;
    if (type === 'o' && plan.originAddr !== undefined)
      writer.keep(line, rewriteOrigin(line.text, plan.originAddr));
    else if (type === 'c' && target !== null) writer.keep(line, rewriteConnection(line.text, target));
    else writer.keep(line);
  }

  for (const [i, section] of sections.slice(1).entries()) {
    const p = plans.get(i);
    const enabled = section.port !== 0;
    // RFC 8866 §5: m=, then i=, then c=. What c= line (if any) this media needs of its own:
    let insertConnection: string | null = null;
    if (enabled && !section.hasConnection) {
      if (p !== undefined) {
        // A planned media inheriting the session c=: it needs its own when the session one now says
        // something else, unless it inherited the 0.0.0.0 hold form, which stays.
        const differs = newSessionAddr === null || !sameAddress(newSessionAddr, p.addr);
        if (differs && !sessionHold) insertConnection = `c=IN ${addrTypeOf(p.addr)} ${p.addr}`;
      } else if (oldSessionLine !== null && newSessionLine !== oldSessionLine) {
        // Media not in the plan keeps its meaning: it gets the session c= it inherited before.
        insertConnection = oldSessionLine;
      }
    }
    let lastContent = section.lines.length - 1;
    while (lastContent > 0 && section.lines[lastContent]!.text === '') lastContent--;
    for (const [n, line] of section.lines.entries()) {
      const type = lineType(line.text);
      if (dropped(line.text)) {
        // a dropped line is never the m= or i= line, so the insertion point is unaffected
      } else if (p === undefined) writer.keep(line);
      else if (type === 'm') writer.keep(line, rewriteMediaLine(line.text, p.port));
      else if (type === 'c') writer.keep(line, rewriteConnection(line.text, p.addr));
      else if (type === 'a' && attributeName(line.text) === 'rtcp')
        writer.keep(line, rewriteRtcp(line.text, p));
      else writer.keep(line);
      const next = section.lines[n + 1];
      const afterTitle = (type === 'm' && !next?.text.startsWith('i=')) || (type === 'i' && n === 1);
      if (insertConnection !== null && afterTitle) {
        writer.insert(insertConnection);
        insertConnection = null;
      }
      // RFC 3605 §2: when RTCP is not on port + 1 the answer must say where it is.
      if (n === lastContent && p !== undefined && needsRtcpLine(section, p))
        writer.insert(`a=rtcp:${p.rtcpPort}`);
    }
  }

  const last = lines.at(-1);
  const outLast = writer.out.at(-1);
  if (last !== undefined && outLast !== undefined && outLast.eol !== last.eol)
    writer.out[writer.out.length - 1] = { text: outLast.text, eol: last.eol };
  return joinLines(writer.out);
}

function needsRtcpLine(section: Section, p: MediaRewrite): boolean {
  return (
    section.port !== 0 &&
    section.port !== null &&
    p.port !== 0 &&
    p.rtcpPort !== 0 &&
    p.rtcpPort !== p.port + 1 &&
    !section.hasRtcp &&
    !section.hasRtcpMux
  );
}

/** Exposed for tests and callers that want to know whether a body carried ICE. */
export function hasIce(body: string): boolean {
  return splitLines(body).some(
    (l) => lineType(l.text) === 'a' && ICE_ATTRIBUTES.has(attributeName(l.text).toLowerCase()),
  );
}
