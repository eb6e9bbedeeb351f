// Shared helpers for the store tests: records, temp directories, a better-sqlite3 that counts writes.
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../../../common/clock.ts';
import { Logger, MemorySink } from '../../../../common/logger.ts';
import type { SqliteConstructor, SqliteDatabase } from '../../../../proxy/store/native-sqlite.ts';

export const RealDatabase = createRequire(import.meta.url)('better-sqlite3') as SqliteConstructor;

export { makeRecord } from '../../../unit/proxy/store/binding-fixtures.ts';

/** A fresh directory under the OS temp dir; remove() deletes it and everything in it. */
export function tempDir(): { dir: string; file: (name: string) => string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'sipmasq-store-'));
  return {
    dir,
    file: (name) => join(dir, name),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export function testLogger(): { logger: Logger; sink: MemorySink } {
  const sink = new MemorySink();
  return { logger: Logger.root('debug', sink).child('store'), sink };
}

export function testClock(): ManualClock {
  return new ManualClock(1_700_000_000_000);
}

/** What a counting database saw; `failTransactions` makes the next n batch transactions throw. */
export interface WriteCounts {
  transactions: number;
  rowWrites: number;
  failTransactions: number;
}

/**
 * A loadNative seam returning better-sqlite3 wrapped so that every transaction run and every INSERT or
 * DELETE statement run is counted; the real database underneath does the work.
 */
export function countingLoader(): { loadNative: () => unknown; counts: WriteCounts } {
  const counts: WriteCounts = { transactions: 0, rowWrites: 0, failTransactions: 0 };
  function CountingDatabase(path: string, options?: object): SqliteDatabase {
    const db = new RealDatabase(path, options);
    const transaction = db.transaction.bind(db);
    const prepare = db.prepare.bind(db);
    Object.assign(db, {
      transaction(fn: (...args: unknown[]) => unknown) {
        const inner = transaction(fn);
        return (...args: unknown[]) => {
          if (counts.failTransactions > 0) {
            counts.failTransactions--;
            throw Object.assign(new Error('disk I/O error (simulated)'), { code: 'SQLITE_IOERR' });
          }
          counts.transactions++;
          return inner(...args);
        };
      },
      prepare(source: string) {
        const statement = prepare(source);
        if (/^\s*(INSERT|DELETE)/i.test(source)) {
          const run = statement.run.bind(statement);
          Object.assign(statement, {
            run(...args: unknown[]) {
              counts.rowWrites++;
              return run(...args);
            },
          });
        }
        return statement;
      },
    });
    return db;
  }
  return { loadNative: () => CountingDatabase, counts };
}
