/**
 * Per-stream state of the nftables backend as set and map elements (pure). Each of our chains holds a
 * fixed handful of rules whatever the number of calls: one lookup in a hashed set per rule, so a packet
 * costs the same with 1 or 1000 streams (nft(8) "SETS", "MAPS"; concatenations `a . b . c` make one key
 * of several fields). A per-stream rule of the backend-neutral model (fw-rule.ts) becomes one element
 * (two for a relay pair's port range) that carries the rule's comment, so listing the sets gives back
 * what a listing of rules gave: comment and counters of each (sets declared with `counter` keep one per
 * element, and a lookup that matches counts on the element it found).
 *
 *   input    accept-in, IPv4, one or two ports   <dev . daddr . proto . port [. saddr]>  accept
 *   forward  fwd-out                             <in . out . phone . port>                accept
 *            fwd-in (only NAT'ed flows)          <in . out . phone . port [. peer]>       accept
 *   dstnat   dnat                                <dev . wan . X [. peer]> : <phone . port> dnat
 *   srcnat   snat                                <dev . phone . port> : <wan . X>          snat
 *
 * Everything else (markers, redirects, source mappings, helper rules, IPv6 openings) stays a rule:
 * there are few of them and they do not grow with the number of calls.
 *
 * Elements are keyed: two wanted rules with the same key (the same phone port in two dialogs) are one
 * element, the first one's comment; it stays until no wanted rule needs the key (as with rules, where
 * the first of two identical rules took every packet).
 */
import type { ChainRole, FwRule, RoleNames, RuleCounter } from './fw-rule.ts';

export type SetRole =
  | 'in-any'
  | 'in-peer'
  | 'fwd-out'
  | 'fwd-in-peer'
  | 'fwd-in-any'
  | 'dnat-peer'
  | 'dnat-any'
  | 'snat';

interface SetSpec {
  readonly role: SetRole;
  readonly chain: ChainRole;
  /** Appended to the chain's name: the set's name. */
  readonly suffix: string;
  readonly type: string;
  /** Data type of a map; null for a set. */
  readonly map: string | null;
  /** The rule that looks the set up; `@S` stands for the set's name. */
  readonly rule: string;
}

/** In chain order: the lookups a chain holds are rendered in this order, after its marker. */
export const SET_SPECS: readonly SetSpec[] = [
  {
    role: 'in-any',
    chain: 'input',
    suffix: '_any',
    type: 'ifname . ipv4_addr . inet_proto . inet_service',
    map: null,
    rule: 'iifname . ip daddr . meta l4proto . th dport @S accept',
  },
  {
    role: 'in-peer',
    chain: 'input',
    suffix: '_peer',
    type: 'ifname . ipv4_addr . inet_proto . inet_service . ipv4_addr',
    map: null,
    rule: 'iifname . ip daddr . meta l4proto . th dport . ip saddr @S accept',
  },
  {
    role: 'fwd-out',
    chain: 'forward',
    suffix: '_out',
    type: 'ifname . ifname . ipv4_addr . inet_service',
    map: null,
    rule: 'iifname . oifname . ip saddr . udp sport @S accept',
  },
  {
    role: 'fwd-in-peer',
    chain: 'forward',
    suffix: '_peer',
    type: 'ifname . ifname . ipv4_addr . inet_service . ipv4_addr',
    map: null,
    rule: 'ct status dnat,snat iifname . oifname . ip daddr . udp dport . ip saddr @S accept',
  },
  {
    role: 'fwd-in-any',
    chain: 'forward',
    suffix: '_any',
    type: 'ifname . ifname . ipv4_addr . inet_service',
    map: null,
    rule: 'ct status dnat,snat iifname . oifname . ip daddr . udp dport @S accept',
  },
  {
    role: 'dnat-peer',
    chain: 'dstnat',
    suffix: '_peer',
    type: 'ifname . ipv4_addr . inet_service . ipv4_addr',
    map: 'ipv4_addr . inet_service',
    rule: 'dnat ip to iifname . ip daddr . udp dport . ip saddr map @S',
  },
  {
    role: 'dnat-any',
    chain: 'dstnat',
    suffix: '_any',
    type: 'ifname . ipv4_addr . inet_service',
    map: 'ipv4_addr . inet_service',
    rule: 'dnat ip to iifname . ip daddr . udp dport map @S',
  },
  {
    role: 'snat',
    chain: 'srcnat',
    suffix: '_map',
    type: 'ifname . ipv4_addr . inet_service',
    map: 'ipv4_addr . inet_service',
    rule: 'snat ip to oifname . ip saddr . udp sport map @S',
  },
];

/** The name of each set: our chain's name and a suffix (so custom chain names give custom sets). */
export function setNames(chains: RoleNames): Record<SetRole, string> {
  const out = {} as Record<SetRole, string>;
  for (const s of SET_SPECS) out[s.role] = `${chains[s.chain]}${s.suffix}`;
  return out;
}

/** One element: which set, its key (nft syntax) and, for a map, its data. */
export interface SetElement {
  readonly set: SetRole;
  readonly key: string;
  readonly data: string | null;
  readonly comment: string;
}

const q = (dev: string): string => `"${dev}"`;
const isV4 = (addr: string): boolean => !addr.includes(':');

/** The elements a (checked) rule becomes, or null when it stays a rule of its chain. */
export function elementsOf(rule: FwRule): SetElement[] | null {
  const comment = rule.comment;
  switch (rule.kind) {
    case 'accept-in': {
      const [lo, hi] = rule.ports;
      if (!isV4(rule.daddr) || hi - lo > 1) return null;
      const out: SetElement[] = [];
      for (let p = lo; p <= hi; p++) {
        const base = `${q(rule.dev)} . ${rule.daddr} . ${rule.proto} . ${p}`;
        out.push(
          rule.saddr === null
            ? { set: 'in-any', key: base, data: null, comment }
            : { set: 'in-peer', key: `${base} . ${rule.saddr}`, data: null, comment },
        );
      }
      return out;
    }
    case 'fwd-out':
      return [
        {
          set: 'fwd-out',
          key: `${q(rule.inDev)} . ${q(rule.outDev)} . ${rule.saddr} . ${rule.sport}`,
          data: null,
          comment,
        },
      ];
    case 'fwd-in': {
      const base = `${q(rule.inDev)} . ${q(rule.outDev)} . ${rule.daddr} . ${rule.dport}`;
      return [
        rule.saddr === null
          ? { set: 'fwd-in-any', key: base, data: null, comment }
          : { set: 'fwd-in-peer', key: `${base} . ${rule.saddr}`, data: null, comment },
      ];
    }
    case 'dnat': {
      const base = `${q(rule.dev)} . ${rule.daddr} . ${rule.dport}`;
      const data = `${rule.to} . ${rule.toPort}`;
      return [
        rule.saddr === null
          ? { set: 'dnat-any', key: base, data, comment }
          : { set: 'dnat-peer', key: `${base} . ${rule.saddr}`, data, comment },
      ];
    }
    case 'snat':
      return [
        {
          set: 'snat',
          key: `${q(rule.dev)} . ${rule.saddr} . ${rule.sport}`,
          data: `${rule.to} . ${rule.toPort}`,
          comment,
        },
      ];
    default:
      return null;
  }
}

/** Identity of an element inside its set. */
export function elementId(e: SetElement): string {
  return `${e.set} ${e.key}`;
}

/** The rules split into chain rules and elements (deduplicated by key, first comment wins). */
export function splitRules(rules: readonly FwRule[]): { rules: FwRule[]; elements: Map<string, SetElement> } {
  const plain: FwRule[] = [];
  const elements = new Map<string, SetElement>();
  for (const r of rules) {
    const els = elementsOf(r);
    if (els === null) {
      plain.push(r);
      continue;
    }
    for (const e of els) {
      const id = elementId(e);
      if (!elements.has(id)) elements.set(id, e);
    }
  }
  return { rules: plain, elements };
}

/**
 * One element in nft syntax, optionally starting its counter at `c` (a full re-apply carries the
 * counts over; of a rule with two elements, the first carries the rule's count).
 */
export function elementText(e: SetElement, c?: RuleCounter): string {
  const counter = c ? ` counter packets ${c.packets} bytes ${c.bytes}` : '';
  const data = e.data === null ? '' : ` : ${e.data}`;
  return `${e.key}${counter} comment "${e.comment}"${data}`;
}
