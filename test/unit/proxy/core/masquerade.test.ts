import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AddressBook } from '../../../../proxy/core/address-book.ts';
import {
  masqueradeContacts,
  normalizeAor,
  processRoutes,
  recordRoute,
  topRoute,
  unmasqueradeContacts,
} from '../../../../proxy/core/masquerade.ts';
import { getHeaderValues } from '../../../../proxy/sip/header-list.ts';
import { ADDRESSES, LAN, PHONE, PUBLIC, req, resp } from './fixtures.ts';

const book = new AddressBook(ADDRESSES);
const isSelf = (h: string, p: number | undefined) => book.isSelf(h, p);

function request(uri: string, extra: string[]) {
  return req([
    `INVITE ${uri} SIP/2.0`,
    `Via: SIP/2.0/UDP ${PHONE}:5062;branch=z9hG4bK1`,
    'Max-Forwards: 70',
    'From: <sip:alice@voip.example.net>;tag=a1',
    'To: <sip:bob@voip.example.net>',
    'Call-ID: call-1@phone',
    'CSeq: 1 INVITE',
    ...extra,
  ]);
}

describe('normalizeAor', () => {
  it('keeps scheme, user, lower-cased host and port, and drops parameters and display names', () => {
    assert.equal(
      normalizeAor('"Alice" <sip:Alice@VOIP.Example.NET;transport=udp>;tag=1'),
      'sip:Alice@voip.example.net',
    );
    assert.equal(normalizeAor('<sips:bob@example.net:5061>'), 'sips:bob@example.net:5061');
    assert.equal(normalizeAor('sip:carol@example.net;tag=x'), 'sip:carol@example.net');
    assert.equal(normalizeAor('<sip:example.net>'), 'sip:example.net');
    assert.equal(normalizeAor('<sip:dave@[2001:DB8::1]>'), 'sip:dave@[2001:db8::1]');
  });

  it('gives null for nothing, garbage and non-SIP URIs', () => {
    assert.equal(normalizeAor(undefined), null);
    assert.equal(normalizeAor(''), null);
    assert.equal(normalizeAor('<http://example.net/>'), null);
    assert.equal(normalizeAor('not a uri'), null);
  });
});

describe('masqueradeContacts', () => {
  it('rewrites the URI to our user at our address, keeping header params and URI params except transport', () => {
    const m = request('sip:bob@voip.example.net', [
      `Contact: "Alice" <sip:alice@${PHONE}:5062;transport=TCP;line=abc;ob>;expires=300;q=0.5;+sip.instance="<urn:uuid:9>";reg-id=1`,
    ]);
    const seen: string[] = [];
    const out = masqueradeContacts(m, PUBLIC, 5060, (contactUri, uri) => {
      seen.push(contactUri);
      assert.equal(uri.user, 'alice');
      return 'alice-smqaaaaaaaaaaaa';
    });
    assert.deepEqual(seen, [`sip:alice@${PHONE}:5062;transport=TCP;line=abc;ob`]);
    assert.deepEqual(getHeaderValues(m, 'contact'), [
      `"Alice" <sip:alice-smqaaaaaaaaaaaa@${PUBLIC}:5060;line=abc;ob>;expires=300;q=0.5;+sip.instance="<urn:uuid:9>";reg-id=1`,
    ]);
    assert.deepEqual(out, [
      {
        user: 'alice-smqaaaaaaaaaaaa',
        contact: `sip:alice@${PHONE}:5062;transport=TCP;line=abc;ob`,
        expires: 300,
        instance: '"<urn:uuid:9>"',
      },
    ]);
  });

  it('turns a sips: contact into sip: (sipmasq is reached over UDP) and brackets an IPv6 public address', () => {
    const m = request('sip:bob@voip.example.net', [`Contact: <sips:alice@${PHONE}:5061>`]);
    masqueradeContacts(m, '2001:db8::10', 5060, () => 'u');
    assert.deepEqual(getHeaderValues(m, 'contact'), ['<sip:u@[2001:db8::10]:5060>']);
  });

  it('rewrites every contact of a list, and gives a non-numeric expires as null', () => {
    const m = request('sip:bob@voip.example.net', [
      `Contact: <sip:a@${PHONE}:5062>;expires=abc, <sip:b@${PHONE}:5064>`,
      `Contact: sip:c@${PHONE}:5066`,
    ]);
    let n = 0;
    const out = masqueradeContacts(m, PUBLIC, 5060, () => `u${n++}`);
    assert.deepEqual(getHeaderValues(m, 'contact'), [
      `<sip:u0@${PUBLIC}:5060>;expires=abc`,
      `<sip:u1@${PUBLIC}:5060>`,
      `<sip:u2@${PUBLIC}:5060>`,
    ]);
    assert.deepEqual(
      out.map((c) => [c.contact, c.expires]),
      [
        [`sip:a@${PHONE}:5062`, null],
        [`sip:b@${PHONE}:5064`, null],
        [`sip:c@${PHONE}:5066`, null],
      ],
    );
  });

  it('skips Contact: * and tel: contacts', () => {
    const star = request('sip:bob@voip.example.net', ['Contact: *']);
    assert.deepEqual(
      masqueradeContacts(star, PUBLIC, 5060, () => assert.fail('not asked')),
      [],
    );
    assert.deepEqual(getHeaderValues(star, 'contact'), ['*']);
    const tel = request('sip:bob@voip.example.net', ['Contact: <tel:+4930123>', `Contact: <sip:a@${PHONE}>`]);
    const out = masqueradeContacts(tel, PUBLIC, 5060, () => 'u');
    assert.equal(out.length, 1);
    assert.deepEqual(getHeaderValues(tel, 'contact'), ['<tel:+4930123>', `<sip:u@${PUBLIC}:5060>`]);
  });

  it('does nothing to a message without Contact', () => {
    const m = request('sip:bob@voip.example.net', []);
    const before = JSON.stringify(m.headers);
    assert.deepEqual(
      masqueradeContacts(m, PUBLIC, 5060, () => 'u'),
      [],
    );
    assert.equal(JSON.stringify(m.headers), before);
  });
});

describe('unmasqueradeContacts', () => {
  it('puts the phone contact back for our users and leaves others alone', () => {
    const r = resp([
      'SIP/2.0 200 OK',
      `Via: SIP/2.0/UDP ${PHONE}:5062;branch=z9hG4bK1`,
      'From: <sip:alice@voip.example.net>;tag=a1',
      'To: <sip:alice@voip.example.net>;tag=x',
      'Call-ID: c',
      'CSeq: 1 REGISTER',
      `Contact: <sip:alice-smqaaaaaaaaaaaa@${PUBLIC}:5060;line=1>;expires=60, <sip:other@198.51.100.3>;expires=60`,
    ]);
    unmasqueradeContacts(r, (user) =>
      user === 'alice-smqaaaaaaaaaaaa' ? `sip:alice@${PHONE}:5062;line=1` : undefined,
    );
    assert.deepEqual(getHeaderValues(r, 'contact'), [
      `<sip:alice@${PHONE}:5062;line=1>;expires=60`,
      '<sip:other@198.51.100.3>;expires=60',
    ]);
  });

  it('leaves the header lines untouched when nothing is ours', () => {
    const r = resp([
      'SIP/2.0 200 OK',
      `Via: SIP/2.0/UDP ${PHONE}:5062;branch=z9hG4bK1`,
      'From: <sip:a@b>;tag=1',
      'To: <sip:a@b>;tag=2',
      'Call-ID: c',
      'CSeq: 1 REGISTER',
      'Contact: <sip:x@198.51.100.3>',
      'Contact: <sip:y@198.51.100.3>',
    ]);
    const before = r.headers.filter((h) => h.name === 'contact');
    unmasqueradeContacts(r, () => undefined);
    assert.deepEqual(
      r.headers.filter((h) => h.name === 'contact'),
      before,
    );
  });
});

describe('processRoutes', () => {
  it('removes our own entries from the top of Route, both of them (double record-routing)', () => {
    const m = request('sip:bob@198.51.100.77', [
      `Route: <sip:${LAN}:5060;lr>, <sip:${PUBLIC};lr>`,
      'Route: <sip:proxy.voip.example.net;lr>',
    ]);
    processRoutes(m, isSelf);
    assert.deepEqual(getHeaderValues(m, 'route'), ['<sip:proxy.voip.example.net;lr>']);
    assert.equal(m.uri, 'sip:bob@198.51.100.77');
    assert.equal(topRoute(m)?.host, 'proxy.voip.example.net');
  });

  it('removes the Route header entirely when only our entries were there', () => {
    const m = request('sip:bob@198.51.100.77', [`Route: <sip:${PUBLIC}:5060;lr>`]);
    processRoutes(m, isSelf);
    assert.deepEqual(getHeaderValues(m, 'route'), []);
    assert.equal(topRoute(m), null);
  });

  it('keeps entries that are not ours, even when ours follow them', () => {
    const m = request('sip:bob@198.51.100.77', [`Route: <sip:proxy.example;lr>, <sip:${PUBLIC};lr>`]);
    processRoutes(m, isSelf);
    assert.deepEqual(getHeaderValues(m, 'route'), [`<sip:proxy.example;lr>`, `<sip:${PUBLIC};lr>`]);
  });

  it('restores the Request-URI a strict router put into Route (RFC 3261 §16.4)', () => {
    const m = request(`sip:${PUBLIC}:5060;lr`, [
      'Route: <sip:proxy.example;lr>',
      'Route: <sip:bob-smqaaaaaaaaaaaa@203.0.113.10:5060>',
    ]);
    processRoutes(m, isSelf);
    assert.equal(m.uri, 'sip:bob-smqaaaaaaaaaaaa@203.0.113.10:5060');
    assert.deepEqual(getHeaderValues(m, 'route'), ['<sip:proxy.example;lr>']);
  });

  it('does not take a request to one of our users for a strict-routed one', () => {
    const m = request(`sip:bob-smqaaaaaaaaaaaa@${PUBLIC}:5060`, ['Route: <sip:proxy.example;lr>']);
    processRoutes(m, isSelf);
    assert.equal(m.uri, `sip:bob-smqaaaaaaaaaaaa@${PUBLIC}:5060`);
    assert.deepEqual(getHeaderValues(m, 'route'), ['<sip:proxy.example;lr>']);
  });

  it('leaves a request without Route untouched', () => {
    const m = request(`sip:${PUBLIC}`, []);
    processRoutes(m, isSelf);
    assert.equal(m.uri, `sip:${PUBLIC}`);
    assert.equal(
      m.headers.some((h) => h.name === 'route'),
      false,
    );
  });
});

describe('recordRoute', () => {
  it('puts the entry facing the next hop on top and the one facing the sender under it, above existing ones', () => {
    const m = request('sip:bob@voip.example.net', ['Record-Route: <sip:edge.example;lr>']);
    recordRoute(m, { host: LAN, port: 5060 }, { host: PUBLIC, port: 5060 });
    assert.deepEqual(getHeaderValues(m, 'record-route'), [
      `<sip:${PUBLIC}:5060;lr>`,
      `<sip:${LAN}:5060;lr>`,
      '<sip:edge.example;lr>',
    ]);
  });

  it('brackets IPv6 addresses', () => {
    const m = request('sip:bob@voip.example.net', []);
    recordRoute(m, { host: 'fd00::1', port: 5060 }, { host: '2001:db8::1', port: 5060 });
    assert.deepEqual(getHeaderValues(m, 'record-route'), [
      '<sip:[2001:db8::1]:5060;lr>',
      '<sip:[fd00::1]:5060;lr>',
    ]);
  });
});
