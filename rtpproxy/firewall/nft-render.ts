/**
 * nftables text for our rules (pure). Syntax per nft(8): in an `inet` table NAT statements name the
 * family (`dnat ip to a:p`); `fib daddr type != local` is the "not addressed to this host" test; a
 * `counter packets N bytes M` statement starts a re-added rule at its previous counts;
 * `ct original proto-dst` is a flow's destination port before any NAT.
 *
 * The helper chain is jumped to from fw4's `prerouting` chain (type filter, priority filter): that chain
 * exists only to jump to fw4's `helper_<zone>` chains, whose `ct helper set "sip"` attaches the helper.
 * An `accept` there ends only that base chain, i.e. skips the helper assignment and nothing else; the
 * packet goes on through every other chain (see sip-helper.ts for why this and not notrack).
 *
 * Values are checked (fw-rule.ts checkRule) before they get here; names are checked at construction.
 */
import type { ChainRole, FwRule, RoleNames, RuleCounter } from './fw-rule.ts';
import { ALL_ROLES, CHAIN_ROLES, chainOf } from './fw-rule.ts';
import { elementText, SET_SPECS, type SetElement, type SetRole, splitRules } from './nft-sets.ts';

export interface NftNames {
  /** Table family and name: inet fw4 on OpenWrt 22.03+. */
  readonly family: string;
  readonly table: string;
  /** Our chains. */
  readonly chains: RoleNames;
  /** fw4's chains we hook into, by role. */
  readonly parents: RoleNames;
  /** Our sets and maps (per-stream state, see nft-sets.ts). */
  readonly sets: Readonly<Record<SetRole, string>>;
}

export const HOOK_COMMENT = 'smq:@hook';

function ipKw(addr: string): string {
  return addr.includes(':') ? 'ip6' : 'ip';
}

function ports(range: readonly [number, number]): string {
  return range[0] === range[1] ? String(range[0]) : `${range[0]}-${range[1]}`;
}

function counter(c: RuleCounter | undefined): string {
  return c ? `counter packets ${c.packets} bytes ${c.bytes}` : 'counter';
}

/** The match-and-verdict part of one rule (what follows `add rule <table> <chain>`). */
export function nftRuleBody(rule: FwRule, c?: RuleCounter): string {
  const cnt = counter(c);
  const comment = `comment "${rule.comment}"`;
  switch (rule.kind) {
    case 'marker':
      return `${cnt} ${comment}`;
    case 'accept-in': {
      const src = rule.saddr === null ? '' : ` ${ipKw(rule.saddr)} saddr ${rule.saddr}`;
      return `iifname "${rule.dev}" ${ipKw(rule.daddr)} daddr ${rule.daddr}${src} ${rule.proto} dport ${ports(rule.ports)} ${cnt} accept ${comment}`;
    }
    case 'dnat': {
      const src = rule.saddr === null ? '' : ` ip saddr ${rule.saddr}`;
      return `iifname "${rule.dev}" ip daddr ${rule.daddr}${src} udp dport ${rule.dport} ${cnt} dnat ip to ${rule.to}:${rule.toPort} ${comment}`;
    }
    case 'snat':
      return `oifname "${rule.dev}" ip saddr ${rule.saddr} udp sport ${rule.sport} ${cnt} snat ip to ${rule.to}:${rule.toPort} ${comment}`;
    case 'fwd-in': {
      const src = rule.saddr === null ? '' : ` ip saddr ${rule.saddr}`;
      return `iifname "${rule.inDev}" oifname "${rule.outDev}" ip daddr ${rule.daddr}${src} udp dport ${rule.dport} ct status dnat,snat ${cnt} accept ${comment}`;
    }
    case 'fwd-out':
      return `iifname "${rule.inDev}" oifname "${rule.outDev}" ip saddr ${rule.saddr} udp sport ${rule.sport} ${cnt} accept ${comment}`;
    case 'redirect':
      return `iifname "${rule.dev}" meta l4proto ${rule.proto} th dport ${rule.dport} fib daddr type != local ${cnt} redirect to :${rule.toPort} ${comment}`;
    case 'map-source':
      return `ip saddr ${rule.saddr} ${rule.proto} sport ${rule.sport} ip daddr ${rule.daddr} ${rule.proto} dport ${rule.dport} ${cnt} snat ip to ${rule.to}:${rule.toPort} ${comment}`;
    case 'no-helper':
      // Runs after dstnat: a redirected flow already has sipmasq's port as destination; its port
      // before the redirect is `ct original proto-dst`.
      if (rule.toPort === null)
        return `meta l4proto ${rule.proto} th dport ${rule.dport} fib daddr type local ${cnt} accept ${comment}`;
      return `iifname "${rule.dev}" meta l4proto ${rule.proto} th dport ${rule.toPort} ct original proto-dst ${rule.dport} fib daddr type local ${cnt} accept ${comment}`;
  }
}

/** A `nft -f` line adding these elements to set `name` (chunks keep each line a sane size). */
function addElements(t: string, name: string, els: readonly string[], out: string[]): void {
  for (let i = 0; i < els.length; i += ELEMENT_CHUNK)
    out.push(`add element ${t} ${name} { ${els.slice(i, i + ELEMENT_CHUNK).join(', ')} }`);
}

const ELEMENT_CHUNK = 200;

/** Elements by set, in nft syntax; the first element of each comment carries the rule's counts. */
function elementLines(
  t: string,
  names: NftNames,
  elements: Iterable<SetElement>,
  counters: ReadonlyMap<string, RuleCounter>,
  out: string[],
): void {
  const bySet = new Map<SetRole, string[]>();
  const counted = new Set<string>();
  for (const e of elements) {
    const c = counted.has(e.comment) ? undefined : counters.get(e.comment);
    counted.add(e.comment);
    const list = bySet.get(e.set) ?? [];
    list.push(elementText(e, c));
    bySet.set(e.set, list);
  }
  for (const spec of SET_SPECS) addElements(t, names.sets[spec.role], bySet.get(spec.role) ?? [], out);
}

/** The declaration of one of our sets or maps (`add` leaves an existing one as it is). */
function setDeclaration(t: string, names: NftNames, role: SetRole): string {
  const spec = SET_SPECS.find((s) => s.role === role)!;
  const kind = spec.map === null ? 'set' : 'map';
  const type = spec.map === null ? spec.type : `${spec.type} : ${spec.map}`;
  return `add ${kind} ${t} ${names.sets[role]} { type ${type}; counter; }`;
}

/**
 * One script that (1) creates our chains (of the roles in use) and sets if missing, (2) inserts the
 * hooks that are missing at the top of fw4's chains, (3) empties our chains and sets and (4) adds every
 * wanted rule and element. `nft -f` applies a script as one transaction: all of it or nothing.
 */
export function nftApplyScript(
  names: NftNames,
  rules: readonly FwRule[],
  counters: ReadonlyMap<string, RuleCounter>,
  missingHooks: ReadonlySet<ChainRole>,
  roles: ReadonlySet<ChainRole> = new Set(CHAIN_ROLES),
  /** Jumps of ours to delete (found behind fw4's `flow offload`; their replacement is inserted above). */
  misplaced: readonly { chain: string; handle: number }[] = [],
): string {
  const t = `${names.family} ${names.table}`;
  const lines: string[] = [];
  const inUse = ALL_ROLES.filter((r) => roles.has(r));
  const split = splitRules(rules);
  for (const j of misplaced) lines.push(`delete rule ${t} ${j.chain} handle ${j.handle}`);
  for (const role of inUse) lines.push(`add chain ${t} ${names.chains[role]}`);
  for (const spec of SET_SPECS) lines.push(setDeclaration(t, names, spec.role));
  for (const role of inUse)
    if (missingHooks.has(role))
      lines.push(
        `insert rule ${t} ${names.parents[role]} jump ${names.chains[role]} comment "${HOOK_COMMENT}"`,
      );
  for (const role of inUse) lines.push(`flush chain ${t} ${names.chains[role]}`);
  for (const spec of SET_SPECS)
    lines.push(`flush ${spec.map === null ? 'set' : 'map'} ${t} ${names.sets[spec.role]}`);
  const add = (rule: FwRule): void => {
    lines.push(
      `add rule ${t} ${names.chains[chainOf(rule)]} ${nftRuleBody(rule, counters.get(rule.comment))}`,
    );
  };
  // Markers first, then the set lookups, then the few rules that stay rules.
  for (const rule of split.rules) if (rule.kind === 'marker') add(rule);
  for (const spec of SET_SPECS)
    if (roles.has(spec.chain))
      lines.push(
        `add rule ${t} ${names.chains[spec.chain]} ${spec.rule.replace('@S', `@${names.sets[spec.role]}`)}`,
      );
  for (const rule of split.rules) if (rule.kind !== 'marker') add(rule);
  elementLines(t, names, split.elements.values(), counters, lines);
  return `${lines.join('\n')}\n`;
}

/**
 * The change from the applied elements to the wanted ones, as one script: deletions (by key) first,
 * then additions. Only for a change that touches nothing but elements; an empty string when nothing
 * changes.
 */
export function nftDeltaScript(
  names: NftNames,
  before: ReadonlyMap<string, SetElement>,
  after: ReadonlyMap<string, SetElement>,
  counters: ReadonlyMap<string, RuleCounter>,
): string {
  const t = `${names.family} ${names.table}`;
  const gone: SetElement[] = [];
  const added: SetElement[] = [];
  for (const [id, e] of before) {
    const n = after.get(id);
    if (n === undefined || n.comment !== e.comment || n.data !== e.data) gone.push(e);
  }
  for (const [id, e] of after) {
    const b = before.get(id);
    if (b === undefined || b.comment !== e.comment || b.data !== e.data) added.push(e);
  }
  const lines: string[] = [];
  for (const spec of SET_SPECS) {
    const keys = gone.filter((e) => e.set === spec.role).map((e) => e.key);
    for (let i = 0; i < keys.length; i += ELEMENT_CHUNK)
      lines.push(
        `delete element ${t} ${names.sets[spec.role]} { ${keys.slice(i, i + ELEMENT_CHUNK).join(', ')} }`,
      );
  }
  elementLines(t, names, added, counters, lines);
  return lines.length ? `${lines.join('\n')}\n` : '';
}

/**
 * Delete the given jump rules (by chain and handle), then empty and delete our chains that exist, then
 * our sets that exist (no rule refers to them any more).
 */
export function nftRemoveScript(
  names: NftNames,
  jumps: readonly { chain: string; handle: number }[],
  existing: readonly string[],
  existingSets: readonly { name: string; map: boolean }[] = [],
): string {
  const t = `${names.family} ${names.table}`;
  const lines: string[] = [];
  for (const j of jumps) lines.push(`delete rule ${t} ${j.chain} handle ${j.handle}`);
  for (const c of existing) lines.push(`flush chain ${t} ${c}`);
  for (const c of existing) lines.push(`delete chain ${t} ${c}`);
  for (const s of existingSets) lines.push(`delete ${s.map ? 'map' : 'set'} ${t} ${s.name}`);
  return lines.length ? `${lines.join('\n')}\n` : '';
}
