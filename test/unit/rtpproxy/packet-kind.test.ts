import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  isLatchable,
  isMuxedRtcp,
  isStunOrDtls,
  isValidOnRtpSocket,
  isValidRtcp,
  payloadModeOf,
} from '../../../rtpproxy/relay/packet-kind.ts';

const bytes = (...b: number[]) => Buffer.from(b);
const rtp = Buffer.concat([bytes(0x80, 0x00), Buffer.alloc(10)]);
const rr = Buffer.concat([bytes(0x80, 201, 0, 1), Buffer.alloc(4)]);

describe('packet kinds', () => {
  it('accepts RTP version 2 of at least 12 bytes on the RTP socket', () => {
    assert.equal(isValidOnRtpSocket(rtp, false), true);
    assert.equal(isValidOnRtpSocket(Buffer.concat([bytes(0x40, 0), Buffer.alloc(10)]), false), false);
    assert.equal(isValidOnRtpSocket(rtp.subarray(0, 11), false), false);
  });

  it('accepts a short RTCP receiver report on the RTP socket only with rtcp-mux', () => {
    assert.equal(isValidOnRtpSocket(rr, false), false);
    assert.equal(isValidOnRtpSocket(rr, true), true);
    assert.equal(isMuxedRtcp(rr), true);
    assert.equal(isMuxedRtcp(rtp), false);
  });

  it('accepts RTCP packet types 200-210 on the RTCP socket', () => {
    assert.equal(isValidRtcp(rr), true);
    assert.equal(isValidRtcp(Buffer.concat([bytes(0x81, 211), Buffer.alloc(6)])), false);
    assert.equal(isValidRtcp(rtp), false);
  });

  it('lets DTLS and STUN latch only on DTLS-SRTP streams, and anything on non-RTP streams', () => {
    const dtls = Buffer.concat([bytes(22, 0xfe, 0xfd), Buffer.alloc(20)]);
    const stun = Buffer.concat([bytes(0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42), Buffer.alloc(12)]);
    assert.equal(isStunOrDtls(dtls) && isStunOrDtls(stun), true);
    assert.equal(payloadModeOf('UDP/TLS/RTP/SAVPF'), 'rtp-dtls');
    assert.equal(payloadModeOf('RTP/AVP'), 'rtp');
    assert.equal(payloadModeOf('udptl'), 'any');
    assert.equal(isLatchable(dtls, false, false, 'rtp'), false);
    assert.equal(isLatchable(dtls, false, false, 'rtp-dtls'), true);
    assert.equal(isLatchable(stun, true, false, 'rtp-dtls'), true);
    assert.equal(isLatchable(Buffer.from('fax'), false, false, 'any'), true);
  });
});
