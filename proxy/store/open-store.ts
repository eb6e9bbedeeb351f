import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import { MemoryStore } from './memory-store.ts';
import { loadNativeSqlite, shortReason } from './native-sqlite.ts';
import type { RegistrationStore } from './registration-store.ts';
import { SqliteStore } from './sqlite-store.ts';

export interface OpenStoreOptions {
  /** Database file; '' means memory-only on purpose. */
  readonly path: string;
  readonly flushIntervalMs: number;
  readonly clock: Clock;
  /** The store's logger (the caller namespaces it, e.g. root.child('store')). */
  readonly logger: Logger;
  /** Test seam: returns the better-sqlite3 constructor or throws. Default: a lazy require(). */
  readonly loadNative?: () => unknown;
}

const LOST_ON_RESTART = 'registrations are kept in memory only and will be lost on restart';

/**
 * The store the configuration asks for, or the best one that works: this never throws for a missing
 * native module or an unusable file. When SQLite was wanted and cannot be had, the result is a memory
 * store whose `warning` says why (for the status output), and the reason is logged at error level.
 */
export function openStore(opts: OpenStoreOptions): RegistrationStore {
  const { path, logger } = opts;
  if (typeof path !== 'string') throw new TypeError('path must be a string');
  if (!(Number.isFinite(opts.flushIntervalMs) && opts.flushIntervalMs > 0)) {
    throw new TypeError(`flushIntervalMs must be a positive number, got ${opts.flushIntervalMs}`);
  }
  if (path === '') {
    logger.info('registration store is memory-only, as configured: registrations are lost on restart');
    return new MemoryStore(null);
  }
  const native = loadNativeSqlite(opts.loadNative);
  if (!native.ok) {
    const warning = `better-sqlite3 could not be loaded (${native.reason}): ${LOST_ON_RESTART}`;
    logger.error(warning, { code: 'SMQ_ERR_STORE_UNAVAILABLE', path });
    return new MemoryStore(warning);
  }
  try {
    return SqliteStore.open({ ...opts, Database: native.Database });
  } catch (err) {
    const warning = `the registration database ${path} could not be opened (${shortReason(err)}): ${LOST_ON_RESTART}`;
    logger.error(warning, { code: 'SMQ_ERR_STORE', path });
    return new MemoryStore(warning);
  }
}
