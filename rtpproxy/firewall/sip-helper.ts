/**
 * Finding the kernel SIP helper (nf_conntrack_sip, and nf_nat_sip which rewrites SIP and SDP when a
 * flow is NAT'ed): is it loaded, and does anything attach it to flows?
 *
 * A loaded helper does nothing by itself since Linux 6.0 (automatic assignment by port is gone); it
 * acts on the flows a firewall rule attaches it to:
 *   fw4 (nftables)  `ct helper sip { type "sip" protocol udp; }` objects in table inet fw4 and
 *                   `udp dport 5060 ct helper set "sip"` in chain helper_<zone>, jumped to from
 *                   chain `prerouting` (type filter, priority filter) for zones with helpers (the LAN
 *                   with auto_helper, the default) - only when the module is loaded at fw4 start;
 *   fw3 (iptables)  `-j CT --helper sip` in the raw table (chain zone_<name>_helper from PREROUTING);
 *   old kernels     the sysctl net.netfilter.nf_conntrack_helper = 1 assigns it by port to every new
 *                   flow (removed in 6.0; OpenWrt images before fw3 helpers set it).
 *
 * Everything here reads: the files (paths injectable) and the rules (through the command runner, so a
 * test namespace sees its own ruleset). The parsers are pure and exported for tests.
 */
import { readFile, stat } from 'node:fs/promises';
import { errorText } from '../../common/errors.ts';
import { type CommandRunner, runChecked } from '../command-runner.ts';

export const HELPER_MODULES = ['nf_conntrack_sip', 'nf_nat_sip'] as const;

export interface SipHelperPaths {
  /** Loaded modules (default /proc/modules; absent on kernels without module support). */
  readonly procModules: string;
  /** Built-in modules with parameters show up here too (default /sys/module). */
  readonly sysModule: string;
  /** The old auto-assignment sysctl (default /proc/sys/net/netfilter/nf_conntrack_helper). */
  readonly autoAssign: string;
}

export const DEFAULT_HELPER_PATHS: SipHelperPaths = {
  procModules: '/proc/modules',
  sysModule: '/sys/module',
  autoAssign: '/proc/sys/net/netfilter/nf_conntrack_helper',
};

/** One place a rule attaches the sip helper. */
export interface HelperAttachment {
  /** `inet fw4 helper_lan` or `raw zone_lan_helper`. */
  readonly where: string;
  /** Reached only through the chain sipmasq's helper hook sits in front of (so it can be kept off). */
  readonly covered: boolean;
}

export interface SipHelperFinding {
  /** Modules found loaded (or built in). */
  readonly modules: readonly string[];
  readonly autoAssign: boolean;
  readonly attachments: readonly HelperAttachment[];
  /** The chain sipmasq hooks its helper chain into exists (nft: fw4's prerouting; iptables: always). */
  readonly hookable: boolean;
  /** Why the rules could not be read (then attachments is empty). */
  readonly problem: string | null;
}

/** Names of the helper modules listed in /proc/modules text. */
export function modulesIn(procModules: string): string[] {
  const names = new Set(procModules.split('\n').map((l) => l.split(' ')[0] ?? ''));
  return HELPER_MODULES.filter((m) => names.has(m));
}

interface NftRuleRef {
  readonly family: string;
  readonly table: string;
  readonly chain: string;
  readonly helper: string | null;
  readonly jumps: readonly string[];
}

/**
 * `nft -j list ruleset` -> where the sip helper is attached. A `ct helper set` statement is
 * `{"ct helper": "<object name>"}` in a rule's expr; the object (`{"ct helper": {family, table, name,
 * type}}`) says whether it is a sip helper. A statement whose value is not a plain name (a map) counts
 * when its table defines a sip helper at all. Coverage: chains reachable by jump/goto from `parent`.
 */
export function nftAttachments(
  json: string,
  parent: { family: string; table: string; chain: string },
): { attachments: HelperAttachment[]; parentExists: boolean } {
  const items = (JSON.parse(json) as { nftables?: unknown }).nftables;
  if (!Array.isArray(items)) throw new Error('nft -j output has no nftables array');
  const sipObjects = new Set<string>();
  const sipTables = new Set<string>();
  const rules: NftRuleRef[] = [];
  let parentExists = false;
  for (const item of items as Record<string, unknown>[]) {
    const obj = item['ct helper'] as Record<string, unknown> | undefined;
    if (obj && obj['type'] === 'sip') {
      sipObjects.add(`${obj['family']} ${obj['table']} ${obj['name']}`);
      sipTables.add(`${obj['family']} ${obj['table']}`);
    }
    const chain = item['chain'] as Record<string, unknown> | undefined;
    if (
      chain &&
      chain['family'] === parent.family &&
      chain['table'] === parent.table &&
      chain['name'] === parent.chain
    )
      parentExists = true;
    const rule = item['rule'] as Record<string, unknown> | undefined;
    if (!rule || typeof rule['chain'] !== 'string') continue;
    let helper: string | null = null;
    const jumps: string[] = [];
    for (const e of Array.isArray(rule['expr']) ? (rule['expr'] as Record<string, unknown>[]) : []) {
      if ('ct helper' in e) helper = typeof e['ct helper'] === 'string' ? e['ct helper'] : '*';
      const j = (e['jump'] ?? e['goto']) as { target?: unknown } | undefined;
      if (j && typeof j.target === 'string') jumps.push(j.target);
    }
    rules.push({
      family: String(rule['family']),
      table: String(rule['table']),
      chain: rule['chain'],
      helper,
      jumps,
    });
  }
  const reach = new Set<string>([parent.chain]);
  const inParent = (r: NftRuleRef) => r.family === parent.family && r.table === parent.table;
  for (let grew = true; grew; ) {
    grew = false;
    for (const r of rules)
      if (inParent(r) && reach.has(r.chain))
        for (const j of r.jumps)
          if (!reach.has(j)) {
            reach.add(j);
            grew = true;
          }
  }
  const attachments: HelperAttachment[] = [];
  const seen = new Set<string>();
  for (const r of rules) {
    if (r.helper === null) continue;
    const t = `${r.family} ${r.table}`;
    const sip = r.helper === '*' ? sipTables.has(t) : sipObjects.has(`${t} ${r.helper}`);
    const where = `${t} ${r.chain}`;
    if (!sip || seen.has(where)) continue;
    seen.add(where);
    attachments.push({ where, covered: parentExists && inParent(r) && reach.has(r.chain) });
  }
  return { attachments, parentExists };
}

/**
 * `iptables-save -t raw` -> where `-j CT --helper sip` is. Coverage: chains reachable from PREROUTING,
 * where sipmasq's chain is jumped to first (raw OUTPUT, for the router's own flows, is not covered).
 */
export function iptAttachments(saveText: string): HelperAttachment[] {
  const jumps: { chain: string; target: string }[] = [];
  const found: string[] = [];
  let raw = false;
  for (const rawLine of saveText.split('\n')) {
    const line = rawLine.trim();
    if (line.startsWith('*')) raw = line === '*raw';
    const m = /^(?:\[\d+:\d+\]\s+)?-A\s+(\S+)\s+(.*)$/.exec(line);
    if (!raw || !m) continue;
    const chain = m[1] ?? '';
    const spec = (m[2] ?? '').replace(/--comment\s+(?:"[^"]*"|\S+)/, '');
    const target = /(?:^|\s)-[jg]\s+(\S+)/.exec(spec)?.[1];
    if (target === 'CT' && /(?:^|\s)--helper\s+"?sip"?(?:\s|$)/.test(spec)) found.push(chain);
    else if (target) jumps.push({ chain, target });
  }
  const reach = new Set(['PREROUTING']);
  for (let grew = true; grew; ) {
    grew = false;
    for (const j of jumps)
      if (reach.has(j.chain) && !reach.has(j.target)) {
        reach.add(j.target);
        grew = true;
      }
  }
  return [...new Set(found)].map((chain) => ({ where: `raw ${chain}`, covered: reach.has(chain) }));
}

export interface DetectSipHelperOptions {
  readonly backend: 'nftables' | 'iptables' | 'none';
  readonly runner: CommandRunner;
  readonly paths?: Partial<SipHelperPaths>;
  /** nft program and the chain our helper hook goes into. */
  readonly nft?: { cmd: string; family: string; table: string; parent: string };
  /** iptables-save program. */
  readonly iptablesSave?: string;
}

export async function detectSipHelper(opts: DetectSipHelperOptions): Promise<SipHelperFinding> {
  const paths = { ...DEFAULT_HELPER_PATHS, ...opts.paths };
  const modules = new Set(modulesIn(await readOr(paths.procModules, '')));
  for (const m of HELPER_MODULES) if (await exists(`${paths.sysModule}/${m}`)) modules.add(m);
  const autoAssign = (await readOr(paths.autoAssign, '0')).trim() === '1';
  const base = { modules: HELPER_MODULES.filter((m) => modules.has(m)), autoAssign };
  try {
    if (opts.backend === 'nftables') {
      const nft = opts.nft ?? { cmd: 'nft', family: 'inet', table: 'fw4', parent: 'prerouting' };
      const json = await runChecked(opts.runner, nft.cmd, ['-j', 'list', 'ruleset']);
      const found = nftAttachments(json, { family: nft.family, table: nft.table, chain: nft.parent });
      return { ...base, attachments: found.attachments, hookable: found.parentExists, problem: null };
    }
    if (opts.backend === 'iptables') {
      const text = await runChecked(opts.runner, opts.iptablesSave ?? 'iptables-save', ['-t', 'raw']);
      return { ...base, attachments: iptAttachments(text), hookable: true, problem: null };
    }
    return { ...base, attachments: [], hookable: false, problem: 'no firewall backend to read rules with' };
  } catch (err) {
    return { ...base, attachments: [], hookable: false, problem: errorText(err) };
  }
}

async function readOr(path: string, fallback: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    // Absent on this kernel (no module support, sysctl removed in 6.0): the fallback says so.
    return fallback;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
