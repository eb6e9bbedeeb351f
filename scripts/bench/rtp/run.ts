/**
 * The media benchmark (issue 3), run on demand as root: `npm run bench:rtp` (or `node --import tsx
 * scripts/bench/rtp/run.ts [options]`). See README.md next to this file.
 *
 * In one run, on the same machine and the same namespaces (topology.ts), it drives N G.711 streams
 * through (1) plain NAT forwarding, (2) sipmasq's kernel path, (3) sipmasq's relay and (4) a minimal
 * Node dgram relay, for each N; then ramps the rate through both relays, plain NAT and the kernel
 * path to find their loss-free packets/s. Writes results.md and results.json next to this file
 * (unless --no-write) and prints the Markdown.
 *
 * Options: --n 10,50,100,200,300  --warmup-ms 2000  --duration-ms 8000  --flood-streams 100
 *          --flood-rounds 2  --step-ms 2000  --no-flood  --only nat,kernel,relay  --nice -10
 *          --rounds 3 (plain NAT and the kernel path measured in turns, streams and flood)
 *          --quiet-pct 30 --quiet-wait-s 5 (before each measurement, wait up to that long for other
 *          work on the machine to use less than that % of one core)
 *          --out DIR (default: this directory)  --no-write
 *          --quick (a short smoke run, written to $TMPDIR/smqb-quick unless --out)
 *          --render results.json (only re-render results.md from an earlier run's raw JSON)
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, release, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { build } from 'esbuild';
import { type CpuWindow, Forwarder, killChildren, runLoadgen, setNice, waitQuiet } from './procs.ts';
import { type ForwarderConfig, phonePort, type Route } from './protocol.ts';
import { renderMarkdown } from './report.ts';
import type {
  BenchResult,
  FloodResult,
  FloodRow,
  MachineInfo,
  PathName,
  StreamsResult,
  StreamsRow,
} from './results.ts';
import {
  buildTopology,
  FAR_BASE,
  IP,
  inNs,
  LAN_DEV,
  NS,
  nsPath,
  PHONE_BASE,
  setFirewall,
  teardown,
  udpCounters,
  WAN_DEV,
} from './topology.ts';

const HERE = new URL('./', import.meta.url).pathname;

function option(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : dflt;
}
const flag = (name: string): boolean => process.argv.includes(name);

const quick = flag('--quick');
const S = {
  ns: option('--n', quick ? '10,50' : '10,50,100,200,300')
    .split(',')
    .map(Number)
    .filter((n) => n > 0),
  warmupMs: Number(option('--warmup-ms', quick ? '1000' : '2000')),
  durationMs: Number(option('--duration-ms', quick ? '3000' : '8000')),
  floodStreams: Number(option('--flood-streams', quick ? '50' : '100')),
  floodRounds: Number(option('--flood-rounds', quick ? '1' : '2')),
  /** Plain NAT and the kernel path measured in turns this many times (their differences are small). */
  rounds: Math.max(1, Number(option('--rounds', quick ? '1' : '3'))),
  stepMs: Number(option('--step-ms', quick ? '1000' : '2000')),
  flood: !flag('--no-flood'),
  only: option('--only', 'nat,kernel,relay').split(','),
  nice: Number(option('--nice', '-10')),
  quietPct: Number(option('--quiet-pct', '30')),
  quietWaitS: Number(option('--quiet-wait-s', quick ? '0' : '5')),
  write: !flag('--no-write'),
  out: option('--out', quick ? join(tmpdir(), 'smqb-quick') : new URL('./', import.meta.url).pathname),
  pps: 50,
  packetBytes: 172,
};

let buildDir = '';
let loadgenBin = '';
const notes: string[] = [];
const say = (text: string): void => {
  process.stderr.write(`bench: ${text}\n`);
};

function machineInfo(): MachineInfo {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    nproc: availableParallelism(),
    cpuModel: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown',
    node: process.version,
    kernel: release(),
    loadAvg: loadavg()
      .map((l) => l.toFixed(2))
      .join(' '),
  };
}

async function prepare(): Promise<{ sipmasq: string; minimal: string }> {
  buildDir = mkdtempSync(join(tmpdir(), 'smqb-build-'));
  loadgenBin = join(buildDir, 'loadgen');
  execFileSync('cc', ['-O2', '-Wall', '-pthread', '-o', loadgenBin, join(HERE, 'loadgen.c')], {
    stdio: 'inherit',
  });
  const sipmasq = join(buildDir, 'sipmasq-forwarder.mjs');
  await build({
    entryPoints: [join(HERE, 'sipmasq-forwarder.ts')],
    outfile: sipmasq,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    banner: {
      js: "import { createRequire as __smqCreateRequire } from 'node:module';\nconst require = __smqCreateRequire(import.meta.url);",
    },
    logLevel: 'warning',
  });
  return { sipmasq, minimal: join(HERE, 'minimal-relay.mjs') };
}

function forwarderConfig(extra: Partial<ForwarderConfig>): ForwarderConfig {
  return {
    lanAddress: IP.routerLan,
    wanAddress: IP.routerWan,
    lanDevice: LAN_DEV,
    wanDevice: WAN_DEV,
    phoneAddress: IP.phone,
    farAddress: IP.far,
    phoneBase: PHONE_BASE,
    farBase: FAR_BASE,
    ...extra,
  };
}

/** Lay a written file out as the repository's formatter (Biome) would, so that `npm run lint` passes. */
function formatFile(file: string): void {
  const root = join(HERE, '../../../');
  if (!resolve(file).startsWith(root)) return; // outside the repository: not linted, nothing to do
  try {
    execFileSync(join(root, 'node_modules/.bin/biome'), ['format', '--write', file], { stdio: 'ignore' });
  } catch {
    say(`could not format ${file} with biome; run \`npx biome format --write\` on it before committing`);
  }
}

/** The load generator's stream file: plain NAT has no routes (the far side answers the mapping). */
function streamFile(name: string, n: number, routes: readonly Route[] | null): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const pp = phonePort(PHONE_BASE, i);
    const fp = phonePort(FAR_BASE, i);
    const r = routes?.[i];
    if (routes && !r) throw new Error(`no route for stream ${i}`);
    const phoneDst = r ? `${r.phoneDst[0]} ${r.phoneDst[1]}` : `${IP.far} ${fp}`;
    const farDst = r?.farDst ? `${r.farDst[0]} ${r.farDst[1]}` : '0.0.0.0 0';
    lines.push(`${IP.phone} ${pp} ${phoneDst} ${IP.far} ${fp} ${farDst}`);
  }
  const file = join(buildDir, `${name}.streams`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

const nsArgs = (): string[] => ['--phone-ns', nsPath(NS.phone), '--far-ns', nsPath(NS.far)];

/** Give other work on the machine a chance to finish before measuring; say so when it did not. */
async function quiet(what: string): Promise<void> {
  if (S.quietWaitS <= 0) return;
  const busy = await waitQuiet(S.quietPct, S.quietWaitS * 1000);
  if (busy > S.quietPct) say(`${what}: machine still ${busy} % busy with other work; measuring anyway`);
}

async function drops(): Promise<{ router: number; loadgen: number }> {
  const [r, p, f] = await Promise.all([udpCounters(NS.router), udpCounters(NS.phone), udpCounters(NS.far)]);
  return { router: r['RcvbufErrors'] ?? 0, loadgen: (p['RcvbufErrors'] ?? 0) + (f['RcvbufErrors'] ?? 0) };
}

/** The round of plain NAT and kernel-path measurements under way (relays: always 1). */
let round = 1;
/** One kernel counter read per N and round (the forwarder times it after each grow). */
const counterReads: { n: number; ms: number }[] = [];
/** How often sipmasq reads the counters with the default idle timeout (sipmasq-forwarder.ts sets it). */
const COUNTER_PERIOD_MS = 15_000;

async function streamsRun(
  path: PathName,
  n: number,
  routes: readonly Route[] | null,
  pid: number | null,
): Promise<StreamsRow> {
  const file = streamFile(`${path}-${n}`, n, routes);
  await quiet(`${path} N=${n}`);
  const before = await drops();
  const args = ['streams', ...nsArgs(), '--streams', file, '--pps', String(S.pps)];
  args.push('--warmup-ms', String(S.warmupMs), '--duration-ms', String(S.durationMs));
  const out = await runLoadgen<StreamsResult>(loadgenBin, args, pid, S.warmupMs + S.durationMs + 60_000);
  const after = await drops();
  const lg = out.result;
  const cpu = out.windows.get('measure')!;
  const ours = (cpu.forwarderPct ?? 0) + (cpu.forwarderChildrenPct ?? 0) + lg.loadgenCpuPct;
  const row: StreamsRow = {
    path,
    n,
    round,
    loadgen: lg,
    cpu,
    routerDrops: after.router - before.router,
    loadgenDrops: after.loadgen - before.loadgen,
    otherCpuPct: Math.round(100 * Math.max(0, cpu.machinePct - ours)) / 100,
  };
  say(
    `${path} N=${n}${S.rounds > 1 && (path === 'nat' || path === 'kernel') ? ` (round ${round})` : ''}: loss up ${lg.up.lossPct}% down ${lg.down.lossPct}%, p50 ${lg.both.p50us} p99 ${lg.both.p99us} us, forwarder CPU ${cpu.forwarderPct ?? '-'}% (+${cpu.forwarderChildrenPct ?? '-'}%), machine ${cpu.machinePct}%, other ${row.otherCpuPct}%`,
  );
  if (lg.sentPctOfNominal < 99)
    notes.push(
      `${path} N=${n}: the load generator sent only ${lg.sentPctOfNominal.toFixed(1)} % of the nominal packets (it could not keep up; on the NAT paths the kernel's forwarding work runs in its send calls)`,
    );
  if (lg.unlearned || lg.misrouted || lg.bad || lg.sendFail)
    notes.push(
      `${path} N=${n}: unlearned ${lg.unlearned}, misrouted ${lg.misrouted}, bad ${lg.bad}, send failures ${lg.sendFail}`,
    );
  if (row.loadgenDrops > 0)
    notes.push(`${path} N=${n}: ${row.loadgenDrops} packets dropped at the load generator's own sockets`);
  if (row.routerDrops > 0)
    notes.push(`${path} N=${n}: ${row.routerDrops} receive-buffer drops in the router (forwarder too slow)`);
  return row;
}

interface FloodPlan {
  start: number;
  factor: number;
  fine: number;
  max: number;
}

async function floodRun(
  path: PathName,
  round: number,
  routes: readonly Route[] | null,
  pid: number | null,
  plan: FloodPlan,
): Promise<FloodRow> {
  const file = streamFile(`${path}-flood`, S.floodStreams, routes);
  await quiet(`${path} flood round ${round}`);
  const args = ['flood', ...nsArgs(), '--streams', file, '--step-ms', String(S.stepMs)];
  args.push('--start-pps', String(plan.start), '--factor', String(plan.factor), '--fine', String(plan.fine));
  args.push('--max-pps', String(plan.max));
  const out = await runLoadgen<FloodResult>(loadgenBin, args, pid, 40 * (S.stepMs + 400) + 20_000);
  const stepCpu: Record<string, CpuWindow> = {};
  for (const [k, v] of out.windows) stepCpu[k] = v;
  say(`${path} flood round ${round}: ${out.result.saturationPps} pps loss-free (${out.result.stoppedBy})`);
  return { path, round, loadgen: out.result, stepCpu };
}

/** Ramp for the kernel's forwarding (plain NAT, kernel path): up to the load generator's range. */
const NAT_FLOOD: FloodPlan = { start: 10000, factor: 1.25, fine: 1.04, max: 300000 };

async function natGroup(rows: StreamsRow[], flood: FloodRow[]): Promise<void> {
  say('plain NAT: fw4-shaped firewall with masquerade, the far side answers the NAT mapping');
  await buildTopology();
  await setFirewall('fw4');
  for (const n of S.ns) rows.push(await streamsRun('nat', n, null, null));
  if (S.flood) flood.push(await floodRun('nat', round, null, null, { ...NAT_FLOOD, start: 40000 }));
  await teardown();
}

async function kernelGroup(script: string, rows: StreamsRow[], flood: FloodRow[]): Promise<void> {
  say('sipmasq kernel path: createMediaSide, firewall nftables on the fw4 table, mediaPath kernel');
  await buildTopology();
  await setFirewall('fw4');
  const fwd = new Forwarder(
    'sipmasq-kernel',
    script,
    forwarderConfig({ mediaPath: 'kernel' }),
    join(buildDir, 'sipmasq-kernel.log'),
  );
  await fwd.ready();
  const setupMs: string[] = [];
  const readMs: string[] = [];
  for (const n of S.ns) {
    const t0 = performance.now();
    const routes = await fwd.grow(n);
    const ms = Math.round(performance.now() - t0);
    say(`kernel: ${n} sessions ready in ${ms} ms; one counter read ${fwd.counterReadMs} ms`);
    setupMs.push(`${n}: ${ms} ms`);
    if (fwd.counterReadMs !== null) {
      readMs.push(
        `${n}: ${fwd.counterReadMs} ms (${((fwd.counterReadMs / COUNTER_PERIOD_MS) * 100).toFixed(2)} %)`,
      );
      counterReads.push({ n, ms: fwd.counterReadMs });
    }
    const relayed = routes.filter((r) => r.path !== 'kernel').length;
    if (relayed) notes.push(`kernel N=${n}: ${relayed} streams were granted the relay, not the kernel path`);
    rows.push(await streamsRun('kernel', n, routes, fwd.pid));
  }
  if (S.flood) {
    // With every session of the largest N installed: the forwarding capacity next to plain NAT's.
    const routes = await fwd.grow(Math.max(S.floodStreams, S.ns.at(-1) ?? 0));
    flood.push(await floodRun('kernel', round, routes, fwd.pid, { ...NAT_FLOOD, start: 2500 }));
    notes.push(
      `kernel flood: ${S.floodStreams} streams driven, the rules of all ${routes.length} sessions installed`,
    );
  }
  notes.push(
    `kernel: time to grow to N sessions (two media.update() each, from the previous N): ${setupMs.join(', ')}`,
  );
  notes.push(
    `kernel: one read of the kernel counters (nft, wall time; done every 15 s with the default idle timeout, and for status), and that as a share of one core: ${readMs.join(', ')}`,
  );
  const closed = await fwd.close();
  notes.push(
    `kernel: close() with ${S.ns.at(-1)} sessions took ${closed.ms} ms${closed.killed ? ' and was cut short (SIGKILL)' : ''}`,
  );
  const left = await inNs(NS.router, 'nft', ['list', 'table', 'inet', 'fw4']);
  const ours = left.stdout.split('\n').filter((l) => l.includes('smq:') || l.includes('sipmasq')).length;
  if (ours > 0) notes.push(`kernel: ${ours} sipmasq rule lines left in fw4 after close()`);
  await teardown();
}

async function relayGroup(sipmasq: string, minimal: string, rows: StreamsRow[], flood: FloodRow[]) {
  say('relays: no firewall; sipmasq (mediaPath relay, firewall none) and the minimal dgram relay');
  await buildTopology();
  await setFirewall('open');
  const relay = new Forwarder(
    'sipmasq-relay',
    sipmasq,
    forwarderConfig({ mediaPath: 'relay' }),
    join(buildDir, 'sipmasq-relay.log'),
  );
  const base = new Forwarder(
    'minimal',
    minimal,
    forwarderConfig({ portBase: 20000 }),
    join(buildDir, 'minimal.log'),
  );
  await Promise.all([relay.ready(), base.ready()]);
  let relayRoutes: Route[] = [];
  let baseRoutes: Route[] = [];
  for (const n of S.ns) {
    relayRoutes = await relay.grow(n);
    baseRoutes = await base.grow(n);
    rows.push(await streamsRun('relay', n, relayRoutes, relay.pid));
    rows.push(await streamsRun('minimal', n, baseRoutes, base.pid));
  }
  if (S.flood) {
    relayRoutes = await relay.grow(Math.max(S.floodStreams, relayRoutes.length));
    baseRoutes = await base.grow(Math.max(S.floodStreams, baseRoutes.length));
    const plan = { start: 12000, factor: 1.25, fine: 1.04, max: 400000 };
    for (let round = 1; round <= S.floodRounds; round++) {
      flood.push(await floodRun('minimal', round, baseRoutes, base.pid, plan));
      flood.push(await floodRun('relay', round, relayRoutes, relay.pid, plan));
    }
  }
  await Promise.all([relay.close(), base.close()]);
  await teardown();
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root: the benchmark makes network namespaces');
  setNice(S.nice);
  const started = performance.now();
  const machine = machineInfo();
  const { sipmasq, minimal } = await prepare();
  const rows: StreamsRow[] = [];
  const flood: FloodRow[] = [];
  for (round = 1; round <= S.rounds; round++) {
    if (S.only.includes('nat')) await natGroup(rows, flood);
    if (S.only.includes('kernel')) await kernelGroup(sipmasq, rows, flood);
  }
  round = 1;
  if (S.only.includes('relay')) await relayGroup(sipmasq, minimal, rows, flood);
  const result: BenchResult = {
    machine,
    settings: { ...S },
    streams: rows,
    flood,
    counterReads,
    counterPeriodMs: COUNTER_PERIOD_MS,
    notes,
    elapsedS: (performance.now() - started) / 1000,
  };
  const md = renderMarkdown(result);
  process.stdout.write(md);
  if (S.write) {
    mkdirSync(S.out, { recursive: true });
    writeFileSync(join(S.out, 'results.md'), md);
    writeFileSync(join(S.out, 'results.json'), `${JSON.stringify(result, null, 2)}\n`);
    formatFile(join(S.out, 'results.md'));
    formatFile(join(S.out, 'results.json'));
    say(`wrote ${join(S.out, 'results.md')} and results.json`);
  }
}

let stopping = false;
async function cleanup(keepLogs: boolean): Promise<void> {
  killChildren();
  await teardown().catch((err: unknown) => say(`teardown: ${String(err)}`));
  if (!buildDir) return;
  if (keepLogs) say(`forwarder logs kept in ${buildDir}`);
  else rmSync(buildDir, { recursive: true, force: true });
}

for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    say(`${sig}: cleaning up`);
    void cleanup(false).finally(() => process.exit(130));
  });
process.on('exit', killChildren);

const renderFile = option('--render', '');
try {
  if (renderFile) {
    // Re-render the Markdown of an earlier run from its raw JSON (no namespaces, no root needed).
    const md = renderMarkdown(JSON.parse(readFileSync(renderFile, 'utf8')) as BenchResult);
    process.stdout.write(md);
    if (S.write) {
      writeFileSync(join(dirname(renderFile), 'results.md'), md);
      formatFile(join(dirname(renderFile), 'results.md'));
    }
  } else await main();
} catch (err) {
  // After Ctrl-C the children were killed on purpose: that is no failure to report.
  if (!stopping) {
    process.exitCode = 1;
    say(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  }
} finally {
  if (!stopping && !renderFile) await cleanup(process.exitCode === 1);
}
