/**
 * The daemon's configuration: one typed, documented, frozen object, validated once at start and passed
 * in (never read from a global). The file is JSON; on OpenWrt the init script writes it from UCI.
 * Every option, its default and its meaning is listed in OPTIONS below, which is also the source of the
 * README's reference and of `sipmasq --help`.
 */
import { SipmasqError } from '../common/errors.ts';
import { isLogLevel, type LogLevel } from '../common/logger.ts';
import { ipFamily, parseCidr } from '../common/net.ts';

export type Mode = 'outbound' | 'transparent';
export type MediaPathSetting = 'auto' | 'relay' | 'kernel';
export type FirewallSetting = 'auto' | 'nftables' | 'iptables' | 'none';
export type HelperPolicy = 'disable' | 'warn';

export interface Config {
  /** Which modes are on: `outbound` (phones use the router as outbound proxy), `transparent` (intercept). */
  readonly modes: readonly Mode[];
  /** LAN interface (Linux device name) whose address the phones talk to. */
  readonly lanInterface: string;
  /** LAN address to listen on; null: the first IPv4 address of lanInterface. */
  readonly lanAddress: string | null;
  /** Source networks allowed to use the proxy (CIDR); empty: the subnets of lanInterface. */
  readonly lanNetworks: readonly string[];
  /** WAN interface (Linux device name); null: the interface of the IPv4 default route. */
  readonly wanInterface: string | null;
  /** WAN address to bind on; null: the first IPv4 address of wanInterface. */
  readonly wanAddress: string | null;
  /** Address written into Contact/Via/Record-Route/SDP on the WAN side; null: wanAddress. */
  readonly publicAddress: string | null;
  /** SIP UDP port, on both the LAN and the WAN address. */
  readonly sipPort: number;
  /** Media relay port range, inclusive; pairs start on even ports. */
  readonly rtpPortMin: number;
  readonly rtpPortMax: number;
  /** Media path: `auto` (kernel where a firewall backend works, else relay), `relay`, `kernel`. */
  readonly mediaPath: MediaPathSetting;
  /** Seconds without media in either direction before an active stream's session is released. */
  readonly mediaIdleTimeout: number;
  /** Seconds without media before a session on hold (sendonly/inactive/0.0.0.0) is released. */
  readonly mediaHoldTimeout: number;
  /** Seconds between keep-alives to each registrar flow (keeps the WAN conntrack entries alive). */
  readonly keepaliveInterval: number;
  /** Transparent mode: destination ports of LAN SIP traffic (UDP and TCP) redirected to sipmasq. */
  readonly interceptPorts: readonly number[];
  /** Transparent mode: the LAN port intercepted traffic is redirected to (not the proxy port). */
  readonly interceptListenPort: number;
  /** `domain=host[:port]`: requests for that domain go to that proxy instead of its DNS targets. */
  readonly outboundProxies: readonly string[];
  /** Seconds without any answer from a server before the next DNS target is tried (RFC 3263 §4.3). */
  readonly failoverTimeout: number;
  /** Firewall backend for pinholes and kernel media: auto-detected, or forced. */
  readonly firewall: FirewallSetting;
  /** What to do about the kernel SIP helper (nf_conntrack_sip): `disable` it for our traffic, or `warn`. */
  readonly sipHelper: HelperPolicy;
  /** SQLite file for registrations; '' for memory-only. */
  readonly storePath: string;
  /** Seconds between batched writes of changed registrations (flash wear: never one write per REGISTER). */
  readonly storeFlushInterval: number;
  /** Unix socket for `sipmasq status`. */
  readonly controlSocket: string;
  readonly logLevel: LogLevel;
  /** Largest SIP message accepted, bytes. */
  readonly maxMessageSize: number;
}

interface OptionSpec {
  readonly key: keyof Config;
  readonly flag?: string;
  readonly doc: string;
  readonly def: Config[keyof Config];
}

export const DEFAULTS: Config = Object.freeze({
  modes: Object.freeze(['outbound'] as Mode[]),
  lanInterface: 'br-lan',
  lanAddress: null,
  lanNetworks: Object.freeze([] as string[]),
  wanInterface: null,
  wanAddress: null,
  publicAddress: null,
  sipPort: 5060,
  rtpPortMin: 16384,
  rtpPortMax: 16999,
  mediaPath: 'auto',
  mediaIdleTimeout: 60,
  mediaHoldTimeout: 7200,
  keepaliveInterval: 20,
  interceptPorts: Object.freeze([5060]),
  interceptListenPort: 5069,
  outboundProxies: Object.freeze([] as string[]),
  failoverTimeout: 4,
  firewall: 'auto',
  sipHelper: 'disable',
  storePath: '/var/lib/sipmasq/sipmasq.db',
  storeFlushInterval: 5,
  controlSocket: '/var/run/sipmasq.sock',
  logLevel: 'info',
  maxMessageSize: 65535,
} satisfies Config);

export const OPTIONS: readonly OptionSpec[] = [
  { key: 'modes', doc: 'modes to run: outbound, transparent (list)', def: DEFAULTS.modes },
  {
    key: 'lanInterface',
    flag: '--lan-interface',
    doc: 'LAN device the phones talk to',
    def: DEFAULTS.lanInterface,
  },
  {
    key: 'lanAddress',
    flag: '--lan-address',
    doc: 'LAN address to listen on (default: from lanInterface)',
    def: null,
  },
  {
    key: 'lanNetworks',
    doc: 'CIDRs allowed to use the proxy (default: lanInterface subnets)',
    def: DEFAULTS.lanNetworks,
  },
  {
    key: 'wanInterface',
    flag: '--wan-interface',
    doc: 'WAN device (default: default-route device)',
    def: null,
  },
  {
    key: 'wanAddress',
    flag: '--wan-address',
    doc: 'WAN address to bind (default: from wanInterface)',
    def: null,
  },
  {
    key: 'publicAddress',
    flag: '--public-address',
    doc: 'public address for SIP/SDP (default: wanAddress)',
    def: null,
  },
  { key: 'sipPort', flag: '--sip-port', doc: 'SIP UDP port on LAN and WAN', def: DEFAULTS.sipPort },
  { key: 'rtpPortMin', flag: '--rtp-port-min', doc: 'lowest media port', def: DEFAULTS.rtpPortMin },
  { key: 'rtpPortMax', flag: '--rtp-port-max', doc: 'highest media port', def: DEFAULTS.rtpPortMax },
  { key: 'mediaPath', flag: '--media-path', doc: 'auto, relay or kernel', def: DEFAULTS.mediaPath },
  { key: 'mediaIdleTimeout', doc: 'seconds of silence before a call media session is released', def: 60 },
  { key: 'mediaHoldTimeout', doc: 'seconds of silence allowed while a call is on hold', def: 7200 },
  { key: 'keepaliveInterval', doc: 'seconds between keep-alives to registrars (0: off)', def: 20 },
  {
    key: 'interceptPorts',
    doc: 'transparent mode: LAN SIP destination ports to intercept (list)',
    def: DEFAULTS.interceptPorts,
  },
  {
    key: 'interceptListenPort',
    doc: 'transparent mode: local port intercepted SIP is redirected to',
    def: 5069,
  },
  {
    key: 'outboundProxies',
    doc: 'per-domain proxy overriding DNS: domain=host[:port] (list)',
    def: DEFAULTS.outboundProxies,
  },
  { key: 'failoverTimeout', doc: 'seconds of silence before the next DNS target is tried', def: 4 },
  { key: 'firewall', flag: '--firewall', doc: 'auto, nftables, iptables or none', def: DEFAULTS.firewall },
  { key: 'sipHelper', doc: 'kernel SIP helper policy: disable or warn', def: DEFAULTS.sipHelper },
  {
    key: 'storePath',
    flag: '--store',
    doc: "registration database file ('' = memory only)",
    def: DEFAULTS.storePath,
  },
  {
    key: 'storeFlushInterval',
    doc: 'seconds between batched store writes',
    def: DEFAULTS.storeFlushInterval,
  },
  {
    key: 'controlSocket',
    flag: '--control-socket',
    doc: 'unix socket for status',
    def: DEFAULTS.controlSocket,
  },
  { key: 'logLevel', flag: '--log-level', doc: 'debug, info, warn or error', def: DEFAULTS.logLevel },
  { key: 'maxMessageSize', doc: 'largest SIP message accepted (bytes)', def: DEFAULTS.maxMessageSize },
];

function invalid(option: string, problem: string): SipmasqError {
  return new SipmasqError('SMQ_ERR_CONFIG_INVALID', `option '${option}' ${problem}`, { option });
}

function int(raw: Record<string, unknown>, key: string, min: number, max: number, def: number): number {
  const v = raw[key];
  if (v === undefined) return def;
  const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max)
    throw invalid(key, `must be a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return n;
}

function str(raw: Record<string, unknown>, key: string, def: string): string {
  const v = raw[key];
  if (v === undefined) return def;
  if (typeof v !== 'string') throw invalid(key, `must be a string, got ${JSON.stringify(v)}`);
  return v;
}

function device(raw: Record<string, unknown>, key: string, def: string | null): string | null {
  const v = raw[key];
  if (v === undefined || v === null || v === '') return def;
  if (typeof v !== 'string' || !/^[A-Za-z0-9_.@:-]{1,15}$/.test(v))
    throw invalid(key, `must be a network device name (1-15 characters), got ${JSON.stringify(v)}`);
  return v;
}

function address(raw: Record<string, unknown>, key: string): string | null {
  const v = raw[key];
  if (v === undefined || v === null || v === '') return null;
  if (typeof v !== 'string' || ipFamily(v) === null)
    throw invalid(key, `must be an IP address, got ${JSON.stringify(v)}`);
  return v;
}

function oneOf<T extends string>(
  raw: Record<string, unknown>,
  key: string,
  allowed: readonly T[],
  def: T,
): T {
  const v = raw[key];
  if (v === undefined) return def;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v))
    throw invalid(key, `must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  return v as T;
}

function list(raw: Record<string, unknown>, key: string): string[] | undefined {
  const v = raw[key];
  if (v === undefined) return undefined;
  const items = typeof v === 'string' ? v.split(/[\s,]+/).filter(Boolean) : v;
  if (!Array.isArray(items) || !items.every((i) => typeof i === 'string'))
    throw invalid(key, `must be a list of strings, got ${JSON.stringify(v)}`);
  return items as string[];
}

function ports(raw: Record<string, unknown>, key: string, def: readonly number[]): number[] {
  const v = raw[key];
  if (v === undefined) return [...def];
  const items = typeof v === 'string' ? v.split(/[\s,]+/).filter(Boolean) : Array.isArray(v) ? v : [v];
  const out = items.map((i) => (typeof i === 'string' && /^\d+$/.test(i) ? Number(i) : i));
  if (
    out.length === 0 ||
    !out.every((n) => typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535)
  )
    throw invalid(key, `must be a list of ports (1-65535), got ${JSON.stringify(v)}`);
  return [...new Set(out as number[])];
}

/** `domain=host[:port]` entries: a domain name, then a host name or IPv4 address and optional port. */
export function parseOutboundProxy(
  entry: string,
): { domain: string; host: string; port: number | undefined } | null {
  const m = /^([A-Za-z0-9.-]+)=([A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(entry.trim());
  if (!m) return null;
  const port = m[3] === undefined ? undefined : Number(m[3]);
  if (port !== undefined && (port < 1 || port > 65535)) return null;
  return { domain: m[1]!.toLowerCase(), host: m[2]!, port };
}

function proxies(raw: Record<string, unknown>): string[] {
  const items = list(raw, 'outboundProxies') ?? [];
  for (const e of items)
    if (!parseOutboundProxy(e))
      throw invalid('outboundProxies', `entry ${JSON.stringify(e)} is not domain=host[:port]`);
  return items;
}

/**
 * Check a raw object (parsed JSON merged with flags) and return a frozen Config. Throws
 * SMQ_ERR_CONFIG_INVALID naming the first bad option; unknown options are refused (typos must not pass).
 */
export function validateConfig(input: unknown): Config {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new SipmasqError('SMQ_ERR_CONFIG_INVALID', 'configuration must be a JSON object');
  const raw = input as Record<string, unknown>;
  const known = new Set<string>(OPTIONS.map((o) => o.key));
  for (const k of Object.keys(raw)) if (!known.has(k)) throw invalid(k, 'is not a known option');

  const modes = list(raw, 'modes') ?? [...DEFAULTS.modes];
  if (modes.length === 0) throw invalid('modes', 'must name at least one mode');
  for (const m of modes)
    if (m !== 'outbound' && m !== 'transparent')
      throw invalid('modes', `has unknown mode ${JSON.stringify(m)}`);

  const lanNetworks = list(raw, 'lanNetworks') ?? [];
  for (const n of lanNetworks)
    if (!parseCidr(n)) throw invalid('lanNetworks', `has an invalid CIDR ${JSON.stringify(n)}`);

  const rtpPortMin = int(raw, 'rtpPortMin', 1024, 65534, DEFAULTS.rtpPortMin);
  const rtpPortMax = int(raw, 'rtpPortMax', 1025, 65535, DEFAULTS.rtpPortMax);
  if (rtpPortMax - rtpPortMin < 3)
    throw invalid('rtpPortMax', `must be at least rtpPortMin + 3 (room for two port pairs)`);

  const logLevel = str(raw, 'logLevel', DEFAULTS.logLevel);
  if (!isLogLevel(logLevel))
    throw invalid('logLevel', `must be one of debug, info, warn, error, got ${JSON.stringify(logLevel)}`);

  const controlSocket = str(raw, 'controlSocket', DEFAULTS.controlSocket);
  if (!controlSocket.startsWith('/')) throw invalid('controlSocket', 'must be an absolute path');
  const storePath = str(raw, 'storePath', DEFAULTS.storePath);
  if (
    storePath !== '' &&
    storePath !== ':memory:' &&
    !storePath.startsWith('/') &&
    !storePath.startsWith('./')
  )
    throw invalid('storePath', "must be an absolute path, './file', or '' for memory-only");

  const config: Config = {
    modes: Object.freeze([...new Set(modes)] as Mode[]),
    lanInterface: device(raw, 'lanInterface', DEFAULTS.lanInterface) as string,
    lanAddress: address(raw, 'lanAddress'),
    lanNetworks: Object.freeze([...lanNetworks]),
    wanInterface: device(raw, 'wanInterface', null),
    wanAddress: address(raw, 'wanAddress'),
    publicAddress: address(raw, 'publicAddress'),
    sipPort: int(raw, 'sipPort', 1, 65535, DEFAULTS.sipPort),
    rtpPortMin,
    rtpPortMax,
    mediaPath: oneOf(raw, 'mediaPath', ['auto', 'relay', 'kernel'], DEFAULTS.mediaPath),
    mediaIdleTimeout: int(raw, 'mediaIdleTimeout', 5, 86400, DEFAULTS.mediaIdleTimeout),
    mediaHoldTimeout: int(raw, 'mediaHoldTimeout', 5, 604800, DEFAULTS.mediaHoldTimeout),
    keepaliveInterval: int(raw, 'keepaliveInterval', 0, 3600, DEFAULTS.keepaliveInterval),
    interceptPorts: Object.freeze(ports(raw, 'interceptPorts', DEFAULTS.interceptPorts)),
    interceptListenPort: int(raw, 'interceptListenPort', 1, 65535, DEFAULTS.interceptListenPort),
    outboundProxies: Object.freeze(proxies(raw)),
    failoverTimeout: int(raw, 'failoverTimeout', 1, 32, DEFAULTS.failoverTimeout),
    firewall: oneOf(raw, 'firewall', ['auto', 'nftables', 'iptables', 'none'], DEFAULTS.firewall),
    sipHelper: oneOf(raw, 'sipHelper', ['disable', 'warn'], DEFAULTS.sipHelper),
    storePath,
    storeFlushInterval: int(raw, 'storeFlushInterval', 1, 3600, DEFAULTS.storeFlushInterval),
    controlSocket,
    logLevel,
    maxMessageSize: int(raw, 'maxMessageSize', 1500, 1048576, DEFAULTS.maxMessageSize),
  };
  if (config.rtpPortMin >= config.rtpPortMax) throw invalid('rtpPortMin', 'must be below rtpPortMax');
  if (config.interceptListenPort === config.sipPort)
    throw invalid('interceptListenPort', 'must differ from sipPort');
  return Object.freeze(config);
}
