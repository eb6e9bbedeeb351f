import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../../../common/clock.ts';
import { DnsCache } from '../../../../proxy/dns/dns-cache.ts';

describe('DnsCache', () => {
  it('keeps an entry exactly for its time to live', () => {
    const clock = new ManualClock();
    const cache = new DnsCache<string>(clock);
    cache.set('A x', 'one', 1000, false);
    clock.advance(999);
    assert.equal(cache.get('A x'), 'one');
    assert.equal(cache.remainingMs('A x'), 1);
    clock.advance(1);
    assert.equal(cache.get('A x'), undefined);
    assert.deepEqual(cache.stats(), { entries: 0, negative: 0, hits: 1, misses: 1, evictions: 0 });
  });

  it('does not keep a zero time to live, and counts negative entries apart', () => {
    const clock = new ManualClock();
    const cache = new DnsCache<string>(clock);
    cache.set('A zero', 'z', 0, false);
    cache.set('A gone', 'n', 30_000, true);
    assert.equal(cache.get('A zero'), undefined);
    assert.deepEqual(cache.stats().negative, 1);
  });

  it('makes room by dropping expired entries first, then the oldest', () => {
    const clock = new ManualClock();
    const cache = new DnsCache<number>(clock, 2);
    cache.set('a', 1, 10, false);
    cache.set('b', 2, 1000, false);
    clock.advance(10);
    cache.set('c', 3, 1000, false);
    assert.equal(cache.get('b'), 2);
    assert.equal(cache.stats().evictions, 0);
    cache.set('d', 4, 1000, false);
    assert.equal(cache.get('b'), undefined);
    assert.equal(cache.get('c'), 3);
    assert.equal(cache.get('d'), 4);
    assert.equal(cache.stats().evictions, 1);
    assert.throws(() => new DnsCache(clock, 0), TypeError);
  });
});
