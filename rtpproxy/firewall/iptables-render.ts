/**
 * iptables-restore input for our rules (pure), for fw3 (OpenWrt 21.02 and older). Filter table: input
 * and forward chains; nat table: dstnat (PREROUTING) and srcnat (POSTROUTING). With `--noflush` only the
 * chains named in the input change; `-F` empties ours inside the same COMMIT, so each table changes in
 * one step. A `[packets:bytes]` prefix (with `iptables-restore --counters`) carries counts over.
 *
 * IPv4 only: the fw3 backend does not drive ip6tables.
 *
 * The optional helper chain lives in the raw table, jumped to from position 1 of raw PREROUTING: fw3
 * attaches helpers there too (`zone_<name>_helper` chains, `-j CT --helper sip`), before any NAT. The
 * CT target sets a conntrack template on the packet only when it has none yet (xt_CT: "Previously
 * seen? Ignore."), so our plain `-j CT` (a template without helper) that comes first wins: fw3's later
 * `-j CT --helper sip` does nothing to the packet.
 */
import { SipmasqError } from '../../common/errors.ts';
import type { ChainRole, FwRule, RoleNames, RuleCounter } from './fw-rule.ts';
import { CHAIN_ROLES, chainOf } from './fw-rule.ts';

export type IptTable = 'raw' | 'filter' | 'nat';
export const IPT_TABLES: readonly IptTable[] = ['raw', 'filter', 'nat'];

/** Table and built-in chain each of our chains hangs off. */
export const IPT_PLACES: Record<ChainRole, { table: IptTable; builtin: string }> = {
  input: { table: 'filter', builtin: 'INPUT' },
  forward: { table: 'filter', builtin: 'FORWARD' },
  dstnat: { table: 'nat', builtin: 'PREROUTING' },
  srcnat: { table: 'nat', builtin: 'POSTROUTING' },
  helper: { table: 'raw', builtin: 'PREROUTING' },
};

function v4(addr: string): string {
  if (addr.includes(':'))
    throw new SipmasqError('SMQ_ERR_FIREWALL', `the iptables backend handles IPv4 only, not ${addr}`);
  return `${addr}/32`;
}

function ports(range: readonly [number, number]): string {
  return range[0] === range[1] ? String(range[0]) : `${range[0]}:${range[1]}`;
}

/** The rule specification after `-A <chain> `. */
export function iptRuleSpec(rule: FwRule): string {
  const comment = `-m comment --comment "${rule.comment}"`;
  switch (rule.kind) {
    case 'marker':
      return comment;
    case 'accept-in': {
      const src = rule.saddr === null ? '' : ` -s ${v4(rule.saddr)}`;
      return `-i ${rule.dev}${src} -d ${v4(rule.daddr)} -p ${rule.proto} -m ${rule.proto} --dport ${ports(rule.ports)} ${comment} -j ACCEPT`;
    }
    case 'dnat': {
      const src = rule.saddr === null ? '' : ` -s ${v4(rule.saddr)}`;
      return `-i ${rule.dev}${src} -d ${v4(rule.daddr)} -p udp -m udp --dport ${rule.dport} ${comment} -j DNAT --to-destination ${rule.to}:${rule.toPort}`;
    }
    case 'snat':
      return `-o ${rule.dev} -s ${v4(rule.saddr)} -p udp -m udp --sport ${rule.sport} ${comment} -j SNAT --to-source ${rule.to}:${rule.toPort}`;
    case 'fwd-in': {
      const src = rule.saddr === null ? '' : ` -s ${v4(rule.saddr)}`;
      return `-i ${rule.inDev} -o ${rule.outDev}${src} -d ${v4(rule.daddr)} -p udp -m udp --dport ${rule.dport} -m conntrack --ctstate DNAT,SNAT ${comment} -j ACCEPT`;
    }
    case 'fwd-out':
      return `-i ${rule.inDev} -o ${rule.outDev} -s ${v4(rule.saddr)} -p udp -m udp --sport ${rule.sport} ${comment} -j ACCEPT`;
    case 'redirect':
      return `-i ${rule.dev} -p ${rule.proto} -m ${rule.proto} --dport ${rule.dport} -m addrtype ! --dst-type LOCAL ${comment} -j REDIRECT --to-ports ${rule.toPort}`;
    case 'map-source':
      return `-s ${v4(rule.saddr)} -d ${v4(rule.daddr)} -p ${rule.proto} -m ${rule.proto} --sport ${rule.sport} --dport ${rule.dport} ${comment} -j SNAT --to-source ${rule.to}:${rule.toPort}`;
    case 'no-helper':
      // raw runs before NAT: a flow to be redirected still has its original destination here.
      if (rule.toPort === null)
        return `-p ${rule.proto} -m ${rule.proto} --dport ${rule.dport} -m addrtype --dst-type LOCAL ${comment} -j CT`;
      return `-i ${rule.dev} -p ${rule.proto} -m ${rule.proto} --dport ${rule.dport} -m addrtype ! --dst-type LOCAL ${comment} -j CT`;
  }
}

/**
 * One iptables-restore input covering the tables of the roles in use: declare (and so create) our
 * chains, insert the missing hooks at position 1 of the built-in chains, empty our chains, add every
 * wanted rule.
 */
export function iptApplyInput(
  chains: RoleNames,
  rules: readonly FwRule[],
  counters: ReadonlyMap<string, RuleCounter>,
  missingHooks: ReadonlySet<ChainRole>,
  inUse: ReadonlySet<ChainRole> = new Set(CHAIN_ROLES),
): string {
  const out: string[] = [];
  for (const table of IPT_TABLES) {
    const roles = (Object.keys(IPT_PLACES) as ChainRole[]).filter(
      (r) => IPT_PLACES[r].table === table && inUse.has(r),
    );
    if (roles.length === 0) continue;
    out.push(`*${table}`);
    for (const r of roles) out.push(`:${chains[r]} - [0:0]`);
    for (const r of roles) out.push(`-F ${chains[r]}`);
    for (const rule of rules) {
      const role = chainOf(rule);
      if (IPT_PLACES[role].table !== table) continue;
      const c = counters.get(rule.comment);
      out.push(`${c ? `[${c.packets}:${c.bytes}] ` : ''}-A ${chains[role]} ${iptRuleSpec(rule)}`);
    }
    for (const r of roles) if (missingHooks.has(r)) out.push(`-I ${IPT_PLACES[r].builtin} 1 -j ${chains[r]}`);
    out.push('COMMIT');
  }
  return `${out.join('\n')}\n`;
}

/** Delete the given jump rules (their `-A` spec from iptables-save), then empty and delete our chains. */
export function iptRemoveInput(
  perTable: ReadonlyMap<IptTable, { jumps: readonly string[]; chains: readonly string[] }>,
): string {
  const out: string[] = [];
  for (const [table, { jumps, chains }] of perTable) {
    if (jumps.length === 0 && chains.length === 0) continue;
    out.push(`*${table}`);
    for (const j of jumps) out.push(`-D ${j}`);
    for (const c of chains) out.push(`-F ${c}`);
    for (const c of chains) out.push(`-X ${c}`);
    out.push('COMMIT');
  }
  return out.length ? `${out.join('\n')}\n` : '';
}
