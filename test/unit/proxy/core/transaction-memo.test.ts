import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../../../common/clock.ts';
import { TransactionMemo } from '../../../../proxy/core/transaction-memo.ts';
import { T0 } from './fixtures.ts';

const entry = (method: string) => ({ method, callId: 'c', sessionId: null, register: null, phoneAor: null });

describe('TransactionMemo', () => {
  it('remembers a forwarded request by branch', () => {
    const memo = new TransactionMemo(new ManualClock(T0));
    memo.set('z9hG4bKsmqLa', { ...entry('INVITE'), sessionId: 's1' });
    assert.equal(memo.get('z9hG4bKsmqLa')?.sessionId, 's1');
    assert.equal(memo.get('z9hG4bKsmqLb'), undefined);
  });

  it('keeps INVITE transactions past Timer C (200 s) and others for 64*T1 (32 s)', () => {
    const clock = new ManualClock(T0);
    const memo = new TransactionMemo(clock);
    memo.set('inv', entry('INVITE'));
    memo.set('reg', entry('REGISTER'));
    clock.advance(32_000);
    assert.ok(memo.get('reg'));
    clock.advance(1);
    assert.equal(memo.get('reg'), undefined);
    clock.advance(200_000 - 32_001);
    assert.ok(memo.get('inv'));
    clock.advance(1);
    assert.equal(memo.get('inv'), undefined);
  });

  it('restarts the lifetime when a branch is set again', () => {
    const clock = new ManualClock(T0);
    const memo = new TransactionMemo(clock);
    memo.set('b', entry('OPTIONS'));
    clock.advance(30_000);
    memo.set('b', entry('OPTIONS'));
    clock.advance(30_000);
    assert.ok(memo.get('b'));
  });

  it('sweeps expired entries', () => {
    const clock = new ManualClock(T0);
    const memo = new TransactionMemo(clock);
    memo.set('a', entry('BYE'));
    memo.set('b', entry('INVITE'));
    clock.advance(40_000);
    memo.sweep();
    assert.equal(memo.size, 1);
  });

  it('holds at most 50000 live entries, dropping the oldest', () => {
    const memo = new TransactionMemo(new ManualClock(T0));
    for (let i = 0; i <= 50_000; i++) memo.set(`b${i}`, entry('OPTIONS'));
    assert.equal(memo.size, 50_000);
    assert.equal(memo.get('b0'), undefined);
    assert.ok(memo.get('b50000'));
  });
});
