import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  appendHeader,
  getHeader,
  getHeaders,
  getHeaderValues,
  hasHeader,
  prependHeader,
  removeHeader,
  setHeader,
  setHeaderValues,
  splitHeaderList,
} from '../../../../proxy/sip/header-list.ts';
import type { SipRequest } from '../../../../proxy/sip/message.ts';
import { parseMessage } from '../../../../proxy/sip/parse.ts';
import { request, sip } from './helpers.ts';

function msg(extra: string[] = []): SipRequest {
  const r = parseMessage(sip(request({}, extra)));
  assert.ok(r.ok && r.msg.type === 'request');
  return r.msg;
}

const names = (m: SipRequest) => m.headers.map((h) => h.name);

describe('header lookup', () => {
  it('finds headers by any case and by compact form', () => {
    const m = msg(['m: <sip:second@x>', 'Subject: hi']);
    assert.equal(getHeader(m, 'CALL-ID'), 'a84b4c76e66710@pc33.example.org');
    assert.equal(getHeader(m, 'i'), 'a84b4c76e66710@pc33.example.org');
    assert.equal(getHeader(m, 's'), 'hi');
    assert.deepEqual(getHeaders(m, 'Contact'), ['<sip:alice@192.0.2.1:5060>', '<sip:second@x>']);
    assert.equal(getHeader(m, 'X-None'), undefined);
    assert.ok(hasHeader(m, 'v'));
  });

  it('splits list values at top-level commas across lines', () => {
    const m = msg([
      'Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>',
      'Route: "Proxy, Three" <sip:p3.example.com;lr>',
      'Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1 , SIP/2.0/UDP b.example.com;branch=z9hG4bK2',
    ]);
    assert.deepEqual(getHeaderValues(m, 'route'), [
      '<sip:p1.example.com;lr>',
      '<sip:p2.example.com;lr>',
      '"Proxy, Three" <sip:p3.example.com;lr>',
    ]);
    assert.equal(getHeaderValues(m, 'v').length, 3);
  });
});

describe('splitHeaderList', () => {
  it('respects quoted strings, escaped quotes and <uri,with,commas>', () => {
    assert.deepEqual(splitHeaderList('"a, \\"b,\\"" <sip:x@y>;q=1, <sip:u,v@w?h=a,b>,sip:z@z'), [
      '"a, \\"b,\\"" <sip:x@y>;q=1',
      '<sip:u,v@w?h=a,b>',
      'sip:z@z',
    ]);
  });

  it('keeps empty elements for validation and gives [] for a blank value', () => {
    assert.deepEqual(splitHeaderList('a,,b,'), ['a', '', 'b', '']);
    assert.deepEqual(splitHeaderList('  '), []);
    assert.deepEqual(splitHeaderList('"unterminated, quote'), ['"unterminated, quote']);
  });
});

describe('header editing', () => {
  it('setHeader replaces every line of that name at the first position', () => {
    const m = msg(['Contact: <sip:b@x>']);
    setHeader(m, 'm', '<sip:new@x>');
    assert.deepEqual(getHeaders(m, 'contact'), ['<sip:new@x>']);
    assert.equal(names(m).indexOf('contact'), 6);
    setHeader(m, 'User-Agent', 'sipmasq');
    assert.equal(names(m).at(-1), 'user-agent');
  });

  it('setHeaderValues writes one line per value, and removes all for []', () => {
    const m = msg();
    setHeaderValues(m, 'Via', ['SIP/2.0/UDP a;branch=z9hG4bK1', 'SIP/2.0/UDP b;branch=z9hG4bK2']);
    assert.deepEqual(names(m).slice(0, 2), ['via', 'via']);
    setHeaderValues(m, 'via', []);
    assert.ok(!hasHeader(m, 'via'));
    setHeaderValues(m, 'Route', ['<sip:r1;lr>', '<sip:r2;lr>']);
    assert.deepEqual(getHeaders(m, 'route'), ['<sip:r1;lr>', '<sip:r2;lr>']);
  });

  it('removeHeader removes every line including compact forms', () => {
    const m = msg(['m: <sip:b@x>']);
    removeHeader(m, 'Contact');
    assert.ok(!hasHeader(m, 'contact'));
  });

  it('prependHeader goes before the first line of that name, or at the top', () => {
    const m = msg();
    prependHeader(m, 'Via', 'SIP/2.0/UDP proxy;branch=z9hG4bKp');
    assert.equal(m.headers[0]!.value, 'SIP/2.0/UDP proxy;branch=z9hG4bKp');
    assert.equal(m.headers[1]!.name, 'via');
    prependHeader(m, 'Record-Route', '<sip:proxy;lr>');
    assert.equal(m.headers[0]!.name, 'record-route');
    prependHeader(m, 'call-id', 'x');
    assert.equal(names(m).indexOf('call-id'), names(m).lastIndexOf('call-id') - 1);
  });

  it('appendHeader goes after the last line of that name, or at the end', () => {
    const m = msg(['Route: <sip:a;lr>', 'Subject: x']);
    appendHeader(m, 'Route', '<sip:b;lr>');
    assert.deepEqual(getHeaders(m, 'route'), ['<sip:a;lr>', '<sip:b;lr>']);
    assert.equal(names(m).at(-1), 'subject');
    appendHeader(m, 'Max-Breadth', '60');
    assert.equal(names(m).at(-1), 'max-breadth');
  });
});
