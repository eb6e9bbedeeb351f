import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getParam, setParam } from '../../../../proxy/sip/params.ts';
import { formatVia, parseVia } from '../../../../proxy/sip/via.ts';

describe('parseVia', () => {
  it('reads protocol, transport, host, port and params', () => {
    const v = parseVia('SIP/2.0/udp pc33.example.com:5066;branch=z9hG4bK776asdhds;ttl=16');
    assert.deepEqual(v, {
      protocol: 'SIP/2.0',
      transport: 'UDP',
      host: 'pc33.example.com',
      port: 5066,
      params: [
        ['branch', 'z9hG4bK776asdhds'],
        ['ttl', '16'],
      ],
    });
  });

  it('keeps rport without a value as null and received as written (RFC 3581)', () => {
    const v = parseVia('SIP/2.0/UDP 192.0.2.1;rport;branch=z9hG4bKx')!;
    assert.equal(v.port, undefined);
    assert.equal(getParam(v.params, 'rport'), null);
    assert.equal(getParam(v.params, 'received'), undefined);
    setParam(v.params, 'rport', '5070');
    setParam(v.params, 'received', '203.0.113.7');
    assert.equal(formatVia(v), 'SIP/2.0/UDP 192.0.2.1;rport=5070;branch=z9hG4bKx;received=203.0.113.7');
  });

  it('handles IPv6 references and IPv6 received values', () => {
    const v = parseVia('SIP/2.0/TCP [2001:db8::1]:5060;branch=z9hG4bK1;received=2001:db8::9')!;
    assert.equal(v.host, '2001:db8::1');
    assert.equal(v.port, 5060);
    assert.equal(getParam(v.params, 'received'), '2001:db8::9');
    assert.equal(formatVia(v), 'SIP/2.0/TCP [2001:db8::1]:5060;branch=z9hG4bK1;received=2001:db8::9');
    assert.equal(parseVia('SIP/2.0/UDP [2001:db8::zz]:5060'), null);
    assert.equal(parseVia('SIP/2.0/UDP [2001:db8::1:5060'), null);
  });

  it('allows LWS around "/", ":", ";" and "=" (RFC 4475 wsinv)', () => {
    const v = parseVia('SIP  / 2.0  / TCP     spindle.example.com   : 5061 ; branch  =   z9hG4bK9ikj8  ')!;
    assert.equal(v.transport, 'TCP');
    assert.equal(v.host, 'spindle.example.com');
    assert.equal(v.port, 5061);
    assert.deepEqual(v.params, [['branch', 'z9hG4bK9ikj8']]);
  });

  it('keeps parameter order and quoted values', () => {
    const v = parseVia('SIP/2.0/UDP h;a;b=1;c="x;y"')!;
    assert.deepEqual(v.params, [
      ['a', null],
      ['b', '1'],
      ['c', '"x;y"'],
    ]);
  });

  it('rejects malformed values', () => {
    for (const bad of [
      '',
      'SIP/2.0',
      'SIP/2.0/UDP',
      'SIP/2.0/UDP host:99999',
      'SIP/2.0/UDP host:',
      'SIP/2.0/UDP host;;',
      'SIP/2.0/UDP host;branch=',
      'SIP/2.0/UDP host junk',
      'SIP/2.0 UDP host',
      'SIP/2.0/UDPhost',
      'SIP/2.0/UDP ho st',
    ]) {
      assert.equal(parseVia(bad), null, bad);
    }
  });

  it('formats a new Via with an IPv4 host and no port', () => {
    const s = formatVia({
      protocol: 'SIP/2.0',
      transport: 'UDP',
      host: '198.51.100.1',
      port: undefined,
      params: [['rport', null]],
    });
    assert.equal(s, 'SIP/2.0/UDP 198.51.100.1;rport');
  });
});
