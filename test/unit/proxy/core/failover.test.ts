import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../../../common/clock.ts';
import { Logger, MemorySink } from '../../../../common/logger.ts';
import { Failover } from '../../../../proxy/core/failover.ts';
import type { Target } from '../../../../proxy/core/next-hop.ts';

const A: Target = { address: '203.0.113.10', port: 5060 };
const B: Target = { address: '203.0.113.11', port: 5060 };
const C: Target = { address: '203.0.113.12', port: 5070 };

function setup(timeoutMs = 4000) {
  const clock = new ManualClock();
  const sent: Array<{ data: string; to: string }> = [];
  const sink = new MemorySink();
  const f = new Failover(
    clock,
    (d, t) => sent.push({ data: d.toString(), to: `${t.address}:${t.port}` }),
    timeoutMs,
    new Logger('t', { level: 'debug', sink }),
  );
  return { clock, sent, f, sink };
}

describe('Failover (RFC 3263 §4.3)', () => {
  it('sends a new request to the first target only', () => {
    const { sent, f } = setup();
    assert.deepEqual(f.dispatch('b1', Buffer.from('REGISTER'), [A, B], 'c1', true), A);
    assert.deepEqual(sent, [{ data: 'REGISTER', to: '203.0.113.10:5060' }]);
  });

  it('moves to the next target when the first stays silent past the timeout, and on to the third', () => {
    const { clock, sent, f, sink } = setup();
    f.dispatch('b1', Buffer.from('INVITE'), [A, B, C], 'c1', true);
    clock.advance(3999);
    assert.equal(sent.length, 1);
    clock.advance(1);
    assert.deepEqual(sent.at(-1), { data: 'INVITE', to: '203.0.113.11:5060' });
    clock.advance(4000);
    assert.deepEqual(sent.at(-1), { data: 'INVITE', to: '203.0.113.12:5070' });
    clock.advance(60_000);
    assert.equal(sent.length, 3, 'nothing after the last target');
    assert.ok(sink.lines.some((l) => l.includes('next hop failed') && l.includes('call:c1')));
  });

  it('stays with a target that answered anything, even 100 Trying', () => {
    const { clock, sent, f } = setup();
    f.dispatch('b1', Buffer.from('INVITE'), [A, B], 'c1', true);
    assert.equal(f.onResponse('b1', 100), false);
    clock.advance(60_000);
    assert.equal(sent.length, 1);
  });

  it('retries a 503 at the next target and tells the caller to drop the 503', () => {
    const { sent, f } = setup();
    f.dispatch('b1', Buffer.from('REGISTER'), [A, B], 'c1', true);
    assert.equal(f.onResponse('b1', 503), true);
    assert.deepEqual(sent.at(-1), { data: 'REGISTER', to: '203.0.113.11:5060' });
    assert.equal(f.onResponse('b1', 503), false, 'the last target answer goes back to the phone');
  });

  it('sends retransmissions, the CANCEL and the ACK of the same branch to the target in use', () => {
    const { clock, sent, f } = setup();
    f.dispatch('b1', Buffer.from('INVITE'), [A, B], 'c1', true);
    clock.advance(4000);
    f.dispatch('b1', Buffer.from('INVITE'), [A, B], 'c1', true);
    f.dispatch('b1', Buffer.from('CANCEL'), [A, B], 'c1', false);
    assert.deepEqual(
      sent.map((s) => s.to),
      ['203.0.113.10:5060', '203.0.113.11:5060', '203.0.113.11:5060', '203.0.113.11:5060'],
    );
    // The CANCEL did not replace the INVITE kept for failover.
    f.onResponse('b1', 503);
    assert.equal(sent.length, 4, 'no target left');
  });

  it('forgets a transaction once it has a final answer', () => {
    const { clock, sent, f } = setup();
    f.dispatch('b1', Buffer.from('OPTIONS'), [A, B], 'c1', true);
    f.onResponse('b1', 200);
    f.dispatch('b1', Buffer.from('OPTIONS'), [A, B], 'c1', true);
    clock.advance(10_000);
    assert.deepEqual(
      sent.map((s) => s.to),
      ['203.0.113.10:5060', '203.0.113.10:5060', '203.0.113.11:5060'],
    );
  });

  it('close() stops every timer', () => {
    const { clock, sent, f } = setup();
    f.dispatch('b1', Buffer.from('INVITE'), [A, B], 'c1', true);
    f.close();
    clock.advance(10_000);
    assert.equal(sent.length, 1);
  });
});

describe('Failover memory', () => {
  it('tries a server that just failed last for the next requests, and first again after a minute', () => {
    const { clock, sent, f } = setup();
    f.dispatch('b1', Buffer.from('REGISTER'), [A, B], 'c1', true);
    clock.advance(4000);
    assert.equal(sent.at(-1)?.to, '203.0.113.11:5060');
    f.onResponse('b1', 401);
    assert.deepEqual(
      f.dispatch('b2', Buffer.from('REGISTER'), [A, B], 'c1', true),
      B,
      'no second wait for A',
    );
    f.onResponse('b2', 200);
    clock.advance(61_000);
    assert.deepEqual(f.dispatch('b3', Buffer.from('REGISTER'), [A, B], 'c1', true), A);
  });
});
