/**
 * The one place the media side starts programs (nft, iptables-restore, iptables-save, conntrack): no
 * shell, arguments as an array, generated rules on stdin, a timeout on every run. Tests inject a fake
 * runner that records calls; the namespace tests give `netns` so every command runs inside a private
 * network namespace (`ip netns exec <ns> <cmd> ...`).
 */
import { spawn } from 'node:child_process';
import { SipmasqError } from '../common/errors.ts';

export interface CommandResult {
  /** Exit status; a signal death counts as 128 + signal number like a shell would say. */
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CommandRunner {
  /**
   * Run `cmd` with `args`, writing `stdin` to it when given. Resolves with the exit status, whatever it
   * is; rejects (SMQ_ERR_FIREWALL) only when the program cannot be started or runs past the timeout.
   */
  run(cmd: string, args: readonly string[], stdin?: string): Promise<CommandResult>;
  /**
   * Start a long-running program (e.g. `nft monitor`): every line it writes to stdout goes to `onLine`,
   * `onExit` is called once when it ends (or cannot start). Optional: a runner without it makes its
   * callers poll instead.
   */
  watch?(
    cmd: string,
    args: readonly string[],
    onLine: (line: string) => void,
    onExit: (why: string) => void,
  ): WatchHandle;
}

export interface WatchHandle {
  /** Stop the program (SIGTERM); onExit is not called for a stop asked for. */
  stop(): void;
}

/** Longest stdout line a watched program may write; longer ones are cut (the rest is dropped). */
const MAX_WATCH_LINE = 64 * 1024;

export interface SpawnRunnerOptions {
  /** Per command (default 10 s). */
  timeoutMs?: number;
  /** Run every command inside this network namespace (tests). */
  netns?: string;
  /** Cap on captured stdout (default 32 MiB: an `nft -j list` of a big ruleset). */
  maxOutputBytes?: number;
}

const NS_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const SIGNALS: Record<string, number> = { SIGKILL: 9, SIGTERM: 15, SIGINT: 2, SIGHUP: 1 };

export class SpawnRunner implements CommandRunner {
  private readonly timeoutMs: number;
  private readonly maxOutput: number;

  constructor(private readonly opts: SpawnRunnerOptions = {}) {
    if (opts.netns !== undefined && !NS_NAME.test(opts.netns))
      throw new TypeError(`bad network namespace name: ${opts.netns}`);
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.maxOutput = opts.maxOutputBytes ?? 32 * 1024 * 1024;
  }

  private argv(cmd: string, args: readonly string[]): [string, string[]] {
    return this.opts.netns === undefined
      ? [cmd, [...args]]
      : ['ip', ['netns', 'exec', this.opts.netns, cmd, ...args]];
  }

  watch(
    cmd: string,
    args: readonly string[],
    onLine: (line: string) => void,
    onExit: (why: string) => void,
  ): WatchHandle {
    const [file, argv] = this.argv(cmd, args);
    const child = spawn(file, argv, { shell: false, stdio: ['ignore', 'pipe', 'pipe'] });
    let stopped = false;
    let ended = false;
    let buf = '';
    let skipping = false;
    const end = (why: string): void => {
      if (ended) return;
      ended = true;
      if (!stopped) onExit(why);
    };
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buf += chunk;
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!skipping) onLine(line.slice(0, MAX_WATCH_LINE));
        skipping = false;
        nl = buf.indexOf('\n');
      }
      if (buf.length > MAX_WATCH_LINE) {
        if (!skipping) onLine(buf.slice(0, MAX_WATCH_LINE));
        buf = '';
        skipping = true;
      }
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      if (stderr.length < 4096) stderr += chunk;
    });
    child.on('error', (e) => end(`cannot run ${cmd}: ${e.message}`));
    child.on('close', (code, signal) =>
      end(`${cmd} ended (${signal ?? code})${stderr.trim() ? `: ${stderr.trim().slice(0, 300)}` : ''}`),
    );
    return {
      stop: () => {
        stopped = true;
        if (!ended) child.kill('SIGTERM');
      },
    };
  }

  run(cmd: string, args: readonly string[], stdin?: string): Promise<CommandResult> {
    const [file, argv] = this.argv(cmd, args);
    return new Promise((resolve, reject) => {
      const child = spawn(file, argv, { shell: false, stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let size = 0;
      let settled = false;
      const finish = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        fn();
      };
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        finish(() =>
          reject(
            new SipmasqError('SMQ_ERR_FIREWALL', `${cmd} timed out after ${this.timeoutMs} ms`, {
              cmd,
              args: args.join(' '),
            }),
          ),
        );
      }, this.timeoutMs);
      const collect = (into: Buffer[]) => (chunk: Buffer) => {
        size += chunk.length;
        if (size > this.maxOutput) {
          child.kill('SIGKILL');
          finish(() =>
            reject(new SipmasqError('SMQ_ERR_FIREWALL', `${cmd} wrote more than ${this.maxOutput} bytes`)),
          );
          return;
        }
        into.push(chunk);
      };
      child.stdout.on('data', collect(out));
      child.stderr.on('data', collect(err));
      child.on('error', (e: NodeJS.ErrnoException) =>
        finish(() =>
          reject(
            new SipmasqError(
              'SMQ_ERR_FIREWALL',
              `cannot run ${cmd}: ${e.message}`,
              { cmd, errno: e.code },
              { cause: e },
            ),
          ),
        ),
      );
      child.on('close', (code, signal) =>
        finish(() =>
          resolve({
            code: code ?? 128 + (signal ? (SIGNALS[signal] ?? 0) : 0),
            stdout: Buffer.concat(out).toString('utf8'),
            stderr: Buffer.concat(err).toString('utf8'),
          }),
        ),
      );
      // A program that exits before reading its input makes the pipe fail with EPIPE: the exit status
      // tells what happened, so the write error itself is only noted.
      child.stdin.on('error', () => undefined);
      child.stdin.end(stdin ?? '');
    });
  }
}

/** Run and insist on exit status 0; otherwise SMQ_ERR_FIREWALL with the program's own words. */
export async function runChecked(
  runner: CommandRunner,
  cmd: string,
  args: readonly string[],
  stdin?: string,
): Promise<string> {
  const res = await runner.run(cmd, args, stdin);
  if (res.code !== 0)
    throw new SipmasqError(
      'SMQ_ERR_FIREWALL',
      `${cmd} ${args.join(' ')} exited ${res.code}: ${firstLines(res.stderr)}`,
      {
        cmd,
        code: res.code,
        stderr: res.stderr,
      },
    );
  return res.stdout;
}

function firstLines(text: string): string {
  const t = text.trim().split('\n').slice(0, 3).join(' | ');
  return t === '' ? '(no output)' : t;
}
