import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NaptrRecord } from '../../../../proxy/dns/dns-record.ts';
import { selectNaptr } from '../../../../proxy/dns/naptr-select.ts';

const naptr = (
  order: number,
  preference: number,
  services: string,
  replacement: string,
  flags = 'S',
): NaptrRecord => ({
  name: 'example.com',
  ttl: 60,
  class: 1,
  type: 'NAPTR',
  order,
  preference,
  flags,
  services,
  regexp: '',
  replacement,
});

describe('selectNaptr (RFC 3263 §4.1, RFC 3403)', () => {
  // The example of RFC 3263 §4.1: SIPS over TCP preferred, then TCP, then UDP.
  const rfcExample = [
    naptr(100, 50, 'SIPS+D2T', '_sips._tcp.example.com'),
    naptr(90, 50, 'SIP+D2T', '_sip._tcp.example.com'),
    naptr(50, 50, 'SIP+D2U', '_sip._udp.example.com'),
  ];

  it('takes the lowest ORDER among the usable records; a higher order is not a fallback', () => {
    assert.deepEqual(
      selectNaptr(rfcExample, false, ['udp', 'tcp']).map((c) => c.replacement),
      ['_sip._udp.example.com'],
    );
    assert.deepEqual(
      selectNaptr(rfcExample, false, ['tcp']).map((c) => c.replacement),
      ['_sip._tcp.example.com'],
    );
    assert.deepEqual(
      selectNaptr(rfcExample, true, ['udp', 'tcp', 'tls']).map((c) => `${c.transport} ${c.replacement}`),
      ['tls _sips._tcp.example.com'],
    );
  });

  it('orders one ORDER by PREFERENCE, then by our own transport order', () => {
    const recs = [
      naptr(10, 20, 'SIP+D2U', 'u'),
      naptr(10, 10, 'SIP+D2T', 't'),
      naptr(10, 20, 'SIPS+D2T', 's'),
    ];
    assert.deepEqual(
      selectNaptr(recs, false, ['udp', 'tcp', 'tls']).map((c) => c.replacement),
      ['t', 'u', 's'],
    );
    assert.deepEqual(
      selectNaptr(recs, false, ['tls', 'tcp', 'udp']).map((c) => c.replacement),
      ['t', 's', 'u'],
    );
  });

  it('drops services we do not speak, non-terminal rules and empty replacements', () => {
    const recs = [
      naptr(1, 1, 'SIP+D2S', 'sctp'),
      naptr(1, 1, 'SIP+D2W', 'ws'),
      naptr(1, 1, 'E2U+sip', 'enum'),
      naptr(1, 1, 'SIP+D2U', 'a-rule', 'A'),
      naptr(1, 1, 'SIP+D2U', '.'),
      naptr(1, 2, 'sip+d2u', 'ok'),
    ];
    assert.deepEqual(
      selectNaptr(recs, false, ['udp', 'tcp']).map((c) => c.replacement),
      ['ok'],
    );
    assert.deepEqual(selectNaptr(recs.slice(0, 5), false, ['udp', 'tcp']), []);
  });
});
