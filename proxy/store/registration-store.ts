import type { BindingRecord } from './binding-record.ts';

/** Counters a status command can show about the store. */
export interface StoreStats {
  /** Tokens with a put or delete buffered but not yet written. */
  readonly pendingWrites: number;
  /** Transactions committed so far (one per flush that had something to write). */
  readonly flushes: number;
  /** When the last transaction committed (ms since the epoch), or null if none has. */
  readonly lastFlushAt: number | null;
  /** The database file, or null when the store is memory-only. */
  readonly path: string | null;
}

/**
 * Where registrations survive a restart. State lives in memory (the registration table); the store is
 * told about changes and writes them in batched transactions, never one write per REGISTER, because the
 * router's flash wears out (DESIGN.md §2, storage).
 */
export interface RegistrationStore {
  readonly kind: 'sqlite' | 'memory';
  /** Why the store is memory-only against the configuration's wish; null when all is as asked. */
  readonly warning: string | null;
  /** At start: every stored record, expired ones included (the caller drops those). */
  loadAll(): BindingRecord[];
  /** Buffered; the latest put or delete for a token wins. */
  put(record: BindingRecord): void;
  /** Buffered. */
  delete(token: string): void;
  /**
   * Writes everything pending in one transaction; a no-op when nothing is pending. Failures are logged
   * (SMQ_ERR_STORE), never thrown, and the pending writes are kept for the next try.
   */
  flush(): void;
  /** Flushes, stops the timer and closes the database. Idempotent. */
  close(): void;
  stats(): StoreStats;
}
