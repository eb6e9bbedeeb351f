/**
 * A phone behind a router, each in a private namespace (`smqh-` prefix), for the transparent-mode and
 * SIP-helper tests. The provider address the phone talks to exists nowhere: every packet for it is
 * REDIRECTed to the router's own socket.
 *
 *   phone 10.79.1.2 (eth0) --- lan0 10.79.1.1 [router]
 *
 * Rulesets: fw4 and fw3 as OpenWrt writes them for a LAN zone with conntrack helpers (auto_helper, the
 * default) while nf_conntrack_sip is loaded: `ct helper set "sip"` from fw4's prerouting chain, or
 * `-j CT --helper sip` from fw3's raw PREROUTING.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { systemClock } from '../../../../common/clock.ts';
import { Logger, MemorySink } from '../../../../common/logger.ts';
import { nodeSocketFactory } from '../../../../common/socket-factory.ts';
import { SpawnRunner } from '../../../../rtpproxy/command-runner.ts';
import type { MediaSide } from '../../../../rtpproxy/control.ts';
import { createMediaSide } from '../../../../rtpproxy/media-side.ts';
import { canUseNamespaces, inNs, run } from './netns.ts';

export const PHONE = '10.79.1.2';
export const LAN = '10.79.1.1';
export const PROVIDER = '203.0.113.10';

export const FW4_HELPERS = `table inet fw4
delete table inet fw4
table inet fw4 {
  ct helper sip { type "sip" protocol udp; }
  chain input {
    type filter hook input priority filter; policy drop;
    iifname "lo" accept comment "!fw4: Accept traffic from loopback"
    ct state established,related accept
    iifname "lan0" accept comment "!fw4: lan input accept"
  }
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
  }
  chain output { type filter hook output priority filter; policy accept; }
  chain prerouting {
    type filter hook prerouting priority filter; policy accept;
    iifname "lan0" jump helper_lan comment "!fw4: Handle lan IPv4/IPv6 helper assignment"
  }
  chain helper_lan {
    meta l4proto udp udp dport 5060 ct helper set "sip" comment "!fw4: SIP VoIP connection tracking"
  }
  chain dstnat { type nat hook prerouting priority dstnat; policy accept; }
  chain srcnat { type nat hook postrouting priority srcnat; policy accept; }
}
`;

export const FW3_HELPERS = `*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:zone_lan_helper - [0:0]
-A PREROUTING -i lan0 -m comment --comment "!fw3: lan CT helper assignment" -j zone_lan_helper
-A zone_lan_helper -p udp -m udp --dport 5060 -m comment --comment "!fw3: SIP VoIP connection tracking" -j CT --helper sip
COMMIT
*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -i lan0 -j ACCEPT
-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
COMMIT
`;

export type Flavour = 'nftables' | 'iptables' | 'iptables-legacy';

/** Programs per flavour (the media side is forced to the matching backend). */
export function programs(f: Flavour): { iptables: string; save: string; restore: string } | null {
  if (f === 'nftables') return null;
  const x = f === 'iptables-legacy' ? '-legacy' : '';
  return { iptables: `iptables${x}`, save: `iptables${x}-save`, restore: `iptables${x}-restore` };
}

export function haveProgram(cmd: string): boolean {
  return spawnSync(cmd, ['--version'], { timeout: 5000 }).status === 0;
}

/**
 * Why the SIP-helper test cannot run here, or null. Loads nf_conntrack_sip when it is a module that is
 * not loaded yet; outside CI an unavailable module is a skip, in CI a failure (the caller decides).
 */
export function sipHelperUnavailable(): string | null {
  const loaded = () =>
    existsSync('/sys/module/nf_conntrack_sip') ||
    (existsSync('/proc/modules') && /^nf_conntrack_sip /m.test(readFileSync('/proc/modules', 'utf8')));
  if (loaded()) return null;
  spawnSync('modprobe', ['nf_conntrack_sip'], { timeout: 10_000 });
  return loaded() ? null : 'nf_conntrack_sip is not available on this kernel (modprobe failed)';
}

export class TransparentLab {
  readonly suffix = `${process.pid.toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  readonly phoneNs = `smqh-ph-${this.suffix}`;
  readonly routerNs = `smqh-rt-${this.suffix}`;
  private made: string[] = [];

  constructor(readonly flavour: Flavour) {}

  up(): void {
    for (const ns of [this.phoneNs, this.routerNs]) {
      run('ip', ['netns', 'add', ns]);
      this.made.push(ns);
      inNs(ns, 'ip', ['link', 'set', 'lo', 'up']);
    }
    const veth = `smqh${this.suffix}`.slice(0, 15);
    run('ip', [
      'link',
      'add',
      veth,
      'netns',
      this.routerNs,
      'type',
      'veth',
      'peer',
      'name',
      'eth0',
      'netns',
      this.phoneNs,
    ]);
    inNs(this.routerNs, 'ip', ['link', 'set', veth, 'name', 'lan0']);
    for (const [ns, dev, addr] of [
      [this.routerNs, 'lan0', `${LAN}/24`],
      [this.phoneNs, 'eth0', `${PHONE}/24`],
    ] as const) {
      inNs(ns, 'ip', ['addr', 'add', addr, 'dev', dev]);
      inNs(ns, 'ip', ['link', 'set', dev, 'up']);
    }
    inNs(this.phoneNs, 'ip', ['route', 'add', 'default', 'via', LAN]);
    inNs(this.routerNs, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    this.load();
  }

  /** (Re)load the router's firewall as the router's firewall service would (a reload wipes ours). */
  load(): void {
    const p = programs(this.flavour);
    if (p === null) inNs(this.routerNs, 'nft', ['-f', '-'], FW4_HELPERS);
    else inNs(this.routerNs, p.restore, [], FW3_HELPERS);
  }

  listing(): string {
    const p = programs(this.flavour);
    return p === null ? inNs(this.routerNs, 'nft', ['list', 'ruleset']) : inNs(this.routerNs, p.save, []);
  }

  flushConntrack(): void {
    inNs(this.routerNs, 'conntrack', ['-F']);
  }

  /** The router's UDP conntrack entries whose original source is the phone's port. */
  flowsFrom(port: number): string[] {
    const r = spawnSync('ip', ['netns', 'exec', this.routerNs, 'conntrack', '-L', '-p', 'udp'], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    return r.stdout.split('\n').filter((l) => l.includes(`src=${PHONE}`) && l.includes(` sport=${port} `));
  }

  cleanup(): void {
    for (const ns of this.made.splice(0).reverse())
      spawnSync('ip', ['netns', 'del', ns], { timeout: 10_000 });
  }
}

/** sipmasq's media side for the lab's router (rules applied inside the router namespace). */
export async function openSide(lab: TransparentLab, sipHelper: 'disable' | 'warn'): Promise<MediaSide> {
  const p = programs(lab.flavour);
  return createMediaSide(
    {
      lanAddress: LAN,
      wanAddress: LAN,
      publicAddress: () => LAN,
      lanDevice: 'lan0',
      wanDevice: null,
      sipPort: 5060,
      portMin: 30000,
      portMax: 30099,
      idleTimeoutMs: 60_000,
      holdTimeoutMs: 600_000,
      mediaPath: 'relay',
      firewall: p === null ? 'nftables' : 'iptables',
      sipHelper,
    },
    {
      clock: systemClock,
      sockets: nodeSocketFactory,
      logger: Logger.root('info', new MemorySink()),
      runner: new SpawnRunner({ netns: lab.routerNs }),
      tuning: { watchdogMs: 200, ...(p ? { iptables: p } : {}) },
    },
  );
}

/** The flavours to run, each with why it is skipped (or false). */
export function flavours(): { flavour: Flavour; skip: string | false }[] {
  const ns = canUseNamespaces();
  return (['nftables', 'iptables', 'iptables-legacy'] as const).map((flavour) => {
    const cmd = flavour === 'nftables' ? 'nft' : (programs(flavour)?.restore ?? '');
    return { flavour, skip: ns ?? (haveProgram(cmd) ? false : `${cmd} not installed`) };
  });
}
