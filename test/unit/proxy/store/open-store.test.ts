import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../../../common/clock.ts';
import { Logger, MemorySink } from '../../../../common/logger.ts';
import { loadNativeSqlite } from '../../../../proxy/store/native-sqlite.ts';
import { openStore } from '../../../../proxy/store/open-store.ts';
import { makeRecord } from './binding-fixtures.ts';

const NOWHERE = '/nonexistent-sipmasq-test/never/created.db';

function setup(loadNative?: () => unknown, path = NOWHERE) {
  const sink = new MemorySink();
  const logger = Logger.root('debug', sink).child('store');
  const store = openStore({ path, flushIntervalMs: 5_000, clock: new ManualClock(), logger, loadNative });
  return { store, sink };
}

describe('openStore', () => {
  it("is memory-only with no warning when the path is ''", () => {
    const { store, sink } = setup(() => {
      throw new Error('must not be loaded');
    }, '');
    assert.equal(store.kind, 'memory');
    assert.equal(store.warning, null);
    assert.ok(sink.lines.some((l) => l.startsWith('info') && l.includes('memory-only, as configured')));
    assert.ok(!sink.lines.some((l) => l.startsWith('error')));
  });

  it('falls back to memory, with the warning and an error log line, when loadNative throws', () => {
    const { store, sink } = setup(() => {
      throw new Error("Cannot find module 'better-sqlite3'\nRequire stack:\n- /usr/lib/sipmasq/sipmasq.mjs");
    });
    const expected =
      "better-sqlite3 could not be loaded (Cannot find module 'better-sqlite3'): " +
      'registrations are kept in memory only and will be lost on restart';
    assert.equal(store.kind, 'memory');
    assert.equal(store.warning, expected);
    const errors = sink.lines.filter((l) => l.startsWith('error'));
    assert.equal(errors.length, 1);
    assert.ok(errors[0]?.startsWith(`error sipmasq:store: ${expected} [`));
    assert.match(errors[0] ?? '', /code:SMQ_ERR_STORE_UNAVAILABLE/);
  });

  it('still works as a store after falling back', () => {
    const { store } = setup(() => {
      throw new Error('nope');
    });
    store.put(makeRecord('a'));
    store.flush();
    assert.deepEqual(store.loadAll(), [makeRecord('a')]);
    store.close();
  });

  it('falls back to memory when the module has no Database constructor', () => {
    const { store } = setup(() => ({ notAConstructor: true }));
    assert.equal(store.kind, 'memory');
    assert.match(store.warning ?? '', /does not export a Database constructor/);
  });

  it('falls back to memory when the native addon fails on first use (better-sqlite3 loads it lazily)', () => {
    function Database(): never {
      throw new Error(
        'The module was compiled against a different Node.js version using NODE_MODULE_VERSION 108.',
      );
    }
    const { store } = setup(() => Database);
    assert.equal(store.kind, 'memory');
    assert.match(
      store.warning ?? '',
      /^better-sqlite3 could not be loaded \(The module was compiled against/,
    );
  });

  it('accepts a module namespace whose default export is the constructor', () => {
    class FakeDatabase {
      close(): void {}
    }
    const result = loadNativeSqlite(() => ({ default: FakeDatabase }));
    assert.equal(result.ok, true);
  });

  it('rejects a non-positive flush interval with a TypeError', () => {
    for (const flushIntervalMs of [0, -1, Number.NaN]) {
      assert.throws(
        () =>
          openStore({ path: '', flushIntervalMs, clock: new ManualClock(), logger: Logger.root('error') }),
        TypeError,
      );
    }
  });
});
