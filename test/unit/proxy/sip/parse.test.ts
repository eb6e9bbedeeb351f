import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getHeader } from '../../../../proxy/sip/header-list.ts';
import { type ParseResult, parseMessage } from '../../../../proxy/sip/parse.ts';
import { request, sip } from './helpers.ts';

function rejected(r: ParseResult) {
  assert.equal(r.ok, false, 'expected a rejection');
  if (r.ok) throw new Error('unreachable');
  return r.error;
}

function accepted(r: ParseResult) {
  assert.ok(r.ok, r.ok ? '' : r.error.reason);
  return r.msg;
}

describe('parseMessage: start line', () => {
  it('parses a request line', () => {
    const msg = accepted(parseMessage(sip(request())));
    assert.equal(msg.type, 'request');
    if (msg.type !== 'request') return;
    assert.equal(msg.method, 'INVITE');
    assert.equal(msg.uri, 'sip:bob@example.com');
    assert.equal(msg.version, 'SIP/2.0');
  });

  it('parses a status line with a multi-word reason', () => {
    const lines = request({ 'INVITE ': 'SIP/2.0 180 Ringing Now' });
    const msg = accepted(parseMessage(sip(lines)));
    assert.equal(msg.type, 'response');
    if (msg.type !== 'response') return;
    assert.equal(msg.status, 180);
    assert.equal(msg.reason, 'Ringing Now');
  });

  it('skips leading CRLFs before the start line (RFC 3261 §7.5)', () => {
    const msg = accepted(parseMessage(Buffer.concat([Buffer.from('\r\n\r\n\n'), sip(request())])));
    assert.equal(msg.type, 'request');
  });

  it('reports a CRLF-only datagram as a keepalive with no response', () => {
    for (const text of ['\r\n\r\n', '\r\n', '', '\n']) {
      const e = rejected(parseMessage(Buffer.from(text)));
      assert.equal(e.reason, 'keepalive');
      assert.equal(e.status, 0);
      assert.equal(e.partial, null);
    }
  });

  it('answers an unknown SIP version with 505', () => {
    const e = rejected(parseMessage(sip(request({ 'INVITE ': 'INVITE sip:bob@example.com SIP/3.0' }))));
    assert.equal(e.status, 505);
    assert.ok(e.partial);
  });

  it('rejects a malformed version, a non-token method and extra spaces with 400', () => {
    for (const line of [
      'INVITE sip:bob@example.com SIP/two',
      'INVITE sip:bob@example.com',
      'INVITE\tsip:bob@example.com SIP/2.0',
    ]) {
      const e = rejected(parseMessage(sip(request({ 'INVITE ': line }))));
      assert.equal(e.status, 400, line);
    }
    const e = rejected(parseMessage(sip(request({ 'INVITE ': 'IN<VITE sip:bob@example.com SIP/2.0' }))));
    assert.equal(e.status, 0, 'no method, no partial');
  });

  it('accepts the version case-insensitively', () => {
    const msg = accepted(parseMessage(sip(request({ 'INVITE ': 'INVITE sip:bob@example.com sip/2.0' }))));
    assert.equal(msg.version, 'sip/2.0');
  });

  it('never suggests a response to a response or to an ACK', () => {
    const resp = rejected(
      parseMessage(sip(request({ 'INVITE ': 'SIP/2.0 200 OK', 'CSeq:': 'CSeq: x INVITE' }))),
    );
    assert.equal(resp.status, 0);
    assert.equal(resp.partial, null);
    const ack = rejected(
      parseMessage(sip(request({ 'INVITE ': 'ACK sip:bob@example.com SIP/2.0', 'CSeq:': 'CSeq: 1 INVITE' }))),
    );
    assert.equal(ack.status, 0);
    assert.equal(ack.partial, null);
  });

  it('rejects status codes outside 100-699 and control characters in the reason', () => {
    for (const line of [
      'SIP/2.0 099 Low',
      'SIP/2.0 700 High',
      'SIP/2.0 20 OK',
      'SIP/2.0 2000 OK',
      'SIP/2.0 200 O\x01K',
    ]) {
      rejected(parseMessage(sip(request({ 'INVITE ': line }))));
    }
  });
});

describe('parseMessage: header fields', () => {
  it('unfolds continuation lines and trims values', () => {
    const msg = accepted(parseMessage(sip(request({}, ['Subject:   lunch  ', '   at noon\t', 'X-Empty:']))));
    assert.equal(getHeader(msg, 'subject'), 'lunch at noon');
    assert.equal(getHeader(msg, 'x-empty'), '');
  });

  it('maps compact forms and any case to the canonical long name', () => {
    const lines = request({
      'Via:': 'v: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1',
      'Call-ID:': 'i: abc',
      'To:': 'T: <sip:b@x>',
    });
    const msg = accepted(parseMessage(sip(lines)));
    assert.deepEqual(
      msg.headers.map((h) => h.name),
      ['via', 'max-forwards', 'to', 'from', 'call-id', 'cseq', 'contact'],
    );
  });

  it('accepts whitespace before the colon (HCOLON)', () => {
    const msg = accepted(parseMessage(sip(request({}, ['Subject \t: hi']))));
    assert.equal(getHeader(msg, 'subject'), 'hi');
  });

  it('accepts bare LF line ends', () => {
    const msg = accepted(parseMessage(sip(request(), 'body', '\n')));
    assert.equal(msg.body.toString(), 'body');
    assert.equal(getHeader(msg, 'cseq'), '314159 INVITE');
  });

  it('rejects a line without a colon, a bad header name, a bare CR, an orphan continuation', () => {
    for (const extra of [['NoColonHere'], ['Bad Name: x'], ['X-A: a\rb']]) {
      const e = rejected(parseMessage(sip(request({}, extra))));
      assert.equal(e.status, 400, extra[0]);
      assert.ok(e.partial, 'partial still built');
    }
    const orphan = Buffer.from(
      `INVITE sip:b@x SIP/2.0\r\n folded\r\n${request().slice(1).join('\r\n')}\r\n\r\n`,
    );
    assert.equal(rejected(parseMessage(orphan)).status, 400);
  });

  it('rejects a head that is not ended by an empty line', () => {
    const e = rejected(parseMessage(Buffer.from(request().join('\r\n'))));
    assert.equal(e.status, 400);
    assert.match(e.reason, /not terminated/);
  });

  it('limits the number of header fields', () => {
    const extra = Array.from({ length: 300 }, (_, i) => `X-H${i}: ${i}`);
    const e = rejected(parseMessage(sip(request({}, extra))));
    assert.equal(e.code, 'SMQ_ERR_SIP_TOO_LARGE');
    assert.equal(e.status, 513);
  });

  it('requires Via, From, To, Call-ID and CSeq, once each except Via', () => {
    for (const name of ['Via:', 'From:', 'To:', 'Call-ID:', 'CSeq:']) {
      const e = rejected(parseMessage(sip(request({ [name]: null }))));
      assert.match(e.reason, /missing/, name);
    }
    for (const dup of ['From: <sip:x@y>;tag=2', 'To: <sip:x@y>', 'Call-ID: other', 'CSeq: 1 INVITE']) {
      const e = rejected(parseMessage(sip(request({}, [dup]))));
      assert.match(e.reason, /multiple/, dup);
      assert.equal(e.status, 400);
    }
    const twoVias = accepted(
      parseMessage(sip(request({}, ['Via: SIP/2.0/TCP 192.0.2.9;branch=z9hG4bKx']))),
    ).headers;
    assert.equal(twoVias.filter((h) => h.name === 'via').length, 2);
  });

  it('does not require Max-Forwards, but checks it when present', () => {
    accepted(parseMessage(sip(request({ 'Max-Forwards:': null }))));
    accepted(parseMessage(sip(request({ 'Max-Forwards:': 'Max-Forwards: 0' }))));
    for (const v of ['256', '-1', 'seventy', '', '1 2']) {
      const e = rejected(parseMessage(sip(request({ 'Max-Forwards:': `Max-Forwards: ${v}` }))));
      assert.equal(e.status, 400, v);
    }
  });

  it('checks the CSeq number range and method', () => {
    accepted(parseMessage(sip(request({ 'CSeq:': 'CSeq: 2147483647 INVITE' }))));
    accepted(parseMessage(sip(request({ 'CSeq:': 'CSeq: 0 INVITE' }))));
    for (const v of ['2147483648 INVITE', '1 invite', '1', 'INVITE', '-1 INVITE', '1 INVITE x']) {
      const e = rejected(parseMessage(sip(request({ 'CSeq:': `CSeq: ${v}` }))));
      assert.equal(e.status, 400, v);
    }
    const cancel = [
      'CANCEL sip:bob@example.com SIP/2.0',
      ...request({ 'INVITE ': null, 'CSeq:': 'CSeq: 1 CANCEL' }),
    ];
    accepted(parseMessage(sip(cancel)));
  });

  it('rejects malformed From, To, Call-ID and Contact values', () => {
    for (const [k, v] of [
      ['From:', 'From: <sip:a@b'],
      ['To:', 'To: *'],
      ['Call-ID:', 'Call-ID: two words'],
      ['Contact:', 'Contact: <sip:a@b>, *'],
      ['Contact:', 'Contact: "x" sip:a@b'],
      ['Via:', 'Via: SIP/2.0/UDP'],
      ['Via:', 'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1,'],
    ] as const) {
      const e = rejected(parseMessage(sip(request({ [k]: v }))));
      assert.equal(e.code, 'SMQ_ERR_SIP_PARSE', v);
    }
    accepted(parseMessage(sip(request({ 'Contact:': 'Contact: *' }))));
  });

  it('rejects URI headers in a SIP Request-URI but accepts unknown schemes', () => {
    rejected(parseMessage(sip(request({ 'INVITE ': 'INVITE sip:bob@example.com?Subject=x SIP/2.0' }))));
    accepted(parseMessage(sip(request({ 'INVITE ': 'INVITE urn:service:sos SIP/2.0' }))));
    accepted(
      parseMessage(sip(request({ 'INVITE ': 'INVITE tel:+15551234567;phone-context=example.com SIP/2.0' }))),
    );
  });
});

describe('parseMessage: Content-Length and body', () => {
  const withCl = (cl: string | null, body: string) =>
    parseMessage(sip(request({}, cl === null ? [] : [`Content-Length: ${cl}`]), body));

  it('takes the rest of the datagram as body when Content-Length is absent', () => {
    assert.equal(accepted(withCl(null, 'v=0\r\nabc')).body.toString(), 'v=0\r\nabc');
  });

  it('keeps only Content-Length octets of a longer body (RFC 3261 §18.3)', () => {
    assert.equal(accepted(withCl('3', 'abcdef')).body.toString(), 'abc');
    assert.equal(accepted(withCl('0', 'junk')).body.length, 0);
  });

  it('rejects a body shorter than Content-Length', () => {
    const e = rejected(withCl('10', 'abc'));
    assert.equal(e.status, 400);
    assert.match(e.reason, /shorter/);
  });

  it('rejects negative, non-numeric and huge Content-Length values', () => {
    for (const v of ['-1', 'ten', '1e3', '99999999999999999999', '', '+5'])
      assert.equal(rejected(withCl(v, '')).status, 400, v);
  });

  it('accepts repeated equal Content-Length values and rejects conflicting ones', () => {
    accepted(parseMessage(sip(request({}, ['Content-Length: 3', 'l: 003']), 'abc')));
    rejected(parseMessage(sip(request({}, ['Content-Length: 3', 'l: 2']), 'abc')));
  });

  it('copies the body out of the input buffer', () => {
    const buf = sip(request({}, ['Content-Length: 3']), 'abc');
    const msg = accepted(parseMessage(buf));
    buf.fill(0x41);
    assert.equal(msg.body.toString(), 'abc');
  });
});

describe('parseMessage: size limits', () => {
  it('rejects a message over maxSize with 513 and a partial when the head is readable', () => {
    const buf = sip(request({}, ['Content-Length: 2000']), 'x'.repeat(2000));
    const e = rejected(parseMessage(buf, { maxSize: 1000 }));
    assert.equal(e.code, 'SMQ_ERR_SIP_TOO_LARGE');
    assert.equal(e.status, 513);
    assert.ok(e.partial);
    assert.equal(getHeader(e.partial, 'call-id'), 'a84b4c76e66710@pc33.example.org');
  });

  it('rejects an over-size message whose head cannot be read with status 0', () => {
    const e = rejected(parseMessage(Buffer.alloc(70000, 0x20)));
    assert.equal(e.code, 'SMQ_ERR_SIP_TOO_LARGE');
    assert.equal(e.status, 0);
  });

  it('uses 65535 as the default limit', () => {
    const body = 'x'.repeat(65535 - sip(request({}, ['Content-Length: 00000'])).length);
    accepted(
      parseMessage(sip(request({}, [`Content-Length: ${String(body.length).padStart(5, '0')}`]), body)),
    );
    rejected(parseMessage(sip(request({}, [`Content-Length: ${body.length + 1}`]), `${body}x`)));
  });

  it('finishes on 60 KB adversarial inputs (linear time)', () => {
    const big = 60_000;
    const inputs = [
      ' '.repeat(big),
      '\t'.repeat(big),
      `INVITE ${' '.repeat(big)}`,
      `${request().join('\r\n')}\r\nX: ${' '.repeat(big)}\r\n\r\n`,
      `${request().join('\r\n')}\r\n${' x\r\n'.repeat(big / 4)}\r\n`,
      `${request().join('\r\n')}\r\n${'a\r\n'.repeat(big / 3)}`,
      `${request({ 'Via:': `Via: SIP/2.0/UDP h${';a'.repeat(big / 2)}` }).join('\r\n')}\r\n\r\n`,
      `${request({ 'Contact:': `Contact: ${'<'.repeat(big)}` }).join('\r\n')}\r\n\r\n`,
      `${request({ 'Contact:': `Contact: ${'"\\'.repeat(big / 2)}` }).join('\r\n')}\r\n\r\n`,
      `${request({ 'Contact:': `Contact: ${'<sip:a@b>,'.repeat(big / 10)}` }).join('\r\n')}\r\n\r\n`,
      `${request({ 'To:': `To: <sip:${'%'.repeat(big)}@x>` }).join('\r\n')}\r\n\r\n`,
      '\r\n'.repeat(big / 2),
    ];
    for (const text of inputs) {
      const r = parseMessage(Buffer.from(text));
      assert.equal(typeof r.ok, 'boolean');
    }
  });
});
