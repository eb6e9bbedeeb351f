import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getHeader, getHeaders } from '../../../../proxy/sip/header-list.ts';
import type { SipRequest } from '../../../../proxy/sip/message.ts';
import { getTag } from '../../../../proxy/sip/name-addr.ts';
import { parseMessage } from '../../../../proxy/sip/parse.ts';
import { createResponse, reasonPhrase } from '../../../../proxy/sip/responses.ts';
import { serializeMessage } from '../../../../proxy/sip/serialize.ts';
import { request, sip } from './helpers.ts';

function req(changes: Record<string, string | null> = {}, extra: string[] = []): SipRequest {
  const r = parseMessage(sip(request(changes, extra), 'v=0\r\n'));
  assert.ok(r.ok && r.msg.type === 'request');
  return r.msg;
}

describe('createResponse', () => {
  it('copies all Vias in order, From, To, Call-ID and CSeq, and nothing else', () => {
    const r = createResponse(
      req({}, ['v: SIP/2.0/TCP second.example.com;branch=z9hG4bK2', 'Subject: x']),
      200,
    );
    assert.deepEqual(
      r.headers.map((h) => h.name),
      ['via', 'to', 'from', 'call-id', 'cseq', 'via', 'content-length'],
    );
    assert.deepEqual(getHeaders(r, 'via'), [
      'SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds;rport',
      'SIP/2.0/TCP second.example.com;branch=z9hG4bK2',
    ]);
    assert.equal(getHeader(r, 'content-length'), '0');
    assert.equal(r.body.length, 0);
    assert.equal(r.reason, 'OK');
    assert.equal(r.version, 'SIP/2.0');
  });

  it('adds a To tag for status > 100 when the request has none', () => {
    const withGiven = createResponse(req(), 486, { toTag: 'abc123' });
    assert.equal(getHeader(withGiven, 'to'), 'Bob <sip:bob@example.com>;tag=abc123');
    const random = createResponse(req(), 404);
    assert.match(getTag(getHeader(random, 'to')!) ?? '', /^[0-9a-f]{16}$/);
    const trying = createResponse(req(), 100);
    assert.equal(getTag(getHeader(trying, 'to')!), undefined);
  });

  it('keeps an existing To tag', () => {
    const r = createResponse(req({ 'To:': 'To: <sip:bob@example.com>;tag=existing' }), 200, {
      toTag: 'other',
    });
    assert.equal(getTag(getHeader(r, 'to')!), 'existing');
  });

  it('adds extra headers and a custom reason', () => {
    const r = createResponse(req(), 400, {
      reason: 'Bad Request (CSeq)',
      headers: [['Warning', '399 sipmasq "x"']],
    });
    assert.equal(r.reason, 'Bad Request (CSeq)');
    assert.equal(getHeader(r, 'warning'), '399 sipmasq "x"');
  });

  it('writes copied header lines with their original bytes', () => {
    const r = createResponse(req({ 'Call-ID:': 'i:   abc@host' }), 100);
    const text = serializeMessage(r).toString();
    assert.ok(text.startsWith('SIP/2.0 100 Trying\r\n'));
    assert.ok(text.includes('\r\ni:   abc@host\r\n'));
    assert.ok(text.endsWith('Content-Length: 0\r\n\r\n'));
  });

  it('builds a 400 from a rejected request partial', () => {
    const r = parseMessage(sip(request({ 'CSeq:': 'CSeq: 1 BYE' })));
    assert.ok(!r.ok && r.error.partial);
    const resp = createResponse(r.error.partial, r.error.status, { reason: r.error.reason });
    assert.equal(resp.status, 400);
    assert.equal(getHeader(resp, 'cseq'), '1 BYE');
  });

  it('throws TypeError for a bad status from our own code', () => {
    assert.throws(() => createResponse(req(), 99), TypeError);
  });
});

describe('reasonPhrase', () => {
  it('knows the standard phrases and falls back to the class', () => {
    assert.equal(reasonPhrase(100), 'Trying');
    assert.equal(reasonPhrase(183), 'Session Progress');
    assert.equal(reasonPhrase(407), 'Proxy Authentication Required');
    assert.equal(reasonPhrase(482), 'Loop Detected');
    assert.equal(reasonPhrase(483), 'Too Many Hops');
    assert.equal(reasonPhrase(505), 'Version Not Supported');
    assert.equal(reasonPhrase(513), 'Message Too Large');
    assert.equal(reasonPhrase(499), 'Bad Request');
    assert.equal(reasonPhrase(699), 'Busy Everywhere');
  });
});
