import assert from 'node:assert/strict';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { ManualClock } from '../../../../common/clock.ts';
import type { Logger, MemorySink } from '../../../../common/logger.ts';
import { openStore } from '../../../../proxy/store/open-store.ts';
import type { RegistrationStore } from '../../../../proxy/store/registration-store.ts';
import { makeRecord, RealDatabase, tempDir, testClock, testLogger } from './store-fixtures.ts';

describe('a corrupt or unreadable database file', () => {
  let tmp: ReturnType<typeof tempDir>;
  let clock: ManualClock;
  let logger: Logger;
  let sink: MemorySink;
  let path: string;
  const open: RegistrationStore[] = [];

  function openAt(p = path): RegistrationStore {
    const store = openStore({ path: p, flushIntervalMs: 5_000, clock, logger });
    open.push(store);
    return store;
  }

  /** Asserts the file was moved to `<path>.corrupt-<now>`, logged, and an empty working store opened. */
  function assertMovedAsideAndFresh(store: RegistrationStore, reason: RegExp): string {
    const aside = `${path}.corrupt-${clock.now()}`;
    assert.equal(store.kind, 'sqlite');
    assert.equal(store.warning, null);
    assert.ok(existsSync(aside), 'the bad file is kept for inspection');
    const line = sink.lines.find((l) => l.startsWith('error') && l.includes('moved aside'));
    assert.ok(line, `no error logged: ${sink.lines.join('\n')}`);
    assert.match(line, /code:SMQ_ERR_STORE /);
    assert.ok(line.includes(`movedTo:${aside}`));
    assert.match(line, reason);
    assert.deepEqual(store.loadAll(), []);
    store.put(makeRecord('fresh'));
    store.flush();
    assert.equal(store.stats().flushes, 1);
    return aside;
  }

  /** A valid database of ours holding `n` records, closed. */
  function seed(n: number): void {
    const store = openAt();
    for (let i = 0; i < n; i++)
      store.put(makeRecord(`tok${i}`, { contact: `<sip:${'x'.repeat(200)}@10.0.0.${i % 250}>` }));
    store.close();
  }

  beforeEach(() => {
    tmp = tempDir();
    path = tmp.file('reg.db');
    clock = testClock();
    ({ logger, sink } = testLogger());
  });

  afterEach(() => {
    for (const store of open.splice(0)) store.close();
    tmp.remove();
  });

  it('moves a file that is not a database aside and starts fresh', () => {
    const garbage = Buffer.alloc(8192, 'this is not an sqlite database\n');
    writeFileSync(path, garbage);
    const aside = assertMovedAsideAndFresh(openAt(), /not a database/);
    assert.deepEqual(readFileSync(aside), garbage);
  });

  it('moves a database with broken pages aside and starts fresh', () => {
    seed(200);
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.alloc(4096, 0xa5), 0, 4096, 4096 * 2);
    closeSync(fd);
    assertMovedAsideAndFresh(openAt(), /integrity check failed/);
  });

  it('moves a database of a newer schema version aside', () => {
    const db = new RealDatabase(path);
    db.pragma('user_version = 99');
    db.close();
    assertMovedAsideAndFresh(openAt(), /schema version 99/);
  });

  it('moves a foreign database with another bindings table aside', () => {
    const db = new RealDatabase(path);
    db.exec('CREATE TABLE bindings (id INTEGER PRIMARY KEY, whatever TEXT)');
    db.close();
    assertMovedAsideAndFresh(openAt(), /lacks column/);
  });

  it('never lets a stale WAL of the bad file meet the fresh database', () => {
    writeFileSync(path, Buffer.alloc(8192, 'garbage'));
    writeFileSync(`${path}-wal`, 'stale wal');
    assertMovedAsideAndFresh(openAt(), /not a database/);
    // SQLite may discard the stale WAL itself; if it did not, it was moved aside with the file.
    assert.ok(!existsSync(`${path}-wal`) || readFileSync(`${path}-wal`, 'utf8') !== 'stale wal');
  });

  it('skips stored records that cannot be parsed, with a warning, and loads the rest', () => {
    seed(2);
    const db = new RealDatabase(path);
    const insert = db.prepare('INSERT INTO bindings (token, data, expires_at) VALUES (?, ?, 0)');
    insert.run('badjson', '{"token": "badjson",');
    insert.run('badshape', JSON.stringify({ ...makeRecord('badshape'), phonePort: 'x' }));
    insert.run('mismatch', JSON.stringify(makeRecord('other')));
    db.close();
    const store = openAt();
    assert.deepEqual(
      store
        .loadAll()
        .map((r) => r.token)
        .sort(),
      ['tok0', 'tok1'],
    );
    const warnings = sink.lines.filter((l) => l.startsWith('warn') && l.includes('cannot be read'));
    assert.equal(warnings.length, 3);
    assert.ok(warnings.some((l) => l.includes('token:badjson') && l.includes('not JSON')));
    assert.ok(warnings.some((l) => l.includes('token:badshape') && l.includes('phonePort')));
    assert.ok(warnings.some((l) => l.includes('token:mismatch') && l.includes('differs')));
  });

  it('falls back to memory, loudly, when the directory cannot be created', () => {
    writeFileSync(tmp.file('afile'), 'x');
    path = tmp.file('afile/sub/reg.db');
    const store = openAt();
    assert.equal(store.kind, 'memory');
    assert.match(store.warning ?? '', /^the registration database .*reg\.db could not be opened \(.+\): /);
    assert.match(store.warning ?? '', /registrations are kept in memory only and will be lost on restart$/);
    assert.ok(sink.lines.some((l) => l.startsWith('error') && l.includes('code:SMQ_ERR_STORE')));
  });
});
