/**
 * Processes of the benchmark: the forwarder processes in smqb-router (sipmasq's media side, the minimal
 * relay) and the load generator, the CPU time they use (/proc/<pid>/stat, /proc/stat), and ending
 * them all (by pid, only our own children) when the run ends or is interrupted.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { ForwarderConfig, Reply, Route } from './protocol.ts';
import { NS } from './topology.ts';

const children = new Set<ChildProcess>();

/**
 * Niceness of every benchmark process (forwarders, their nft runs, the load generator), set by the
 * runner (default -10, so that other work on the machine disturbs the measurement less; 0: off).
 *
 * With the scheduler's autogroups (kernel.sched_autogroup_enabled=1), nice only ranks threads within
 * one session's group and the groups share the CPU equally: a benchmark next to a busy test run would
 * get half the machine whatever its nice value. So each process is started in a session of its own
 * (detached) and that session's autogroup gets the same nice value; the group ends with the process.
 */
let nice = 0;

export function setNice(n: number): void {
  if (!Number.isInteger(n) || n < -20 || n > 19) throw new TypeError(`bad nice value ${n}`);
  nice = n;
}

function niceArgv(): string[] {
  return nice === 0 ? [] : ['nice', '-n', String(nice)];
}

/** SIGKILL every child still running (synchronous: usable from an exit or signal handler). */
export function killChildren(): void {
  for (const c of children)
    if (c.exitCode === null && c.signalCode === null && c.pid !== undefined) {
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  children.clear();
}

function track(c: ChildProcess): ChildProcess {
  children.add(c);
  c.on('exit', () => children.delete(c));
  if (nice !== 0 && c.pid !== undefined)
    try {
      writeFileSync(`/proc/${c.pid}/autogroup`, String(nice));
    } catch {
      // no autogroups in this kernel: the nice value alone applies
    }
  return c;
}

export const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU ticks of one process: its own (utime + stime, all threads) and its reaped children's. */
export interface ProcTicks {
  own: number;
  children: number;
}

export function procTicks(pid: number): ProcTicks {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces) start at field 3 (state).
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const n = (i: number): number => Number(f[i - 3] ?? 0);
  return { own: n(14) + n(15), children: n(16) + n(17) };
}

/** Whole-machine ticks from /proc/stat: busy (all but idle and iowait), softirq, total. */
export interface MachineTicks {
  busy: number;
  softirq: number;
}

export function machineTicks(): MachineTicks {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = v;
  return { busy: user + nice + system + irq + softirq + steal, softirq };
}

/** Machine CPU busy over `ms`, in % of one core. */
export async function machineBusyPct(ms: number): Promise<number> {
  const a = machineTicks();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  const b = machineTicks();
  return (100 * (b.busy - a.busy)) / CLK_TCK / ((performance.now() - t0) / 1000);
}

/**
 * Wait (at most maxMs) until the machine is quiet: busy below `pct` % of one core over one second.
 * Between measurements the benchmark's own processes are idle, so what is busy is other work.
 * Resolves with the busy % last seen.
 */
export async function waitQuiet(pct: number, maxMs: number): Promise<number> {
  const end = performance.now() + maxMs;
  let busy = await machineBusyPct(1000);
  while (busy > pct && performance.now() < end) busy = await machineBusyPct(1000);
  return Math.round(busy);
}

/** CPU use over a window, in % of one core (so up to nproc x 100). */
export interface CpuWindow {
  seconds: number;
  /** The forwarder process itself. */
  forwarderPct: number | null;
  /** Its children (sipmasq's nft / conntrack runs). */
  forwarderChildrenPct: number | null;
  machinePct: number;
  softirqPct: number;
}

export class CpuMeter {
  private t0 = 0;
  private p0: ProcTicks | null = null;
  private m0: MachineTicks = { busy: 0, softirq: 0 };

  constructor(private readonly pid: number | null) {}

  start(): void {
    this.t0 = performance.now();
    this.p0 = this.pid === null ? null : procTicks(this.pid);
    this.m0 = machineTicks();
  }

  stop(): CpuWindow {
    const seconds = (performance.now() - this.t0) / 1000;
    const pct = (ticks: number): number => Math.round((10000 * ticks) / CLK_TCK / seconds) / 100;
    const m1 = machineTicks();
    const p1 = this.pid === null ? null : procTicks(this.pid);
    return {
      seconds: Math.round(seconds * 1000) / 1000,
      forwarderPct: p1 && this.p0 ? pct(p1.own - this.p0.own) : null,
      forwarderChildrenPct: p1 && this.p0 ? pct(p1.children - this.p0.children) : null,
      machinePct: pct(m1.busy - this.m0.busy),
      softirqPct: pct(m1.softirq - this.m0.softirq),
    };
  }
}

/** A forwarder process in smqb-router, driven through its stdin (protocol.ts). */
export class Forwarder {
  private readonly child: ChildProcess;
  private readonly replies: string[] = [];
  private waiter: ((line: string) => void) | null = null;

  constructor(
    readonly name: string,
    script: string,
    cfg: ForwarderConfig,
    logFile: string,
  ) {
    const log = openSync(logFile, 'a');
    // `nice` and `ip netns exec` exec in place: the pid is node's own, the one whose CPU is measured.
    const argv = [
      ...niceArgv(),
      'ip',
      'netns',
      'exec',
      NS.router,
      process.execPath,
      script,
      JSON.stringify(cfg),
    ];
    this.child = track(spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', log], detached: true }));
    closeSync(log);
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = null;
        w(line);
      } else this.replies.push(line);
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  private next(timeoutMs: number): Promise<Reply> {
    const queued = this.replies.shift();
    if (queued !== undefined) return Promise.resolve(JSON.parse(queued) as Reply);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new Error(`${this.name}: no answer within ${timeoutMs} ms (see its log)`));
      }, timeoutMs);
      const onExit = (): void => {
        clearTimeout(timer);
        reject(new Error(`${this.name} exited (code ${this.child.exitCode}); see its log`));
      };
      this.child.once('exit', onExit);
      this.waiter = (line) => {
        clearTimeout(timer);
        this.child.off('exit', onExit);
        resolve(JSON.parse(line) as Reply);
      };
    });
  }

  /** Wait for the start-up line. */
  async ready(): Promise<void> {
    const r = await this.next(20_000);
    if ('error' in r) throw new Error(`${this.name}: ${r.error}`);
  }

  /** Time (ms) one kernel counter read took after the last grow (sipmasq kernel path only). */
  counterReadMs: number | null = null;

  async grow(n: number): Promise<Route[]> {
    this.child.stdin!.write(`${JSON.stringify({ grow: n })}\n`);
    const r = await this.next(120_000);
    if ('error' in r) throw new Error(`${this.name}: ${r.error}`);
    this.counterReadMs = r.counterReadMs ?? null;
    return r.routes;
  }

  /** Ask it to release everything and exit; SIGKILL after 60 s. Resolves with how it ended. */
  async close(): Promise<{ ms: number; killed: boolean }> {
    const t0 = performance.now();
    if (this.child.exitCode !== null || this.child.signalCode !== null) return { ms: 0, killed: false };
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin!.end(`${JSON.stringify({ close: true })}\n`);
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      this.child.kill('SIGKILL');
    }, 60_000);
    await exited;
    clearTimeout(timer);
    return { ms: Math.round(performance.now() - t0), killed };
  }
}

/** Marker lines of the load generator, with what the runner does on them. */
export interface LoadgenRun<T> {
  result: T;
  /** CPU per window: 'measure' (streams) or the flood step number. */
  windows: Map<string, CpuWindow>;
}

/** Run the load generator; sample CPU (of `watchPid`, and the machine) on its marker lines. */
export function runLoadgen<T>(
  bin: string,
  args: readonly string[],
  watchPid: number | null,
  timeoutMs: number,
): Promise<LoadgenRun<T>> {
  return new Promise((resolve, reject) => {
    const argv = [...niceArgv(), bin, ...args];
    const child = track(
      spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: true }),
    );
    const windows = new Map<string, CpuWindow>();
    const meter = new CpuMeter(watchPid);
    let json = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      process.stderr.write(d);
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('#measure-start') || line.startsWith('#step-start')) meter.start();
      else if (line.startsWith('#measure-end')) windows.set('measure', meter.stop());
      else if (line.startsWith('#step-end')) windows.set(line.split(' ')[1] ?? '?', meter.stop());
      else if (line.startsWith('{')) json = line;
    });
    // 'close', not 'exit': stdout is fully read by then.
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0 || json === '')
        reject(new Error(`loadgen failed (code ${code}, signal ${signal}): ${stderr.trim()}`));
      else resolve({ result: JSON.parse(json) as T, windows });
    });
  });
}
