/**
 * The daemon: wires the objects together from a validated Config, starts them in order, and stops
 * them in reverse. reload() (SIGHUP, `sipmasq reload`, the OpenWrt hotplug) re-reads the configuration
 * and re-detects addresses: a new public address is used at once by new registrations and calls; a
 * changed bind address rebinds the SIP sockets and restarts the media relay.
 */
import type { Clock, Timer } from '../common/clock.ts';
import { errorText, SipmasqError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { sameAddress } from '../common/net.ts';
import type { SocketFactory } from '../common/socket-factory.ts';
import type { MediaControl, MediaSide, SourceMapping } from '../rtpproxy/control.ts';
import { createMediaSide } from '../rtpproxy/media-side.ts';
import { type Config, parseOutboundProxy } from './config.ts';
import { AddressBook, type Addresses } from './core/address-book.ts';
import { CallTable } from './core/call-table.ts';
import { ContactMap } from './core/contact-map.ts';
import { ContactTokens } from './core/contact-token.ts';
import { Failover } from './core/failover.ts';
import { Keepalive } from './core/keepalive.ts';
import { RegistrationTable } from './core/registration-table.ts';
import { SipProxy } from './core/sip-proxy.ts';
import { TransactionMemo } from './core/transaction-memo.ts';
import { ResolverNextHop } from './dns/resolver-next-hop.ts';
import { ControlServer } from './status/control-server.ts';
import { buildStatus, type StatusReport } from './status/status-report.ts';
import { openStore } from './store/open-store.ts';
import type { RegistrationStore } from './store/registration-store.ts';
import { TransportSet } from './transport/sip-transport.ts';
import { TcpTransport } from './transport/tcp-transport.ts';
import { UdpTransport } from './transport/udp-transport.ts';

/** `domain=host[:port]` entries as a lookup (validated by config.ts). */
function outboundProxyTable(
  entries: readonly string[],
): (domain: string) => { host: string; port: number | undefined } | undefined {
  const table = new Map<string, { host: string; port: number | undefined }>();
  for (const e of entries) {
    const p = parseOutboundProxy(e);
    if (p) table.set(p.domain, { host: p.host, port: p.port });
  }
  return (domain) => table.get(domain);
}

export interface DaemonEnv {
  readonly version: string;
  readonly clock: Clock;
  readonly sockets: SocketFactory;
  readonly logger: Logger;
  /** Resolve interfaces to addresses (injected: tests and the lab give fixed ones). */
  readonly detect: (config: Config) => Addresses;
  /** Re-read and validate the configuration (for reload). */
  readonly loadConfig: () => Config;
}

export class Daemon {
  private config: Config;
  private readonly log: Logger;
  private addresses!: AddressBook;
  private store!: RegistrationStore;
  private registrations!: RegistrationTable;
  private side!: MediaSide;
  private resolver!: ResolverNextHop;
  private failover!: Failover;
  private transport!: TransportSet;
  private proxy!: SipProxy;
  private keepalive!: Keepalive;
  private control!: ControlServer;
  private readonly calls: CallTable;
  private readonly memo: TransactionMemo;
  private readonly contacts: ContactMap;
  private readonly tokens = new ContactTokens();
  private sweepTimer: Timer | null = null;
  private mappingTimer: Timer | null = null;
  private appliedMappings = '[]';
  private readonly startedAt: number;
  private stopping: Promise<void> | null = null;
  private readonly warnings: string[] = [];

  constructor(
    config: Config,
    private readonly env: DaemonEnv,
  ) {
    this.config = config;
    this.log = env.logger;
    this.calls = new CallTable(env.clock);
    this.memo = new TransactionMemo(env.clock);
    this.contacts = new ContactMap(env.clock);
    this.startedAt = env.clock.now();
  }

  async start(): Promise<void> {
    const { clock, logger } = this.env;
    this.addresses = new AddressBook(this.env.detect(this.config));
    this.store = openStore({
      path: this.config.storePath,
      flushIntervalMs: this.config.storeFlushInterval * 1000,
      clock,
      logger: logger.child('store'),
    });
    this.registrations = new RegistrationTable(this.store, clock, logger.child('registrations'));
    const restored = this.registrations.restore();
    this.side = await this.makeMediaSide();
    // Calls are not persisted: kernel rules a crash left behind belong to no dialog we know (removed).
    const reconciled = await this.side.reconcile(new Set());
    if (reconciled.removed > 0)
      this.log.info('removed media rules left by an earlier run', { rules: reconciled.removed });
    this.resolver = new ResolverNextHop(clock, {}, logger.child('dns'));
    this.failover = new Failover(
      clock,
      (data, t) => this.transport.send('wan', data, t.address, t.port),
      this.config.failoverTimeout * 1000,
      logger.child('failover'),
    );
    const self = this;
    this.proxy = new SipProxy({
      addresses: this.addresses,
      transport: {
        send: (side, data, address, port, intercepted, transport) => {
          self.transport.send(side, data, address, port, transport, intercepted);
        },
      },
      get control() {
        return self.side.media;
      },
      registrations: this.registrations,
      calls: this.calls,
      contacts: this.contacts,
      tokens: this.tokens,
      resolver: this.resolver,
      failover: this.failover,
      proxyFor: outboundProxyTable(this.config.outboundProxies),
      memo: this.memo,
      clock,
      log: logger.child('proxy'),
      maxMessageSize: this.config.maxMessageSize,
    });
    await this.bindTransport();
    await this.applyInterception();
    this.registrations.onChange(() => this.scheduleSourceMappings());
    this.scheduleSourceMappings();
    this.keepalive = new Keepalive(
      () => this.registrations.registrars(),
      this.proxy.transportSender(),
      clock,
      logger.child('keepalive'),
    );
    this.keepalive.start(this.config.keepaliveInterval);
    this.control = new ControlServer(
      this.config.controlSocket,
      (cmd) => this.command(cmd),
      logger.child('control'),
    );
    try {
      await this.control.listen();
    } catch (err) {
      this.warnings.push(`status socket unavailable: ${errorText(err)}`);
      this.log.error('status socket unavailable', { error: errorText(err) });
    }
    this.sweepTimer = clock.setInterval(() => {
      for (const e of this.calls.sweep()) {
        this.log.info('stale call forgotten', { call: e.callId, state: e.state });
        this.media.release(e.sessionId, 'timeout').catch((err: unknown) => {
          this.log.warn('media release failed', { call: e.callId, error: errorText(err) });
        });
      }
      this.memo.sweep();
    }, 10_000);
    const a = this.addresses.snapshot();
    this.log.info('started', {
      version: this.env.version,
      lan: `${a.lanAddress}:${a.sipPort}`,
      wan: `${a.wanAddress}:${a.sipPort}`,
      public: a.publicAddress,
      lanNetworks: a.lanNetworks.join(','),
      media: `${this.config.mediaPath} ${this.config.rtpPortMin}-${this.config.rtpPortMax}`,
      firewall: this.side.network.status().backend,
      store: this.store.kind,
      restored,
    });
    if (this.store.warning)
      this.log.error(`STORE IS MEMORY-ONLY: ${this.store.warning}`, { code: 'SMQ_ERR_STORE_UNAVAILABLE' });
  }

  private get media(): MediaControl {
    return this.side.media;
  }

  private async makeMediaSide(): Promise<MediaSide> {
    const a = this.addresses.snapshot();
    const side = await createMediaSide(
      {
        lanAddress: a.lanAddress,
        wanAddress: a.wanAddress,
        publicAddress: () => this.addresses.public,
        lanDevice: a.lanDevice,
        wanDevice: a.wanDevice,
        sipPort: a.sipPort,
        portMin: this.config.rtpPortMin,
        portMax: this.config.rtpPortMax,
        idleTimeoutMs: this.config.mediaIdleTimeout * 1000,
        holdTimeoutMs: this.config.mediaHoldTimeout * 1000,
        mediaPath: this.config.mediaPath,
        firewall: this.config.firewall,
        sipHelper: this.config.sipHelper,
      },
      { clock: this.env.clock, sockets: this.env.sockets, logger: this.env.logger },
    );
    side.media.on('released', ({ sessionId, callId, reason }) => {
      const entry = this.calls.bySession(sessionId);
      if (entry) this.proxy.endCall(entry, 'timeout');
      this.log.info('media session released by the media side', { call: callId, reason });
    });
    return side;
  }

  /**
   * Transparent mode: redirect the LAN's SIP toward outside addresses on interceptPorts to our
   * intercept socket (after it is bound, so no redirected packet meets a closed port).
   */
  private async applyInterception(): Promise<void> {
    if (!this.config.modes.includes('transparent')) {
      await this.side.network.setRedirects([]);
      return;
    }
    const toPort = this.config.interceptListenPort;
    const redirects = this.config.interceptPorts.flatMap((port) => [
      { proto: 'udp' as const, port, toPort },
      { proto: 'tcp' as const, port, toPort },
    ]);
    try {
      await this.side.network.setRedirects(redirects);
      this.log.info('transparent mode: LAN SIP intercepted', {
        ports: this.config.interceptPorts.join(','),
        to: toPort,
      });
    } catch (err) {
      this.warnings.push(`transparent mode inactive: ${errorText(err)}`);
      this.log.error('transparent mode: cannot install the redirects', { error: errorText(err) });
    }
  }

  /**
   * Transparent mode, "answers look right to the phone": requests sipmasq later sends to an
   * intercepted phone (out of the intercept socket) get the source address of the registrar the phone
   * talks to, through a per-phone SNAT — replies on a live flow are de-NATed by conntrack anyway.
   */
  private scheduleSourceMappings(): void {
    if (this.mappingTimer || !this.config.modes.includes('transparent')) return;
    this.mappingTimer = this.env.clock.setTimeout(() => {
      this.mappingTimer = null;
      const byPhone = new Map<string, SourceMapping>();
      for (const r of this.registrations.list().sort((x, y) => x.updatedAt - y.updatedAt)) {
        if (!r.intercepted || r.transport === 'tcp') continue;
        const i = r.registrar.lastIndexOf(':');
        const asAddress = r.registrar.slice(0, i);
        const asPort = Number(r.registrar.slice(i + 1));
        if (!asAddress || !(asPort > 0)) continue;
        byPhone.set(`${r.phoneAddr}:${r.phonePort}`, {
          phoneAddress: r.phoneAddr,
          phonePort: r.phonePort,
          proto: 'udp',
          asAddress,
          asPort,
          localPort: this.config.interceptListenPort,
        });
      }
      const next = [...byPhone.values()];
      const key = JSON.stringify(next);
      if (key === this.appliedMappings) return;
      this.side.network.setSourceMappings(next).then(
        () => {
          this.appliedMappings = key;
          this.log.debug('source mappings applied', { count: next.length });
        },
        (err: unknown) => this.log.error('source mappings not applied', { error: errorText(err) }),
      );
    }, 50);
  }

  private async bindTransport(): Promise<void> {
    const a = this.addresses;
    const intercept = this.config.modes.includes('transparent') ? this.config.interceptListenPort : null;
    const udp = new UdpTransport({
      lanAddress: a.lan,
      wanAddress: a.wan,
      port: a.sipPort,
      interceptPort: intercept,
      isLanSource: (addr) => this.addresses.isLanSource(addr),
      sockets: this.env.sockets,
      logger: this.env.logger.child('transport'),
    });
    // SIP over TCP from the phones (RFC 3261 §18): on the LAN address, and on the intercept port.
    const tcp = new TcpTransport({
      address: a.lan,
      port: a.sipPort,
      interceptPort: intercept,
      isLanSource: (addr) => this.addresses.isLanSource(addr),
      clock: this.env.clock,
      maxMessageSize: this.config.maxMessageSize,
      logger: this.env.logger.child('tcp'),
    });
    const transport = new TransportSet(udp, tcp, this.env.logger.child('transport'));
    transport.onMessage((p) => this.proxy.handle(p));
    await transport.listen();
    this.transport = transport;
  }

  private async command(cmd: string): Promise<unknown> {
    if (cmd === 'status') {
      await this.side.network.refresh();
      return this.status();
    }
    if (cmd === 'reload') return this.reload();
    throw new SipmasqError('SMQ_ERR_CONTROL_SOCKET', `unknown command '${cmd}' (status, reload)`);
  }

  status(): StatusReport {
    return buildStatus({
      version: this.env.version,
      startedAt: this.startedAt,
      now: this.env.clock.now(),
      addresses: this.addresses.snapshot(),
      store: this.store,
      registrations: this.registrations,
      calls: this.calls,
      control: this.media,
      firewall: this.side.network.status(),
      dns: this.resolver.stats() as unknown as Record<string, unknown>,
      tcp: this.transport.tcpStatus(),
      sipCounters: { ...this.proxy.counters, keepalivesSent: this.keepalive.sent },
      warnings: this.warnings,
    });
  }

  /** Re-read the configuration and addresses; apply what can change without a restart. */
  async reload(): Promise<{ changed: string[] }> {
    let next: Config;
    try {
      next = this.env.loadConfig();
    } catch (err) {
      this.log.error('reload refused, keeping the running configuration', { error: errorText(err) });
      throw err;
    }
    const changed: string[] = [];
    const before = this.addresses.snapshot();
    const after = this.env.detect(next);
    this.config = next;
    this.env.logger.setLevel(next.logLevel);
    this.keepalive.start(next.keepaliveInterval);
    if (this.addresses.update(after)) changed.push('addresses');
    const rebind =
      !sameAddress(before.lanAddress, after.lanAddress) ||
      !sameAddress(before.wanAddress, after.wanAddress) ||
      before.sipPort !== after.sipPort;
    if (rebind) {
      changed.push('bind');
      await this.transport.close();
      await this.bindTransport();
      const old = this.side;
      await old.close();
      this.side = await this.makeMediaSide();
      this.appliedMappings = '[]';
    }
    await this.applyInterception();
    this.scheduleSourceMappings();
    // The package's firewall include sends SIGHUP after every firewall reload: restore at once rather
    // than at the watchdog's next look.
    await this.side.network.refresh();
    this.log.info('configuration reloaded', {
      public: after.publicAddress,
      lan: after.lanAddress,
      wan: after.wanAddress,
      changed: changed.join(',') || 'nothing',
    });
    return { changed };
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.log.info('stopping');
      this.sweepTimer?.cancel();
      this.mappingTimer?.cancel();
      this.keepalive?.stop();
      await this.control?.close();
      await this.transport?.close();
      await this.side?.close();
      this.resolver?.close();
      this.failover?.close();
      this.registrations?.close();
      this.store?.close();
      this.log.info('stopped');
    })();
    return this.stopping;
  }
}
