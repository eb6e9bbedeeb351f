/**
 * fw4 (OpenWrt 22.03+) backend: our chains live inside fw4's own table (`inet fw4`), because an accept
 * in a table of our own would not override a drop in fw4's (every base chain of every table sees the
 * packet, and a drop anywhere is final). Each of our chains is jumped to from the top of fw4's chain of
 * the same role. Changes go through `nft -f -` (one transaction); the live state is read with
 * `nft -j list table` (libnftables JSON, see libnftables-json(5)).
 *
 * The optional helper chain (sipHelper disable) hangs off fw4's `prerouting` chain; it exists only while
 * rules of its role are wanted, and one left by an earlier run that is no longer wanted is removed.
 */
import { SipmasqError } from '../../common/errors.ts';
import { type CommandRunner, runChecked } from '../command-runner.ts';
import type { FirewallBackend } from './firewall-backend.ts';
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
import { type NftNames, nftApplyScript, nftRemoveScript } from './nft-render.ts';
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
}

interface Listing {
  chains: Set<string>;
  rules: ListedRule[];
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

  constructor(private readonly opts: NftBackendOptions) {
    this.nft = opts.nft ?? 'nft';
    this.names = {
      family: checkName(opts.family ?? 'inet'),
      table: checkName(opts.table ?? 'fw4'),
      chains: checkChainNames(opts.chains ?? DEFAULT_CHAINS),
      parents: checkChainNames(
        opts.parents ?? { input: 'input', forward: 'forward', dstnat: 'dstnat', srcnat: 'srcnat' },
        'prerouting',
      ),
    };
  }

  async apply(rules: readonly FwRule[], counters: ReadonlyMap<string, RuleCounter>): Promise<void> {
    const roles = rolesOf(rules);
    // A role coming into use: look first, its hook may be there already (left by an earlier run).
    if (!this.looked || [...roles].some((r) => !this.roles.has(r))) await this.inspect();
    const unwanted = ALL_ROLES.filter((r) => !roles.has(r) && this.seenChains.has(this.names.chains[r]));
    if (unwanted.length > 0) await this.removeChains(unwanted);
    const missing = new Set([...this.missingHooks].filter((r) => roles.has(r)));
    const script = nftApplyScript(this.names, rules, counters, missing, roles);
    await runChecked(this.opts.runner, this.nft, ['-f', '-'], script);
    this.roles = roles;
    for (const r of roles) this.seenChains.add(this.names.chains[r]);
    this.missingHooks.clear();
  }

  async inspect(): Promise<Inspection> {
    const listing = await this.list();
    this.looked = true;
    const ours = this.names.chains;
    const details: string[] = [];
    if (listing === null) {
      this.missingHooks = new Set(ALL_ROLES);
      this.seenChains = new Set();
      return {
        hooked: false,
        marked: false,
        rules: new Map(),
        details: [`table ${this.names.table} is missing`],
      };
    }
    const missing = new Set<ChainRole>();
    let marked = true;
    this.seenChains = new Set(ALL_ROLES.map((r) => ours[r]).filter((c) => listing.chains.has(c)));
    for (const role of ALL_ROLES) {
      const hooked = listing.rules.some((r) => r.chain === this.names.parents[role] && r.jump === ours[role]);
      if (!this.roles.has(role)) {
        if (!hooked) missing.add(role);
        continue;
      }
      if (!listing.chains.has(ours[role]) || !hooked) {
        missing.add(role);
        details.push(`hook ${this.names.parents[role]} -> ${ours[role]} missing`);
      }
      const marker = markerComment(role);
      if (!listing.rules.some((r) => r.chain === ours[role] && r.comment === marker)) {
        marked = false;
        details.push(`marker of ${ours[role]} missing`);
      }
    }
    this.missingHooks = missing;
    const rules = new Map<string, RuleCounter>();
    const mine = new Set(Object.values(ours));
    for (const r of listing.rules)
      if (mine.has(r.chain) && r.comment !== null)
        rules.set(r.comment, r.counter ?? { packets: 0, bytes: 0 });
    const hooked = [...missing].every((r) => !this.roles.has(r));
    return { hooked, marked, rules, details };
  }

  async remove(): Promise<void> {
    await this.removeChains(ALL_ROLES);
    this.missingHooks = new Set(ALL_ROLES);
    this.roles = new Set(CHAIN_ROLES);
  }

  /** Delete the jumps to our chains of these roles and the chains themselves (those that exist). */
  private async removeChains(roles: readonly ChainRole[]): Promise<void> {
    const listing = await this.list();
    if (listing === null) return;
    const mine = new Set(roles.map((r) => this.names.chains[r]));
    const jumps = listing.rules
      .filter((r) => r.jump !== null && mine.has(r.jump) && !mine.has(r.chain))
      .map((r) => ({ chain: r.chain, handle: r.handle }));
    const existing = [...mine].filter((c) => listing.chains.has(c));
    const script = nftRemoveScript(this.names, jumps, existing);
    if (script !== '') await runChecked(this.opts.runner, this.nft, ['-f', '-'], script);
    for (const c of mine) this.seenChains.delete(c);
  }

  /** The table as JSON; null when it does not exist. */
  private async list(): Promise<Listing | null> {
    const res = await this.opts.runner.run(this.nft, [
      '-j',
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
  const out: Listing = { chains: new Set(), rules: [] };
  for (const item of items as Record<string, unknown>[]) {
    const chain = item['chain'] as { name?: unknown } | undefined;
    if (chain && typeof chain.name === 'string') out.chains.add(chain.name);
    const rule = item['rule'] as
      | { chain?: unknown; handle?: unknown; comment?: unknown; expr?: unknown }
      | undefined;
    if (!rule || typeof rule.chain !== 'string' || typeof rule.handle !== 'number') continue;
    if (!LISTED_CHAIN.test(rule.chain)) continue;
    let jump: string | null = null;
    let counter: RuleCounter | null = null;
    for (const e of Array.isArray(rule.expr) ? (rule.expr as Record<string, unknown>[]) : []) {
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
      counter,
    });
  }
  return out;
}
