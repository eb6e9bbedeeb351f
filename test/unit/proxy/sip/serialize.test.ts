import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { appendHeader, prependHeader, removeHeader, setHeader } from '../../../../proxy/sip/header-list.ts';
import type { SipMessage, SipRequest } from '../../../../proxy/sip/message.ts';
import { parseMessage } from '../../../../proxy/sip/parse.ts';
import { serializeMessage } from '../../../../proxy/sip/serialize.ts';

const ODD = [
  'INVITE sip:bob@example.com SIP/2.0',
  'v:  SIP/2.0/UDP 192.0.2.1:5060 ;branch=z9hG4bK776asdhds',
  'MAX-FORWARDS:70',
  'to : Bob <sip:bob@example.com>',
  'f: Alice <sip:alice@example.org>',
  '  ;tag=1928301774',
  'i: a84b4c76e66710',
  'cseq: 1 INVITE',
  'l: 5',
  '',
  'hello',
].join('\r\n');

function parse(text: string | Buffer): SipMessage {
  const r = parseMessage(Buffer.isBuffer(text) ? text : Buffer.from(text));
  assert.ok(r.ok, r.ok ? '' : r.error.reason);
  return r.msg;
}

describe('serializeMessage', () => {
  it('writes an untouched message byte for byte (spelling, compact forms, spacing, folding)', () => {
    assert.equal(serializeMessage(parse(ODD)).toString(), ODD);
  });

  it('rewrites only the changed header, with canonical capitalisation', () => {
    const msg = parse(ODD);
    setHeader(msg, 'max-forwards', '69');
    const out = serializeMessage(msg).toString();
    assert.ok(out.includes('\r\nMax-Forwards: 69\r\n'));
    assert.ok(out.includes('\r\nv:  SIP/2.0/UDP 192.0.2.1:5060 ;branch=z9hG4bK776asdhds\r\n'));
    assert.ok(out.includes('\r\nf: Alice <sip:alice@example.org>\r\n  ;tag=1928301774\r\n'));
  });

  it('rewrites a header whose value was edited in place', () => {
    const msg = parse(ODD);
    const to = msg.headers.find((h) => h.name === 'to')!;
    to.value = `${to.value};tag=x`;
    assert.ok(serializeMessage(msg).toString().includes('\r\nTo: Bob <sip:bob@example.com>;tag=x\r\n'));
  });

  it('writes new headers canonically and in list order', () => {
    const msg = parse(ODD);
    prependHeader(msg, 'via', 'SIP/2.0/UDP 203.0.113.1;branch=z9hG4bKnew;rport');
    prependHeader(msg, 'record-route', '<sip:203.0.113.1;lr>');
    appendHeader(msg, 'www-authenticate', 'Digest realm="x"');
    const lines = serializeMessage(msg).toString().split('\r\n');
    assert.equal(lines[1], 'Record-Route: <sip:203.0.113.1;lr>');
    assert.equal(lines[2], 'Via: SIP/2.0/UDP 203.0.113.1;branch=z9hG4bKnew;rport');
    assert.equal(lines[3], 'v:  SIP/2.0/UDP 192.0.2.1:5060 ;branch=z9hG4bK776asdhds');
    assert.ok(lines.includes('WWW-Authenticate: Digest realm="x"'));
  });

  it('recomputes Content-Length from the body, in place, keeping a correct one as written', () => {
    const msg = parse(ODD);
    msg.body = Buffer.from('hello, world');
    const out = serializeMessage(msg).toString();
    assert.ok(out.includes('\r\ncseq: 1 INVITE\r\nContent-Length: 12\r\n\r\nhello, world'));
    assert.ok(!out.includes('l: 5'));
  });

  it('adds Content-Length when absent and keeps only one when repeated', () => {
    const noCl = parse(
      'OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\nab',
    );
    assert.ok(serializeMessage(noCl).toString().endsWith('CSeq: 1 OPTIONS\r\nContent-Length: 2\r\n\r\nab'));
    const twice = parse(ODD.replace('l: 5', 'l: 5\r\nContent-Length: 5'));
    assert.equal(serializeMessage(twice).toString(), ODD);
    removeHeader(twice, 'content-length');
    assert.ok(serializeMessage(twice).toString().endsWith('Content-Length: 5\r\n\r\nhello'));
  });

  it('truncates the body to Content-Length and normalises line ends to CRLF', () => {
    const lf = parse(ODD.replaceAll('\r\n', '\n') + ' and more');
    const out = serializeMessage(lf).toString();
    assert.equal(out, ODD);
  });

  it('rebuilds a changed start line and keeps an unchanged one', () => {
    const msg = parse(ODD) as SipRequest;
    msg.uri = 'sip:bob@192.0.2.7:5070';
    assert.ok(serializeMessage(msg).toString().startsWith('INVITE sip:bob@192.0.2.7:5070 SIP/2.0\r\n'));
    const resp = parse(
      'SIP/2.0 180  Ringing \r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n',
    );
    assert.ok(serializeMessage(resp).toString().startsWith('SIP/2.0 180  Ringing \r\n'));
  });

  it('writes messages built from scratch', () => {
    const msg: SipMessage = {
      type: 'response',
      status: 200,
      reason: 'OK',
      version: 'SIP/2.0',
      headers: [
        { name: 'via', value: 'SIP/2.0/UDP h;branch=z9hG4bK1' },
        { name: 'call-id', value: 'x' },
      ],
      body: Buffer.from('b'),
    };
    assert.equal(
      serializeMessage(msg).toString(),
      'SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCall-ID: x\r\nContent-Length: 1\r\n\r\nb',
    );
  });

  it('refuses values with CR or LF (header injection by our own code)', () => {
    const msg = parse(ODD);
    setHeader(msg, 'subject', 'a\r\nVia: evil');
    assert.throws(() => serializeMessage(msg), TypeError);
  });
});
