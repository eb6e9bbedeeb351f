/** Drives media-side-child.ts: start it (optionally inside a namespace), wait for events, kill it. */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./media-side-child.ts', import.meta.url));

export class ChildSide {
  private readonly events: Record<string, unknown>[] = [];
  private buffer = '';
  stderr = '';

  private constructor(readonly proc: ChildProcess) {
    proc.stdout?.on('data', (d: Buffer) => {
      this.buffer += d.toString();
      let i = this.buffer.indexOf('\n');
      while (i >= 0) {
        this.events.push(JSON.parse(this.buffer.slice(0, i)) as Record<string, unknown>);
        this.buffer = this.buffer.slice(i + 1);
        i = this.buffer.indexOf('\n');
      }
    });
    proc.stderr?.on('data', (d: Buffer) => {
      this.stderr += d.toString();
    });
  }

  static start(config: unknown, insideNs?: string, script = SCRIPT): ChildSide {
    const node = [process.execPath, '--import', 'tsx', script, JSON.stringify(config)];
    const [cmd, ...args] = insideNs ? ['ip', 'netns', 'exec', insideNs, ...node] : node;
    return new ChildSide(spawn(cmd!, args, { stdio: ['pipe', 'pipe', 'pipe'], cwd: process.cwd() }));
  }

  async next(
    event: string,
    timeoutMs = 15_000,
    match: (e: Record<string, unknown>) => boolean = () => true,
  ): Promise<Record<string, unknown>> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const i = this.events.findIndex((e) => (e['event'] === event && match(e)) || e['event'] === 'error');
      if (i >= 0) {
        const [e] = this.events.splice(i, 1);
        if (e?.['event'] === 'error') throw new Error(`child failed: ${String(e['error'])}\n${this.stderr}`);
        return e!;
      }
      if (Date.now() > end) throw new Error(`child: no ${event} within ${timeoutMs} ms\n${this.stderr}`);
      if (this.proc.exitCode !== null) throw new Error(`child exited ${this.proc.exitCode}\n${this.stderr}`);
      await new Promise((r) => setTimeout(r, 30));
    }
  }

  /** Events of this kind received so far (not consumed). */
  seen(event: string): Record<string, unknown>[] {
    return this.events.filter((e) => e['event'] === event);
  }

  send(line: string): void {
    this.proc.stdin?.write(`${line}\n`);
  }

  /** kill -9, and wait until it is gone. */
  async kill9(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const gone = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGKILL');
    await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
  }
}
