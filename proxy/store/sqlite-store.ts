import type { Clock, Timer } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import type { BindingRecord } from './binding-record.ts';
import { type SqliteConstructor, type SqliteDatabase, shortReason } from './native-sqlite.ts';
import { assertRecord, decodeRecord, encodeRecord } from './record-codec.ts';
import type { RegistrationStore, StoreStats } from './registration-store.ts';
import { openDatabase } from './sqlite-open.ts';

export interface SqliteStoreOptions {
  /** The better-sqlite3 constructor, already proven to load (see loadNativeSqlite). */
  readonly Database: SqliteConstructor;
  /** Database file; its directory is created. ':memory:' works too (tests). */
  readonly path: string;
  readonly flushIntervalMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** What a token's next write is; a later put or delete replaces an earlier one (coalescing). */
type PendingWrite = { readonly kind: 'put'; readonly record: BindingRecord } | { readonly kind: 'delete' };

interface Row {
  token: string;
  data: string;
}

/**
 * Registrations in SQLite, written behind: put() and delete() only note the change; a timer (or an
 * explicit flush()) writes every pending change in one transaction. A phone re-registering every minute
 * costs one row write per flush interval, not one per REGISTER.
 */
export class SqliteStore implements RegistrationStore {
  readonly kind = 'sqlite' as const;
  readonly warning = null;

  private readonly pending = new Map<string, PendingWrite>();
  private readonly writeBatch: (ops: Array<[string, PendingWrite]>) => void;
  private readonly selectAll;
  private readonly timer: Timer;
  private flushCount = 0;
  private lastFlushAt: number | null = null;
  private failedTries = 0;
  private closed = false;

  /** Opens the database (see openDatabase for what happens to a corrupt file) and starts the timer. */
  static open(opts: SqliteStoreOptions): SqliteStore {
    if (!(Number.isFinite(opts.flushIntervalMs) && opts.flushIntervalMs > 0)) {
      throw new TypeError(`flushIntervalMs must be a positive number, got ${opts.flushIntervalMs}`);
    }
    const db = openDatabase(opts.Database, opts.path, opts.clock, opts.logger);
    try {
      return new SqliteStore(db, opts);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  private constructor(
    private readonly db: SqliteDatabase,
    private readonly opts: SqliteStoreOptions,
  ) {
    const upsert = db.prepare<[string, string, number]>(
      'INSERT INTO bindings (token, data, expires_at) VALUES (?, ?, ?) ' +
        'ON CONFLICT (token) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at',
    );
    const remove = db.prepare<[string]>('DELETE FROM bindings WHERE token = ?');
    this.selectAll = db.prepare<[], Row>('SELECT token, data FROM bindings ORDER BY token');
    this.writeBatch = db.transaction((ops: Array<[string, PendingWrite]>) => {
      for (const [token, op] of ops) {
        if (op.kind === 'put') upsert.run(token, encodeRecord(op.record), Math.round(op.record.expiresAt));
        else remove.run(token);
      }
    });
    this.timer = opts.clock.setInterval(() => this.flush(), opts.flushIntervalMs);
    opts.logger.info('registration store opened', { path: opts.path, journal: this.journalMode() });
  }

  loadAll(): BindingRecord[] {
    const byToken = new Map<string, BindingRecord>();
    if (!this.closed) {
      try {
        for (const row of this.selectAll.iterate()) this.loadRow(row, byToken);
      } catch (err) {
        this.opts.logger.error('cannot read stored registrations', {
          code: 'SMQ_ERR_STORE',
          path: this.opts.path,
          reason: shortReason(err),
        });
      }
    }
    // Changes not yet written are newer than the file.
    for (const [token, op] of this.pending) {
      if (op.kind === 'put') byToken.set(token, op.record);
      else byToken.delete(token);
    }
    return [...byToken.values()];
  }

  put(record: BindingRecord): void {
    assertRecord(record);
    if (this.refuseClosed(record.token)) return;
    this.pending.set(record.token, { kind: 'put', record });
  }

  delete(token: string): void {
    if (typeof token !== 'string') throw new TypeError('token must be a string');
    if (this.refuseClosed(token)) return;
    this.pending.set(token, { kind: 'delete' });
  }

  flush(): void {
    if (this.closed || this.pending.size === 0) return;
    const ops = [...this.pending];
    try {
      this.writeBatch(ops);
    } catch (err) {
      this.failedTries++;
      // Loud once per run of failures, quiet while it lasts (a full flash would fill the log otherwise).
      const level = this.failedTries === 1 ? 'error' : 'debug';
      this.opts.logger[level]('cannot write registrations: kept for the next flush', {
        code: 'SMQ_ERR_STORE',
        path: this.opts.path,
        pending: ops.length,
        failedTries: this.failedTries,
        reason: shortReason(err),
      });
      return;
    }
    // better-sqlite3 is synchronous: nothing was added to `pending` while the batch ran.
    this.pending.clear();
    this.flushCount++;
    this.lastFlushAt = this.opts.clock.now();
    if (this.failedTries > 0) {
      this.opts.logger.info('registration writes succeed again', { failedTries: this.failedTries });
      this.failedTries = 0;
    }
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.timer.cancel();
    this.closed = true;
    if (this.pending.size > 0) {
      this.opts.logger.error('closing with unwritten registrations: they are lost', {
        code: 'SMQ_ERR_STORE',
        path: this.opts.path,
        pending: this.pending.size,
      });
    }
    try {
      this.db.close();
    } catch (err) {
      this.opts.logger.error('closing the registration database failed', {
        code: 'SMQ_ERR_STORE',
        path: this.opts.path,
        reason: shortReason(err),
      });
    }
  }

  stats(): StoreStats {
    return {
      pendingWrites: this.pending.size,
      flushes: this.flushCount,
      lastFlushAt: this.lastFlushAt,
      path: this.opts.path,
    };
  }

  private loadRow(row: Row, into: Map<string, BindingRecord>): void {
    const decoded = decodeRecord(String(row.token), String(row.data));
    if (decoded.ok) into.set(decoded.record.token, decoded.record);
    else
      this.opts.logger.warn('skipping a stored registration that cannot be read', {
        token: row.token,
        reason: decoded.error,
      });
  }

  private refuseClosed(token: string): boolean {
    if (!this.closed) return false;
    this.opts.logger.warn('registration store is closed: write dropped', { token });
    return true;
  }

  private journalMode(): string {
    try {
      return String(this.db.pragma('journal_mode', { simple: true }));
    } catch (err) {
      return `unknown (${shortReason(err)})`;
    }
  }
}
