import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SrvRecord } from '../../../../proxy/dns/dns-record.ts';
import { orderSrv, srvSaysUnavailable } from '../../../../proxy/dns/srv-order.ts';
import { seededRandom } from './dns-wire.ts';

const srv = (target: string, priority: number, weight: number): SrvRecord => ({
  name: '_sip._udp.example',
  ttl: 60,
  class: 1,
  type: 'SRV',
  priority,
  weight,
  port: 5060,
  target,
});

describe('orderSrv (RFC 2782 usage rules)', () => {
  it('orders by priority, lowest first, whatever the weights', () => {
    const out = orderSrv([srv('c', 30, 100), srv('a', 10, 0), srv('b', 20, 65535)], seededRandom(1));
    assert.deepEqual(
      out.map((r) => r.target),
      ['a', 'b', 'c'],
    );
  });

  it('puts weight 0 first in the running sum: picked only when the random number is 0', () => {
    const recs = [srv('heavy', 1, 10), srv('zero', 1, 0)];
    assert.deepEqual(
      orderSrv(recs, () => 0).map((r) => r.target),
      ['zero', 'heavy'],
    );
    assert.deepEqual(
      orderSrv(recs, () => 0.5).map((r) => r.target),
      ['heavy', 'zero'],
    );
  });

  it('with all weights 0 keeps the records in the order received', () => {
    assert.deepEqual(
      orderSrv([srv('x', 1, 0), srv('y', 1, 0), srv('z', 1, 0)], seededRandom(7)).map((r) => r.target),
      ['x', 'y', 'z'],
    );
  });

  it('selects by weight: a record of weight 3 comes first about three times as often as one of weight 1', () => {
    const random = seededRandom(2024);
    let heavyFirst = 0;
    const runs = 4000;
    for (let i = 0; i < runs; i++)
      if (orderSrv([srv('light', 5, 1), srv('heavy', 5, 3)], random)[0]!.target === 'heavy') heavyFirst++;
    // P(heavy first) = P(pick in 2..4 of 0..4) = 3/5.
    assert.ok(Math.abs(heavyFirst / runs - 0.6) < 0.03, String(heavyFirst / runs));
  });

  it('returns every record once, and leaves "." targets out', () => {
    const recs = [srv('a', 1, 5), srv('.', 1, 5), srv('b', 1, 5), srv('c', 2, 1)];
    const out = orderSrv(recs, seededRandom(3));
    assert.deepEqual(out.map((r) => r.target).sort(), ['a', 'b', 'c']);
    assert.equal(srvSaysUnavailable([srv('.', 0, 0)]), true);
    assert.equal(srvSaysUnavailable(recs), false);
    assert.equal(srvSaysUnavailable([]), false);
  });

  it('survives a random source that returns 1 or more', () => {
    assert.equal(orderSrv([srv('a', 1, 1), srv('b', 1, 1)], () => 1).length, 2);
  });
});
