// Child process for crash-safety.test.ts: writes through a store, then dies by SIGKILL without close().
import { systemClock } from '../../../../common/clock.ts';
import { Logger } from '../../../../common/logger.ts';
import { openStore } from '../../../../proxy/store/open-store.ts';
import { makeRecord } from './store-fixtures.ts';

const path = process.argv[2];
if (!path) throw new TypeError('usage: crash-child.ts <db path>');
const store = openStore({ path, flushIntervalMs: 60_000, clock: systemClock, logger: Logger.root('error') });
if (store.kind !== 'sqlite') throw new Error(`expected a sqlite store: ${store.warning}`);
for (let i = 0; i < 20; i++) store.put(makeRecord(`flushed${i}`));
store.flush();
store.put(makeRecord('unflushed'));
process.kill(process.pid, 'SIGKILL');
