/**
 * sipmasq under test: the bundle (dist/sipmasq.mjs, built when missing or older than the sources) run
 * in the router namespace with a JSON config in the lab's dir, as the router would run it. Started
 * means: both SIP sockets bound (LAN 192.168.1.1:5060, WAN 203.0.113.1:5060) and the control socket
 * answering `status --json`.
 */
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { run, waitUntil } from './exec.ts';
import { IP, LAN_IF, type Lab, NS, WAN_IF } from './lab.ts';
import type { ManagedProcess } from './proc.ts';

const ROOT = new URL('../../../', import.meta.url).pathname;
export const BUNDLE = join(ROOT, 'dist', 'sipmasq.mjs');

export interface Counters {
  readonly packets: number;
  readonly bytes: number;
  readonly dropped: number;
}

export interface StatusStream {
  readonly path: string;
  readonly lanLocal: string;
  readonly wanLocal: string;
  readonly lanPeer?: string | null;
  readonly wanPeer?: string | null;
  readonly onHold?: boolean;
  readonly lanToWan: Counters;
  readonly wanToLan: Counters;
}

export interface StatusRegistration {
  readonly aor: string;
  readonly contact: string;
  readonly token: string;
  readonly expiresAt: string;
  readonly phone?: string;
  readonly expiresIn?: number;
}

export interface StatusCall {
  readonly callId: string;
  readonly streams: readonly StatusStream[];
  readonly state?: string;
  readonly direction?: string;
}

export interface Status {
  readonly registrations: readonly StatusRegistration[];
  readonly calls: readonly StatusCall[];
  readonly store: { readonly kind: string; readonly warning: string | null };
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

let built = false;

/** Build dist/sipmasq.mjs unless it is newer than every source file. */
export async function ensureBuilt(): Promise<void> {
  if (built) return;
  const sources = ['proxy', 'rtpproxy', 'common'].map((d) => join(ROOT, d)).filter((d) => existsSync(d));
  const fresh = existsSync(BUNDLE) && statSync(BUNDLE).mtimeMs >= Math.max(...sources.map(newestMtime));
  if (!fresh) {
    const r = await run(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], {
      cwd: ROOT,
      timeoutMs: 120_000,
      allowFail: true,
    });
    if (r.code !== 0) throw new Error(`building sipmasq failed:\n${r.stderr}\n${r.stdout}`);
  }
  built = true;
}

/** The test configuration; `overrides` replace keys (see proxy/config.ts). */
export function sipmasqConfig(lab: Lab, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    lanInterface: LAN_IF,
    wanInterface: WAN_IF,
    sipPort: 5060,
    rtpPortMin: 20000,
    rtpPortMax: 20999,
    storePath: lab.path('sipmasq.db'),
    storeFlushInterval: 1,
    controlSocket: lab.path('sipmasq.sock'),
    keepaliveInterval: 10,
    logLevel: 'debug',
    mediaPath: 'relay',
    firewall: 'none',
    ...overrides,
  };
}

export class Sipmasq {
  private proc: ManagedProcess | null = null;
  private starts = 0;
  readonly configFile: string;

  constructor(
    readonly lab: Lab,
    readonly config: Record<string, unknown>,
  ) {
    this.configFile = lab.path('sipmasq.json');
    writeFileSync(this.configFile, `${JSON.stringify(config, null, 2)}\n`);
  }

  get controlSocket(): string {
    return String(this.config.controlSocket);
  }

  get process(): ManagedProcess {
    if (!this.proc) throw new Error('sipmasq was not started');
    return this.proc;
  }

  get running(): boolean {
    return this.proc?.running ?? false;
  }

  /** Start (or start again) and wait until it serves SIP on both sides and answers status. */
  async start(timeoutMs = 10_000): Promise<void> {
    await ensureBuilt();
    this.starts += 1;
    const proc = this.lab.spawn('router', `sipmasq-${this.starts}`, process.execPath, [
      BUNDLE,
      '--config',
      this.configFile,
    ]);
    this.proc = proc;
    try {
      await this.lab.waitUdpBound('router', IP.routerLan, 5060, timeoutMs, () => proc.running);
      await this.lab.waitUdpBound('router', IP.routerWan, 5060, timeoutMs, () => proc.running);
      await waitUntil('sipmasq status', () => this.status().then(() => true), timeoutMs, 100);
    } catch (err) {
      await proc.stop('SIGKILL');
      throw new Error(`sipmasq did not come up: ${(err as Error).message}\n${proc.tail(40)}`);
    }
  }

  /** `sipmasq status --json` through the CLI, run in the router namespace. */
  async status(): Promise<Status> {
    const r = await run(
      process.execPath,
      [BUNDLE, 'status', '--json', '--control-socket', this.controlSocket],
      {
        ns: NS.router,
        timeoutMs: 8000,
        allowFail: true,
      },
    );
    if (r.code !== 0) throw new Error(`sipmasq status failed (${r.code}): ${r.stderr || r.stdout}`);
    const parsed = JSON.parse(r.stdout) as Status;
    if (!Array.isArray(parsed.registrations) || !Array.isArray(parsed.calls))
      throw new Error(`sipmasq status: unexpected shape: ${r.stdout.slice(0, 500)}`);
    return parsed;
  }

  /** SIGTERM: a clean stop; resolves with the exit code (fails if it takes more than 5 s). */
  async stop(): Promise<number | null> {
    const p = this.process;
    const t0 = Date.now();
    const exit = await p.stop('SIGTERM', 5000);
    if (exit.signal === 'SIGKILL')
      throw new Error(`sipmasq ignored SIGTERM for ${Date.now() - t0} ms\n${p.tail(20)}`);
    return exit.code;
  }

  /** kill -9, as a crash. */
  async kill(): Promise<void> {
    await this.process.stop('SIGKILL', 1000);
  }
}

/** Build, configure and start sipmasq in the lab's router. */
export async function startSipmasq(lab: Lab, overrides: Record<string, unknown> = {}): Promise<Sipmasq> {
  const s = new Sipmasq(lab, sipmasqConfig(lab, overrides));
  await s.start();
  return s;
}

/**
 * sipmasq for a describe() that uses useLab(): started in before() (after the lab), stopped in
 * after() (teardown would kill it anyway). Returns a getter for tests.
 */
export function useSipmasq(lab: () => Lab, overrides: Record<string, unknown> = {}): () => Sipmasq {
  let smq: Sipmasq | undefined;
  before(async () => {
    smq = await startSipmasq(lab(), overrides);
  });
  after(async () => {
    if (smq?.running) await smq.stop().catch(() => smq?.kill());
  });
  return () => {
    if (!smq) throw new Error('sipmasq not started (before() failed?)');
    return smq;
  };
}
