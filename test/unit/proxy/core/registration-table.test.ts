import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../../../common/clock.ts';
import { RegistrationTable } from '../../../../proxy/core/registration-table.ts';
import type { BindingRecord } from '../../../../proxy/store/binding-record.ts';
import type { RegistrationStore, StoreStats } from '../../../../proxy/store/registration-store.ts';
import { binding, quietLogger, T0 } from './fixtures.ts';

/** A store that records what the table tells it. */
class RecordingStore implements RegistrationStore {
  readonly kind = 'memory' as const;
  readonly warning = null;
  readonly puts: BindingRecord[] = [];
  readonly deletes: string[] = [];
  constructor(private readonly stored: BindingRecord[] = []) {}
  loadAll(): BindingRecord[] {
    return [...this.stored];
  }
  put(r: BindingRecord): void {
    this.puts.push(r);
  }
  delete(token: string): void {
    this.deletes.push(token);
  }
  flush(): void {}
  close(): void {}
  stats(): StoreStats {
    return { pendingWrites: 0, flushes: 0, lastFlushAt: null, path: null };
  }
}

const GRACE = 32_000;

function setup(stored: BindingRecord[] = []) {
  const clock = new ManualClock(T0);
  const store = new RecordingStore(stored);
  const { log, sink } = quietLogger();
  const table = new RegistrationTable(store, clock, log);
  return { clock, store, table, sink };
}

describe('RegistrationTable', () => {
  it('stores a binding, writes it through the store and finds it by token', () => {
    const { table, store, sink } = setup();
    const rec = binding();
    table.put(rec);
    assert.equal(table.get(rec.token), rec);
    assert.deepEqual(store.puts, [rec]);
    assert.equal(table.get('nobody-smqaaaaaaaaaaaa'), undefined);
    assert.ok(sink.lines.some((l) => l.includes('registered') && l.includes(rec.token)));
  });

  it('logs a new binding once, not on every refresh, but writes every refresh', () => {
    const { table, store, sink } = setup();
    table.put(binding());
    table.put(binding({ expiresAt: T0 + 7200_000 }));
    assert.equal(sink.lines.filter((l) => l.includes(': registered')).length, 1);
    assert.equal(store.puts.length, 2);
    assert.equal(table.get(binding().token)?.expiresAt, T0 + 7200_000);
  });

  it('finds a binding by AOR and phone contact (token reuse), expired or not', () => {
    const { table, clock } = setup();
    table.put(binding({ expiresAt: T0 + 1000 }));
    clock.advance(1000 + GRACE + 1);
    assert.equal(table.find(binding().aor, binding().contact)?.token, binding().token);
    assert.equal(table.find(binding().aor, 'sip:alice@192.168.1.50:9999'), undefined);
    assert.equal(table.find('sip:bob@voip.example.net', binding().contact), undefined);
  });

  it('keeps a binding usable for a grace period after the registrar expiry, then not', () => {
    const { table, clock } = setup();
    const rec = binding({ expiresAt: T0 + 60_000 });
    table.put(rec);
    clock.advance(60_000);
    assert.equal(table.get(rec.token), rec, 'at expiry');
    clock.advance(GRACE - 1);
    assert.equal(table.get(rec.token), rec, 'just inside the grace');
    assert.ok(table.isLive(rec));
    clock.advance(1);
    assert.equal(table.get(rec.token), undefined, 'after the grace');
    assert.ok(!table.isLive(rec));
    assert.deepEqual(table.list(), []);
  });

  it('finds live bindings by AOR user or phone contact user, most recently updated first', () => {
    const { table, clock } = setup();
    const a = binding({ token: 'alice-smqaaaaaaaaaaaa', updatedAt: T0 });
    const b = binding({
      token: 'alice-smqbbbbbbbbbbbb',
      contact: 'sip:alice@192.168.1.51',
      updatedAt: T0 + 5,
    });
    const c = binding({
      token: 'x-smqcccccccccccc',
      aor: 'sip:+4930123@voip.example.net',
      contact: 'sip:ext12@192.168.1.52',
      updatedAt: T0 + 1,
    });
    const dead = binding({
      token: 'alice-smqdddddddddddd',
      contact: 'sip:alice@192.168.1.53',
      expiresAt: T0 + 1,
      updatedAt: T0 + 9,
    });
    for (const r of [a, b, c, dead]) table.put(r);
    clock.advance(GRACE + 2);
    assert.deepEqual(
      table.byUser('alice').map((r) => r.token),
      [b.token, a.token],
    );
    assert.deepEqual(
      table.byUser('+4930123').map((r) => r.token),
      [c.token],
    );
    assert.deepEqual(
      table.byUser('ext12').map((r) => r.token),
      [c.token],
    );
    assert.deepEqual(table.byUser('bob'), []);
  });

  it('lists every binding of an AOR, expired ones included (Contact: * removes them all)', () => {
    const { table, clock } = setup();
    table.put(binding({ token: 'alice-smqaaaaaaaaaaaa' }));
    table.put(binding({ token: 'alice-smqbbbbbbbbbbbb', expiresAt: T0 }));
    table.put(binding({ token: 'bob-smqcccccccccccc', aor: 'sip:bob@voip.example.net' }));
    clock.advance(GRACE + 1);
    assert.deepEqual(
      table
        .byAor(binding().aor)
        .map((r) => r.token)
        .sort(),
      ['alice-smqaaaaaaaaaaaa', 'alice-smqbbbbbbbbbbbb'],
    );
  });

  it('removes a binding from memory and the store, and ignores unknown tokens', () => {
    const { table, store, sink } = setup();
    table.put(binding());
    table.remove(binding().token, 'test');
    table.remove('unknown', 'test');
    assert.equal(table.get(binding().token), undefined);
    assert.equal(table.find(binding().aor, binding().contact), undefined);
    assert.deepEqual(store.deletes, [binding().token]);
    assert.ok(sink.lines.some((l) => l.includes('unregistered') && l.includes('why:test')));
  });

  it('sweeps expired bindings out of memory and the store and keeps live ones', () => {
    const { table, store, clock } = setup();
    table.put(binding({ token: 'a-smqaaaaaaaaaaaa', expiresAt: T0 + 10_000 }));
    table.put(binding({ token: 'b-smqbbbbbbbbbbbb', expiresAt: T0 + 100_000 }));
    clock.advance(10_000 + GRACE);
    table.sweep();
    assert.deepEqual(store.deletes, ['a-smqaaaaaaaaaaaa']);
    assert.equal(table.find(binding().aor, binding().contact)?.token, 'b-smqbbbbbbbbbbbb');
  });

  it('restores live bindings from the store, deletes the expired ones and sweeps on a timer', () => {
    const live = binding({ token: 'live-smqaaaaaaaaaaaa', expiresAt: T0 + 60_000 });
    const graced = binding({
      token: 'grace-smqbbbbbbbbbbbb',
      contact: 'sip:g@192.168.1.9',
      expiresAt: T0 - GRACE + 1,
    });
    const dead = binding({
      token: 'dead-smqcccccccccccc',
      contact: 'sip:d@192.168.1.9',
      expiresAt: T0 - GRACE,
    });
    const { table, store, clock } = setup([live, graced, dead]);
    assert.equal(table.restore(), 2);
    assert.deepEqual(store.deletes, [dead.token]);
    assert.equal(table.get(live.token), live);
    assert.equal(table.get(graced.token), graced);
    assert.equal(store.puts.length, 0, 'restoring writes nothing back');
    clock.advance(15_000);
    assert.deepEqual(store.deletes, [dead.token, graced.token], 'the periodic sweep removed the graced one');
    clock.advance(60_000 + GRACE);
    assert.deepEqual(store.deletes, [dead.token, graced.token, live.token]);
    table.close();
    table.close();
  });

  it('stops sweeping after close()', () => {
    const live = binding({ expiresAt: T0 + 1000 });
    const { table, store, clock } = setup([live]);
    table.restore();
    table.close();
    clock.advance(3600_000);
    assert.deepEqual(store.deletes, []);
  });

  it('names each registrar of a live binding once (keep-alive targets)', () => {
    const { table, clock } = setup();
    table.put(binding({ token: 'a-smqaaaaaaaaaaaa', registrar: '198.51.100.77:5060' }));
    table.put(
      binding({ token: 'b-smqbbbbbbbbbbbb', contact: 'sip:b@192.168.1.9', registrar: '198.51.100.77:5060' }),
    );
    table.put(
      binding({ token: 'c-smqcccccccccccc', contact: 'sip:c@192.168.1.9', registrar: '198.51.100.78:5080' }),
    );
    table.put(
      binding({
        token: 'd-smqdddddddddddd',
        contact: 'sip:d@192.168.1.9',
        registrar: '198.51.100.79:5060',
        expiresAt: T0,
      }),
    );
    clock.advance(GRACE);
    assert.deepEqual(table.registrars().sort(), ['198.51.100.77:5060', '198.51.100.78:5080']);
  });
});
