/**
 * The bridge between an SDP body and the media side: read the streams an SDP describes, ask the
 * control seam for relay addresses, and rewrite the SDP to them (RFC 3264 offer/answer: every offer
 * and every answer that passes is rewritten, in both directions).
 */
import { errorText } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { MediaControl, Side } from '../../rtpproxy/control.ts';
import { rewriteSdp } from '../sdp/rewrite.ts';
import { parseSdp, toStreamRequests } from '../sdp/sdp-info.ts';
import { getHeader } from '../sip/header-list.ts';
import type { SipMessage } from '../sip/message.ts';

export type SdpOutcome =
  | { kind: 'none' }
  | { kind: 'rewritten' }
  | { kind: 'bad-sdp'; reason: string }
  | { kind: 'media-failed'; reason: string };

/** True when the message carries an SDP body (RFC 3261 §20.15 Content-Type; a missing one with a body is not assumed SDP). */
export function hasSdp(msg: SipMessage): boolean {
  if (msg.body.length === 0) return false;
  const type = getHeader(msg, 'content-type');
  return !!type && /^\s*application\/sdp\s*(;|$)/i.test(type);
}

export async function applySdp(
  msg: SipMessage,
  control: MediaControl,
  session: { sessionId: string; callId: string },
  from: Side,
  log: Logger,
): Promise<SdpOutcome> {
  if (!hasSdp(msg)) return { kind: 'none' };
  const text = msg.body.toString('utf8');
  const parsed = parseSdp(text);
  if (!parsed.ok) {
    log.warn('unusable SDP', { call: session.callId, reason: parsed.reason });
    return { kind: 'bad-sdp', reason: parsed.reason };
  }
  try {
    const grants = await control.update({
      sessionId: session.sessionId,
      callId: session.callId,
      from,
      streams: toStreamRequests(parsed.sdp),
    });
    const first = grants.find((g) => g.port > 0) ?? grants[0];
    msg.body = Buffer.from(
      rewriteSdp(text, {
        ...(first ? { originAddr: first.addr } : {}),
        media: grants.map((g) => ({ index: g.index, addr: g.addr, port: g.port, rtcpPort: g.rtcpPort })),
      }),
      'utf8',
    );
    log.debug('SDP rewritten', {
      call: session.callId,
      from,
      streams: grants.map((g) => `${g.addr}:${g.port}`).join(','),
    });
    return { kind: 'rewritten' };
  } catch (err) {
    log.error('media allocation failed', { call: session.callId, error: errorText(err) });
    return { kind: 'media-failed', reason: errorText(err) };
  }
}
