/**
 * The system resolver configuration, as resolv.conf(5) describes it: `nameserver` lines (IPv4 or IPv6,
 * "Up to MAXNS (currently 3) name servers may be listed"), and `options timeout:n` ("the amount of time
 * the resolver will wait for a response from a remote name server before retrying ... default is
 * RES_TIMEOUT (currently 5) ... capped to 30") and `attempts:n` ("the number of times the resolver will
 * send a query to its name servers before giving up ... default is RES_DFLRETRY (currently 2) ... capped
 * to 5"). "If no nameserver entries are present, the default is to use the name server on the local
 * machine." On OpenWrt /etc/resolv.conf is a link into /tmp that changes when the WAN comes up, so the
 * file is read again whenever it changes.
 */
import { promises as fs } from 'node:fs';
import type { Clock } from '../../common/clock.ts';
import { ipFamily } from '../../common/net.ts';

export interface ResolvConfig {
  readonly nameservers: readonly string[];
  readonly timeoutMs: number;
  readonly attempts: number;
  /** `options rotate`: start with a different server for each query. */
  readonly rotate: boolean;
}

export const MAXNS = 3;
export const DEFAULT_NAMESERVER = '127.0.0.1';

export const DEFAULT_RESOLV_CONFIG: ResolvConfig = Object.freeze({
  nameservers: Object.freeze([DEFAULT_NAMESERVER]),
  timeoutMs: 5000,
  attempts: 2,
  rotate: false,
});

function intOption(value: string, min: number, max: number): number | null {
  if (!/^\d+$/.test(value)) return null;
  return Math.min(max, Math.max(min, Number(value)));
}

/** Parse resolv.conf text. Lines it does not understand are ignored, as the C library does. */
export function parseResolvConf(text: string): ResolvConfig {
  const nameservers: string[] = [];
  let timeoutMs = DEFAULT_RESOLV_CONFIG.timeoutMs;
  let attempts = DEFAULT_RESOLV_CONFIG.attempts;
  let rotate = false;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [keyword, ...args] = line.split(/\s+/);
    if (keyword === 'nameserver') {
      const addr = args[0];
      if (addr && ipFamily(addr) && nameservers.length < MAXNS && !nameservers.includes(addr))
        nameservers.push(addr);
    } else if (keyword === 'options') {
      for (const opt of args) {
        const [name, value = ''] = opt.split(':');
        if (name === 'timeout') timeoutMs = (intOption(value, 1, 30) ?? timeoutMs / 1000) * 1000;
        else if (name === 'attempts') attempts = intOption(value, 1, 5) ?? attempts;
        else if (name === 'rotate') rotate = true;
      }
    }
  }
  return Object.freeze({
    nameservers: Object.freeze(nameservers.length ? nameservers : [DEFAULT_NAMESERVER]),
    timeoutMs,
    attempts,
    rotate,
  });
}

/** The configuration in a file, read again when the file changes (checked at most every recheckMs). */
export class ResolvConf {
  private config: ResolvConfig | null = null;
  private stamp = '';
  private checkedAt = Number.NEGATIVE_INFINITY;
  private reading: Promise<ResolvConfig> | null = null;

  constructor(
    readonly path: string,
    private readonly clock: Clock,
    private readonly recheckMs = 5000,
  ) {}

  async current(): Promise<ResolvConfig> {
    if (this.config && this.clock.now() - this.checkedAt < this.recheckMs) return this.config;
    this.reading ??= this.read().finally(() => {
      this.reading = null;
    });
    return this.reading;
  }

  private async read(): Promise<ResolvConfig> {
    this.checkedAt = this.clock.now();
    let stamp = 'missing';
    try {
      const st = await fs.stat(this.path);
      stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
      if (this.config && stamp === this.stamp) return this.config;
      this.config = parseResolvConf(await fs.readFile(this.path, 'utf8'));
    } catch {
      // No file (or unreadable): resolv.conf(5) defaults, the local name server; read again next time.
      this.config = DEFAULT_RESOLV_CONFIG;
      stamp = 'unreadable';
    }
    this.stamp = stamp;
    return this.config;
  }
}
