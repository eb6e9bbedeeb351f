import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { afterEach, beforeEach, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openStore } from '../../../../proxy/store/open-store.ts';
import { tempDir, testClock, testLogger } from './store-fixtures.ts';

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.remove());

it('keeps every record flushed before the process is killed with SIGKILL, and only those', () => {
  const path = tmp.file('reg.db');
  const child = spawnSync(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(new URL('./crash-child.ts', import.meta.url)), path],
    {
      encoding: 'utf8',
      timeout: 30_000,
    },
  );
  assert.equal(child.signal, 'SIGKILL', `child did not die as planned: ${child.stderr}`);

  const { logger, sink } = testLogger();
  const store = openStore({ path, flushIntervalMs: 5_000, clock: testClock(), logger });
  try {
    assert.equal(store.kind, 'sqlite', store.warning ?? '');
    const tokens = store.loadAll().map((r) => r.token);
    assert.equal(tokens.length, 20);
    assert.ok(tokens.every((t) => t.startsWith('flushed')));
    assert.ok(!sink.lines.some((l) => l.includes('corrupt')), 'the killed database opens cleanly');
  } finally {
    store.close();
  }
});
