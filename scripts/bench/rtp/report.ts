/** The Markdown report of one run: machine, per-N table, saturation table, targets. */
import { type BenchResult, type FloodRow, PATH_LABEL, type PathName, type StreamsRow } from './results.ts';

const f1 = (v: number | null | undefined): string =>
  v === null || v === undefined || v < 0 ? '–' : v.toFixed(1);
const f0 = (v: number): string => Math.round(v).toLocaleString('en-US');
const loss = (v: number): string => (v === 0 ? '0' : v < 0.01 ? v.toFixed(4) : v.toFixed(2));
const signed = (v: number): string => `${v >= 0 ? '+' : ''}${v.toFixed(1)}`;

function forwarderCpu(r: StreamsRow): string {
  if (r.path === 'nat') return '– (kernel)';
  const own = r.cpu.forwarderPct ?? 0;
  const kids = r.cpu.forwarderChildrenPct ?? 0;
  return r.path === 'kernel' ? `${own.toFixed(2)} + ${kids.toFixed(2)} nft` : own.toFixed(1);
}

/** Packets received later than 100 ms, in % of those received (a jitter buffer would drop them). */
function latePct(r: StreamsRow): number {
  const l = r.loadgen;
  const got = l.up.received + l.down.received;
  return got > 0 ? (100 * (l.up.late + l.down.late)) / got : 0;
}

/** Forwarder CPU per packet it relayed (relays only: on the kernel path no packet reaches sipmasq). */
function perPacket(r: StreamsRow): string {
  if (r.path !== 'relay' && r.path !== 'minimal') return '–';
  const pps = (r.loadgen.up.received + r.loadgen.down.received) / (r.loadgen.durationMs / 1000);
  return pps > 0 ? ((((r.cpu.forwarderPct ?? 0) / 100) * 1e6) / pps).toFixed(1) : '–';
}

/** The plain-NAT row to compare with: same N, same round (rows of older results have no round). */
function natOf(rows: readonly StreamsRow[], n: number, round = 1): StreamsRow | undefined {
  return rows.find((r) => r.path === 'nat' && r.n === n && (r.round ?? 1) === round);
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Per N, the rows of a path over all rounds. */
function byN(rows: readonly StreamsRow[], path: PathName): Map<number, StreamsRow[]> {
  const out = new Map<number, StreamsRow[]>();
  for (const r of rows.filter((x) => x.path === path).sort((a, b) => a.n - b.n))
    out.set(r.n, [...(out.get(r.n) ?? []), r]);
  return out;
}

function streamsTable(rows: readonly StreamsRow[]): string[] {
  const out = [
    '| N | path | loss ↑ % | loss ↓ % | late > 100 ms % | p50 µs | p99 µs | Δp50 vs NAT | Δp99 vs NAT | forwarder CPU % | CPU µs / packet | load generator CPU % | machine CPU % | other CPU % |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const order: PathName[] = ['nat', 'kernel', 'relay', 'minimal'];
  const ns = [...new Set(rows.map((r) => r.n))].sort((a, b) => a - b);
  const rounds = [...new Set(rows.map((r) => r.round ?? 1))].sort((a, b) => a - b);
  for (const n of ns)
    for (const round of rounds)
      for (const p of order) {
        const r = rows.find((x) => x.n === n && x.path === p && (x.round ?? 1) === round);
        if (!r) continue;
        const nat = natOf(rows, n, round);
        const b = r.loadgen.both;
        const d50 = nat && p !== 'nat' ? signed(b.p50us - nat.loadgen.both.p50us) : '';
        const d99 = nat && p !== 'nat' ? signed(b.p99us - nat.loadgen.both.p99us) : '';
        const label = rounds.length > 1 && (p === 'nat' || p === 'kernel') ? ` (round ${round})` : '';
        out.push(
          `| ${n} | ${PATH_LABEL[p]}${label} | ${loss(r.loadgen.up.lossPct)} | ${loss(r.loadgen.down.lossPct)} | ${loss(latePct(r))} | ${f1(b.p50us)} | ${f1(b.p99us)} | ${d50} | ${d99} | ${forwarderCpu(r)} | ${perPacket(r)} | ${f1(r.loadgen.loadgenCpuPct)}${r.loadgen.sentPctOfNominal < 99 ? ` (sent ${r.loadgen.sentPctOfNominal.toFixed(0)} %)` : ''} | ${f1(r.cpu.machinePct)} | ${f1(r.otherCpuPct)} |`,
        );
      }
  return out;
}

interface Saturation {
  path: PathName;
  rounds: number[];
  best: FloodRow | null;
}

function saturation(flood: readonly FloodRow[], path: PathName): Saturation {
  const rows = flood.filter((f) => f.path === path);
  let best: FloodRow | null = null;
  for (const r of rows) if (!best || r.loadgen.saturationPps > best.loadgen.saturationPps) best = r;
  return { path, rounds: rows.map((r) => r.loadgen.saturationPps), best };
}

function floodTable(flood: readonly FloodRow[]): string[] {
  const out = [
    '| forwarder | streams | loss-free pps per round | best pps | stopped by | forwarder CPU % at best | CPU µs / packet | load generator CPU % at best | p99 µs at best |',
    '|---|---:|---|---:|---|---:|---:|---:|---:|',
  ];
  for (const p of ['nat', 'kernel', 'minimal', 'relay'] as PathName[]) {
    const s = saturation(flood, p);
    if (!s.best) continue;
    const lg = s.best.loadgen;
    const step = lg.steps.filter((x) => x.pass).sort((a, b) => b.targetPps - a.targetPps)[0];
    const cpu = step ? s.best.stepCpu[String(step.step)] : undefined;
    const fwd = p === 'nat' ? null : (cpu?.forwarderPct ?? null);
    const relayed = p === 'relay' || p === 'minimal';
    const perPkt = fwd !== null && relayed && step ? ((fwd / 100) * 1e6) / step.deliveredPps : null;
    // On the NAT paths the kernel forwards inside the sender's system calls: a saturated sender is
    // the forwarding's ceiling on one core, not a flaw of the measurement.
    const stop =
      lg.stoppedBy === 'loadgen' && !relayed ? 'sender saturated (it runs the forwarding)' : lg.stoppedBy;
    out.push(
      `| ${PATH_LABEL[p]} | ${lg.n} | ${s.rounds.map(f0).join(', ')} | ${f0(lg.saturationPps)} | ${stop} | ${fwd === null ? '–' : fwd.toFixed(1)} | ${perPkt === null ? '–' : perPkt.toFixed(1)} | ${f1(step?.loadgenCpuPct)} | ${f1(step?.both.p99us)} |`,
    );
  }
  return out;
}

interface Verdict {
  target: string;
  measured: string;
  met: boolean | null;
}

function targets(res: BenchResult): Verdict[] {
  const out: Verdict[] = [];
  const kernel = byN(res.streams, 'kernel');
  const nat = byN(res.streams, 'nat');
  if (kernel.size >= 2) {
    // With several rounds, each N's figure is the median over the rounds (machine noise moves single
    // rows by more than the difference measured).
    const cpuOf = (rs: readonly StreamsRow[]) => ({
      own: median(rs.map((r) => r.cpu.forwarderPct ?? 0)),
      nft: median(rs.map((r) => r.cpu.forwarderChildrenPct ?? 0)),
    });
    // The counter reads come every counterPeriodMs, more rarely than a measured window lasts: their
    // cost is added as its average share of a core (median read time at that N / period).
    const reads = (n: number): number => {
      const ms = (res.counterReads ?? []).filter((r) => r.n === n).map((r) => r.ms);
      return ms.length && res.counterPeriodMs ? (100 * median(ms)) / res.counterPeriodMs : 0;
    };
    const cpus = [...kernel].map(([n, rs]) => ({ n, ...cpuOf(rs), reads: reads(n) }));
    const total = (c: (typeof cpus)[number]) => c.own + c.nft + c.reads;
    const first = cpus[0]!;
    const last = cpus[cpus.length - 1]!;
    out.push({
      target: "kernel path: sipmasq's CPU does not grow with N",
      measured: cpus
        .map(
          (c) =>
            `N=${c.n}: ${c.own.toFixed(2)} + ${c.nft.toFixed(2)} nft${res.counterReads ? ` + ${c.reads.toFixed(2)} counter reads` : ''} %`,
        )
        .join('; '),
      met: total(last) - total(first) < 1,
    });
    const worst = [...kernel]
      .map(([n, ks]) => {
        const ns = nat.get(n);
        if (!ns) return null;
        const k50 = median(ks.map((r) => r.loadgen.both.p50us));
        const n50 = median(ns.map((r) => r.loadgen.both.p50us));
        const k99 = median(ks.map((r) => r.loadgen.both.p99us));
        const n99 = median(ns.map((r) => r.loadgen.both.p99us));
        const lossOf = (rs: readonly StreamsRow[]) =>
          median(rs.map((r) => Math.max(r.loadgen.up.lossPct, r.loadgen.down.lossPct)));
        return { n, p50: k50 / n50 - 1, p99: k99 / n99 - 1, lossSame: lossOf(ks) <= lossOf(ns) + 0.01 };
      })
      .filter((x) => x !== null);
    out.push({
      target: 'kernel path: forwarding matches plain NAT within 10 % (loss, p50 latency)',
      measured: worst
        .map(
          (w) =>
            `N=${w.n}: p50 ${signed(100 * w.p50)} %, p99 ${signed(100 * w.p99)} %${w.lossSame ? '' : ', more loss'}`,
        )
        .join('; '),
      met: worst.length > 0 && worst.every((w) => w.lossSame && w.p50 <= 0.1),
    });
  }
  const kSat = saturation(res.flood, 'kernel');
  const nSat = saturation(res.flood, 'nat');
  if (kSat.best && nSat.best) {
    const k = kSat.best.loadgen.saturationPps;
    const n = nSat.best.loadgen.saturationPps;
    const capped =
      nSat.best.loadgen.stoppedBy !== 'loss' ? ' (plain NAT lost nothing: its figure is a lower bound)' : '';
    out.push({
      target: 'kernel path: forwarding capacity matches plain NAT within 10 %',
      measured: `${f0(k)} vs ${f0(n)} loss-free pps = ${(k / n).toFixed(2)}×${capped}`,
      met: k >= 0.9 * n,
    });
  }
  const relay = saturation(res.flood, 'relay');
  const minimal = saturation(res.flood, 'minimal');
  if (relay.best && minimal.best) {
    const ratio = relay.best.loadgen.saturationPps / minimal.best.loadgen.saturationPps;
    out.push({
      target: "relay: ≥ 1.2× the minimal relay's loss-free packets/s",
      measured: `${f0(relay.best.loadgen.saturationPps)} vs ${f0(minimal.best.loadgen.saturationPps)} pps = ${ratio.toFixed(2)}×`,
      met: ratio >= 1.2,
    });
  }
  const r300 = res.streams.find((r) => r.path === 'relay' && r.n === 300);
  if (r300)
    out.push({
      target: 'relay: loses < 0.1 % at 300 streams',
      measured: `lost ↑ ${loss(r300.loadgen.up.lossPct)} %, ↓ ${loss(r300.loadgen.down.lossPct)} %; later than 100 ms ${loss(latePct(r300))} %, p99 ${f1(r300.loadgen.both.p99us)} µs`,
      met: r300.loadgen.up.lossPct < 0.1 && r300.loadgen.down.lossPct < 0.1,
    });
  return out;
}

export function renderMarkdown(res: BenchResult): string {
  const m = res.machine;
  const s = res.settings;
  const lines = [
    '# sipmasq media benchmark (scripts/bench/rtp)',
    '',
    `${m.date} · ${m.nproc} CPUs (${m.cpuModel}) · Node ${m.node} · Linux ${m.kernel} · load average at start ${m.loadAvg} · run took ${Math.round(res.elapsedS)} s`,
    '',
    `G.711-shaped streams: ${s['packetBytes']}-byte RTP packets, ${s['pps']} packets/s per direction per stream, send times spread over the 20 ms period; ${s['warmupMs']} ms warm-up, then ${s['durationMs']} ms measured per row. Latency is one-way (send to receive, both directions pooled), CPU in % of one core over the measured window.`,
    '',
    '## Streams',
    '',
    ...streamsTable(res.streams),
    '',
    `## Saturation: highest loss-free packets/s (both directions summed; a step passes when < ${res.flood[0]?.loadgen.lossLimitPct ?? 0.1} % of its packets are lost or later than ${res.flood[0]?.loadgen.deadlineMs ?? 100} ms)`,
    '',
    ...floodTable(res.flood),
    '',
    '## Targets',
    '',
    '| target | measured | met |',
    '|---|---|---|',
    ...targets(res).map(
      (v) => `| ${v.target} | ${v.measured} | ${v.met === null ? '?' : v.met ? 'yes' : '**no**'} |`,
    ),
    '',
  ];
  if (res.notes.length) lines.push('## Notes from this run', '', ...res.notes.map((n) => `- ${n}`), '');
  lines.push(
    'Raw numbers (every direction, p90/p99.9/max, per flood step, drops, load generator CPU): `results.json`.',
    '',
  );
  return lines.join('\n');
}
