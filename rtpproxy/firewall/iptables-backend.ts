/**
 * fw3 (OpenWrt 21.02 and older) backend: our chains in the filter and nat tables, jumped to from
 * position 1 of INPUT, FORWARD, PREROUTING and POSTROUTING (`iptables -C` first, so a hook is never
 * inserted twice). Changes go through `iptables-restore --noflush --counters` (each table in one
 * COMMIT); the live state is read from `iptables-save --counters`.
 *
 * fw3's own include may have created chains of the same names and jumps from its *_rule chains; they
 * are used as they are, and every jump to our chains (from anywhere) is removed at a clean stop.
 *
 * The optional helper chain (raw table, from raw PREROUTING) exists only while rules of its role are
 * wanted; one left by an earlier run that is no longer wanted is removed at the first apply.
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
  DEFAULT_CHAINS,
  type FwRule,
  type Inspection,
  type RoleNames,
  type RuleCounter,
  rolesOf,
} from './fw-rule.ts';
import { IPT_PLACES, IPT_TABLES, type IptTable, iptApplyInput, iptRemoveInput } from './iptables-render.ts';
import { markerComment } from './rule-comment.ts';

export interface IptablesBackendOptions {
  runner: CommandRunner;
  /** Default `iptables`, `iptables-save`, `iptables-restore`. */
  iptables?: string;
  save?: string;
  restore?: string;
  chains?: ChainNames;
}

interface SavedRule {
  table: IptTable;
  chain: string;
  /** Everything after `-A `: chain name and rule spec, as iptables-save printed it. */
  spec: string;
  target: string | null;
  comment: string | null;
  counter: RuleCounter;
}

interface Saved {
  chains: Map<IptTable, Set<string>>;
  rules: SavedRule[];
}

export class IptablesBackend implements FirewallBackend {
  readonly name = 'iptables' as const;
  readonly chains: RoleNames;
  private readonly cmd: { iptables: string; save: string; restore: string };
  private missingHooks = new Set<ChainRole>(ALL_ROLES);
  /** Roles of the last apply; null before the first (then unwanted optional chains are looked for). */
  private roles: Set<ChainRole> | null = null;

  constructor(private readonly opts: IptablesBackendOptions) {
    this.chains = checkChainNames(opts.chains ?? DEFAULT_CHAINS);
    this.cmd = {
      iptables: opts.iptables ?? 'iptables',
      save: opts.save ?? 'iptables-save',
      restore: opts.restore ?? 'iptables-restore',
    };
  }

  async apply(rules: readonly FwRule[], counters: ReadonlyMap<string, RuleCounter>): Promise<void> {
    // Idempotent hooks: insert only what `iptables -C` does not find (exit 1 = no such rule; a missing
    // chain also fails the check, and the chain is created by the same restore input).
    const roles = rolesOf(rules);
    const unwanted = ALL_ROLES.filter((r) => !roles.has(r) && (this.roles === null || this.roles.has(r)));
    if (unwanted.length > 0) await this.removeChains(unwanted);
    const missing = new Set<ChainRole>();
    for (const role of this.missingHooks) {
      if (!roles.has(role)) continue;
      const { table, builtin } = IPT_PLACES[role];
      const res = await this.opts.runner.run(this.cmd.iptables, [
        '-w',
        '-t',
        table,
        '-C',
        builtin,
        '-j',
        this.chains[role],
      ]);
      if (res.code !== 0) missing.add(role);
    }
    const input = iptApplyInput(this.chains, rules, counters, missing, roles);
    await runChecked(this.opts.runner, this.cmd.restore, ['-w', '--noflush', '--counters'], input);
    // Roles not in use stay "missing": checked with -C again if they come into use.
    this.missingHooks = new Set(ALL_ROLES.filter((r) => !roles.has(r)));
    this.roles = roles;
  }

  async inspect(): Promise<Inspection> {
    const inUse = this.roles ?? new Set(CHAIN_ROLES);
    const saved = await this.save(tablesOf([...inUse]));
    const details: string[] = [];
    const missing = new Set<ChainRole>(ALL_ROLES.filter((r) => !inUse.has(r)));
    let marked = true;
    for (const role of inUse) {
      const { table, builtin } = IPT_PLACES[role];
      const chain = this.chains[role];
      const exists = saved.chains.get(table)?.has(chain) ?? false;
      const hooked = saved.rules.some((r) => r.table === table && r.chain === builtin && r.target === chain);
      if (!exists || !hooked) {
        missing.add(role);
        details.push(`hook ${builtin} -> ${chain} missing`);
      }
      const marker = markerComment(role);
      if (!saved.rules.some((r) => r.chain === chain && r.comment === marker)) {
        marked = false;
        details.push(`marker of ${chain} missing`);
      }
    }
    // The tables are saved one after the other: a reload between two saves can make a hook look
    // present that is gone. When anything is missing, every hook is checked again (-C) at the apply.
    this.missingHooks = missing.size > 0 ? new Set(ALL_ROLES) : missing;
    const mine = new Set(Object.values(this.chains));
    const rules = new Map<string, RuleCounter>();
    for (const r of saved.rules) if (mine.has(r.chain) && r.comment !== null) rules.set(r.comment, r.counter);
    return { hooked: [...missing].every((r) => !inUse.has(r)), marked, rules, details };
  }

  async remove(): Promise<void> {
    await this.removeChains(ALL_ROLES);
    this.missingHooks = new Set(ALL_ROLES);
    this.roles = null;
  }

  /** Delete every jump to our chains of these roles, and the chains themselves (those that exist). */
  private async removeChains(roles: readonly ChainRole[]): Promise<void> {
    const tables = tablesOf(roles);
    const saved = await this.save(tables);
    const mine = new Set(roles.map((r) => this.chains[r]));
    const perTable = new Map<IptTable, { jumps: string[]; chains: string[] }>();
    for (const table of tables) {
      const jumps = saved.rules
        .filter((r) => r.table === table && r.target !== null && mine.has(r.target) && !mine.has(r.chain))
        .map((r) => r.spec);
      const chains = [...(saved.chains.get(table) ?? [])].filter((c) => mine.has(c));
      perTable.set(table, { jumps, chains });
    }
    const input = iptRemoveInput(perTable);
    if (input !== '') await runChecked(this.opts.runner, this.cmd.restore, ['-w', '--noflush'], input);
  }

  private async save(tables: readonly IptTable[]): Promise<Saved> {
    const out: Saved = { chains: new Map(), rules: [] };
    for (const table of tables) {
      const text = await runChecked(this.opts.runner, this.cmd.save, ['--counters', '-t', table]);
      parseSave(text, out);
    }
    return out;
  }
}

/** The tables holding these roles' chains, in iptables-save order. */
function tablesOf(roles: readonly ChainRole[]): IptTable[] {
  return IPT_TABLES.filter((t) => roles.some((r) => IPT_PLACES[r].table === t));
}

const RULE_LINE = /^(?:\[(\d+):(\d+)\]\s+)?-A\s+(\S+)\s*(.*)$/;

/** iptables-save text -> chains and rules (only what we need: chain, spec, target, comment, counts). */
export function parseSave(text: string, into: Saved): void {
  let table: IptTable | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('*')) {
      const t = line.slice(1);
      table = (IPT_TABLES as readonly string[]).includes(t) ? (t as IptTable) : null;
      continue;
    }
    if (table === null || line === '' || line.startsWith('#') || line === 'COMMIT') continue;
    if (line.startsWith(':')) {
      const name = line.slice(1).split(/\s+/)[0] ?? '';
      let set = into.chains.get(table);
      if (!set) {
        set = new Set();
        into.chains.set(table, set);
      }
      set.add(name);
      continue;
    }
    const m = RULE_LINE.exec(line);
    if (!m)
      throw new SipmasqError('SMQ_ERR_FIREWALL', `unexpected iptables-save line: ${line.slice(0, 120)}`);
    const rest = m[4] ?? '';
    const comment = /--comment\s+(?:"([^"]*)"|(\S+))/.exec(rest);
    const withoutComment = rest.replace(/--comment\s+(?:"[^"]*"|\S+)/, '');
    const target = /(?:^|\s)-[jg]\s+(\S+)/.exec(withoutComment);
    into.rules.push({
      table,
      chain: m[3] ?? '',
      spec: `${m[3]} ${rest}`.trim(),
      target: target?.[1] ?? null,
      comment: comment ? (comment[1] ?? comment[2] ?? null) : null,
      counter: { packets: Number(m[1] ?? 0), bytes: Number(m[2] ?? 0) },
    });
  }
}
