/**
 * Builds the media side the proxy asks for (control.ts MediaSide): picks the firewall backend, opens
 * the SIP port on the WAN, decides whether the kernel path is possible, and wires the composite
 * MediaRouter (kernel path or relay per stream), the watchdog, transparent-mode redirects and source
 * mappings, the kernel SIP helper policy (firewall/sip-helper-guard.ts) and the reconcile step after a
 * restart.
 *
 * Crash safety: rules of kernel-path calls survive a kill -9 (the audio keeps flowing). At the next
 * start they are kept as they are until reconcile() says which sessions the proxy still knows: those
 * are adopted, every other rule of ours is removed. close() removes every rule, chain and hook.
 */
import type { Clock } from '../common/clock.ts';
import { errorText, SipmasqError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { ipFamily, isValidPort } from '../common/net.ts';
import type { SocketFactory } from '../common/socket-factory.ts';
import { type CommandRunner, SpawnRunner } from './command-runner.ts';
import type {
  FirewallStatus,
  MediaSide,
  MediaSideOptions,
  NetworkControl,
  SipRedirect,
  SourceMapping,
} from './control.ts';
import { type Detected, type DetectOptions, detectBackend } from './firewall/backend-detect.ts';
import { ConntrackCleaner } from './firewall/conntrack-cleaner.ts';
import { Firewall } from './firewall/firewall.ts';
import { checkDevice, type FwRule } from './firewall/fw-rule.ts';
import { NftBackend } from './firewall/nft-backend.ts';
import { redirectComment, sipComment, sourceMapComment } from './firewall/rule-comment.ts';
import { DEFAULT_HELPER_PATHS, detectSipHelper, type SipHelperPaths } from './firewall/sip-helper.ts';
import { SipHelperGuard } from './firewall/sip-helper-guard.ts';
import { type KernelContext, kernelRules } from './kernel/kernel-rules.ts';
import { Leftovers } from './media/leftovers.ts';
import { MediaRouter } from './media/media-router.ts';

/** Knobs for tests and unusual routers; every one has a default. */
export interface MediaSideTuning {
  /** Table, chain and program names of the backends (defaults: inet fw4, sipmasq_*, nft/iptables). */
  nft?: DetectOptions['nft'];
  iptables?: DetectOptions['iptables'];
  /** Default `conntrack`. */
  conntrack?: string;
  /** Where the kernel SIP helper is looked for (/proc/modules, /sys/module, the sysctl). */
  helperPaths?: Partial<SipHelperPaths>;
  /** Watchdog period (default 2000 ms). */
  watchdogMs?: number;
  /**
   * How often the kernel counters are read (default: a quarter of the idle timeout, at most 15 s; a
   * stream counts as active from the last read that saw its counters move).
   */
  counterMs?: number;
  /** Relay tuning passed through. */
  random?: () => number;
  latchWindowMs?: number;
  portCooldownMs?: number;
  sweepIntervalMs?: number;
}

export interface MediaSideDeps {
  clock: Clock;
  sockets: SocketFactory;
  logger: Logger;
  runner?: CommandRunner;
  tuning?: MediaSideTuning;
}

export async function createMediaSide(opts: MediaSideOptions, deps: MediaSideDeps): Promise<MediaSide> {
  checkOptions(opts);
  const log = deps.logger.child('media');
  const runner = deps.runner ?? new SpawnRunner();
  const t = deps.tuning ?? {};
  const detected = await detectBackend(opts.firewall, {
    runner,
    ...(t.nft ? { nft: t.nft } : {}),
    ...(t.iptables ? { iptables: t.iptables } : {}),
  });
  const firewall = new Firewall({
    backend: detected.backend,
    reason: detected.reason,
    clock: deps.clock,
    logger: log,
    ...(t.watchdogMs !== undefined ? { watchdogMs: t.watchdogMs } : {}),
    counterMs: t.counterMs ?? Math.min(15_000, Math.max(500, Math.floor(opts.idleTimeoutMs / 4))),
  });
  log.info('firewall backend', { backend: detected.backend.name, reason: detected.reason });
  // What the firewall can carry: the iptables backend is IPv4 only.
  const v4Only = detected.backend.name === 'iptables';
  const wanDev = firewall.active ? opts.wanDevice : null;
  const ruleable = (addr: string): boolean => !v4Only || ipFamily(addr) === 4;
  if (firewall.active && wanDev === null)
    firewall.warn('wan', 'WAN device unknown: SIP port and relay ports not opened, kernel path off');
  if (firewall.active && !ruleable(opts.wanAddress))
    firewall.warn('wan', `iptables backend is IPv4 only: nothing opened for ${opts.wanAddress}`);
  if (wanDev !== null && ruleable(opts.wanAddress))
    firewall.set('@sip', [sipRule(opts, checkDevice(wanDev))]);
  const helper = await sipHelperGuard(opts, detected, runner, t, log, (text) =>
    firewall.warn('sip-helper', text),
  );
  firewall.set('@nohelper', helper.rules([]));
  log.info('kernel SIP helper', { ...helper.status() });

  const kernelWhyNot = kernelUnavailable(opts, firewall.active);
  const kernel: KernelContext | null =
    kernelWhyNot === null
      ? { wanDevice: opts.wanDevice!, lanDevice: opts.lanDevice!, wanAddress: opts.wanAddress }
      : null;
  if (kernelWhyNot !== null && opts.mediaPath === 'kernel')
    firewall.warn('kernel', `mediaPath kernel asked for but unavailable (${kernelWhyNot}): relaying`);
  log.info('media path', {
    path: kernel ? 'kernel (relay fallback)' : 'relay',
    why: kernelWhyNot ?? undefined,
  });

  // Rules left by a previous run: kernel mappings stay (their calls' audio flows) until reconcile().
  const leftovers = new Leftovers(firewall, log, (key, m) =>
    kernel ? kernelRules(key.sessionTag, key.index, m, kernel) : null,
  );
  if (firewall.active) await leftovers.take();
  await firewall.start();
  await helper.start();

  const conntrack = new ConntrackCleaner(
    runner,
    log,
    (text) => firewall.warn('conntrack', text),
    t.conntrack,
  );
  const router = new MediaRouter({
    lanAddress: opts.lanAddress,
    wanAddress: opts.wanAddress,
    publicAddress: opts.publicAddress,
    portMin: opts.portMin,
    portMax: opts.portMax,
    idleTimeoutMs: opts.idleTimeoutMs,
    holdTimeoutMs: opts.holdTimeoutMs,
    clock: deps.clock,
    sockets: deps.sockets,
    logger: deps.logger.child('media'),
    firewall,
    kernel,
    kernelUnavailable: kernelWhyNot ?? '',
    pinholeDevice: wanDev !== null && ruleable(opts.wanAddress) ? wanDev : null,
    conntrack,
    ...(t.random ? { random: t.random } : {}),
    ...(t.latchWindowMs !== undefined ? { latchWindowMs: t.latchWindowMs } : {}),
    ...(t.portCooldownMs !== undefined ? { portCooldownMs: t.portCooldownMs } : {}),
    ...(t.sweepIntervalMs !== undefined ? { sweepIntervalMs: t.sweepIntervalMs } : {}),
  });

  /** Stage the rules of these owners together and commit; on any failure the previous ones stay. */
  const replace = async (wanted: Record<string, readonly FwRule[]>): Promise<void> => {
    const before = Object.keys(wanted).map((k) => [k, firewall.get(k) ?? []] as const);
    try {
      for (const [k, rules] of Object.entries(wanted)) firewall.set(k, rules);
      await firewall.commit();
    } catch (err) {
      for (const [k, rules] of before) firewall.set(k, rules);
      throw err;
    }
  };

  const network: NetworkControl = {
    async setRedirects(redirects: readonly SipRedirect[]): Promise<void> {
      if (redirects.length > 0 && !firewall.active)
        throw new SipmasqError('SMQ_ERR_FIREWALL', 'transparent-mode redirects need a firewall backend');
      if (redirects.length > 0 && opts.lanDevice === null)
        throw new SipmasqError('SMQ_ERR_FIREWALL', 'transparent-mode redirects need the LAN device');
      await replace({
        '@redirect': redirects.map((r) => redirectRule(r, opts.lanDevice!)),
        '@nohelper': helper.rules(redirects),
      });
      log.info('SIP redirects', {
        redirects: redirects.map((r) => `${r.proto}/${r.port}->${r.toPort}`).join(','),
      });
    },
    async setSourceMappings(mappings: readonly SourceMapping[]): Promise<void> {
      if (mappings.length > 0 && !firewall.active)
        throw new SipmasqError('SMQ_ERR_FIREWALL', 'source mappings need a firewall backend');
      await replace({ '@srcmap': mappings.map((m) => sourceMapRule(m, opts)) });
      log.info('SIP source mappings', {
        mappings: mappings
          .map((m) => `${m.proto}/${m.phoneAddress}:${m.phonePort}<-${m.asAddress}:${m.asPort}`)
          .join(','),
      });
    },
    refresh(): Promise<void> {
      return firewall.active ? firewall.check(true) : Promise.resolve();
    },
    status(): FirewallStatus {
      return { ...firewall.status(), sipHelper: helper.status() };
    },
  };

  let closing: Promise<void> | null = null;
  return {
    media: router,
    network,
    async reconcile(known) {
      const result = await leftovers.reconcile(known, (sessionId, index, m) =>
        router.adopt(sessionId, index, m),
      );
      await firewall.commit();
      await leftovers.forgetRemoved((m) => conntrack.forget(m));
      log.info('reconciled', { adopted: result.adopted.length, removed: result.removed });
      return result;
    },
    close(): Promise<void> {
      closing ??= (async () => {
        let failure: unknown = null;
        await router.close().catch((err: unknown) => {
          failure = err;
        });
        await firewall.close().catch((err: unknown) => {
          failure ??= err;
          log.error('removing firewall rules failed', { error: errorText(err) });
        });
        await helper.close();
        if (failure !== null) throw failure;
      })();
      return closing;
    },
  };
}

function sipRule(opts: MediaSideOptions, dev: string): FwRule {
  return {
    kind: 'accept-in',
    comment: sipComment('udp', opts.sipPort),
    dev,
    daddr: opts.wanAddress,
    proto: 'udp',
    ports: [opts.sipPort, opts.sipPort],
    saddr: null,
  };
}

function redirectRule(r: SipRedirect, lanDevice: string): FwRule {
  return {
    kind: 'redirect',
    comment: redirectComment(r.proto, r.port),
    dev: lanDevice,
    proto: r.proto,
    dport: r.port,
    toPort: r.toPort,
  };
}

/**
 * What sipmasq sends from its LAN address and SIP port to the phone leaves as the phone's registrar
 * (transparent mode). IPv4 only, like every NAT rule of ours.
 */
function sourceMapRule(m: SourceMapping, opts: MediaSideOptions): FwRule {
  return {
    kind: 'map-source',
    comment: sourceMapComment(m.proto, m.phoneAddress, m.phonePort),
    proto: m.proto,
    saddr: opts.lanAddress,
    sport: m.localPort ?? opts.sipPort,
    daddr: m.phoneAddress,
    dport: m.phonePort,
    to: m.asAddress,
    toPort: m.asPort,
  };
}

/** Find the kernel SIP helper and decide what to do about it (policy default: disable). */
async function sipHelperGuard(
  opts: MediaSideOptions,
  detected: Detected,
  runner: CommandRunner,
  t: MediaSideTuning,
  log: Logger,
  warn: (text: string) => void,
): Promise<SipHelperGuard> {
  const backend = detected.backend;
  const nft =
    backend instanceof NftBackend
      ? {
          cmd: t.nft?.nft ?? 'nft',
          family: backend.names.family,
          table: backend.names.table,
          parent: backend.names.parents.helper,
        }
      : undefined;
  const finding = await detectSipHelper({
    backend: backend.name,
    runner,
    ...(t.helperPaths ? { paths: t.helperPaths } : {}),
    ...(nft ? { nft } : {}),
    ...(t.iptables?.save ? { iptablesSave: t.iptables.save } : {}),
  });
  return new SipHelperGuard({
    policy: opts.sipHelper ?? 'disable',
    backend: backend.name,
    finding,
    hookedFrom: nft ? `${nft.family} ${nft.table} ${nft.parent}` : 'raw PREROUTING',
    sipPort: opts.sipPort,
    lanDevice: opts.lanDevice,
    autoAssignPath: t.helperPaths?.autoAssign ?? DEFAULT_HELPER_PATHS.autoAssign,
    logger: log,
    warn,
  });
}

function kernelUnavailable(opts: MediaSideOptions, firewallActive: boolean): string | null {
  if (opts.mediaPath === 'relay') return 'mediaPath relay';
  if (!firewallActive) return 'no firewall backend';
  if (opts.wanDevice === null || opts.lanDevice === null) return 'WAN or LAN device unknown';
  if (ipFamily(opts.wanAddress) !== 4 || ipFamily(opts.lanAddress) !== 4) return 'kernel path is IPv4 only';
  return null;
}

function checkOptions(o: MediaSideOptions): void {
  for (const a of [o.lanAddress, o.wanAddress])
    if (ipFamily(a) === null) throw new TypeError(`media side: not an IP address: ${a}`);
  for (const p of [o.sipPort, o.portMin, o.portMax])
    if (!isValidPort(p)) throw new TypeError(`media side: bad port ${p}`);
  if (!['auto', 'relay', 'kernel'].includes(o.mediaPath))
    throw new TypeError(`media side: bad mediaPath ${o.mediaPath}`);
  if (o.sipHelper !== undefined && !['disable', 'warn'].includes(o.sipHelper))
    throw new TypeError(`media side: bad sipHelper ${String(o.sipHelper)}`);
  for (const d of [o.lanDevice, o.wanDevice]) if (d !== null) checkDevice(d);
}
