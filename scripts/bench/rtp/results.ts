/** The shapes of the benchmark's results: what the load generator prints and what the runner adds. */
import type { CpuWindow } from './procs.ts';

export interface DirStats {
  sent: number;
  received: number;
  lossPct: number;
  /** Received later than the flood deadline (100 ms). */
  late: number;
  p50us: number;
  p90us: number;
  p99us: number;
  p999us: number;
  meanUs: number;
  maxUs: number;
}

export interface BothStats {
  p50us: number;
  p90us: number;
  p99us: number;
  p999us: number;
}

export interface StreamsResult {
  mode: 'streams';
  n: number;
  ppsPerDirection: number;
  durationMs: number;
  /** Packets sent in the measured window, in % of N x pps x duration x 2. */
  sentPctOfNominal: number;
  up: DirStats;
  down: DirStats;
  both: BothStats;
  streamDirsWithLoss: number;
  worstStreamLossPct: number;
  unlearned: number;
  misrouted: number;
  bad: number;
  sendFail: number;
  sendLateMaxUs: number;
  loadgenCpuPct: number;
}

export interface FloodStep {
  step: number;
  targetPps: number;
  sentPps: number;
  deliveredPps: number;
  /** Not received, or received later than the deadline: what the step is judged on. */
  lossOrLatePct: number;
  pass: boolean;
  loadgenCpuPct: number;
  sendLateMaxUs: number;
  up: DirStats;
  down: DirStats;
  both: BothStats;
}

export interface FloodResult {
  mode: 'flood';
  n: number;
  lossLimitPct: number;
  deadlineMs: number;
  stepMs: number;
  saturationPps: number;
  stoppedBy: string;
  steps: FloodStep[];
}

export type PathName = 'nat' | 'kernel' | 'relay' | 'minimal';

export const PATH_LABEL: Record<PathName, string> = {
  nat: 'plain NAT (fw4 masquerade)',
  kernel: 'sipmasq kernel path',
  relay: 'sipmasq relay',
  minimal: 'minimal dgram relay',
};

export interface StreamsRow {
  path: PathName;
  n: number;
  /** Plain NAT and the kernel path are measured in turns (`--rounds`); absent in older results. */
  round?: number;
  loadgen: StreamsResult;
  cpu: CpuWindow;
  /** UDP receive-buffer drops (RcvbufErrors) during the run: in the router, and at the load generator. */
  routerDrops: number;
  loadgenDrops: number;
  /** Machine CPU not used by the benchmark's processes (other work on the machine), % of one core. */
  otherCpuPct: number;
}

export interface FloodRow {
  path: PathName;
  round: number;
  loadgen: FloodResult;
  /** CPU per step number. */
  stepCpu: Record<string, CpuWindow>;
}

export interface MachineInfo {
  date: string;
  nproc: number;
  cpuModel: string;
  node: string;
  kernel: string;
  loadAvg: string;
}

export interface BenchResult {
  machine: MachineInfo;
  settings: Record<string, unknown>;
  streams: StreamsRow[];
  flood: FloodRow[];
  /**
   * Kernel path: how long one read of the kernel counters took at each N (ms, wall time of nft), and
   * how often sipmasq reads them (ms). Absent in older results.
   */
  counterReads?: { n: number; ms: number }[];
  counterPeriodMs?: number;
  notes: string[];
  elapsedS: number;
}
