/**
 * The network-namespace lab: three phones behind a NAT router, and a provider and a remote party on
 * the "internet" side. See test/e2e/README.md for the picture.
 *
 *   smqt-phone{1,2,3}  eth0 192.168.1.{10,11,12}/24, default via 192.168.1.1
 *   smqt-router        br-lan 192.168.1.1/24 (ports lan1..lan3), wan0 203.0.113.1/24, ip_forward=1,
 *                      stateful firewall (nftables fw4-like or iptables fw3-like), masquerade on wan0,
 *                      conntrack UDP timeouts 30 s
 *   smqt-inet          bridge br-inet joining wan0, the provider and the remote
 *   smqt-provider      eth0 203.0.113.10/24 (kamailio), default via 203.0.113.1
 *   smqt-remote        eth0 203.0.113.20/24 (sipp or baresip), default via 203.0.113.1
 *
 * Only TEST-NET and private addresses inside these namespaces are used; nothing is routed out of them.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nsRun, type RunOptions, type RunResult, run, sleep } from './exec.ts';
import { type FirewallBackend, iptablesRuleset, nftRuleset } from './firewall.ts';
import { keepProcessesOnExit, liveProcesses, ManagedProcess, type SpawnOptions } from './proc.ts';

/**
 * Namespace name prefix. SMQ_LAB_PREFIX lets two labs run side by side (a benchmark next to the
 * tests, two developers' runs): everything else lives inside the namespaces or in the lab's temp dir.
 */
export const PREFIX =
  process.env.SMQ_LAB_PREFIX && /^[a-z0-9]{1,6}-$/.test(process.env.SMQ_LAB_PREFIX)
    ? process.env.SMQ_LAB_PREFIX
    : 'smqt-';

export const NS = {
  phone1: `${PREFIX}phone1`,
  phone2: `${PREFIX}phone2`,
  phone3: `${PREFIX}phone3`,
  router: `${PREFIX}router`,
  inet: `${PREFIX}inet`,
  provider: `${PREFIX}provider`,
  remote: `${PREFIX}remote`,
} as const;
export type NsKey = keyof typeof NS;
export type PhoneKey = 'phone1' | 'phone2' | 'phone3';

export const IP = {
  phone1: '192.168.1.10',
  phone2: '192.168.1.11',
  phone3: '192.168.1.12',
  routerLan: '192.168.1.1',
  routerWan: '203.0.113.1',
  provider: '203.0.113.10',
  remote: '203.0.113.20',
} as const;

export const LAN_IF = 'br-lan';
export const WAN_IF = 'wan0';
/** The endpoint device inside each phone, provider and remote namespace. */
export const HOST_IF = 'eth0';

export const PHONES: readonly PhoneKey[] = ['phone1', 'phone2', 'phone3'];

/** Conntrack UDP timeouts in the router, seconds (both the unreplied and the "stream" one). */
export const CONNTRACK_UDP_TIMEOUT = 30;

export interface LabOptions {
  /** Firewall backend of the router; default SMQ_LAB_FIREWALL or nftables. */
  readonly firewall?: FirewallBackend;
  /** Name used for the temp dir, e.g. the test file's name. */
  readonly name?: string;
  /**
   * The router's firewall attaches the kernel SIP helper to LAN UDP 5060 as stock OpenWrt does when
   * nf_conntrack_sip is loaded (see firewall.ts). Default false: no helper anywhere.
   */
  readonly sipHelperRules?: boolean;
}

export function keepLab(): boolean {
  return process.env.SMQ_KEEP_LAB === '1';
}

function defaultFirewall(): FirewallBackend {
  const env = process.env.SMQ_LAB_FIREWALL;
  if (env === undefined || env === '') return 'nftables';
  if (env === 'nftables' || env === 'iptables') return env;
  throw new Error(`SMQ_LAB_FIREWALL must be nftables or iptables, got ${JSON.stringify(env)}`);
}

/** Names of the namespaces this lab owns that exist right now. */
async function existingNamespaces(): Promise<string[]> {
  const r = await run('ip', ['netns', 'list']);
  return r.stdout
    .split('\n')
    .map((l) => l.split(/\s+/)[0] ?? '')
    .filter((n) => n.startsWith(PREFIX));
}

/**
 * Remove what an earlier run left behind: processes running in our namespaces (they were started by
 * this lab), then the namespaces themselves (which takes their veths and bridges with them).
 */
export async function removeLeftovers(): Promise<void> {
  for (const ns of await existingNamespaces()) {
    const pids = await run('ip', ['netns', 'pids', ns], { allowFail: true });
    for (const pid of pids.stdout.split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* gone already */
      }
    }
    await run('ip', ['netns', 'del', ns], { allowFail: true });
  }
}

export class Lab {
  readonly firewall: FirewallBackend;
  /** The firewall attaches the SIP helper (LabOptions.sipHelperRules). */
  readonly sipHelperRules: boolean;
  /** Temp dir for configs, logs, captures and sockets; removed on teardown. */
  readonly dir: string;
  private tornDown = false;
  private serial = 0;

  private constructor(opts: LabOptions) {
    this.firewall = opts.firewall ?? defaultFirewall();
    this.sipHelperRules = opts.sipHelperRules === true;
    const safe = (opts.name ?? 'lab').replace(/[^A-Za-z0-9_.-]/g, '_');
    this.dir = mkdtempSync(join(tmpdir(), `${PREFIX}${safe}-`));
  }

  /** Build the whole topology; on any failure, tear down what was built and rethrow. */
  static async create(opts: LabOptions = {}): Promise<Lab> {
    const lab = new Lab(opts);
    try {
      await removeLeftovers();
      await lab.build();
    } catch (err) {
      await lab.teardown({ force: true });
      throw err;
    }
    return lab;
  }

  /** A path inside the lab's temp dir. */
  path(name: string): string {
    return join(this.dir, name);
  }

  /** A fresh, unique file name inside the temp dir (`stem-N.ext`). */
  uniquePath(stem: string, ext = 'log'): string {
    this.serial += 1;
    return this.path(`${String(this.serial).padStart(3, '0')}-${stem}.${ext}`);
  }

  exec(ns: NsKey, cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    return nsRun(NS[ns], cmd, args, opts);
  }

  /** Start a long-running process in a namespace; its log goes to the temp dir. */
  spawn(
    ns: NsKey,
    name: string,
    cmd: string,
    args: readonly string[],
    opts: Partial<SpawnOptions> = {},
  ): ManagedProcess {
    return new ManagedProcess(cmd, args, { name, ns: NS[ns], logFile: this.uniquePath(name), ...opts });
  }

  private async ip(args: readonly string[]): Promise<void> {
    await run('ip', args);
  }

  private async sysctl(ns: string, settings: Record<string, string | number>): Promise<void> {
    const args = ['-q', '-w', ...Object.entries(settings).map(([k, v]) => `${k}=${v}`)];
    await nsRun(ns, 'sysctl', args);
  }

  private async build(): Promise<void> {
    for (const ns of Object.values(NS)) {
      await this.ip(['netns', 'add', ns]);
      await this.ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      // No IPv6 in the lab: no router solicitations or DAD noise in the captures.
      await this.sysctl(ns, { 'net.ipv6.conf.all.disable_ipv6': 1, 'net.ipv6.conf.default.disable_ipv6': 1 });
    }

    // LAN: a bridge in the router, one veth per phone.
    await this.ip(['-n', NS.router, 'link', 'add', LAN_IF, 'type', 'bridge']);
    await this.ip(['-n', NS.router, 'addr', 'add', `${IP.routerLan}/24`, 'dev', LAN_IF]);
    await this.ip(['-n', NS.router, 'link', 'set', LAN_IF, 'up']);
    for (const [i, phone] of PHONES.entries()) {
      const port = `lan${i + 1}`;
      await this.ip([
        'link',
        'add',
        HOST_IF,
        'netns',
        NS[phone],
        'type',
        'veth',
        'peer',
        'name',
        port,
        'netns',
        NS.router,
      ]);
      await this.ip(['-n', NS.router, 'link', 'set', port, 'master', LAN_IF]);
      await this.ip(['-n', NS.router, 'link', 'set', port, 'up']);
      await this.ip(['-n', NS[phone], 'addr', 'add', `${IP[phone]}/24`, 'dev', HOST_IF]);
      await this.ip(['-n', NS[phone], 'link', 'set', HOST_IF, 'up']);
      await this.ip(['-n', NS[phone], 'route', 'add', 'default', 'via', IP.routerLan]);
    }

    // "Internet": a bridge in smqt-inet joining the router's WAN, the provider and the remote.
    await this.ip(['-n', NS.inet, 'link', 'add', 'br-inet', 'type', 'bridge']);
    await this.ip(['-n', NS.inet, 'link', 'set', 'br-inet', 'up']);
    const wanSide: Array<[string, string, string, string]> = [
      [NS.router, WAN_IF, 'r0', `${IP.routerWan}/24`],
      [NS.provider, HOST_IF, 'prov0', `${IP.provider}/24`],
      [NS.remote, HOST_IF, 'rem0', `${IP.remote}/24`],
    ];
    for (const [ns, dev, port, cidr] of wanSide) {
      await this.ip([
        'link',
        'add',
        dev,
        'netns',
        ns,
        'type',
        'veth',
        'peer',
        'name',
        port,
        'netns',
        NS.inet,
      ]);
      await this.ip(['-n', NS.inet, 'link', 'set', port, 'master', 'br-inet']);
      await this.ip(['-n', NS.inet, 'link', 'set', port, 'up']);
      await this.ip(['-n', ns, 'addr', 'add', cidr, 'dev', dev]);
      await this.ip(['-n', ns, 'link', 'set', dev, 'up']);
    }
    // The router is the public hosts' gateway: packets for private addresses reach it and are
    // dropped by its firewall, as they would be lost on the internet.
    for (const ns of [NS.provider, NS.remote])
      await this.ip(['-n', ns, 'route', 'add', 'default', 'via', IP.routerWan]);
    // Like a real router, a default route out of the WAN (sipmasq finds its WAN device by it). It
    // leads nowhere beyond the lab: an address off the bridge gets no ARP answer and is dropped.
    await this.ip(['-n', NS.router, 'route', 'add', 'default', 'dev', WAN_IF]);

    await this.sysctl(NS.router, {
      'net.ipv4.ip_forward': 1,
      'net.ipv4.conf.all.rp_filter': 0,
      'net.netfilter.nf_conntrack_udp_timeout': CONNTRACK_UDP_TIMEOUT,
      'net.netfilter.nf_conntrack_udp_timeout_stream': CONNTRACK_UDP_TIMEOUT,
    });
    await this.disableSipHelper();
    await this.applyFirewall();
  }

  /**
   * Make sure no conntrack helper is attached automatically (kernels before 6.0 had the
   * nf_conntrack_helper switch; later kernels only attach helpers by explicit rules, which the lab
   * never writes) and bridged frames skip netfilter.
   */
  private async disableSipHelper(): Promise<void> {
    const r = await nsRun(NS.router, 'sh', [
      '-c',
      'ls /proc/sys/net/netfilter/; ls /proc/sys/net/bridge 2>/dev/null',
    ]);
    if (r.stdout.split('\n').includes('nf_conntrack_helper'))
      await this.sysctl(NS.router, { 'net.netfilter.nf_conntrack_helper': 0 });
    if (existsSync('/proc/sys/net/bridge/bridge-nf-call-iptables'))
      await this.sysctl(NS.router, { 'net.bridge.bridge-nf-call-iptables': 0 });
  }

  /** Load the router's firewall with the chosen backend (replacing whatever is there). */
  async applyFirewall(): Promise<void> {
    const spec = { lan: LAN_IF, wan: WAN_IF, sipHelper: this.sipHelperRules };
    if (this.firewall === 'nftables') await nsRun(NS.router, 'nft', ['-f', '-'], { input: nftRuleset(spec) });
    else await nsRun(NS.router, 'iptables-restore', [], { input: iptablesRuleset(spec) });
  }

  /** The router's ruleset as text (for assertions and debugging). */
  async firewallDump(): Promise<string> {
    if (this.firewall === 'nftables') return (await nsRun(NS.router, 'nft', ['list', 'ruleset'])).stdout;
    return (await nsRun(NS.router, 'iptables-save', [])).stdout;
  }

  /** conntrack -L in the router (UDP), as text. Empty string when conntrack is not installed. */
  async conntrack(args: readonly string[] = ['-L', '-p', 'udp']): Promise<string> {
    const r = await nsRun(NS.router, 'conntrack', args, { allowFail: true });
    return r.stdout;
  }

  /** Whether the UDP port is bound on the address in the namespace (`ss -lun`). */
  async udpBound(ns: NsKey, addr: string, port: number): Promise<boolean> {
    const r = await nsRun(NS[ns], 'ss', ['-H', '-l', '-u', '-n']);
    return r.stdout.split('\n').some((l) => {
      const local = l.trim().split(/\s+/)[3] ?? '';
      return local === `${addr}:${port}` || local === `0.0.0.0:${port}` || local === `*:${port}`;
    });
  }

  /** Wait until the UDP port is bound; `alive` (e.g. the process that should bind it) ends the wait early. */
  async waitUdpBound(
    ns: NsKey,
    addr: string,
    port: number,
    timeoutMs = 5000,
    alive = () => true,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await this.udpBound(ns, addr, port))) {
      if (!alive()) throw new Error(`the process meant to bind UDP ${addr}:${port} in ${NS[ns]} has exited`);
      if (Date.now() > deadline)
        throw new Error(`nothing bound UDP ${addr}:${port} in ${NS[ns]} within ${timeoutMs} ms`);
      await sleep(50);
    }
  }

  /**
   * Stop every process, delete the namespaces and the temp dir. With SMQ_KEEP_LAB=1 everything is
   * left up for debugging (unless force), and the way to remove it is printed.
   */
  async teardown(opts: { force?: boolean } = {}): Promise<void> {
    if (this.tornDown) return;
    this.tornDown = true;
    if (keepLab() && !opts.force) {
      keepProcessesOnExit(true);
      for (const p of liveProcesses()) p.release();
      process.stderr.write(
        `\nSMQ_KEEP_LAB=1: lab left up; logs in ${this.dir}\n` +
          `  e.g. ip netns exec ${NS.router} nft list ruleset\n` +
          `  remove with: node --import tsx test/e2e/lib/lab-cli.ts down\n`,
      );
      return;
    }
    await Promise.all(liveProcesses().map((p) => p.stop('SIGTERM', 2000)));
    await removeLeftovers();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Whether one UDP datagram sent from `fromNs` to `toIp:port` arrives at a listener in `toNs` (for
 * checking the router's firewall). Both ends are short-lived node/bash processes in the namespaces.
 */
export async function udpReaches(
  lab: Lab,
  fromNs: NsKey,
  toNs: NsKey,
  toIp: string,
  port: number,
): Promise<boolean> {
  const listener = lab.spawn(toNs, `udp-listener-${port}`, process.execPath, [
    '-e',
    `const s=require('dgram').createSocket('udp4');s.on('message',(m,r)=>{console.log('got '+m+' from '+r.address);process.exit(0)});s.bind(${port},'${toIp}',()=>console.log('bound'));setTimeout(()=>process.exit(3),1500)`,
  ]);
  await listener.waitFor(/bound/, 3000);
  await nsRun(NS[fromNs], 'bash', ['-c', `printf probe > /dev/udp/${toIp}/${port}`]);
  const exit = await listener.waitExit(5000);
  return exit.code === 0;
}
