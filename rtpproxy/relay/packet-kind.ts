/**
 * Cheap classification of the first bytes of a datagram, used to decide what may be latched to. Pure
 * functions on a Buffer; no allocation, never throw.
 */

/** What a stream's transport lets through before latching (from the m= line's proto). */
export type PayloadMode = 'rtp' | 'rtp-dtls' | 'any';

/** RTP/AVP, RTP/SAVP(F): RTP only; UDP/TLS/RTP/SAVP(F): also DTLS and STUN; udptl and others: anything. */
export function payloadModeOf(proto: string): PayloadMode {
  const p = proto.toUpperCase();
  if (!p.includes('RTP')) return 'any';
  return p.includes('TLS') || p.includes('DTLS') ? 'rtp-dtls' : 'rtp';
}

/**
 * RFC 3550 §5.1: the fixed RTP header is 12 bytes and V (the top two bits) is 2. RFC 5761 §4: with
 * rtcp-mux an RTCP packet arrives on the RTP port; an RTCP receiver report without blocks is 8 bytes,
 * so on a muxed socket an RTCP packet type (PT 72-76 as seen through the RTP marker bit) is valid too.
 */
export function isValidOnRtpSocket(buf: Buffer, mux: boolean): boolean {
  if (buf.length < 8 || (buf[0]! & 0xc0) !== 0x80) return false;
  if (buf.length >= 12) return true;
  return mux && isMuxedRtcp(buf);
}

/** RFC 5761 §4: "RTCP packet types in the ranges 1-191 and 224-254 SHOULD only be used when other
 * values have been exhausted"; 200-204 (SR, RR, SDES, BYE, APP) appear as RTP PT 72-76. */
export function isMuxedRtcp(buf: Buffer): boolean {
  if (buf.length < 8 || (buf[0]! & 0xc0) !== 0x80) return false;
  const pt = buf[1]! & 0x7f;
  return pt >= 72 && pt <= 76;
}

/** RFC 3550 §6.4: version 2 and a packet type of SR/RR/SDES/BYE/APP and the feedback types (200-210). */
export function isValidRtcp(buf: Buffer): boolean {
  if (buf.length < 8 || (buf[0]! & 0xc0) !== 0x80) return false;
  const pt = buf[1]!;
  return pt >= 200 && pt <= 210;
}

/**
 * RFC 7983 §7 demultiplexing by the first byte: 0-3 STUN (with the RFC 5389 magic cookie), 20-63 DTLS.
 * Used for DTLS-SRTP streams, whose first packets are a STUN check or a DTLS handshake rather than RTP.
 */
export function isStunOrDtls(buf: Buffer): boolean {
  if (buf.length < 13) return false;
  const b = buf[0]!;
  if (b >= 20 && b <= 63) return true;
  return b <= 3 && buf.length >= 20 && buf.readUInt32BE(4) === 0x2112a442;
}

/** Whether a packet may be latched to, given the socket it arrived on and the stream's payload mode. */
export function isLatchable(buf: Buffer, rtcpSocket: boolean, mux: boolean, mode: PayloadMode): boolean {
  if (mode === 'any') return buf.length > 0;
  if (rtcpSocket ? isValidRtcp(buf) : isValidOnRtpSocket(buf, mux)) return true;
  return mode === 'rtp-dtls' && isStunOrDtls(buf);
}
