/**
 * The benchmark's network: three namespaces joined by two veth pairs, TEST-NET addresses only.
 *
 *   smqb-phone   eth0 192.0.2.10/24, default via 192.0.2.1            (the LAN: phones)
 *   smqb-router  lan0 192.0.2.1/24, wan0 198.51.100.1/24, ip_forward  (the router under test)
 *   smqb-far     eth0 198.51.100.20/24, no default route              (the far side: a public peer)
 *
 * The far side has no route back to 192.0.2.0/24: a packet reaches the phone only through the
 * router's NAT (or its relay), never by plain routing. Nothing leaves these namespaces.
 *
 * Every process the benchmark starts in a namespace is its own child; removeLeftovers() only ends
 * processes still inside `smqb-` namespaces (left by an earlier, killed run of this benchmark).
 */

import { type RunResult, run } from '../../../test/e2e/lib/exec.ts';
import { nftRuleset } from '../../../test/e2e/lib/firewall.ts';

export const PREFIX = 'smqb-';
export const NS = { phone: `${PREFIX}phone`, router: `${PREFIX}router`, far: `${PREFIX}far` } as const;
export const LAN_DEV = 'lan0';
export const WAN_DEV = 'wan0';
export const HOST_DEV = 'eth0';
export const IP = {
  phone: '192.0.2.10',
  routerLan: '192.0.2.1',
  routerWan: '198.51.100.1',
  far: '198.51.100.20',
} as const;

/** Stream i: the phone's RTP port PHONE_BASE + 2i, the far side's FAR_BASE + 2i. */
export const PHONE_BASE = 10000;
export const FAR_BASE = 30000;

export function nsPath(ns: string): string {
  return `/var/run/netns/${ns}`;
}

export function inNs(ns: string, cmd: string, args: readonly string[], input?: string): Promise<RunResult> {
  return run('ip', ['netns', 'exec', ns, cmd, ...args], input === undefined ? {} : { input });
}

async function benchNamespaces(): Promise<string[]> {
  const r = await run('ip', ['netns', 'list'], { allowFail: true });
  return r.stdout
    .split('\n')
    .map((l) => l.split(/\s+/)[0] ?? '')
    .filter((n) => n.startsWith(PREFIX));
}

/** Remove smqb- namespaces (and the processes of an earlier run still inside them). */
export async function removeLeftovers(): Promise<void> {
  for (const ns of await benchNamespaces()) {
    const pids = await run('ip', ['netns', 'pids', ns], { allowFail: true });
    for (const pid of pids.stdout.split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await run('ip', ['netns', 'del', ns], { allowFail: true });
  }
}

/** Build the three namespaces and their links (after removing any leftovers). */
export async function buildTopology(): Promise<void> {
  await removeLeftovers();
  for (const ns of Object.values(NS)) {
    await run('ip', ['netns', 'add', ns]);
    await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    await inNs(ns, 'sysctl', [
      '-q',
      '-w',
      'net.ipv6.conf.all.disable_ipv6=1',
      'net.ipv6.conf.default.disable_ipv6=1',
    ]);
  }
  const link = async (a: string, aDev: string, b: string, bDev: string): Promise<void> => {
    await run('ip', ['link', 'add', aDev, 'netns', a, 'type', 'veth', 'peer', 'name', bDev, 'netns', b]);
    await run('ip', ['-n', a, 'link', 'set', aDev, 'up']);
    await run('ip', ['-n', b, 'link', 'set', bDev, 'up']);
  };
  await link(NS.phone, HOST_DEV, NS.router, LAN_DEV);
  await link(NS.far, HOST_DEV, NS.router, WAN_DEV);
  await run('ip', ['-n', NS.phone, 'addr', 'add', `${IP.phone}/24`, 'dev', HOST_DEV]);
  await run('ip', ['-n', NS.phone, 'route', 'add', 'default', 'via', IP.routerLan]);
  await run('ip', ['-n', NS.router, 'addr', 'add', `${IP.routerLan}/24`, 'dev', LAN_DEV]);
  await run('ip', ['-n', NS.router, 'addr', 'add', `${IP.routerWan}/24`, 'dev', WAN_DEV]);
  await run('ip', ['-n', NS.far, 'addr', 'add', `${IP.far}/24`, 'dev', HOST_DEV]);
  await inNs(NS.router, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
}

/**
 * The router's firewall: `fw4` is the OpenWrt-shaped `table inet fw4` of the e2e lab (stateful, drop
 * from the WAN, masquerade out of wan0); `open` is no ruleset at all (the relay's set-up: firewall
 * none, sockets reachable from both sides).
 */
export async function setFirewall(kind: 'fw4' | 'open'): Promise<void> {
  if (kind === 'open') await inNs(NS.router, 'nft', ['flush', 'ruleset']);
  else await inNs(NS.router, 'nft', ['-f', '-'], nftRuleset({ lan: LAN_DEV, wan: WAN_DEV }));
}

/** UDP counters of a namespace (/proc/net/snmp `Udp:` lines), e.g. RcvbufErrors: socket drops. */
export async function udpCounters(ns: string): Promise<Record<string, number>> {
  const r = await inNs(ns, 'cat', ['/proc/net/snmp']);
  const lines = r.stdout.split('\n').filter((l) => l.startsWith('Udp:'));
  const names = (lines[0] ?? '').split(/\s+/).slice(1);
  const values = (lines[1] ?? '').split(/\s+/).slice(1).map(Number);
  const out: Record<string, number> = {};
  names.forEach((n, i) => {
    out[n] = values[i] ?? 0;
  });
  return out;
}

export async function teardown(): Promise<void> {
  await removeLeftovers();
}
