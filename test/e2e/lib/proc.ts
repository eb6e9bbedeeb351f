/**
 * Long-running processes of the lab (kamailio, sipp, baresip, tcpdump, sipmasq): spawned inside a
 * namespace, their stdout and stderr written straight to one log file (so a process kept for
 * debugging survives the test runner) and read back from it, with waits for a log line or for the
 * exit, each with a timeout. Every process is registered so that the lab can end all of them on
 * teardown, and a synchronous exit hook kills what is left if the test runner dies (unless the lab is
 * kept with SMQ_KEEP_LAB=1).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { nsArgv } from './exec.ts';

export interface SpawnOptions {
  /** Short name for messages and the log file. */
  readonly name: string;
  readonly ns?: string;
  /** File that receives stdout and stderr. */
  readonly logFile: string;
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Keep stdin open as a pipe (for programs driven through stdin). */
  readonly stdin?: boolean;
}

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

const live = new Set<ManagedProcess>();
let exitHookInstalled = false;
let keepOnExit = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    if (keepOnExit) return;
    for (const p of live) p.killNow();
  });
}

/** Leave running processes alone when the test runner exits (SMQ_KEEP_LAB=1). */
export function keepProcessesOnExit(keep: boolean): void {
  keepOnExit = keep;
}

export class ManagedProcess {
  readonly child: ChildProcess;
  private text = '';
  private exitInfo: ExitInfo | null = null;
  private readonly exited: Promise<ExitInfo>;
  private readonly readFd: number;
  private readOffset = 0;
  private readonly poller: NodeJS.Timeout;
  private readonly listeners = new Set<() => void>();

  constructor(
    cmd: string,
    readonly args: readonly string[],
    readonly opts: SpawnOptions,
  ) {
    installExitHook();
    const argv = nsArgv(opts.ns, cmd, args);
    const writeFd = openSync(opts.logFile, 'a');
    writeSync(writeFd, `# ${argv.join(' ')}\n`);
    this.readFd = openSync(opts.logFile, 'r');
    // The command line is for people reading the log; waits look only at what the program printed.
    this.readOffset = fstatSync(this.readFd).size;
    // detached: own process group, so a kill reaches the program and anything it forked.
    this.child = spawn(argv[0]!, argv.slice(1), {
      stdio: [opts.stdin ? 'pipe' : 'ignore', writeFd, writeFd],
      detached: true,
      cwd: opts.cwd,
      env: opts.env ?? process.env,
    });
    closeSync(writeFd);
    live.add(this);
    this.poller = setInterval(() => this.pump(), 50);
    this.poller.unref();
    this.exited = new Promise((resolve) => {
      const finish = (info: ExitInfo, note: string) => {
        if (this.exitInfo) return;
        clearInterval(this.poller);
        this.pump();
        this.text += note;
        this.exitInfo = info;
        live.delete(this);
        try {
          closeSync(this.readFd);
        } catch {
          /* already closed */
        }
        resolve(info);
        for (const l of this.listeners) l();
      };
      this.child.on('error', (err) =>
        finish({ code: null, signal: null }, `\n[spawn error] ${err.message}\n`),
      );
      this.child.on('exit', (code, signal) => finish({ code, signal }, ''));
    });
  }

  /** Read what the process wrote to its log since the last call and wake the waiters. */
  private pump(): void {
    if (this.exitInfo) return;
    const buf = Buffer.alloc(65536);
    let got = false;
    for (;;) {
      const n = readSync(this.readFd, buf, 0, buf.length, this.readOffset);
      if (n <= 0) break;
      this.readOffset += n;
      this.text += buf.subarray(0, n).toString('utf8');
      got = true;
    }
    if (got) for (const l of this.listeners) l();
  }

  get name(): string {
    return this.opts.name;
  }
  get pid(): number | undefined {
    return this.child.pid;
  }
  /** Everything the process printed so far (stdout and stderr interleaved). */
  get output(): string {
    return this.text;
  }
  get exit(): ExitInfo | null {
    return this.exitInfo;
  }
  get running(): boolean {
    return this.exitInfo === null;
  }

  /** The last `n` lines of output, for failure messages. */
  tail(n = 30): string {
    return this.text.split('\n').slice(-n).join('\n');
  }

  /** Write to stdin (when spawned with stdin: true). */
  write(data: string): void {
    this.child.stdin?.write(data);
  }

  /**
   * Wait until the output (from character `from` on) matches `re`; resolves with the match. Fails on
   * timeout or when the process exits first.
   */
  waitFor(re: RegExp, timeoutMs: number, from = 0): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const m = re.exec(this.text.slice(from));
        if (m) {
          done();
          resolve(m);
          return true;
        }
        if (this.exitInfo) {
          done();
          reject(
            new Error(
              `${this.name} exited (code=${this.exitInfo.code} signal=${this.exitInfo.signal}) before printing ${re}\n${this.tail()}`,
            ),
          );
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.name}: timed out after ${timeoutMs} ms waiting for ${re}\n${this.tail()}`));
      }, timeoutMs);
      const listener = () => void check();
      const done = () => {
        clearTimeout(timer);
        this.listeners.delete(listener);
      };
      this.listeners.add(listener);
      check();
    });
  }

  /** Wait for the process to end by itself; on timeout kill it and fail. */
  async waitExit(timeoutMs: number): Promise<ExitInfo> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const r = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    if (r === 'timeout') {
      await this.stop();
      throw new Error(`${this.name}: did not exit within ${timeoutMs} ms\n${this.tail()}`);
    }
    return r;
  }

  /** Send a signal to the process group. */
  signal(sig: NodeJS.Signals): void {
    if (!this.running || this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, sig);
    } catch {
      try {
        this.child.kill(sig);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
      }
    }
  }

  /** Ask politely (`sig`, default SIGTERM), then SIGKILL after `graceMs`; resolves when it is gone. */
  async stop(sig: NodeJS.Signals = 'SIGTERM', graceMs = 3000): Promise<ExitInfo> {
    if (!this.running) return this.exitInfo!;
    this.signal(sig);
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), graceMs);
    });
    const r = await Promise.race([this.exited, grace]);
    clearTimeout(timer);
    if (r !== 'late') return r;
    this.signal('SIGKILL');
    return this.exited;
  }

  /** Let the test runner exit while this process goes on (SMQ_KEEP_LAB=1). */
  release(): void {
    clearInterval(this.poller);
    this.child.unref();
    this.child.stdin?.destroy();
  }

  /** Synchronous SIGKILL of the group, for exit hooks. */
  killNow(): void {
    this.signal('SIGKILL');
  }
}

/** Stop every process still running (used by lab teardown). */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop('SIGTERM', 2000)));
}

export function liveProcesses(): readonly ManagedProcess[] {
  return [...live];
}
