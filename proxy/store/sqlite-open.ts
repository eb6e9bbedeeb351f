import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Clock } from '../../common/clock.ts';
import { SipmasqError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import { type SqliteConstructor, type SqliteDatabase, shortReason } from './native-sqlite.ts';

/** Stored in `PRAGMA user_version`. Bump it with a migration step in migrate(). */
export const SCHEMA_VERSION = 1;

/**
 * How long a statement waits for a lock before failing. The daemon is the only writer, and a wait blocks
 * the event loop (better-sqlite3 is synchronous), so keep it short: a failed flush is retried anyway.
 */
const BUSY_TIMEOUT_MS = 500;

/** SQLite result codes meaning "this file cannot be used as our database" (prefix match). */
const UNREADABLE_CODES = [
  'SQLITE_NOTADB',
  'SQLITE_CORRUPT',
  'SQLITE_FORMAT',
  'SQLITE_CANTOPEN',
  'SQLITE_READONLY',
];

/**
 * Opens (creating if need be) the registration database at `path`. A file that is corrupt, not a
 * database, of a newer schema, or that cannot be read, is renamed to `<path>.corrupt-<ms>` and an empty
 * database started in its place: registrations are soft state, the phones register again. Anything
 * else (directory not creatable, locked by another process, second failure) is thrown.
 */
export function openDatabase(
  Database: SqliteConstructor,
  path: string,
  clock: Clock,
  logger: Logger,
): SqliteDatabase {
  const inMemory = path === ':memory:';
  if (!inMemory) mkdirSync(dirname(path), { recursive: true });
  try {
    return prepareDatabase(Database, path, logger);
  } catch (err) {
    if (inMemory || !isUnreadable(err) || !isFile(path)) throw err;
    const aside = moveAside(path, clock.now());
    logger.error('registration database is corrupt or unreadable: moved aside, starting an empty one', {
      code: 'SMQ_ERR_STORE',
      path,
      movedTo: aside,
      reason: shortReason(err),
    });
    return prepareDatabase(Database, path, logger);
  }
}

function prepareDatabase(Database: SqliteConstructor, path: string, logger: Logger): SqliteDatabase {
  const db = new Database(path, { timeout: BUSY_TIMEOUT_MS });
  try {
    checkIntegrity(db);
    setJournal(db, path, logger);
    db.pragma('synchronous = NORMAL');
    migrate(db);
    return db;
  } catch (err) {
    closeAfterFailure(db, logger);
    throw err;
  }
}

/** The first read of the file: throws SQLITE_NOTADB for garbage, and quick_check finds broken pages. */
function checkIntegrity(db: SqliteDatabase): void {
  const result = db.pragma('quick_check', { simple: true });
  if (result !== 'ok') throw unreadable(`integrity check failed: ${String(result)}`);
}

/**
 * WAL: a commit appends to one file instead of rewriting pages and a journal, which is kinder to flash,
 * and a crash never loses a committed transaction. With synchronous=NORMAL a power cut may lose the last
 * commits but never corrupts the file. Some file systems refuse WAL (no shared mmap): keep the default
 * rollback journal then, and say so.
 */
function setJournal(db: SqliteDatabase, path: string, logger: Logger): void {
  if (db.memory) return;
  let mode: unknown;
  try {
    mode = db.pragma('journal_mode = WAL', { simple: true });
  } catch (err) {
    if (isUnreadable(err)) throw err;
    logger.warn('file system refused the WAL journal: using the rollback journal', {
      path,
      reason: shortReason(err),
    });
    return;
  }
  if (String(mode).toLowerCase() !== 'wal') {
    logger.warn('file system refused the WAL journal: using the rollback journal', {
      path,
      mode: String(mode),
    });
  }
}

function migrate(db: SqliteDatabase): void {
  const version = Number(db.pragma('user_version', { simple: true }));
  if (version > SCHEMA_VERSION) {
    throw unreadable(`schema version ${version} is newer than this sipmasq understands (${SCHEMA_VERSION})`);
  }
  if (version < 1) {
    db.transaction(() => {
      db.exec(
        'CREATE TABLE IF NOT EXISTS bindings (token TEXT PRIMARY KEY, data TEXT NOT NULL, expires_at INTEGER NOT NULL)',
      );
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
    })();
  }
  const columns = db.prepare("SELECT name FROM pragma_table_info('bindings')").pluck().all();
  for (const name of ['token', 'data', 'expires_at']) {
    if (!columns.includes(name)) throw unreadable(`table bindings lacks column ${name}`);
  }
}

function unreadable(message: string): SipmasqError {
  return new SipmasqError('SMQ_ERR_STORE', message, { unreadable: true });
}

function isUnreadable(err: unknown): boolean {
  if (err instanceof SipmasqError) return err.details['unreadable'] === true;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && UNREADABLE_CODES.some((c) => code.startsWith(c));
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false; // gone or not stat-able: nothing to move aside
  }
}

/** Renames the database and its WAL companions aside; a stale WAL must never meet a fresh database. */
function moveAside(path: string, now: number): string {
  let aside = `${path}.corrupt-${now}`;
  for (let n = 1; existsSync(aside); n++) aside = `${path}.corrupt-${now}-${n}`;
  renameSync(path, aside);
  for (const suffix of ['-wal', '-shm', '-journal']) {
    if (existsSync(path + suffix)) renameSync(path + suffix, aside + suffix);
  }
  return aside;
}

function closeAfterFailure(db: SqliteDatabase, logger: Logger): void {
  try {
    db.close();
  } catch (err) {
    logger.debug('closing the failed database also failed', { reason: shortReason(err) });
  }
}
