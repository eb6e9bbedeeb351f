import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  canonicalIp,
  cidrContains,
  formatHostPort,
  ipBytes,
  ipFamily,
  isPrivateAddress,
  isValidPort,
  parseCidr,
  sameAddress,
  stripBrackets,
} from '../../../common/net.ts';

function cidr(text: string) {
  const c = parseCidr(text);
  assert.ok(c, `${text} parses`);
  return c;
}

describe('ipFamily and ipBytes', () => {
  it('tells IPv4 from IPv6 and rejects names', () => {
    assert.equal(ipFamily('192.0.2.1'), 4);
    assert.equal(ipFamily('2001:db8::1'), 6);
    assert.equal(ipFamily('example.com'), null);
    assert.equal(ipFamily(''), null);
  });

  it('reads IPv4, compressed IPv6, IPv6 with a dotted tail and IPv4-mapped IPv6', () => {
    assert.deepEqual([...ipBytes('10.1.2.3')!], [10, 1, 2, 3]);
    const v6 = ipBytes('2001:db8::1')!;
    assert.equal(v6.length, 16);
    assert.deepEqual([...v6.subarray(0, 4)], [0x20, 0x01, 0x0d, 0xb8]);
    assert.equal(v6[15], 1);
    assert.deepEqual([...ipBytes('::')!], Array(16).fill(0));
    assert.deepEqual([...ipBytes('64:ff9b::192.0.2.33')!.subarray(12)], [192, 0, 2, 33]);
    assert.deepEqual([...ipBytes('::ffff:192.0.2.1')!], [192, 0, 2, 1]);
    assert.equal(ipBytes('not an ip'), null);
  });
});

describe('parseCidr and cidrContains', () => {
  it('matches IPv4 addresses inside a prefix and not outside it', () => {
    const c = cidr('192.168.1.0/24');
    assert.equal(c.family, 4);
    assert.equal(c.prefix, 24);
    assert.equal(c.text, '192.168.1.0/24');
    assert.ok(cidrContains(c, '192.168.1.0'));
    assert.ok(cidrContains(c, '192.168.1.255'));
    assert.ok(!cidrContains(c, '192.168.2.1'));
  });

  it('handles prefixes that do not end on a byte boundary', () => {
    const c = cidr('172.16.0.0/12');
    assert.ok(cidrContains(c, '172.31.255.255'));
    assert.ok(!cidrContains(c, '172.32.0.0'));
    assert.ok(!cidrContains(c, '172.15.255.255'));
  });

  it('accepts a host address with host bits set, matching its network', () => {
    const c = cidr('192.168.1.1/24');
    assert.ok(cidrContains(c, '192.168.1.200'));
  });

  it('treats an address without a prefix as a single host', () => {
    const c = cidr('10.0.0.1');
    assert.equal(c.prefix, 32);
    assert.ok(cidrContains(c, '10.0.0.1'));
    assert.ok(!cidrContains(c, '10.0.0.2'));
  });

  it('matches every address of the same family with /0 and none of the other family', () => {
    const v4 = cidr('0.0.0.0/0');
    assert.ok(cidrContains(v4, '1.2.3.4'));
    assert.ok(cidrContains(v4, '255.255.255.255'));
    assert.ok(!cidrContains(v4, '2001:db8::1'));
    const v6 = cidr('::/0');
    assert.ok(cidrContains(v6, '2001:db8::1'));
    assert.ok(!cidrContains(v6, '1.2.3.4'));
  });

  it('matches IPv6 prefixes', () => {
    const c = cidr('2001:db8:abcd::/48');
    assert.equal(c.family, 6);
    assert.ok(cidrContains(c, '2001:db8:abcd:12::1'));
    assert.ok(!cidrContains(c, '2001:db8:abce::1'));
    const host = cidr('2001:db8::1/128');
    assert.ok(cidrContains(host, '2001:db8::1'));
    assert.ok(!cidrContains(host, '2001:db8::2'));
  });

  it('matches an IPv4-mapped IPv6 source against an IPv4 prefix', () => {
    assert.ok(cidrContains(cidr('192.168.1.0/24'), '::ffff:192.168.1.9'));
  });

  it('rejects bad CIDR text', () => {
    for (const bad of [
      '',
      '/24',
      'example.com/24',
      '10.0.0.0/33',
      '10.0.0.0/-1',
      '10.0.0.0/',
      '10.0.0.0/8x',
      '10.0.0.0/1.5',
      '10.0.0.0/ 8',
      '::/129',
      '300.0.0.0/8',
      '10.0.0.0/8/9',
    ])
      assert.equal(parseCidr(bad), null, JSON.stringify(bad));
  });

  it('never matches a name or garbage', () => {
    assert.ok(!cidrContains(cidr('0.0.0.0/0'), 'example.com'));
    assert.ok(!cidrContains(cidr('0.0.0.0/0'), ''));
  });
});

describe('isPrivateAddress', () => {
  it('knows RFC 1918, RFC 6598 (100.64/10), link-local and loopback IPv4', () => {
    for (const a of [
      '10.0.0.1',
      '172.16.5.4',
      '172.31.255.255',
      '192.168.0.1',
      '100.64.0.1',
      '100.127.255.254',
      '169.254.1.1',
      '127.0.0.1',
    ])
      assert.ok(isPrivateAddress(a), a);
  });

  it('does not count public IPv4 addresses as private, including the edges of 100.64/10 and 172.16/12', () => {
    for (const a of ['8.8.8.8', '100.63.255.255', '100.128.0.0', '172.32.0.1', '192.0.2.1', '11.0.0.1'])
      assert.ok(!isPrivateAddress(a), a);
  });

  it('knows IPv6 unique-local (fc00::/7), link-local and loopback', () => {
    for (const a of ['fc00::1', 'fd12:3456::1', 'fe80::1', '::1']) assert.ok(isPrivateAddress(a), a);
    for (const a of ['2001:db8::1', 'fe00::1', 'fec0::1', '::2']) assert.ok(!isPrivateAddress(a), a);
  });

  it('treats IPv4-mapped IPv6 as the IPv4 address it maps', () => {
    assert.ok(isPrivateAddress('::ffff:10.1.1.1'));
    assert.ok(!isPrivateAddress('::ffff:8.8.8.8'));
  });

  it('says no to names', () => {
    assert.ok(!isPrivateAddress('localhost'));
  });
});

describe('formatHostPort and stripBrackets', () => {
  it('brackets IPv6 literals, leaves IPv4 and names alone', () => {
    assert.equal(formatHostPort('2001:db8::1', 5060), '[2001:db8::1]:5060');
    assert.equal(formatHostPort('2001:db8::1'), '[2001:db8::1]');
    assert.equal(formatHostPort('[2001:db8::1]', 5060), '[2001:db8::1]:5060');
    assert.equal(formatHostPort('192.0.2.1', 5060), '192.0.2.1:5060');
    assert.equal(formatHostPort('sip.example.com'), 'sip.example.com');
  });

  it('strips brackets only when both are there', () => {
    assert.equal(stripBrackets('[::1]'), '::1');
    assert.equal(stripBrackets('::1'), '::1');
    assert.equal(stripBrackets('[::1'), '[::1');
  });
});

describe('isValidPort', () => {
  it('accepts 1..65535 integers only', () => {
    for (const p of [1, 5060, 65535]) assert.ok(isValidPort(p));
    for (const p of [0, 65536, -1, 5060.5, '5060', Number.NaN, null]) assert.ok(!isValidPort(p), String(p));
  });
});

describe('canonicalIp and sameAddress', () => {
  it('compresses IPv6 the way Node prints it, the longest zero run first', () => {
    assert.equal(canonicalIp('2001:0db8:0000:0000:0000:0000:0000:0001'), '2001:db8::1');
    assert.equal(canonicalIp('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1');
    assert.equal(canonicalIp('2001:db8:0:1:1:1:1:1'), '2001:db8:0:1:1:1:1:1');
    assert.equal(canonicalIp('::'), '::');
    assert.equal(canonicalIp('[::1]'), '::1');
    assert.equal(canonicalIp('FE80::A'), 'fe80::a');
  });

  it('turns IPv4-mapped IPv6 into IPv4', () => {
    assert.equal(canonicalIp('::ffff:192.0.2.1'), '192.0.2.1');
    assert.ok(sameAddress('::ffff:192.0.2.1', '192.0.2.1'));
    assert.ok(sameAddress('::FFFF:10.0.0.1', '10.0.0.1'));
  });

  it('compares written forms, not text', () => {
    assert.ok(sameAddress('2001:db8::1', '2001:DB8:0:0:0:0:0:1'));
    assert.ok(sameAddress('[2001:db8::1]', '2001:db8::1'));
    assert.ok(!sameAddress('192.0.2.1', '192.0.2.2'));
  });

  it('never calls a name or garbage the same address, not even as itself', () => {
    assert.equal(canonicalIp('example.com'), null);
    assert.ok(!sameAddress('example.com', 'example.com'));
  });
});
