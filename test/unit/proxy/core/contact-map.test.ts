import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../../../common/clock.ts';
import { ContactMap } from '../../../../proxy/core/contact-map.ts';
import { PHONE, T0 } from './fixtures.ts';

const DAY = 24 * 3600_000;

describe('ContactMap', () => {
  it('maps a masqueraded user back to the phone contact and LAN address', () => {
    const map = new ContactMap(new ManualClock(T0));
    map.remember('alice-smqaaaaaaaaaaaa', 'sip:alice@192.168.1.50:5062', PHONE, 5062);
    const e = map.get('alice-smqaaaaaaaaaaaa');
    assert.equal(e?.contact, 'sip:alice@192.168.1.50:5062');
    assert.equal(e?.addr, PHONE);
    assert.equal(e?.port, 5062);
    assert.equal(map.get('unknown'), undefined);
  });

  it('replaces an entry remembered again', () => {
    const map = new ContactMap(new ManualClock(T0));
    map.remember('u', 'sip:a@10.0.0.1', '10.0.0.1', 5060);
    map.remember('u', 'sip:a@10.0.0.2', '10.0.0.2', 5060);
    assert.equal(map.get('u')?.addr, '10.0.0.2');
    assert.equal(map.size, 1);
  });

  it('forgets an entry unused for a day, and every use keeps it another day', () => {
    const clock = new ManualClock(T0);
    const map = new ContactMap(clock);
    map.remember('kept', 'sip:k@10.0.0.1', '10.0.0.1', 5060);
    map.remember('idle', 'sip:i@10.0.0.1', '10.0.0.1', 5060);
    clock.advance(DAY - 1);
    assert.ok(map.get('kept'));
    clock.advance(DAY);
    assert.ok(map.get('kept'));
    assert.equal(map.get('idle'), undefined);
    assert.equal(map.size, 1);
  });

  it('holds at most 10000 entries, dropping the oldest remembered', () => {
    const map = new ContactMap(new ManualClock(T0));
    for (let i = 0; i <= 10_000; i++) map.remember(`u${i}`, `sip:u${i}@10.0.0.1`, '10.0.0.1', 5060);
    assert.equal(map.size, 10_000);
    assert.equal(map.get('u0'), undefined);
    assert.ok(map.get('u1'));
    assert.ok(map.get('u10000'));
  });
});
