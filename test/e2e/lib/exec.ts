/**
 * Short-lived commands for the lab: run a program (optionally inside a network namespace) with a
 * timeout, collect its output, and fail with the command line and its stderr when it goes wrong.
 * Never goes through a shell: arguments are passed as a list.
 */
import { spawn } from 'node:child_process';

export interface RunOptions {
  /** Network namespace to run in (`ip netns exec NS ...`); omitted: the test's own namespace. */
  readonly ns?: string;
  /** Milliseconds before the command is killed (SIGKILL) and the call fails. Default 15 s. */
  readonly timeoutMs?: number;
  /** Bytes for standard input. */
  readonly input?: string;
  /** Resolve even when the exit code is not 0 (the caller reads `code`). */
  readonly allowFail?: boolean;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export class CommandError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly result: RunResult | null,
    reason: string,
  ) {
    super(`${argv.join(' ')}: ${reason}${result ? `\n${result.stderr.trim() || result.stdout.trim()}` : ''}`);
    this.name = 'CommandError';
  }
}

/** The argv that runs `cmd args` inside `ns` (or as is when ns is undefined). */
export function nsArgv(ns: string | undefined, cmd: string, args: readonly string[]): string[] {
  return ns ? ['ip', 'netns', 'exec', ns, cmd, ...args] : [cmd, ...args];
}

export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const argv = nsArgv(opts.ns, cmd, args);
  const timeoutMs = opts.timeoutMs ?? 15_000;
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
      cwd: opts.cwd,
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new CommandError(argv, null, `could not start: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result = { code, signal, stdout, stderr };
      if (timedOut) reject(new CommandError(argv, result, `timed out after ${timeoutMs} ms`));
      else if (code !== 0 && !opts.allowFail)
        reject(new CommandError(argv, result, `exited with ${code ?? signal}`));
      else resolve(result);
    });
    child.stdin.on('error', () => {
      /* the program may exit before reading its input; its exit code tells what happened */
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** Run in a namespace; shorthand for run(cmd, args, {ns}). */
export function nsRun(
  ns: string,
  cmd: string,
  args: readonly string[],
  opts: RunOptions = {},
): Promise<RunResult> {
  return run(cmd, args, { ...opts, ns });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Poll `probe` every `intervalMs` until it returns a value other than undefined/false, or fail after
 * `timeoutMs` with `what` in the message.
 */
export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v as T;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const detail = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await sleep(intervalMs);
  }
}
