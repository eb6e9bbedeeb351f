import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock, systemClock } from '../../../common/clock.ts';

describe('ManualClock', () => {
  it('starts at the given time and moves only when advanced', () => {
    const clock = new ManualClock(1000);
    assert.equal(clock.now(), 1000);
    clock.advance(250);
    assert.equal(clock.now(), 1250);
  });

  it('runs timeouts in due order, each seeing its own due time, whatever the order they were set in', () => {
    const clock = new ManualClock(0);
    const ran: Array<[string, number]> = [];
    clock.setTimeout(() => ran.push(['c', clock.now()]), 300);
    clock.setTimeout(() => ran.push(['a', clock.now()]), 100);
    clock.setTimeout(() => ran.push(['b', clock.now()]), 200);
    clock.advance(1000);
    assert.deepEqual(ran, [
      ['a', 100],
      ['b', 200],
      ['c', 300],
    ]);
    assert.equal(clock.now(), 1000);
  });

  it('runs timers due at the same time in the order they were set', () => {
    const clock = new ManualClock(0);
    const ran: string[] = [];
    clock.setTimeout(() => ran.push('first'), 50);
    clock.setTimeout(() => ran.push('second'), 50);
    clock.advance(50);
    assert.deepEqual(ran, ['first', 'second']);
  });

  it('does not run a timeout before it is due and runs it exactly once', () => {
    const clock = new ManualClock(0);
    let n = 0;
    clock.setTimeout(() => n++, 100);
    clock.advance(99);
    assert.equal(n, 0);
    clock.advance(1);
    assert.equal(n, 1);
    clock.advance(1000);
    assert.equal(n, 1);
  });

  it('repeats an interval once per period across one long advance', () => {
    const clock = new ManualClock(0);
    const at: number[] = [];
    clock.setInterval(() => at.push(clock.now()), 100);
    clock.advance(350);
    assert.deepEqual(at, [100, 200, 300]);
    clock.advance(50);
    assert.deepEqual(at, [100, 200, 300, 400]);
  });

  it('interleaves intervals and timeouts by due time', () => {
    const clock = new ManualClock(0);
    const ran: string[] = [];
    clock.setInterval(() => ran.push(`i${clock.now()}`), 100);
    clock.setTimeout(() => ran.push(`t${clock.now()}`), 150);
    clock.advance(200);
    assert.deepEqual(ran, ['i100', 't150', 'i200']);
  });

  it('stops a cancelled timeout and a cancelled interval; cancelling twice is harmless', () => {
    const clock = new ManualClock(0);
    let t = 0;
    let i = 0;
    const timeout = clock.setTimeout(() => t++, 100);
    const interval = clock.setInterval(() => i++, 100);
    clock.advance(250);
    assert.equal(i, 2);
    timeout.cancel();
    interval.cancel();
    interval.cancel();
    clock.advance(1000);
    assert.equal(t, 1);
    assert.equal(i, 2);
  });

  it('lets an interval cancel itself from its own callback', () => {
    const clock = new ManualClock(0);
    let n = 0;
    const timer = clock.setInterval(() => {
      n++;
      if (n === 2) timer.cancel();
    }, 10);
    clock.advance(100);
    assert.equal(n, 2);
  });

  it('runs a timer set from inside a callback when it falls due within the same advance', () => {
    const clock = new ManualClock(0);
    const ran: number[] = [];
    clock.setTimeout(() => {
      ran.push(clock.now());
      clock.setTimeout(() => ran.push(clock.now()), 30);
    }, 10);
    clock.advance(100);
    assert.deepEqual(ran, [10, 40]);
  });

  it('treats a negative delay as zero', () => {
    const clock = new ManualClock(0);
    let n = 0;
    clock.setTimeout(() => n++, -5);
    clock.advance(0);
    assert.equal(n, 1);
  });
});

describe('systemClock', () => {
  it('reads the wall clock and its timers can be cancelled', async () => {
    const before = Date.now();
    assert.ok(Math.abs(systemClock.now() - before) < 1000);
    let fired = false;
    const t = systemClock.setTimeout(() => {
      fired = true;
    }, 1);
    t.cancel();
    const i = systemClock.setInterval(() => {
      fired = true;
    }, 1);
    i.cancel();
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(fired, false);
  });
});
