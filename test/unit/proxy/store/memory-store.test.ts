import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryStore } from '../../../../proxy/store/memory-store.ts';
import { makeRecord } from './binding-fixtures.ts';

describe('MemoryStore', () => {
  it('is kind memory and carries the warning it was given', () => {
    assert.equal(new MemoryStore().kind, 'memory');
    assert.equal(new MemoryStore().warning, null);
    assert.equal(new MemoryStore('why').warning, 'why');
  });

  it('returns what was put, the latest put for a token winning, minus deletes', () => {
    const store = new MemoryStore();
    store.put(makeRecord('a'));
    store.put(makeRecord('b'));
    store.put(makeRecord('a', { callId: 'second' }));
    store.delete('b');
    store.delete('never-stored');
    assert.deepEqual(store.loadAll(), [makeRecord('a', { callId: 'second' })]);
  });

  it('keeps nothing for the next instance (the next process)', () => {
    const first = new MemoryStore();
    first.put(makeRecord('a'));
    first.close();
    assert.deepEqual(new MemoryStore().loadAll(), []);
  });

  it('has nothing pending, no flushes and no path; flush and close are harmless and repeatable', () => {
    const store = new MemoryStore();
    store.put(makeRecord('a'));
    store.flush();
    store.close();
    store.close();
    assert.deepEqual(store.stats(), { pendingWrites: 0, flushes: 0, lastFlushAt: null, path: null });
  });

  it('rejects a malformed record with a TypeError, as the sqlite store does', () => {
    const store = new MemoryStore();
    assert.throws(() => store.put(makeRecord('a', { phonePort: 70000 })), TypeError);
    assert.deepEqual(store.loadAll(), []);
  });
});
