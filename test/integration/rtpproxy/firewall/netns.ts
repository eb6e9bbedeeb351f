/**
 * Private network namespaces for the firewall tests (names start with `smqfw-`; the e2e lab owns
 * `smqt-`). Every command has a timeout; `Namespaces.cleanup()` deletes what was made, also on failure.
 */
import { spawnSync } from 'node:child_process';

export function run(cmd: string, args: string[], stdin?: string): string {
  const r = spawnSync(cmd, args, { input: stdin ?? '', encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.error?.message}`);
  return r.stdout;
}

export function inNs(ns: string, cmd: string, args: string[], stdin?: string): string {
  return run('ip', ['netns', 'exec', ns, cmd, ...args], stdin);
}

export function canUseNamespaces(): string | null {
  if (process.getuid?.() !== 0) return 'needs root';
  const r = spawnSync('ip', ['netns', 'list'], { timeout: 5000 });
  return r.status === 0 ? null : 'ip netns unavailable';
}

export class Namespaces {
  private readonly made: string[] = [];
  readonly suffix = `${process.pid.toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;

  /** Create `smqfw-<role>-<suffix>` (≤ 15 chars of role recommended) with loopback up. */
  add(role: string): string {
    const name = `smqfw-${role}-${this.suffix}`;
    run('ip', ['netns', 'add', name]);
    this.made.push(name);
    inNs(name, 'ip', ['link', 'set', 'lo', 'up']);
    return name;
  }

  cleanup(): void {
    for (const ns of this.made.splice(0).reverse())
      spawnSync('ip', ['netns', 'del', ns], { timeout: 10_000 });
  }
}

/** The shape of fw4's table: the four chains we hook into, input and forward dropping by default. */
export const FW4_RULESET = `table inet fw4
delete table inet fw4
table inet fw4 {
  chain input {
    type filter hook input priority filter; policy drop;
    iifname "lo" accept comment "!fw4: Accept traffic from loopback"
    ct state established,related accept
  }
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
  }
  chain output { type filter hook output priority filter; policy accept; }
  chain dstnat { type nat hook prerouting priority dstnat; policy accept; }
  chain srcnat { type nat hook postrouting priority srcnat; policy accept; }
}
`;

/** A fw3-like iptables ruleset (restored without --noflush: a firewall reload wipes our chains). */
export const FW3_RULESET = `*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
COMMIT
`;

export async function waitFor(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
