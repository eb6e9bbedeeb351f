import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type FramerEvent, StreamFramer } from '../../../../proxy/transport/stream-framer.ts';
import { framingErrorReply } from '../../../../proxy/transport/tcp-connection.ts';

function head(start: string, cl: string | null): string {
  return [
    start,
    'Via: SIP/2.0/TCP 192.168.1.10:5060;branch=z9hG4bK-1;rport',
    'From: <sip:100@example.com>;tag=a',
    'To: <sip:100@example.com>',
    'Call-ID: c1',
    `CSeq: 1 ${start.split(' ')[0]}`,
    ...(cl === null ? [] : [`Content-Length: ${cl}`]),
    '',
    '',
  ].join('\r\n');
}

function errorFor(text: string, maxSize = 65535) {
  const events: FramerEvent[] = new StreamFramer({ maxSize }).push(Buffer.from(text));
  const e = events.at(-1);
  assert.ok(e?.kind === 'error');
  return e.error;
}

describe('framingErrorReply', () => {
  it('answers a request without Content-Length with 400, Via and Call-ID copied', () => {
    const reply = framingErrorReply(errorFor(head('REGISTER sip:example.com SIP/2.0', null)))?.toString();
    assert.match(reply ?? '', /^SIP\/2.0 400 missing Content-Length header/);
    assert.match(reply ?? '', /\r\nVia: SIP\/2.0\/TCP 192.168.1.10:5060;branch=z9hG4bK-1;rport\r\n/);
    assert.match(reply ?? '', /\r\nCall-ID: c1\r\n/);
    assert.match(reply ?? '', /\r\nContent-Length: 0\r\n\r\n$/);
  });

  it('answers a request whose Content-Length passes the limit with 513', () => {
    const reply = framingErrorReply(errorFor(head('INVITE sip:x SIP/2.0', '99999'), 1000));
    assert.match(reply?.toString() ?? '', /^SIP\/2.0 513 /);
  });

  it('does not answer an ACK, a response or junk', () => {
    assert.equal(framingErrorReply(errorFor(head('ACK sip:x SIP/2.0', null))), null);
    assert.equal(framingErrorReply(errorFor(head('SIP/2.0 200 OK', null))), null);
    assert.equal(framingErrorReply(errorFor('GET / HTTP/1.1\r\nHost: x\r\n\r\n')), null);
    assert.equal(framingErrorReply(errorFor('x'.repeat(2000), 1000)), null);
  });
});
