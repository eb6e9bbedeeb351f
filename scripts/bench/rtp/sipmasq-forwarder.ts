/**
 * sipmasq's real media side in a process of its own inside smqb-router, driven as the proxy drives it:
 * per stream one media.update() from 'lan' (the phone's offer: its RTP endpoint) and one from 'wan'
 * (the far side's answer: its public endpoint). The grants say where each side must send. run.ts
 * bundles this file with esbuild (as the product ships: one bundle, plain `node`), so the CPU
 * measured is sipmasq's own and not a TypeScript loader's.
 *
 * argv[2]: ForwarderConfig as JSON (mediaPath 'kernel': firewall nftables on the fw4 table already
 * loaded in the namespace; 'relay': firewall none). Protocol: see protocol.ts.
 */
import { createInterface } from 'node:readline';
import { systemClock } from '../../../common/clock.ts';
import { errorText } from '../../../common/errors.ts';
import { Logger } from '../../../common/logger.ts';
import { nodeSocketFactory } from '../../../common/socket-factory.ts';
import type { MediaSide, StreamRequest } from '../../../rtpproxy/control.ts';
import { createMediaSide } from '../../../rtpproxy/media-side.ts';
import { type ForwarderConfig, phonePort, type Reply, type Route } from './protocol.ts';

const cfg = JSON.parse(process.argv[2] ?? '{}') as ForwarderConfig;
const mediaPath = cfg.mediaPath ?? 'relay';
/** Updates in flight at once while growing (their firewall commits coalesce). */
const CONCURRENCY = 25;

const side: MediaSide = await createMediaSide(
  {
    lanAddress: cfg.lanAddress,
    wanAddress: cfg.wanAddress,
    publicAddress: () => cfg.wanAddress,
    lanDevice: cfg.lanDevice,
    wanDevice: cfg.wanDevice,
    sipPort: 5060,
    portMin: 40000,
    portMax: 59999,
    idleTimeoutMs: 3_600_000,
    holdTimeoutMs: 3_600_000,
    mediaPath,
    firewall: mediaPath === 'kernel' ? 'nftables' : 'none',
  },
  {
    clock: systemClock,
    sockets: nodeSocketFactory,
    logger: Logger.root('warn'),
    // The product's cadence for its default mediaIdleTimeout (60 s / 4); the long idle timeout above
    // only keeps the sessions the flood leaves idle from being released.
    tuning: { counterMs: 15_000 },
  },
);

const routes: Route[] = [];

function request(addr: string, port: number): StreamRequest {
  return {
    index: 0,
    endpoint: { addr, port, rtcpPort: port + 1, rtcpMux: false },
    direction: 'sendrecv',
    proto: 'RTP/AVP',
  };
}

async function makeStream(i: number): Promise<Route> {
  const sessionId = `bench-${i}`;
  const callId = `bench-${i}@sipmasq`;
  const phone = request(cfg.phoneAddress, phonePort(cfg.phoneBase, i));
  const far = request(cfg.farAddress, phonePort(cfg.farBase, i));
  // The phone's offer: the grant is what the far side is told (WAN:X).
  const [toFar] = await side.media.update({ sessionId, callId, from: 'lan', streams: [phone] });
  // The far side's answer: the grant is what the phone is told (far side itself, or the relay's LAN port).
  const [toPhone] = await side.media.update({ sessionId, callId, from: 'wan', streams: [far] });
  if (!toFar || !toPhone) throw new Error(`no grant for stream ${i}`);
  return {
    i,
    phoneDst: [toPhone.addr, toPhone.port],
    farDst: [toFar.addr, toFar.port],
    path: toPhone.path,
  };
}

async function grow(n: number): Promise<void> {
  for (let start = routes.length; start < n; start += CONCURRENCY) {
    const batch: Promise<Route>[] = [];
    for (let i = start; i < Math.min(n, start + CONCURRENCY); i++) batch.push(makeStream(i));
    routes.push(...(await Promise.all(batch)));
  }
}

function reply(r: Reply): void {
  process.stdout.write(`${JSON.stringify(r)}\n`);
}

let closing: Promise<void> | null = null;
function shutdown(): Promise<void> {
  closing ??= side
    .close()
    .catch((err: unknown) => process.stderr.write(`close failed: ${errorText(err)}\n`))
    .then(() => process.exit(0));
  return closing;
}

process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());
const lines = createInterface({ input: process.stdin });
lines.on('close', () => void shutdown());
lines.on('line', (line) => {
  const cmd = JSON.parse(line) as { grow?: number; close?: boolean };
  if (cmd.close) {
    void shutdown();
    return;
  }
  grow(cmd.grow ?? 0)
    .then(async () => {
      if (mediaPath !== 'kernel') return reply({ routes: routes.slice(0, cmd.grow ?? 0) });
      // One read of the kernel counters (what the watchdog does every counterMs and status on demand):
      // the part of sipmasq's kernel-path work that grows with the number of calls.
      const t0 = performance.now();
      await side.network.refresh();
      const counterReadMs = Math.round((performance.now() - t0) * 10) / 10;
      return reply({ routes: routes.slice(0, cmd.grow ?? 0), counterReadMs });
    })
    .catch((err: unknown) => reply({ error: errorText(err) }));
});
reply({ routes: [] });
