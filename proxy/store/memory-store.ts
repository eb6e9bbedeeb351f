import type { BindingRecord } from './binding-record.ts';
import { assertRecord } from './record-codec.ts';
import type { RegistrationStore, StoreStats } from './registration-store.ts';

/**
 * A store that keeps records only for the life of the process: what openStore returns for path ''
 * (memory-only on purpose, warning null) and when SQLite cannot be used (warning says why).
 */
export class MemoryStore implements RegistrationStore {
  readonly kind = 'memory' as const;
  private readonly records = new Map<string, BindingRecord>();

  constructor(readonly warning: string | null = null) {}

  loadAll(): BindingRecord[] {
    return [...this.records.values()];
  }

  put(record: BindingRecord): void {
    assertRecord(record);
    this.records.set(record.token, record);
  }

  delete(token: string): void {
    if (typeof token !== 'string') throw new TypeError('token must be a string');
    this.records.delete(token);
  }

  flush(): void {}

  close(): void {}

  stats(): StoreStats {
    return { pendingWrites: 0, flushes: 0, lastFlushAt: null, path: null };
  }
}
