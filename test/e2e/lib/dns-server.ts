/**
 * A name server on the lab's "internet": dnsmasq (the Debian package) on an extra address of the
 * smqt-inet bridge (203.0.113.53), answering only from its own records for the test zone (`--local`
 * makes every other name in it NXDOMAIN, nothing is forwarded anywhere: `--no-resolv`), with the TTL
 * the test asks for. The router namespace is pointed at it through /etc/netns/<router>/resolv.conf,
 * which `ip netns exec` bind-mounts over /etc/resolv.conf for every program started there (sipmasq
 * included); the file is written before sipmasq starts and removed again by stop().
 *
 * The zone a transparent-mode test wants (RFC 3263's path, NAPTR -> SRV -> A):
 *   voip.example.test             NAPTR 10 10 "S" "SIP+D2U" "" _sip._udp.voip.example.test
 *   _sip._udp.voip.example.test   SRV 10 10 5060 p1.voip.example.test
 *                                 SRV 20 10 5060 p2.voip.example.test
 *   p1.voip.example.test          A 203.0.113.10
 *   p2.voip.example.test          A 203.0.113.11
 */
import { existsSync, mkdirSync, readdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nsRun } from './exec.ts';
import { type Lab, NS } from './lab.ts';
import type { ManagedProcess } from './proc.ts';

export const DNS_IP = '203.0.113.53';
/** `ip netns exec NS` bind-mounts the files of /etc/netns/NS/ over those of /etc/. */
const NETNS_ETC = '/etc/netns';
/** Where dnsmasq lives: a second address of the inet bridge (no namespace of its own needed). */
const DNS_DEV = 'br-inet';

export interface SrvTarget {
  readonly target: string;
  readonly port: number;
  readonly priority: number;
  readonly weight: number;
}

export interface NaptrRecord {
  readonly order: number;
  readonly preference: number;
  /** e.g. 'SIP+D2U' */
  readonly service: string;
  /** e.g. '_sip._udp.voip.example.test' */
  readonly replacement: string;
}

export interface Zone {
  /** The zone dnsmasq answers for alone (every other name in it: NXDOMAIN). */
  readonly domain: string;
  readonly naptr: readonly (NaptrRecord & { readonly name: string })[];
  /** SRV owner name (e.g. `_sip._udp.voip.example.test`) -> targets. */
  readonly srv: Readonly<Record<string, readonly SrvTarget[]>>;
  /** Host name -> IPv4 address. */
  readonly a: Readonly<Record<string, string>>;
  /** TTL of every record, seconds. */
  readonly ttl: number;
}

/** The zone of the transparent-mode tests: the provider's domain with two servers, p1 before p2. */
export function sipZone(domain: string, p1: string, p2: string, ttl = 300): Zone {
  return {
    domain,
    naptr: [
      { name: domain, order: 10, preference: 10, service: 'SIP+D2U', replacement: `_sip._udp.${domain}` },
    ],
    srv: {
      [`_sip._udp.${domain}`]: [
        { target: `p1.${domain}`, port: 5060, priority: 10, weight: 10 },
        { target: `p2.${domain}`, port: 5060, priority: 20, weight: 10 },
      ],
    },
    a: { [`p1.${domain}`]: p1, [`p2.${domain}`]: p2 },
    ttl,
  };
}

const NAME = /^[A-Za-z0-9_.-]+$/;

function checkName(n: string): string {
  if (!NAME.test(n)) throw new TypeError(`not a DNS name: ${JSON.stringify(n)}`);
  return n;
}

function checkService(s: string): string {
  if (!/^[A-Za-z0-9+]+$/.test(s)) throw new TypeError(`not a NAPTR service: ${JSON.stringify(s)}`);
  return s;
}

/** dnsmasq arguments for a zone (no config file, foreground, queries logged to stderr). */
export function dnsmasqArgs(zone: Zone, listen: string): string[] {
  const args = [
    '--conf-file=/dev/null',
    '--keep-in-foreground',
    '--log-facility=-',
    '--log-queries',
    '--no-resolv',
    '--no-hosts',
    '--no-poll',
    '--user=root',
    '--pid-file=',
    '--bind-interfaces',
    `--listen-address=${listen}`,
    '--except-interface=lo',
    '--port=53',
    '--cache-size=0',
    `--local=/${checkName(zone.domain)}/`,
    `--local-ttl=${zone.ttl}`,
  ];
  for (const n of zone.naptr)
    args.push(
      `--naptr-record=${checkName(n.name)},${n.order},${n.preference},S,${checkService(n.service)},,${checkName(n.replacement)}`,
    );
  for (const [owner, targets] of Object.entries(zone.srv))
    for (const t of targets)
      args.push(`--srv-host=${checkName(owner)},${checkName(t.target)},${t.port},${t.priority},${t.weight}`);
  for (const [host, ip] of Object.entries(zone.a)) args.push(`--host-record=${checkName(host)},${ip}`);
  return args;
}

/** One query dnsmasq logged: `query[SRV] _sip._udp.voip.example.test from 203.0.113.1`. */
export interface LoggedQuery {
  readonly type: string;
  readonly name: string;
  readonly from: string;
}

export function parseQueries(log: string): LoggedQuery[] {
  return [...log.matchAll(/query\[(\w+)\] (\S+) from (\S+)/g)].map((m) => ({
    type: m[1]!,
    name: m[2]!,
    from: m[3]!,
  }));
}

export class DnsServer {
  private stopped = false;

  private constructor(
    readonly lab: Lab,
    readonly zone: Zone,
    readonly proc: ManagedProcess,
    private readonly resolvDir: string,
    /** Directories mkdir made for the resolv.conf, innermost first (removed again when empty). */
    private readonly createdDirs: readonly string[],
  ) {}

  /**
   * Add 203.0.113.53 to the inet bridge, start dnsmasq on it and point the router at it. Resolves
   * once dnsmasq answers a query from the router namespace.
   */
  static async start(lab: Lab, zone: Zone): Promise<DnsServer> {
    await nsRun(NS.inet, 'ip', ['addr', 'replace', `${DNS_IP}/24`, 'dev', DNS_DEV]);
    const proc = lab.spawn('inet', 'dnsmasq', 'dnsmasq', dnsmasqArgs(zone, DNS_IP));
    const dir = join(NETNS_ETC, NS.router);
    const createdDirs = [dir, NETNS_ETC].filter((d) => !existsSync(d));
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'resolv.conf'),
      `# written by sipmasq's e2e lab (${lab.dir}); removed at the end of the test\nnameserver ${DNS_IP}\noptions timeout:1 attempts:2\n`,
    );
    const server = new DnsServer(lab, zone, proc, dir, createdDirs);
    try {
      await proc.waitFor(/started, version/, 5000);
      await server.waitAnswering();
    } catch (err) {
      await server.stop();
      throw new Error(`dnsmasq did not come up: ${(err as Error).message}\n${proc.tail(20)}`);
    }
    return server;
  }

  /** Ask for the zone's first A record from the router namespace until dnsmasq answers it. */
  private async waitAnswering(): Promise<void> {
    const [host, ip] = Object.entries(this.zone.a)[0] ?? [];
    if (!host || !ip) return;
    const deadline = Date.now() + 5000;
    for (;;) {
      const got = await resolveInRouter(host).catch(() => [] as string[]);
      if (got.includes(ip)) return;
      if (Date.now() > deadline || !this.proc.running)
        throw new Error(`no answer for ${host} from ${DNS_IP} within 5 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Queries dnsmasq has logged so far (optionally of one type). */
  queries(type?: string): LoggedQuery[] {
    return parseQueries(this.proc.output).filter((q) => type === undefined || q.type === type);
  }

  /** Stop dnsmasq and remove the router's resolv.conf (and its directory if we made it). Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.proc.stop('SIGTERM', 2000);
    rmSync(join(this.resolvDir, 'resolv.conf'), { force: true });
    for (const d of this.createdDirs) {
      try {
        if (readdirSync(d).length === 0) rmdirSync(d);
      } catch {
        /* gone already, or someone else's files arrived: leave it */
      }
    }
    await nsRun(NS.inet, 'ip', ['addr', 'del', `${DNS_IP}/24`, 'dev', DNS_DEV], { allowFail: true });
  }
}

/**
 * Resolve a name's IPv4 addresses from inside the router namespace (node's resolver reading the
 * namespace's /etc/resolv.conf), to check the zone as sipmasq will see it.
 */
export async function resolveInRouter(host: string, rrtype: 'A' | 'SRV' | 'NAPTR' = 'A'): Promise<string[]> {
  const script = `require('dns').promises.resolve(${JSON.stringify(checkName(host))}, ${JSON.stringify(rrtype)}).then(r=>console.log(JSON.stringify(r)),e=>{console.error(e.code);process.exit(2)})`;
  const r = await nsRun(NS.router, process.execPath, ['-e', script], { timeoutMs: 5000, allowFail: true });
  if (r.code !== 0) throw new Error(`resolving ${host} ${rrtype} in the router: ${r.stderr.trim()}`);
  const out = JSON.parse(r.stdout) as unknown[];
  return out.map((x) => (typeof x === 'string' ? x : JSON.stringify(x)));
}
