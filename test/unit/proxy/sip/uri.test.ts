import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getParam } from '../../../../proxy/sip/params.ts';
import { formatUri, isAbsoluteUri, parseUri } from '../../../../proxy/sip/uri.ts';

describe('parseUri', () => {
  it('reads user, password, host, port, params and headers', () => {
    const u = parseUri(
      'sip:alice:secret@atlanta.com:5061;transport=tcp;lr?subject=project%20x&priority=urgent',
    );
    assert.deepEqual(u, {
      scheme: 'sip',
      user: 'alice',
      password: 'secret',
      host: 'atlanta.com',
      port: 5061,
      params: [
        ['transport', 'tcp'],
        ['lr', null],
      ],
      headers: 'subject=project%20x&priority=urgent',
    });
  });

  it('keeps escapes in the user part as written', () => {
    const u = parseUri('sip:sips%3Auser%40example.com@example.net')!;
    assert.equal(u.user, 'sips%3Auser%40example.com');
    assert.equal(u.host, 'example.net');
    assert.equal(parseUri('sip:%zz@example.net'), null, 'bad escape');
  });

  it('accepts user-unreserved characters including ";" and "?" in the user part (RFC 4475 semiuri)', () => {
    const u = parseUri('sip:user;par=u%40example.net@example.com')!;
    assert.equal(u.user, 'user;par=u%40example.net');
    assert.equal(u.host, 'example.com');
    assert.deepEqual(u.params, []);
  });

  it('reads IPv6 references without brackets and writes them back with brackets', () => {
    const u = parseUri('sips:bob@[2001:db8::1]:5061;maddr=[2001:db8::2]')!;
    assert.equal(u.scheme, 'sips');
    assert.equal(u.host, '2001:db8::1');
    assert.equal(u.port, 5061);
    assert.equal(getParam(u.params, 'maddr'), '[2001:db8::2]');
    assert.equal(formatUri(u), 'sips:bob@[2001:db8::1]:5061;maddr=[2001:db8::2]');
    assert.equal(parseUri('sip:[2001:db8::1'), null);
  });

  it('parses a host-only URI and upper-case schemes', () => {
    const u = parseUri('SIP:Registrar.Example.COM')!;
    assert.equal(u.scheme, 'sip');
    assert.equal(u.user, undefined);
    assert.equal(u.host, 'Registrar.Example.COM');
  });

  it('parses tel URIs as a number with an empty host', () => {
    const u = parseUri('tel:+1-201-555-0123;phone-context=example.com')!;
    assert.equal(u.scheme, 'tel');
    assert.equal(u.user, '+1-201-555-0123');
    assert.equal(u.host, '');
    assert.equal(formatUri(u), 'tel:+1-201-555-0123;phone-context=example.com');
  });

  it('returns null for other schemes and malformed URIs', () => {
    for (const bad of [
      'http://example.com',
      'sip:',
      'sip:@host',
      'sip:a@',
      'sip:a b@c',
      'sip:a@b:x',
      'sip:a@b:70000',
      '<sip:a@b>',
      'sip:a@b;',
    ]) {
      assert.equal(parseUri(bad), null, bad);
    }
  });

  it('round-trips through formatUri', () => {
    for (const text of [
      'sip:a@b',
      'sip:a:p@b:5060;x;y=1?h=v',
      'sips:b.example.com;lr',
      'sip:+123@gw;user=phone',
    ]) {
      assert.equal(formatUri(parseUri(text)!), text);
    }
  });
});

describe('isAbsoluteUri', () => {
  it('accepts any scheme with an opaque part and rejects whitespace and <>', () => {
    assert.ok(isAbsoluteUri('nobodyKnowsThisScheme:totallyopaquecontent'));
    assert.ok(isAbsoluteUri('soap.beep://192.0.2.103:3002'));
    assert.ok(!isAbsoluteUri('<sip:a@b>'));
    assert.ok(!isAbsoluteUri('sip:a@b; lr'));
    assert.ok(!isAbsoluteUri('sip:'));
    assert.ok(!isAbsoluteUri('1sip:a'));
  });
});
