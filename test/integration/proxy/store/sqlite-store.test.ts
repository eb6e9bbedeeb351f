import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { ManualClock } from '../../../../common/clock.ts';
import type { Logger, MemorySink } from '../../../../common/logger.ts';
import { openStore } from '../../../../proxy/store/open-store.ts';
import type { RegistrationStore } from '../../../../proxy/store/registration-store.ts';
import { SCHEMA_VERSION } from '../../../../proxy/store/sqlite-open.ts';
import {
  countingLoader,
  makeRecord,
  RealDatabase,
  tempDir,
  testClock,
  testLogger,
  type WriteCounts,
} from './store-fixtures.ts';

const FLUSH_MS = 5_000;

describe('SqliteStore', () => {
  let tmp: ReturnType<typeof tempDir>;
  let clock: ManualClock;
  let logger: Logger;
  let sink: MemorySink;
  let counts: WriteCounts;
  let loadNative: () => unknown;
  const open: RegistrationStore[] = [];

  function openAt(path = tmp.file('reg.db')): RegistrationStore {
    const store = openStore({ path, flushIntervalMs: FLUSH_MS, clock, logger, loadNative });
    open.push(store);
    return store;
  }

  beforeEach(() => {
    tmp = tempDir();
    clock = testClock();
    ({ logger, sink } = testLogger());
    ({ loadNative, counts } = countingLoader());
  });

  afterEach(() => {
    for (const store of open.splice(0)) store.close();
    tmp.remove();
  });

  it('opens a sqlite store with no warning', () => {
    const store = openAt();
    assert.equal(store.kind, 'sqlite');
    assert.equal(store.warning, null);
    assert.deepEqual(store.stats(), {
      pendingWrites: 0,
      flushes: 0,
      lastFlushAt: null,
      path: tmp.file('reg.db'),
    });
  });

  it('loads better-sqlite3 lazily by default, without a loadNative seam', () => {
    const store = openStore({ path: tmp.file('default.db'), flushIntervalMs: FLUSH_MS, clock, logger });
    open.push(store);
    assert.equal(store.kind, 'sqlite');
    assert.ok(
      sink.lines.some((l) => l.startsWith('info') && l.includes('opened') && l.includes('journal:wal')),
    );
  });

  it('writes 100 puts of one token as one row write in one transaction', () => {
    const store = openAt();
    const before = { ...counts };
    for (let i = 0; i < 100; i++) store.put(makeRecord('tok1', { updatedAt: 1_700_000_000_000 + i }));
    assert.equal(store.stats().pendingWrites, 1);
    assert.equal(counts.transactions, before.transactions, 'put() must not write');
    store.flush();
    assert.equal(counts.transactions - before.transactions, 1);
    assert.equal(counts.rowWrites - before.rowWrites, 1);
    assert.equal(store.stats().flushes, 1);
    assert.equal(store.stats().pendingWrites, 0);
    assert.equal(store.loadAll()[0]?.updatedAt, 1_700_000_000_099, 'the latest put wins');
  });

  it('writes 100 puts of different tokens in one transaction', () => {
    const store = openAt();
    const before = { ...counts };
    for (let i = 0; i < 100; i++) store.put(makeRecord(`tok${i}`));
    assert.equal(store.stats().pendingWrites, 100);
    store.flush();
    assert.equal(counts.transactions - before.transactions, 1);
    assert.equal(counts.rowWrites - before.rowWrites, 100);
    assert.equal(store.stats().flushes, 1);
    assert.equal(store.loadAll().length, 100);
  });

  it('does nothing on flush when nothing is pending', () => {
    const store = openAt();
    const before = { ...counts };
    store.flush();
    store.put(makeRecord('a'));
    store.flush();
    store.flush();
    assert.equal(counts.transactions - before.transactions, 1);
    assert.equal(store.stats().flushes, 1);
  });

  it('coalesces a put followed by a delete of the same token into one delete', () => {
    const store = openAt();
    store.put(makeRecord('a'));
    store.flush();
    const before = { ...counts };
    store.put(makeRecord('a', { updatedAt: 1 }));
    store.delete('a');
    store.flush();
    assert.equal(counts.rowWrites - before.rowWrites, 1);
    assert.deepEqual(store.loadAll(), []);
  });

  it('flushes pending writes on the timer, once per interval', () => {
    const store = openAt();
    const before = { ...counts };
    store.put(makeRecord('a'));
    clock.advance(FLUSH_MS - 1);
    assert.equal(store.stats().flushes, 0);
    clock.advance(1);
    assert.equal(store.stats().flushes, 1);
    assert.equal(store.stats().lastFlushAt, clock.now());
    for (let i = 0; i < 50; i++) store.put(makeRecord(`b${i}`));
    clock.advance(FLUSH_MS * 3);
    assert.equal(store.stats().flushes, 2, 'idle intervals write nothing');
    assert.equal(counts.transactions - before.transactions, 2);
  });

  it('keeps records across close and reopen', () => {
    const first = openAt();
    const records = [makeRecord('a'), makeRecord('b', { instance: '<urn:uuid:0001>', phonePort: 5080 })];
    for (const r of records) first.put(r);
    first.close();
    const second = openAt();
    assert.deepEqual(
      second.loadAll().sort((x, y) => x.token.localeCompare(y.token)),
      records,
    );
  });

  it('keeps a delete across close and reopen', () => {
    const first = openAt();
    first.put(makeRecord('a'));
    first.put(makeRecord('b'));
    first.flush();
    first.delete('a');
    first.close();
    const second = openAt();
    assert.deepEqual(
      second.loadAll().map((r) => r.token),
      ['b'],
    );
  });

  it('keeps records flushed before an abrupt stop (no close)', () => {
    const crashed = openAt();
    crashed.put(makeRecord('flushed'));
    crashed.flush();
    crashed.put(makeRecord('unflushed'));
    // The first store is never closed: a second one opens the same file, as the next process would.
    const next = openStore({
      path: tmp.file('reg.db'),
      flushIntervalMs: FLUSH_MS,
      clock,
      logger,
      loadNative,
    });
    open.push(next);
    assert.deepEqual(
      next.loadAll().map((r) => r.token),
      ['flushed'],
    );
  });

  it('keeps pending writes when a flush fails, logs once, and writes them on the next flush', () => {
    const store = openAt();
    store.put(makeRecord('a'));
    counts.failTransactions = 2;
    store.flush();
    store.flush();
    assert.equal(store.stats().pendingWrites, 1);
    assert.equal(store.stats().flushes, 0);
    const errors = sink.lines.filter((l) => l.startsWith('error') && l.includes('code:SMQ_ERR_STORE'));
    assert.equal(errors.length, 1, 'a run of failures is logged at error level once');
    assert.match(errors[0] ?? '', /disk I\/O error \(simulated\)/);
    store.flush();
    assert.equal(store.stats().pendingWrites, 0);
    assert.equal(store.stats().flushes, 1);
    assert.ok(sink.lines.some((l) => l.startsWith('info') && l.includes('succeed again')));
    store.close();
    assert.deepEqual(
      openAt()
        .loadAll()
        .map((r) => r.token),
      ['a'],
    );
  });

  it('close flushes, stops the timer, is idempotent, and drops later writes with a warning', () => {
    const store = openAt();
    store.put(makeRecord('a'));
    store.close();
    store.close();
    assert.equal(store.stats().flushes, 1);
    store.put(makeRecord('late'));
    assert.equal(store.stats().pendingWrites, 0);
    assert.ok(sink.lines.some((l) => l.startsWith('warn') && l.includes('write dropped')));
    clock.advance(FLUSH_MS * 2);
    assert.equal(store.stats().flushes, 1);
  });

  it('returns pending changes from loadAll over the stored rows', () => {
    const store = openAt();
    store.put(makeRecord('a'));
    store.put(makeRecord('b'));
    store.flush();
    store.delete('a');
    store.put(makeRecord('b', { callId: 'newer' }));
    store.put(makeRecord('c'));
    const loaded = store.loadAll().sort((x, y) => x.token.localeCompare(y.token));
    assert.deepEqual(
      loaded.map((r) => [r.token, r.callId]),
      [
        ['b', 'newer'],
        ['c', 'call-c'],
      ],
    );
  });

  it('creates the parent directory', () => {
    const path = tmp.file('deep/er/reg.db');
    const store = openAt(path);
    assert.equal(store.kind, 'sqlite');
    assert.ok(existsSync(path));
  });

  it('uses the WAL journal, the schema version and the bindings table of JSON rows', () => {
    const store = openAt();
    store.put(makeRecord('a', { expiresAt: 1_700_000_123_456 }));
    store.flush();
    const db = new RealDatabase(tmp.file('reg.db'), { readonly: true });
    try {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
      const row = db.prepare('SELECT token, data, expires_at FROM bindings').get() as {
        token: string;
        data: string;
        expires_at: number;
      };
      assert.equal(row.token, 'a');
      assert.equal(row.expires_at, 1_700_000_123_456);
      assert.deepEqual(JSON.parse(row.data), makeRecord('a', { expiresAt: 1_700_000_123_456 }));
    } finally {
      db.close();
    }
  });

  it("works with ':memory:'", () => {
    const store = openAt(':memory:');
    assert.equal(store.kind, 'sqlite');
    store.put(makeRecord('a'));
    store.flush();
    assert.equal(store.loadAll().length, 1);
  });

  it('rejects a malformed record at put() with a TypeError', () => {
    const store = openAt();
    assert.throws(() => store.put(makeRecord('a', { expiresAt: Number.NaN })), TypeError);
    assert.throws(() => store.put(makeRecord('')), TypeError);
    assert.equal(store.stats().pendingWrites, 0);
  });
});
