/**
 * A sipmasq media side in its own process, for the tests that kill it (-9) or run it inside a router
 * namespace. argv[2]: JSON { opts, public, netns?, updates }. Prints one JSON line per event; reads
 * commands from stdin: `status`, `release <sessionId>`, `close`.
 */
import { createInterface } from 'node:readline';
import { systemClock } from '../../../../common/clock.ts';
import { errorText } from '../../../../common/errors.ts';
import { Logger } from '../../../../common/logger.ts';
import { nodeSocketFactory } from '../../../../common/socket-factory.ts';
import { SpawnRunner } from '../../../../rtpproxy/command-runner.ts';
import type { MediaSideOptions, UpdateRequest } from '../../../../rtpproxy/control.ts';
import { createMediaSide } from '../../../../rtpproxy/media-side.ts';

interface Config {
  opts: Omit<MediaSideOptions, 'publicAddress'>;
  public: string;
  netns?: string;
  updates: UpdateRequest[];
}

const say = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2] ?? '{}') as Config;
  const side = await createMediaSide(
    { ...cfg.opts, publicAddress: () => cfg.public },
    {
      clock: systemClock,
      sockets: nodeSocketFactory,
      logger: Logger.root('warn'),
      runner: new SpawnRunner(cfg.netns ? { netns: cfg.netns } : {}),
      tuning: { watchdogMs: 300 },
    },
  );
  const grants = [];
  for (const u of cfg.updates) grants.push(await side.media.update(u));
  say({ event: 'ready', grants });
  for await (const line of createInterface({ input: process.stdin })) {
    const [cmd, arg] = line.trim().split(' ');
    if (cmd === 'status') {
      // As the daemon's status command does: fresh kernel counters first.
      await side.network.refresh();
      say({ event: 'status', media: side.media.query(), network: side.network.status() });
    }
    if (cmd === 'release' && arg) {
      await side.media.release(arg, 'bye');
      say({ event: 'released', sessionId: arg });
    }
    if (cmd === 'close') {
      await side.close();
      say({ event: 'closed' });
      process.exit(0);
    }
  }
}

main().catch((err: unknown) => {
  say({ event: 'error', error: errorText(err) });
  process.exit(1);
});
