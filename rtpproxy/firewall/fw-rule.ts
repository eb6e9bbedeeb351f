/**
 * The backend-neutral description of every rule sipmasq puts in the router's firewall, and the checks
 * every value passes before any backend turns it into text. Nothing that fails these checks ever
 * reaches a rule: a bad address, port, device or comment is refused with SMQ_ERR_FIREWALL.
 *
 * Chains (each hooked at the top of the router's own chain of the same role):
 *   input   accept towards the router itself (SIP port, relay port pairs)
 *   forward accept for kernel-path media (the DNAT'ed flow in, the phone's flow out)
 *   dstnat  DNAT of kernel-path media, transparent-mode SIP redirects
 *   srcnat  SNAT of kernel-path media (fixed public port, so conntrack never picks a random one),
 *           source mappings of what sipmasq itself sends to phones (transparent mode)
 *   helper  optional (only while sipHelper is disabled): keeps the kernel SIP helper off sipmasq's
 *           flows (see sip-helper.ts); fw4's `prerouting` chain, iptables' raw PREROUTING
 */
import { SipmasqError } from '../../common/errors.ts';
import { canonicalIp, ipFamily, isValidPort } from '../../common/net.ts';

export type ChainRole = 'input' | 'forward' | 'dstnat' | 'srcnat' | 'helper';
/** The chains that always exist while sipmasq runs. */
export const CHAIN_ROLES: readonly ChainRole[] = ['input', 'forward', 'dstnat', 'srcnat'];
/** Every role: the optional ones exist only while a rule of theirs is wanted. */
export const ALL_ROLES: readonly ChainRole[] = [...CHAIN_ROLES, 'helper'];
export type L4 = 'udp' | 'tcp';

export type FwRule =
  /** Present in every chain: the watchdog's proof that our rules are loaded. */
  | { readonly kind: 'marker'; readonly chain: ChainRole; readonly comment: string }
  /** input: `iifname dev ip daddr daddr l4 dport lo-hi [ip saddr saddr] accept`. */
  | {
      readonly kind: 'accept-in';
      readonly comment: string;
      readonly dev: string;
      readonly daddr: string;
      readonly proto: L4;
      readonly ports: readonly [number, number];
      readonly saddr: string | null;
    }
  /** dstnat: `iifname dev ip daddr daddr udp dport dport [ip saddr saddr] dnat ip to to:toPort`. */
  | {
      readonly kind: 'dnat';
      readonly comment: string;
      readonly dev: string;
      readonly daddr: string;
      readonly dport: number;
      readonly saddr: string | null;
      readonly to: string;
      readonly toPort: number;
    }
  /** srcnat: `oifname dev ip saddr saddr udp sport sport snat ip to to:toPort`. */
  | {
      readonly kind: 'snat';
      readonly comment: string;
      readonly dev: string;
      readonly saddr: string;
      readonly sport: number;
      readonly to: string;
      readonly toPort: number;
    }
  /**
   * forward, far side -> phone, only for NAT'ed flows: DNAT'ed by our mapping (the far side sent
   * first) or replies of the phone's flow SNAT'ed to X (the phone sent first; such a flow has the SNAT
   * status, not DNAT). Never a packet sent straight to the phone's private address.
   */
  | {
      readonly kind: 'fwd-in';
      readonly comment: string;
      readonly inDev: string;
      readonly outDev: string;
      readonly daddr: string;
      readonly dport: number;
      readonly saddr: string | null;
    }
  /** forward, phone -> far side. */
  | {
      readonly kind: 'fwd-out';
      readonly comment: string;
      readonly inDev: string;
      readonly outDev: string;
      readonly saddr: string;
      readonly sport: number;
    }
  /** dstnat: LAN SIP traffic not addressed to the router is redirected to sipmasq (transparent mode). */
  | {
      readonly kind: 'redirect';
      readonly comment: string;
      readonly dev: string;
      readonly proto: L4;
      readonly dport: number;
      readonly toPort: number;
    }
  /**
   * srcnat: what sipmasq itself sends from `saddr:sport` to the phone `daddr:dport` leaves as
   * `to:toPort` (transparent mode: the phone sees its registrar). Locally generated packets pass the
   * postrouting NAT hook too, so this works for new flows sipmasq opens.
   */
  | {
      readonly kind: 'map-source';
      readonly comment: string;
      readonly proto: L4;
      readonly saddr: string;
      readonly sport: number;
      readonly daddr: string;
      readonly dport: number;
      readonly to: string;
      readonly toPort: number;
    }
  /**
   * helper: new flows of `proto` that end at sipmasq get no conntrack helper. `toPort` null: flows to
   * the router itself on `dport`; else flows arriving on `dev` for `dport` elsewhere that the redirect
   * sends to sipmasq's `toPort`. Rendered per backend where the helper is attached (sip-helper.ts).
   */
  | {
      readonly kind: 'no-helper';
      readonly comment: string;
      readonly proto: L4;
      readonly dport: number;
      readonly dev: string | null;
      readonly toPort: number | null;
    };

export function chainOf(rule: FwRule): ChainRole {
  switch (rule.kind) {
    case 'marker':
      return rule.chain;
    case 'accept-in':
      return 'input';
    case 'dnat':
    case 'redirect':
      return 'dstnat';
    case 'snat':
    case 'map-source':
      return 'srcnat';
    case 'no-helper':
      return 'helper';
    case 'fwd-in':
    case 'fwd-out':
      return 'forward';
  }
}

/** Linux interface names: IFNAMSIZ 16 (15 characters), and nothing a rule parser could misread. */
const DEVICE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;
/** Our comments: `smq:` and a restricted alphabet (no quotes, spaces or backslashes); nft allows 128. */
const COMMENT = /^smq:[A-Za-z0-9_.:@*=,/-]{1,120}$/;
/** Chain and table names given as backend options. */
const NAME = /^[A-Za-z][A-Za-z0-9_-]{0,28}$/;

function refuse(what: string, value: unknown): never {
  throw new SipmasqError('SMQ_ERR_FIREWALL', `refusing ${what} ${JSON.stringify(value)} in a firewall rule`, {
    what,
    value: String(value),
  });
}

export function checkDevice(dev: unknown): string {
  if (typeof dev !== 'string' || !DEVICE.test(dev)) refuse('device', dev);
  return dev;
}

export function checkComment(comment: unknown): string {
  if (typeof comment !== 'string' || !COMMENT.test(comment)) refuse('comment', comment);
  return comment;
}

export function checkName(name: unknown): string {
  if (typeof name !== 'string' || !NAME.test(name)) refuse('chain or table name', name);
  return name;
}

export function checkPort(port: unknown): number {
  if (!isValidPort(port)) refuse('port', port);
  return port;
}

/** An IP address in canonical form; `family` narrows it. Unspecified (0.0.0.0, ::) is never a rule. */
export function checkAddress(addr: unknown, family?: 4 | 6): string {
  if (typeof addr !== 'string') refuse('address', addr);
  const fam = ipFamily(addr);
  const canon = fam === null ? null : canonicalIp(addr);
  if (canon === null || (family !== undefined && fam !== family)) refuse('address', addr);
  if (canon === '0.0.0.0' || canon === '::') refuse('address', addr);
  return canon;
}

/** Check every field of a rule; returns a copy holding only canonical values. */
export function checkRule(rule: FwRule): FwRule {
  const comment = checkComment(rule.comment);
  switch (rule.kind) {
    case 'marker':
      return { kind: 'marker', chain: checkChain(rule.chain), comment };
    case 'accept-in': {
      const daddr = checkAddress(rule.daddr);
      const fam = ipFamily(daddr) as 4 | 6;
      const [lo, hi] = [checkPort(rule.ports[0]), checkPort(rule.ports[1])];
      if (hi < lo) refuse('port range', `${lo}-${hi}`);
      return {
        kind: 'accept-in',
        comment,
        dev: checkDevice(rule.dev),
        daddr,
        proto: checkProto(rule.proto),
        ports: [lo, hi],
        saddr: rule.saddr === null ? null : checkAddress(rule.saddr, fam),
      };
    }
    case 'dnat':
      return {
        kind: 'dnat',
        comment,
        dev: checkDevice(rule.dev),
        daddr: checkAddress(rule.daddr, 4),
        dport: checkPort(rule.dport),
        saddr: rule.saddr === null ? null : checkAddress(rule.saddr, 4),
        to: checkAddress(rule.to, 4),
        toPort: checkPort(rule.toPort),
      };
    case 'snat':
      return {
        kind: 'snat',
        comment,
        dev: checkDevice(rule.dev),
        saddr: checkAddress(rule.saddr, 4),
        sport: checkPort(rule.sport),
        to: checkAddress(rule.to, 4),
        toPort: checkPort(rule.toPort),
      };
    case 'fwd-in':
      return {
        kind: 'fwd-in',
        comment,
        inDev: checkDevice(rule.inDev),
        outDev: checkDevice(rule.outDev),
        daddr: checkAddress(rule.daddr, 4),
        dport: checkPort(rule.dport),
        saddr: rule.saddr === null ? null : checkAddress(rule.saddr, 4),
      };
    case 'fwd-out':
      return {
        kind: 'fwd-out',
        comment,
        inDev: checkDevice(rule.inDev),
        outDev: checkDevice(rule.outDev),
        saddr: checkAddress(rule.saddr, 4),
        sport: checkPort(rule.sport),
      };
    case 'redirect':
      return {
        kind: 'redirect',
        comment,
        dev: checkDevice(rule.dev),
        proto: checkProto(rule.proto),
        dport: checkPort(rule.dport),
        toPort: checkPort(rule.toPort),
      };
    case 'map-source':
      return {
        kind: 'map-source',
        comment,
        proto: checkProto(rule.proto),
        saddr: checkAddress(rule.saddr, 4),
        sport: checkPort(rule.sport),
        daddr: checkAddress(rule.daddr, 4),
        dport: checkPort(rule.dport),
        to: checkAddress(rule.to, 4),
        toPort: checkPort(rule.toPort),
      };
    case 'no-helper': {
      const toPort = rule.toPort === null ? null : checkPort(rule.toPort);
      const dev = rule.dev === null ? null : checkDevice(rule.dev);
      if (toPort !== null && dev === null) refuse('device', dev);
      return {
        kind: 'no-helper',
        comment,
        proto: checkProto(rule.proto),
        dport: checkPort(rule.dport),
        dev,
        toPort,
      };
    }
    default:
      return refuse('rule kind', (rule as { kind: unknown }).kind);
  }
}

function checkChain(chain: unknown): ChainRole {
  if (!ALL_ROLES.includes(chain as ChainRole)) refuse('chain', chain);
  return chain as ChainRole;
}

function checkProto(proto: unknown): L4 {
  if (proto !== 'udp' && proto !== 'tcp') refuse('protocol', proto);
  return proto;
}

/** Names of our chains (backend option; the defaults match the firmware include). */
export interface ChainNames {
  readonly input: string;
  readonly forward: string;
  readonly dstnat: string;
  readonly srcnat: string;
  /** Optional role; a default applies when not given. */
  readonly helper?: string;
}

/** A name for every role. */
export type RoleNames = Readonly<Record<ChainRole, string>>;

export const DEFAULT_CHAINS: RoleNames = {
  input: 'sipmasq_input',
  forward: 'sipmasq_forward',
  dstnat: 'sipmasq_dstnat',
  srcnat: 'sipmasq_srcnat',
  helper: 'sipmasq_helper',
};

/** Check every name; `helperDefault` names the helper role's chain when `names` does not. */
export function checkChainNames(names: ChainNames, helperDefault = DEFAULT_CHAINS.helper): RoleNames {
  return {
    input: checkName(names.input),
    forward: checkName(names.forward),
    dstnat: checkName(names.dstnat),
    srcnat: checkName(names.srcnat),
    helper: checkName(names.helper ?? helperDefault),
  };
}

/** The roles a rule set uses: the permanent ones and every optional one that has a rule. */
export function rolesOf(rules: readonly FwRule[]): Set<ChainRole> {
  const roles = new Set<ChainRole>(CHAIN_ROLES);
  for (const r of rules) roles.add(chainOf(r));
  return roles;
}

/** Packet and byte counts of one rule, by comment. */
export interface RuleCounter {
  packets: number;
  bytes: number;
}

/** What a backend sees when it inspects the live firewall. */
export interface Inspection {
  /** Our chains (of the roles in use) exist and each is jumped to from the router's chain of its role. */
  readonly hooked: boolean;
  /** Each of our chains holds its marker rule. */
  readonly marked: boolean;
  /** Every rule of ours with its comment and counters (markers included). */
  readonly rules: ReadonlyMap<string, RuleCounter>;
  readonly details: readonly string[];
}
