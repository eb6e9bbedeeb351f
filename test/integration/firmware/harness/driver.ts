/**
 * Test driver for the OpenWrt shell scripts: builds a scratch root ($IPKG_INSTROOT) with the harness's
 * stand-ins for /lib/functions.sh, network.sh, procd.sh, logger, ubus and validate_data, runs the
 * package's init or hotplug script in it under a given shell, and returns what they were called with.
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const HARNESS_DIR = dirname(fileURLToPath(import.meta.url));
export const REPO = join(HARNESS_DIR, '..', '..', '..', '..');
export const FILES = join(REPO, 'firmware', 'sipmasq', 'files');
export const INIT_SCRIPT = join(FILES, 'sipmasq.init');
export const HOTPLUG_SCRIPT = join(FILES, 'sipmasq.hotplug');
export const SHIPPED_UCI = readFileSync(join(FILES, 'sipmasq.config'), 'utf8');

/** netifd's view of the networks: a network that is absent is down. */
export type NetState = Record<string, { device: string; ipaddr?: string; subnet?: string }>;

export interface Shell {
  readonly name: string;
  readonly argv: readonly string[];
}

function onPath(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** The shells to run the scripts under: dash (Debian's sh) and busybox ash (OpenWrt's) when installed. */
export function shells(): Shell[] {
  const out: Shell[] = [];
  if (onPath('dash')) out.push({ name: 'dash', argv: ['dash'] });
  else out.push({ name: 'sh', argv: ['sh'] });
  if (onPath('busybox') && spawnSync('busybox', ['sh', '-c', 'exit 0']).status === 0)
    out.push({ name: 'busybox ash', argv: ['busybox', 'sh'] });
  return out;
}

export interface Root {
  readonly dir: string;
  readonly log: string;
  setUci(text: string): void;
  setNet(net: NetState): void;
}

export interface RootOptions {
  uci?: string;
  net?: NetState;
  /** Put a recording stub at /etc/init.d/sipmasq (for the hotplug script); enabled() answers this. */
  initStubEnabled?: boolean;
}

export const STOCK_NET: NetState = {
  lan: { device: 'br-lan', ipaddr: '192.168.1.1', subnet: '192.168.1.1/24' },
  wan: { device: 'eth1', ipaddr: '203.0.113.7', subnet: '203.0.113.7/24' },
};

/** Every root made in this process is removed when it exits (tests clean up what they made). */
const roots: string[] = [];
process.on('exit', () => {
  for (const d of roots) rmSync(d, { recursive: true, force: true });
});

export function makeRoot(opts: RootOptions = {}): Root {
  const dir = mkdtempSync(join(tmpdir(), 'sipmasq-fw-'));
  roots.push(dir);
  for (const d of ['etc/config', 'lib/functions', 'var', 'etc/init.d'])
    mkdirSync(join(dir, d), { recursive: true });
  copyFileSync(join(HARNESS_DIR, 'functions.sh'), join(dir, 'lib/functions.sh'));
  copyFileSync(join(HARNESS_DIR, 'network.sh'), join(dir, 'lib/functions/network.sh'));
  if (opts.initStubEnabled !== undefined) {
    const stub = join(dir, 'etc/init.d/sipmasq');
    writeFileSync(
      stub,
      `#!/bin/sh\n{ printf 'init.d/sipmasq'; for a in "$@"; do printf '\\037%s' "$a"; done; printf '\\n'; } >>"$HARNESS_LOG"\n` +
        `[ "$1" = enabled ] && exit ${opts.initStubEnabled ? 0 : 1}\nexit 0\n`,
    );
    chmodSync(stub, 0o755);
  }
  const root: Root = {
    dir,
    log: join(dir, 'harness.log'),
    setUci: (text) => writeFileSync(join(dir, 'etc/config/sipmasq'), text),
    setNet: (net) =>
      writeFileSync(
        join(dir, 'net.state'),
        Object.entries(net)
          .map(([name, n]) => `${name} ${n.device || '-'} ${n.ipaddr ?? '-'} ${n.subnet ?? '-'}\n`)
          .join(''),
      ),
  };
  root.setUci(opts.uci ?? SHIPPED_UCI);
  root.setNet(opts.net ?? STOCK_NET);
  writeFileSync(root.log, '');
  return root;
}

export interface RunResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Every recorded call since the last run: [function, ...args]. */
  readonly calls: string[][];
  /** The generated /var/etc/sipmasq/sipmasq.json, parsed, or null when absent. */
  readonly config: Record<string, unknown> | null;
  readonly configText: string | null;
}

function env(root: Root, extra: Record<string, string>): NodeJS.ProcessEnv {
  return {
    PATH: `${join(HARNESS_DIR, 'bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    IPKG_INSTROOT: root.dir,
    HARNESS_DIR,
    HARNESS_LOG: root.log,
    HARNESS_NET: join(root.dir, 'net.state'),
    UCI_CONFIG_DIR: join(root.dir, 'etc/config'),
    ...extra,
  };
}

function collect(root: Root, res: ReturnType<typeof spawnSync>): RunResult {
  const calls = readFileSync(root.log, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('\x1f'));
  writeFileSync(root.log, '');
  const file = join(root.dir, 'var/etc/sipmasq/sipmasq.json');
  const configText = existsSync(file) ? readFileSync(file, 'utf8') : null;
  return {
    status: res.status,
    stdout: String(res.stdout),
    stderr: String(res.stderr),
    calls,
    config: configText === null ? null : (JSON.parse(configText) as Record<string, unknown>),
    configText,
  };
}

/** `/etc/init.d/sipmasq <action>` through the harness's rc.common (the script is installed in the root first). */
export function runInit(root: Root, action: string, shell: Shell): RunResult {
  const [cmd = 'sh', ...args] = shell.argv;
  const installed = join(root.dir, 'etc/init.d/sipmasq');
  copyFileSync(INIT_SCRIPT, installed);
  const res = spawnSync(cmd, [...args, join(HARNESS_DIR, 'rc.common'), installed, action], {
    env: env(root, {}),
    encoding: 'utf8',
    timeout: 20_000,
  });
  return collect(root, res);
}

/** hotplug-call's way of running /etc/hotplug.d/iface/40-sipmasq: sourced, with the event in the environment. */
export function runHotplug(
  root: Root,
  event: { ACTION: string; INTERFACE: string; DEVICE?: string },
  shell: Shell,
): RunResult {
  const [cmd = 'sh', ...args] = shell.argv;
  const res = spawnSync(cmd, [...args, '-c', `. "${HOTPLUG_SCRIPT}"`], {
    env: env(root, { ...event, DEVICE: event.DEVICE ?? '' }),
    encoding: 'utf8',
    timeout: 20_000,
  });
  return collect(root, res);
}

export const callsTo = (r: RunResult, fn: string): string[][] =>
  r.calls.filter((c) => c[0] === fn).map((c) => c.slice(1));

export const FIREWALL_SCRIPT = join(FILES, 'firewall.sh');

/** fw3's parent chains (nat exists for iptables only here, as on builds without ip6tables nat). */
const FW3_PARENTS = 'filter:INPUT filter:FORWARD nat:PREROUTING nat:POSTROUTING';

/**
 * /usr/share/sipmasq/firewall.sh: with no action it is sourced the way fw3/fw4 run includes
 * (`sh -c '. path'`), else executed with the action. `fw4: true` puts an executable /sbin/fw4 in the root.
 */
export function runFirewall(
  root: Root,
  action: string | null,
  shell: Shell,
  opts: { fw4?: boolean } = {},
): RunResult {
  if (opts.fw4) {
    mkdirSync(join(root.dir, 'sbin'), { recursive: true });
    writeFileSync(join(root.dir, 'sbin/fw4'), '#!/bin/sh\n');
    chmodSync(join(root.dir, 'sbin/fw4'), 0o755);
  }
  const [cmd = 'sh', ...args] = shell.argv;
  const argv = action === null ? ['-c', `. "${FIREWALL_SCRIPT}"`] : [FIREWALL_SCRIPT, action];
  const res = spawnSync(cmd, [...args, ...argv], {
    env: env(root, { HARNESS_IPT: join(root.dir, 'ipt'), HARNESS_IPT_PARENTS: FW3_PARENTS }),
    encoding: 'utf8',
    timeout: 20_000,
  });
  return collect(root, res);
}

/** The fw3 stand-in's state for iptables or ip6tables: sorted lines. */
export function iptState(root: Root, tool: 'iptables' | 'ip6tables'): string[] {
  const f = join(root.dir, `ipt.${tool}`);
  return existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean).sort() : [];
}
