import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatNameAddr, getTag, parseNameAddr } from '../../../../proxy/sip/name-addr.ts';

describe('parseNameAddr', () => {
  it('reads a quoted display name with escaped quotes and commas', () => {
    const na = parseNameAddr('"Bell, \\"Alex\\"" <sip:a.g.bell@example.com>;tag=43')!;
    assert.equal(na.display, '"Bell, \\"Alex\\""');
    assert.equal(na.uri, 'sip:a.g.bell@example.com');
    assert.deepEqual(na.params, [['tag', '43']]);
    assert.equal(na.star, false);
  });

  it('reads token display names, with or without space before <', () => {
    assert.equal(parseNameAddr('A. Bell <sip:a@b>')!.display, 'A. Bell');
    assert.equal(parseNameAddr('caller<sip:caller@example.com>;tag=323')!.display, 'caller');
    assert.equal(parseNameAddr('<sip:a@b>')!.display, undefined);
  });

  it('treats parameters after an addr-spec as header parameters (RFC 3261 §20.10)', () => {
    const na = parseNameAddr('sip:+19725552222@gw1.example.net;unknownparam;tag=x')!;
    assert.equal(na.uri, 'sip:+19725552222@gw1.example.net');
    assert.deepEqual(na.params, [
      ['unknownparam', null],
      ['tag', 'x'],
    ]);
    const inside = parseNameAddr('<sip:+19725552222@gw1.example.net;unknownparam>')!;
    assert.equal(inside.uri, 'sip:+19725552222@gw1.example.net;unknownparam');
    assert.deepEqual(inside.params, []);
  });

  it('reads Contact: * and its parameters with LWS', () => {
    assert.deepEqual(parseNameAddr(' * '), { display: undefined, uri: '*', params: [], star: true });
    const na = parseNameAddr('<sip:a@b> ; expires = 60 ; +sip.instance="<urn:uuid:1>"')!;
    assert.deepEqual(na.params, [
      ['expires', '60'],
      ['+sip.instance', '"<urn:uuid:1>"'],
    ]);
  });

  it('accepts other URI schemes', () => {
    assert.equal(parseNameAddr('<http://www.example.com>;tag=3')!.uri, 'http://www.example.com');
    assert.equal(parseNameAddr('isbn:2983792873')!.uri, 'isbn:2983792873');
    assert.equal(parseNameAddr('<tel:+15551234>')!.uri, 'tel:+15551234');
  });

  it('rejects the RFC 4475 malformed forms', () => {
    for (const bad of [
      '"Mr. J. User <sip:j.user@example.com>',
      '"Watson, Thomas" < sip:t.watson@example.org >',
      'Bell, Alexander <sip:a.g.bell@example.com>;tag=43',
      'sip:user@example.com?Route=%3Csip:sip.example.com%3E',
      '"Joe" <sip:joe@example.org>;;;;',
      '"Joe" sip:joe@example.org',
      '<sip:a@b',
      '<sip:a@b> junk',
      '',
      '<>',
    ]) {
      assert.equal(parseNameAddr(bad), null, bad);
    }
  });
});

describe('formatNameAddr and getTag', () => {
  it('always writes the <uri> form', () => {
    assert.equal(formatNameAddr(parseNameAddr('sip:a@b;tag=1')!), '<sip:a@b>;tag=1');
    assert.equal(formatNameAddr(parseNameAddr('"A" <sip:a@b>;x')!), '"A" <sip:a@b>;x');
    assert.equal(formatNameAddr(parseNameAddr('*')!), '*');
  });

  it('returns the tag of From/To values', () => {
    assert.equal(getTag('Alice <sip:alice@example.org>;tag=1928301774'), '1928301774');
    assert.equal(getTag('sip:a@b ; TAG = x'), 'x');
    assert.equal(getTag('<sip:a@b;tag=inuri>'), undefined);
    assert.equal(getTag('<sip:a@b>;tag'), undefined);
    assert.equal(getTag('garbage <'), undefined);
  });
});
