import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TypedEvents } from '../../../common/events.ts';

interface Map {
  ping: number;
  pong: string;
}

describe('TypedEvents', () => {
  it('calls listeners synchronously, in the order they subscribed, with the payload', () => {
    const ev = new TypedEvents<Map>();
    const seen: string[] = [];
    ev.on('ping', (n) => seen.push(`a${n}`));
    ev.on('ping', (n) => seen.push(`b${n}`));
    ev.on('pong', (s) => seen.push(`pong ${s}`));
    ev.emit('ping', 1);
    assert.deepEqual(seen, ['a1', 'b1']);
  });

  it('isolates a throwing listener: the others still run and the error goes to onError', () => {
    const ev = new TypedEvents<Map>();
    const seen: number[] = [];
    const errors: unknown[] = [];
    const boom = new Error('boom');
    ev.on('ping', () => {
      throw boom;
    });
    ev.on('ping', (n) => seen.push(n));
    assert.doesNotThrow(() => ev.emit('ping', 7, (err) => errors.push(err)));
    assert.doesNotThrow(() => ev.emit('ping', 8));
    assert.deepEqual(seen, [7, 8]);
    assert.deepEqual(errors, [boom]);
  });

  it('stops calling a listener after its unsubscribe function runs', () => {
    const ev = new TypedEvents<Map>();
    let n = 0;
    const off = ev.on('ping', () => n++);
    ev.emit('ping', 1);
    off();
    off();
    ev.emit('ping', 2);
    assert.equal(n, 1);
  });

  it('lets a listener unsubscribe itself while the event is being emitted', () => {
    const ev = new TypedEvents<Map>();
    const seen: string[] = [];
    const off = ev.on('ping', () => {
      seen.push('once');
      off();
    });
    ev.on('ping', () => seen.push('always'));
    ev.emit('ping', 1);
    ev.emit('ping', 2);
    assert.deepEqual(seen, ['once', 'always', 'always']);
  });

  it('forgets every listener on clear(), and emitting with none is a no-op', () => {
    const ev = new TypedEvents<Map>();
    let n = 0;
    ev.on('ping', () => n++);
    ev.clear();
    ev.emit('ping', 1);
    ev.emit('pong', 'x');
    assert.equal(n, 0);
  });
});
