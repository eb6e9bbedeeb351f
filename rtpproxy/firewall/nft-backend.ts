/**
 * fw4 (OpenWrt 22.03+) backend: our chains live inside fw4's own table (`inet fw4`), because an accept
 * in a table of our own would not override a drop in fw4's (every base chain of every table sees the
 * packet, and a drop anywhere is final). Each of our chains is jumped to from the top of fw4's chain of
 * the same role. Changes go through `nft -f -` (one transaction); the live state is read with
 * `nft -j list table` (libnftables JSON, see libnftables-json(5)).
 *
 * Per-stream state lives in sets and maps (nft-sets.ts), so a change of calls is a few `add element` /
 * `delete element` lines, not a rewrite of the chains, and the watchdog's look (`nft -t`: terse, set
 * contents left out) costs the same whatever the number of calls. Counters (which need the contents)
 * are read only when the Firewall asks for them.
 *
 * The optional helper chain (sipHelper disable) hangs off fw4's `prerouting` chain; it exists only while
 * rules of its role are wanted, and one left by an earlier run that is no longer wanted is removed.
 */
import { SipmasqError } from '../../common/errors.ts';
import { type CommandRunner, runChecked, type WatchHandle } from '../command-runner.ts';
import type { FirewallBackend, InspectDetail } from './firewall-backend.ts';
import {
  ALL_ROLES,
  CHAIN_ROLES,
  type ChainNames,
  type ChainRole,
  checkChainNames,
  checkName,
  DEFAULT_CHAINS,
  type FwRule,
  type Inspection,
  type RuleCounter,
  rolesOf,
} from './fw-rule.ts';
import { type NftNames, nftApplyScript, nftDeltaScript, nftRemoveScript } from './nft-render.ts';
import { SET_SPECS, setNames, splitRules } from './nft-sets.ts';
import { markerComment } from './rule-comment.ts';

export interface NftBackendOptions {
  runner: CommandRunner;
  /** Default `nft`. */
  nft?: string;
  /** Default `inet`. */
  family?: string;
  /** Default `fw4`. */
  table?: string;
  chains?: ChainNames;
  /** fw4's chains to hook into; default input, forward, dstnat, srcnat, prerouting (helper). */
  parents?: ChainNames;
}

/** One rule of the listing, as much of it as we need. */
interface ListedRule {
  chain: string;
  handle: number;
  comment: string | null;
  jump: string | null;
  counter: RuleCounter | null;
  /** The rule offloads flows (`flow add @ft`, fw4 with flow offloading on). */
  offload: boolean;
}

/** One element of one of our sets, as much of it as we need. */
interface ListedElement {
  set: string;
  comment: string | null;
  counter: RuleCounter | null;
}

interface Listing {
  chains: Set<string>;
  sets: Set<string>;
  rules: ListedRule[];
  elements: ListedElement[];
}

const LISTED_CHAIN = /^[A-Za-z0-9_.-]{1,64}$/;

export class NftBackend implements FirewallBackend {
  readonly name = 'nftables' as const;
  readonly names: NftNames;
  private readonly nft: string;
  /** Hooks seen missing at the last look (all of them until we looked). */
  private missingHooks = new Set<ChainRole>(CHAIN_ROLES);
  private looked = false;
  /** Roles of the last apply (their hooks and markers are what inspect() checks). */
  private roles = new Set<ChainRole>(CHAIN_ROLES);
  /** Chains of ours seen at the last look (to drop an optional one no longer wanted). */
  private seenChains = new Set<string>();
  /** Every set of ours was there at the last look (else an apply declares them again, in full). */
  private setsSeen = false;
  /** Jumps to our chains found behind a `flow offload` rule: the next full apply moves them up. */
  private misplaced: { chain: string; handle: number }[] = [];

  constructor(private readonly opts: NftBackendOptions) {
    this.nft = opts.nft ?? 'nft';
    const chains = checkChainNames(opts.chains ?? DEFAULT_CHAINS);
    this.names = {
      family: checkName(opts.family ?? 'inet'),
      table: checkName(opts.table ?? 'fw4'),
      chains,
      parents: checkChainNames(
        opts.parents ?? { input: 'input', forward: 'forward', dstnat: 'dstnat', srcnat: 'srcnat' },
        'prerouting',
      ),
      sets: setNames(chains),
    };
  }

  async apply(
    rules: readonly FwRule[],
    counters: ReadonlyMap<string, RuleCounter>,
    applied: readonly FwRule[] | null = null,
  ): Promise<void> {
    const roles = rolesOf(rules);
    // A role coming into use: look first, its hook may be there already (left by an earlier run).
    if (!this.looked || [...roles].some((r) => !this.roles.has(r))) await this.inspect();
    const unwanted = ALL_ROLES.filter((r) => !roles.has(r) && this.seenChains.has(this.names.chains[r]));
    if (unwanted.length > 0) await this.removeChains(unwanted);
    const missing = new Set([...this.missingHooks].filter((r) => roles.has(r)));
    const delta = missing.size === 0 && this.setsSeen ? this.deltaScript(rules, applied, counters) : null;
    let done = false;
    if (delta !== null) {
      // Only elements changed: add and delete those. Should the sets have changed under us (a reload
      // between two looks), the full apply below puts everything right.
      const res = delta === '' ? { code: 0 } : await this.opts.runner.run(this.nft, ['-f', '-'], delta);
      done = res.code === 0;
    }
    if (!done) {
      const script = nftApplyScript(this.names, rules, counters, missing, roles, this.misplaced);
      await runChecked(this.opts.runner, this.nft, ['-f', '-'], script);
      this.misplaced = [];
    }
    this.roles = roles;
    this.setsSeen = true;
    for (const r of roles) this.seenChains.add(this.names.chains[r]);
    this.missingHooks.clear();
  }

  /** The element-only change from `applied` to `rules`, or null when the chains' rules change too. */
  private deltaScript(
    rules: readonly FwRule[],
    applied: readonly FwRule[] | null,
    counters: ReadonlyMap<string, RuleCounter>,
  ): string | null {
    if (applied === null || !sameRoles(rolesOf(applied), rolesOf(rules))) return null;
    const before = splitRules(applied);
    const after = splitRules(rules);
    if (JSON.stringify(before.rules) !== JSON.stringify(after.rules)) return null;
    return nftDeltaScript(this.names, before.elements, after.elements, counters);
  }

  async inspect(detail: InspectDetail = 'all'): Promise<Inspection> {
    // `-t` leaves the set contents out of the output (nft 1.0 still fetches them from the kernel).
    const listing = await this.list(detail === 'hooks');
    this.looked = true;
    const ours = this.names.chains;
    const details: string[] = [];
    if (listing === null) {
      this.missingHooks = new Set(ALL_ROLES);
      this.seenChains = new Set();
      this.setsSeen = false;
      return {
        hooked: false,
        marked: false,
        rules: new Map(),
        details: [`table ${this.names.table} is missing`],
      };
    }
    const missing = new Set<ChainRole>();
    const misplaced: { chain: string; handle: number }[] = [];
    let marked = true;
    this.seenChains = new Set(ALL_ROLES.map((r) => ours[r]).filter((c) => listing.chains.has(c)));
    for (const role of ALL_ROLES) {
      const parent = listing.rules.filter((r) => r.chain === this.names.parents[role]);
      const at = parent.findIndex((r) => r.jump === ours[role]);
      // fw4 puts `flow offload` ahead of the chain-prepend includes (where the package's jump is): a
      // jump behind it would let media flows be offloaded, and their counters (activity) would stop.
      const behind = at > 0 && parent.slice(0, at).some((r) => r.offload);
      if (behind)
        for (const r of parent)
          if (r.jump === ours[role]) misplaced.push({ chain: r.chain, handle: r.handle });
      const hooked = at >= 0 && !behind;
      if (!this.roles.has(role)) {
        if (!hooked) missing.add(role);
        continue;
      }
      if (!listing.chains.has(ours[role]) || !hooked) {
        missing.add(role);
        details.push(
          `hook ${this.names.parents[role]} -> ${ours[role]} ${behind ? 'behind flow offload' : 'missing'}`,
        );
      }
      const marker = markerComment(role);
      if (!listing.rules.some((r) => r.chain === ours[role] && r.comment === marker)) {
        marked = false;
        details.push(`marker of ${ours[role]} missing`);
      }
    }
    const sets = Object.values(this.names.sets);
    this.setsSeen = sets.every((n) => listing.sets.has(n));
    for (const n of sets)
      if (!listing.sets.has(n)) {
        marked = false;
        details.push(`set ${n} missing`);
      }
    this.missingHooks = missing;
    this.misplaced = misplaced;
    const rules = new Map<string, RuleCounter>();
    const mine = new Set(Object.values(ours));
    for (const r of listing.rules)
      if (mine.has(r.chain) && r.comment !== null)
        rules.set(r.comment, r.counter ?? { packets: 0, bytes: 0 });
    const ourSets = new Set(sets);
    for (const e of listing.elements) {
      if (!ourSets.has(e.set) || e.comment === null) continue;
      const had = rules.get(e.comment) ?? { packets: 0, bytes: 0 };
      const c = e.counter ?? { packets: 0, bytes: 0 };
      rules.set(e.comment, { packets: had.packets + c.packets, bytes: had.bytes + c.bytes });
    }
    const hooked = [...missing].every((r) => !this.roles.has(r));
    return { hooked, marked, rules, details };
  }

  async remove(): Promise<void> {
    await this.removeChains(ALL_ROLES);
    this.missingHooks = new Set(ALL_ROLES);
    this.roles = new Set(CHAIN_ROLES);
  }

  /**
   * Delete the jumps to our chains of these roles and the chains themselves (those that exist); with
   * the permanent roles, our sets go too.
   */
  private async removeChains(roles: readonly ChainRole[]): Promise<void> {
    const listing = await this.list(true);
    if (listing === null) return;
    const mine = new Set(roles.map((r) => this.names.chains[r]));
    const jumps = listing.rules
      .filter((r) => r.jump !== null && mine.has(r.jump) && !mine.has(r.chain))
      .map((r) => ({ chain: r.chain, handle: r.handle }));
    const existing = [...mine].filter((c) => listing.chains.has(c));
    const sets = SET_SPECS.filter((spec) => roles.includes(spec.chain))
      .map((spec) => ({ name: this.names.sets[spec.role], map: spec.map !== null }))
      .filter((set) => listing.sets.has(set.name));
    const script = nftRemoveScript(this.names, jumps, existing, sets);
    if (script !== '') await runChecked(this.opts.runner, this.nft, ['-f', '-'], script);
    for (const c of mine) this.seenChains.delete(c);
    if (sets.length > 0) this.setsSeen = false;
  }

  /**
   * `nft -j monitor rules`: one JSON line per rule added or deleted anywhere. A firewall reload deletes
   * rules (fw4's `flush table`, a `delete table`, `flush ruleset`); element changes, ours included,
   * print nothing. Every deletion in our table is a change worth a look.
   */
  watch(onChange: () => void, onLost: (why: string) => void): WatchHandle | null {
    const watch = this.opts.runner.watch?.bind(this.opts.runner);
    if (watch === undefined) return null;
    return watch(
      this.nft,
      ['-j', 'monitor', 'rules'],
      (line) => {
        if (isOurDeletion(line, this.names.family, this.names.table)) onChange();
      },
      onLost,
    );
  }

  /** The table as JSON (`terse`: without set contents); null when it does not exist. */
  private async list(terse: boolean): Promise<Listing | null> {
    const res = await this.opts.runner.run(this.nft, [
      '-j',
      ...(terse ? ['-t'] : []),
      'list',
      'table',
      this.names.family,
      this.names.table,
    ]);
    if (res.code !== 0) {
      if (/No such file or directory|does not exist/i.test(res.stderr)) return null;
      throw new SipmasqError(
        'SMQ_ERR_FIREWALL',
        `nft list table failed (${res.code}): ${res.stderr.trim()}`,
        {
          code: res.code,
        },
      );
    }
    return parseListing(res.stdout);
  }
}

/** libnftables JSON -> chains and rules; anything unexpected is an SMQ_ERR_FIREWALL, never a guess. */
export function parseListing(json: string): Listing {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch (err) {
    throw new SipmasqError('SMQ_ERR_FIREWALL', 'nft -j output is not JSON', {}, { cause: err });
  }
  const items = (doc as { nftables?: unknown }).nftables;
  if (!Array.isArray(items))
    throw new SipmasqError('SMQ_ERR_FIREWALL', 'nft -j output has no nftables array');
  const out: Listing = { chains: new Set(), sets: new Set(), rules: [], elements: [] };
  for (const item of items as Record<string, unknown>[]) {
    const chain = item['chain'] as { name?: unknown } | undefined;
    if (chain && typeof chain.name === 'string') out.chains.add(chain.name);
    const set = (item['set'] ?? item['map']) as { name?: unknown; elem?: unknown } | undefined;
    if (set && typeof set.name === 'string') {
      out.sets.add(set.name);
      if (Array.isArray(set.elem)) for (const e of set.elem) out.elements.push(listedElement(set.name, e));
    }
    const rule = item['rule'] as
      | { chain?: unknown; handle?: unknown; comment?: unknown; expr?: unknown }
      | undefined;
    if (!rule || typeof rule.chain !== 'string' || typeof rule.handle !== 'number') continue;
    if (!LISTED_CHAIN.test(rule.chain)) continue;
    let jump: string | null = null;
    let counter: RuleCounter | null = null;
    let offload = false;
    for (const e of Array.isArray(rule.expr) ? (rule.expr as Record<string, unknown>[]) : []) {
      if (e['flow'] !== undefined) offload = true;
      const j = (e['jump'] ?? e['goto']) as { target?: unknown } | undefined;
      if (j && typeof j.target === 'string') jump = j.target;
      const c = e['counter'] as { packets?: unknown; bytes?: unknown } | undefined;
      if (c && typeof c.packets === 'number' && typeof c.bytes === 'number')
        counter = { packets: c.packets, bytes: c.bytes };
    }
    out.rules.push({
      chain: rule.chain,
      handle: rule.handle,
      comment: typeof rule.comment === 'string' ? rule.comment : null,
      jump,
      offload,
      counter,
    });
  }
  return out;
}

/**
 * One element of a set listing: `{"elem": {"val": ..., "comment": ..., "counter": {...}}}`, or for a map
 * `[{"elem": ...}, <data>]`; a bare value (no comment, no counter) is not one of ours.
 */
function listedElement(set: string, raw: unknown): ListedElement {
  const first = Array.isArray(raw) ? raw[0] : raw;
  const elem = (first as { elem?: unknown } | null)?.elem as
    | { comment?: unknown; counter?: { packets?: unknown; bytes?: unknown } }
    | undefined;
  const c = elem?.counter;
  return {
    set,
    comment: typeof elem?.comment === 'string' ? elem.comment : null,
    counter:
      c && typeof c.packets === 'number' && typeof c.bytes === 'number'
        ? { packets: c.packets, bytes: c.bytes }
        : null,
  };
}

function sameRoles(a: ReadonlySet<ChainRole>, b: ReadonlySet<ChainRole>): boolean {
  return a.size === b.size && [...a].every((r) => b.has(r));
}

/** A monitor line telling that a rule of our table was deleted (anything unreadable is not). */
export function isOurDeletion(line: string, family: string, table: string): boolean {
  if (!line.startsWith('{')) return false;
  try {
    const ev = JSON.parse(line) as { delete?: { rule?: { family?: unknown; table?: unknown } } };
    const r = ev.delete?.rule;
    return r !== undefined && r.family === family && r.table === table;
  } catch {
    return false;
  }
}
