/**
 * The provider: kamailio with test/e2e/lab/kamailio.cfg in the smqt-provider namespace, in the
 * foreground (-DD -E), with its runtime dir, ctl socket and log in the lab's temp dir. The location
 * table is read through the ctl socket with kamcmd (no kamctl, no database).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ACCOUNTS } from './accounts.ts';
import { run, waitUntil } from './exec.ts';
import { IP, type Lab } from './lab.ts';
import type { ManagedProcess } from './proc.ts';

export const KAMAILIO_CFG = new URL('../lab/kamailio.cfg', import.meta.url).pathname;

export interface KamailioOptions {
  /** ms without any reply before a request fails with 408 (tm fr_timer). Default 4000. */
  readonly frTimer?: number;
  /** ms after a provisional reply before an INVITE fails with 408 (tm fr_inv_timer). Default 10000. */
  readonly frInvTimer?: number;
  /**
   * Listen on (and be) this address of the provider namespace instead of 203.0.113.10: a second
   * provider host (the address must be on the namespace's eth0 first). Define PROVIDER_ADDR.
   */
  readonly address?: string;
  /** A domain name accepted as the provider's own besides its address (define SIP_DOMAIN). */
  readonly domain?: string;
  /** Answer every request 503 Service Unavailable: a failing server (define REPLY_503). */
  readonly reply503?: boolean;
  /** Name of its run dir in the lab's dir and of its log; default 'kamailio'. */
  readonly name?: string;
}

/** kamailio -A arguments for the options that are cfg defines. */
export function kamailioDefines(opts: KamailioOptions): string[] {
  const args: string[] = [];
  const quoted = (v: string): string => {
    if (!/^[A-Za-z0-9.-]+$/.test(v)) throw new TypeError(`not an address or domain: ${JSON.stringify(v)}`);
    return `"${v}"`;
  };
  if (opts.address !== undefined) args.push('-A', `PROVIDER_ADDR=${quoted(opts.address)}`);
  if (opts.domain !== undefined) args.push('-A', `SIP_DOMAIN=${quoted(opts.domain)}`);
  if (opts.reply503) args.push('-A', 'REPLY_503');
  return args;
}

/** One registered contact as usrloc holds it. */
export interface LocationContact {
  readonly aor: string;
  /** The Contact URI exactly as stored, e.g. sip:alice@203.0.113.1:5060. */
  readonly address: string;
  readonly expires: number;
  readonly received: string | null;
  readonly path: string | null;
  readonly userAgent: string | null;
  readonly callId: string | null;
  readonly cseq: number | null;
}

export class Kamailio {
  constructor(
    readonly proc: ManagedProcess,
    readonly runDir: string,
  ) {}

  get ctlSocket(): string {
    return join(this.runDir, 'kamailio_ctl');
  }

  /** Run a kamcmd RPC through the ctl socket. */
  async rpc(...args: string[]): Promise<string> {
    const r = await run('kamcmd', ['-s', `unix:${this.ctlSocket}`, ...args], {
      timeoutMs: 5000,
      allowFail: true,
    });
    if (r.code !== 0) throw new Error(`kamcmd ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
    return r.stdout;
  }

  /** Every contact in the location table (ul.dump). */
  async contacts(): Promise<LocationContact[]> {
    return parseUlDump(await this.rpc('ul.dump'));
  }

  /** The contacts of one AOR (the user part: usrloc runs without domains). */
  async contactsOf(aor: string): Promise<LocationContact[]> {
    return (await this.contacts()).filter((c) => c.aor === aor);
  }

  /** Wait until `pred` holds for the contacts of `aor`; resolves with them. */
  async waitContacts(
    aor: string,
    pred: (cs: LocationContact[]) => boolean,
    timeoutMs = 5000,
  ): Promise<LocationContact[]> {
    return waitUntil(
      `location of ${aor} to match`,
      async () => {
        const cs = await this.contactsOf(aor);
        return pred(cs) ? cs : undefined;
      },
      timeoutMs,
      100,
    );
  }

  /** Empty the location table (between tests sharing one provider). */
  async clearLocation(): Promise<void> {
    for (const c of await this.contacts()) await this.rpc('ul.rm', 'location', c.aor);
  }

  async stop(): Promise<void> {
    await this.proc.stop('SIGTERM', 3000);
  }
}

/**
 * Parse kamcmd's text rendering of ul.dump:
 *   AoR: alice ... Contacts: { Contact: { Address: sip:alice@... Expires: 117 ... Received: [not set] ...
 */
export function parseUlDump(text: string): LocationContact[] {
  const out: LocationContact[] = [];
  const aorBlocks = text.split(/^\s*AoR:\s*/m).slice(1);
  for (const block of aorBlocks) {
    const aor = (block.split('\n')[0] ?? '').trim();
    for (const c of block.split(/^\s*Contact:\s*\{?\s*$/m).slice(1)) {
      const field = (name: string): string | null => {
        const m = new RegExp(`^\\s*${name}:\\s*(.*)$`, 'm').exec(c);
        const v = m?.[1]?.trim();
        return v === undefined || v === '[not set]' ? null : v;
      };
      const address = field('Address');
      if (!address) continue;
      const expires = Number(field('Expires') ?? 'NaN');
      const cseq = field('CSeq');
      out.push({
        aor,
        address,
        expires: Number.isFinite(expires) ? expires : -1,
        received: field('Received'),
        path: field('Path'),
        userAgent: field('User-Agent'),
        callId: field('Call-ID'),
        cseq: cseq === null ? null : Number(cseq),
      });
    }
  }
  return out;
}

/** Write the config into the lab's dir and start kamailio; resolves once it listens and answers RPC. */
export async function startKamailio(lab: Lab, opts: KamailioOptions = {}): Promise<Kamailio> {
  const name = opts.name ?? 'kamailio';
  if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new TypeError(`bad kamailio name ${JSON.stringify(name)}`);
  const runDir = lab.path(name);
  const address = opts.address ?? IP.provider;
  const defines = kamailioDefines(opts);
  mkdirSync(runDir, { recursive: true });
  const cfg = readFileSync(KAMAILIO_CFG, 'utf8')
    .replaceAll('__RUN_DIR__', runDir)
    .replaceAll('__FR_TIMER__', String(opts.frTimer ?? 4000))
    .replaceAll('__FR_INV_TIMER__', String(opts.frInvTimer ?? 10000));
  for (const [user, pass] of Object.entries(ACCOUNTS))
    if (!new RegExp(`case "${user}":\\s*\\$var\\(pw\\) = "${pass}";`).test(cfg))
      throw new Error(`kamailio.cfg route[PASSWD] does not give ${user} the password of lib/accounts.ts`);
  const cfgFile = join(runDir, 'kamailio.cfg');
  writeFileSync(cfgFile, cfg);
  const check = await run('kamailio', ['-c', '-f', cfgFile, ...defines], {
    allowFail: true,
    timeoutMs: 10_000,
  });
  if (check.code !== 0) throw new Error(`kamailio.cfg does not pass kamailio -c:\n${check.stderr}`);
  const proc = lab.spawn('provider', name, 'kamailio', [
    '-f',
    cfgFile,
    ...defines,
    '-DD',
    '-E',
    '-Y',
    runDir,
    '-P',
    join(runDir, 'kamailio.pid'),
    '-m',
    '64',
    '-M',
    '8',
  ]);
  const kam = new Kamailio(proc, runDir);
  try {
    await lab.waitUdpBound('provider', address, 5060, 10_000, () => proc.running);
    await waitUntil('kamailio ctl socket', () => kam.rpc('core.version').then(() => true), 10_000, 100);
  } catch (err) {
    await proc.stop('SIGKILL');
    throw new Error(`kamailio did not come up: ${(err as Error).message}\n${proc.tail(40)}`);
  }
  return kam;
}
