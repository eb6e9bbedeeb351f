/**
 * What the proxy needs to know from an SDP body: the origin address, the connection addresses and, for
 * every m= line in order, its port, transport, RTCP port, direction and hold state. Pure: a value in, a
 * value out; a body we cannot use is `{ ok: false, reason }`, never an exception.
 */

import { sameAddress } from '../../common/net.ts';
import type { MediaDirection, StreamRequest } from '../../rtpproxy/control.ts';
import { isHoldAddress, parseConnection } from './connection-address.ts';
import { attributeName, attributeValue, fields, lineType, splitLines } from './sdp-lines.ts';

export interface SdpMedia {
  /** Position of the m= line, from 0. */
  index: number;
  /** audio, video, image, application... */
  type: string;
  /** 0 = disabled (RFC 3264 §6). */
  port: number;
  /** `m=audio 49170/2` -> 2, else 1. */
  portCount: number;
  /** RTP/AVP, RTP/SAVP, UDP/TLS/RTP/SAVPF, udptl... */
  proto: string;
  formats: string[];
  /** Media-level c= else session-level c= (RFC 8866 §5.7); '0.0.0.0' kept as is; multicast suffix stripped. */
  addr: string | null;
  /** a=rtcp port (RFC 3605) else port + 1. */
  rtcpPort: number;
  /** a=rtcp address when it has one. */
  rtcpAddr: string | null;
  /** a=rtcp-mux present (RFC 5761). */
  rtcpMux: boolean;
  /** Media-level direction attribute, else session-level, else sendrecv (RFC 8866 §6.7). */
  direction: MediaDirection;
  /** Direction sendonly/inactive, or address 0.0.0.0 / :: (RFC 3264 §8.4 and the RFC 2543 form). */
  hold: boolean;
}

export interface SdpInfo {
  /** unicast-address of o= as written (RFC 8866 §5.2), or null when o= is absent or malformed. */
  originAddr: string | null;
  /** Session-level c= address, or null. */
  sessionAddr: string | null;
  media: SdpMedia[];
}

export type SdpParseResult = { ok: true; sdp: SdpInfo } | { ok: false; reason: string };

/** Bounds on untrusted input: more m= lines than this, or a longer line, is refused. */
export const MAX_MEDIA = 64;
export const MAX_LINE_BYTES = 4096;

const DIRECTIONS: ReadonlySet<string> = new Set(['sendrecv', 'sendonly', 'recvonly', 'inactive']);

interface Draft {
  index: number;
  type: string;
  port: number;
  portCount: number;
  proto: string;
  formats: string[];
  addr: string | null;
  rtcpPort: number | null;
  rtcpAddr: string | null;
  rtcpMux: boolean;
  direction: MediaDirection | null;
}

type Step<T> = { ok: true; value: T } | { ok: false; reason: string };

/**
 * RFC 8866 §5.14:
 *   m=<media> <port> <proto> <fmt> ...
 *   m=<media> <port>/<number of ports> <proto> <fmt> ...
 */
function parseMediaLine(text: string, index: number): Step<Draft> {
  const f = fields(text, 2);
  const [type, portText, proto] = f;
  if (type === undefined || portText === undefined || proto === undefined)
    return { ok: false, reason: `m= line ${index} has too few fields` };
  const pm = /^(\d{1,5})(?:\/(\d{1,5}))?$/.exec(portText);
  const port = Number(pm?.[1]);
  const portCount = pm?.[2] === undefined ? 1 : Number(pm[2]);
  if (!pm || port > 65535 || portCount < 1)
    return { ok: false, reason: `m= line ${index} has an invalid port ${JSON.stringify(portText)}` };
  return {
    ok: true,
    value: {
      index,
      type,
      port,
      portCount,
      proto,
      formats: f.slice(3),
      addr: null,
      rtcpPort: null,
      rtcpAddr: null,
      rtcpMux: false,
      direction: null,
    },
  };
}

/**
 * RFC 3605 §2.1:
 *   rtcp-attribute = "a=rtcp:" port [nettype space addrtype space connection-address] CRLF
 * A malformed a=rtcp is ignored (RTCP then defaults to port + 1) rather than failing the call.
 */
function applyRtcp(media: Draft, value: string): void {
  if (media.rtcpPort !== null) return;
  const f = fields(value);
  const portText = f[0] ?? '';
  const port = Number(portText);
  if (!/^\d{1,5}$/.test(portText) || port < 1 || port > 65535) return;
  media.rtcpPort = port;
  if (f.length === 4) {
    const conn = parseConnection(f.slice(1));
    if (conn.ok) media.rtcpAddr = conn.addr;
  }
}

/** RFC 8866 §5.2: o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address> */
function originAddress(text: string): string | null {
  const f = fields(text, 2);
  return f.length === 6 ? f[5]! : null;
}

function byteLength(text: string): number {
  return text.length * 3 <= MAX_LINE_BYTES ? text.length : Buffer.byteLength(text, 'utf8');
}

/** Parse an SDP body. Never throws. */
export function parseSdp(body: string): SdpParseResult {
  if (typeof body !== 'string') return { ok: false, reason: 'body is not text' };
  const lines = splitLines(body);
  // RFC 8866 §5.1: "v=0" is the first line of a session description.
  if (!lines[0]?.text.startsWith('v=')) return { ok: false, reason: 'first line is not v=' };
  let originAddr: string | null = null;
  let sessionAddr: string | null = null;
  let sessionDirection: MediaDirection | null = null;
  const drafts: Draft[] = [];
  for (const [n, line] of lines.entries()) {
    const text = line.text;
    if (byteLength(text) > MAX_LINE_BYTES) return { ok: false, reason: `line ${n + 1} is over 4 KB` };
    const type = lineType(text);
    const media = drafts.at(-1);
    if (type === 'm') {
      if (drafts.length >= MAX_MEDIA) return { ok: false, reason: `more than ${MAX_MEDIA} m= lines` };
      const m = parseMediaLine(text, drafts.length);
      if (!m.ok) return m;
      drafts.push(m.value);
    } else if (type === 'o' && media === undefined && originAddr === null) {
      originAddr = originAddress(text);
    } else if (type === 'c') {
      const conn = parseConnection(fields(text, 2));
      if (!conn.ok) return { ok: false, reason: `c= on line ${n + 1}: ${conn.reason}` };
      // RFC 8866 §5.7: several media-level c= lines are for layered multicast; the first one is used.
      if (media === undefined) sessionAddr ??= conn.addr;
      else media.addr ??= conn.addr;
    } else if (type === 'a') {
      const name = attributeName(text);
      if (DIRECTIONS.has(name)) {
        if (media === undefined) sessionDirection ??= name as MediaDirection;
        else media.direction ??= name as MediaDirection;
      } else if (media !== undefined && name === 'rtcp') applyRtcp(media, attributeValue(text));
      else if (media !== undefined && name === 'rtcp-mux') media.rtcpMux = true;
    }
  }
  const media: SdpMedia[] = [];
  for (const d of drafts) {
    const addr = d.addr ?? sessionAddr;
    // RFC 8866 §5.7: "A session description MUST contain either at least one "c=" line in each media
    // description or a single "c=" line at the session level."
    if (addr === null && d.port !== 0)
      return { ok: false, reason: `m= line ${d.index} has no connection address` };
    // RFC 8866 §6.7: a media-level direction overrides the session-level one; the default is sendrecv.
    const direction = d.direction ?? sessionDirection ?? 'sendrecv';
    media.push({
      index: d.index,
      type: d.type,
      port: d.port,
      portCount: d.portCount,
      proto: d.proto,
      formats: d.formats,
      addr,
      rtcpPort: d.rtcpPort ?? (d.port === 0 ? 0 : Math.min(d.port + 1, 65535)),
      rtcpAddr: d.rtcpAddr,
      rtcpMux: d.rtcpMux,
      direction,
      // RFC 3264 §8.4: hold is sendonly (or inactive when the stream was recvonly), or the RFC 2543 form
      // "c=IN IP4 0.0.0.0".
      hold: direction === 'sendonly' || direction === 'inactive' || (addr !== null && isHoldAddress(addr)),
    });
  }
  return { ok: true, sdp: { originAddr, sessionAddr, media } };
}

/** One stream request per m= line, in order, for the media control seam (rtpproxy/control.ts). */
export function toStreamRequests(sdp: SdpInfo): StreamRequest[] {
  return sdp.media.map((m) => ({
    index: m.index,
    endpoint:
      m.port === 0 || m.addr === null
        ? null
        : {
            addr: m.addr,
            port: m.port,
            rtcpPort: m.rtcpPort,
            ...(m.rtcpAddr !== null && !sameAddress(m.rtcpAddr, m.addr) ? { rtcpAddr: m.rtcpAddr } : {}),
            rtcpMux: m.rtcpMux,
          },
    direction: m.direction,
    proto: m.proto,
  }));
}
