/**
 * SIP over TCP on the LAN side (RFC 3261 §18): a listener on the LAN address and SIP port that phones
 * (or the transparent-interception redirect) connect to. Only LAN sources are accepted; connections are
 * limited in number (in total and per source address), in idle time and in message size.
 *
 * Connection reuse: RFC 3261 §18.2.2: "If the "sent-protocol" is a reliable transport protocol such as
 * TCP or SCTP, or TLS over those, the response MUST be sent using the existing connection to the source
 * of the original request that created the transaction, if that connection is still open." The request's
 * top Via gets received/rport = the connection's remote address and port (via-stack.ts), so send() to
 * that address:port finds the connection. RFC 5626 §5.3: requests to a phone registered over TCP go on
 * its flow; when the flow is gone send() returns false and the caller answers 430 (Flow Failed).
 * sipmasq never opens connections to phones: a phone's TCP source port accepts nothing.
 */
import net from 'node:net';
import { type Clock, systemClock } from '../../common/clock.ts';
import { SipmasqError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import { canonicalIp, formatHostPort, ipFamily } from '../../common/net.ts';
import type { SipPacket } from './sip-transport.ts';
import { type CloseReason, TcpConnection } from './tcp-connection.ts';

export interface TcpTransportOptions {
  /** The LAN address to listen on. */
  readonly address: string;
  /** The SIP port (0 picks a free one: tests). */
  readonly port: number;
  /**
   * Transparent mode: the LAN port the firewall redirects phones' SIP over TCP to; messages from its
   * connections carry `intercepted: true` (replies on a connection need nothing more: conntrack un-NATs
   * them). Null or absent: no intercept listener.
   */
  readonly interceptPort?: number | null;
  readonly isLanSource: (addr: string) => boolean;
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Open connections in all (default 256). */
  readonly maxConnections?: number;
  /** Open connections from one source address (default 16). */
  readonly maxConnectionsPerSource?: number;
  /** A connection that sent nothing, not even a keep-alive, for this long is closed (default 10 min). */
  readonly idleTimeoutMs?: number;
  /** Largest SIP message, head and body (default 65535). */
  readonly maxMessageSize?: number;
  /** Most bytes queued toward one peer before it is dropped as not reading (default 256 KiB). */
  readonly maxWriteBuffer?: number;
  /** Time given to a connection closing after a framing error to flush its 400 (default 2 s). */
  readonly closeGraceMs?: number;
  /** Seam for tests: the server to accept on (default net.createServer). */
  readonly createServer?: (onConnection: (socket: net.Socket) => void) => net.Server;
}

interface Listener {
  readonly server: net.Server;
  readonly intercepted: boolean;
}

export interface TcpMessage extends SipPacket {
  readonly side: 'lan';
  readonly transport: 'tcp';
}

export interface TcpConnectionInfo {
  readonly address: string;
  readonly port: number;
  readonly intercepted: boolean;
  readonly since: number;
  readonly lastSeen: number;
  readonly messages: number;
  readonly pings: number;
}

export interface TcpStatus {
  readonly count: number;
  /** Open connections per source address. */
  readonly perSource: Readonly<Record<string, number>>;
  readonly list: readonly TcpConnectionInfo[];
  readonly counters: Readonly<TcpTransport['counters']>;
}

/** A socket's remote address as a plain, canonical IP (IPv4 not in ::ffff: form). */
function plainAddress(addr: string | undefined): string | null {
  if (!addr) return null;
  const bare = addr.startsWith('::ffff:') && ipFamily(addr.slice(7)) === 4 ? addr.slice(7) : addr;
  return canonicalIp(bare);
}

function connectionKey(address: string, port: number): string {
  return formatHostPort(canonicalIp(address) ?? address, port);
}

const REFUSAL_LOG_INTERVAL_MS = 60_000;

export class TcpTransport {
  private readonly listeners: Listener[] = [];
  /** Every open connection; `table` finds them by remote address:port. */
  private readonly all = new Set<TcpConnection>();
  private readonly table = new Map<string, TcpConnection>();
  private readonly perSource = new Map<string, number>();
  private handler: (m: TcpMessage) => void = () => {};
  private closing: Promise<void> | null = null;
  private readonly clock: Clock;
  private readonly limits: {
    total: number;
    perSource: number;
    idleMs: number;
    maxMessageSize: number;
    maxWriteBuffer: number;
    closeGraceMs: number;
  };
  private readonly lastRefusalLog = new Map<string, number>();
  readonly counters = {
    accepted: 0,
    refusedNotLan: 0,
    refusedLimit: 0,
    closedIdle: 0,
    framingErrors: 0,
    messages: 0,
  };

  constructor(private readonly opts: TcpTransportOptions) {
    const positive = (name: string, v: number | undefined, dflt: number): number => {
      const n = v ?? dflt;
      if (!Number.isInteger(n) || n <= 0) throw new TypeError(`${name} must be a positive integer: ${n}`);
      return n;
    };
    if (!ipFamily(opts.address)) throw new TypeError(`not an IP address: ${opts.address}`);
    this.clock = opts.clock ?? systemClock;
    this.limits = {
      total: positive('maxConnections', opts.maxConnections, 256),
      perSource: positive('maxConnectionsPerSource', opts.maxConnectionsPerSource, 16),
      idleMs: positive('idleTimeoutMs', opts.idleTimeoutMs, 600_000),
      maxMessageSize: positive('maxMessageSize', opts.maxMessageSize, 65535),
      maxWriteBuffer: positive('maxWriteBuffer', opts.maxWriteBuffer, 262_144),
      closeGraceMs: positive('closeGraceMs', opts.closeGraceMs, 2000),
    };
  }

  /** Every framed message from every connection (one handler; a later call replaces it). */
  onMessage(fn: (m: TcpMessage) => void): void {
    this.handler = fn;
  }

  /** Listens on the SIP port, then on the intercept port if any; throws SMQ_ERR_BIND (then closed). */
  async listen(): Promise<void> {
    if (this.listeners.length > 0 || this.closing)
      throw new TypeError('TcpTransport.listen called twice or after close');
    try {
      await this.bind(this.opts.port, false);
      const intercept = this.opts.interceptPort ?? null;
      if (intercept !== null) await this.bind(intercept, true);
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  private async bind(port: number, intercepted: boolean): Promise<void> {
    const make = this.opts.createServer ?? ((fn) => net.createServer({ allowHalfOpen: false }, fn));
    const server = make((socket) => this.accept(socket, intercepted));
    this.listeners.push({ server, intercepted });
    const { address } = this.opts;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => {
        const where = `tcp ${formatHostPort(address, port)}`;
        reject(
          new SipmasqError('SMQ_ERR_BIND', `${where}: ${err.message}`, { address, port }, { cause: err }),
        );
      };
      server.once('error', onError);
      server.listen({ host: address, port, exclusive: true }, () => {
        server.off('error', onError);
        server.on('error', (err) => this.opts.logger.warn('TCP listener error', { error: err.message }));
        resolve();
      });
    });
  }

  /** The bound address and port (after listen) of the SIP listener, or of the intercept listener. */
  address(intercepted = false): { address: string; port: number } | null {
    const a = this.listeners.find((l) => l.intercepted === intercepted)?.server.address();
    return a && typeof a === 'object' ? { address: a.address, port: a.port } : null;
  }

  /** Is there an open connection (a flow) to this remote address and port? */
  has(address: string, port: number): boolean {
    return this.table.get(connectionKey(address, port))?.open ?? false;
  }

  /**
   * Writes `data` on the open connection whose remote end is address:port. False when there is none
   * (the caller answers 430 / 480, or logs the drop) or the peer stopped reading.
   */
  send(data: Buffer, address: string, port: number): boolean {
    const conn = this.table.get(connectionKey(address, port));
    return conn ? conn.write(data) : false;
  }

  connections(): TcpStatus {
    return {
      count: this.all.size,
      perSource: Object.fromEntries(this.perSource),
      list: [...this.all].map((c) => ({
        address: c.address,
        port: c.port,
        intercepted: c.intercepted,
        since: c.since,
        lastSeen: c.lastSeen,
        messages: c.messages,
        pings: c.pings,
      })),
      counters: { ...this.counters },
    };
  }

  /** Stops listening and destroys every connection. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const c of [...this.all]) c.destroy('shutdown');
      await Promise.all(
        this.listeners.map(({ server }) =>
          server.listening ? new Promise<void>((r) => server.close(() => r())) : undefined,
        ),
      );
    })();
    return this.closing;
  }

  private accept(socket: net.Socket, intercepted: boolean): void {
    const address = plainAddress(socket.remoteAddress);
    const port = socket.remotePort;
    if (this.closing || !address || !port) {
      socket.destroy();
      return;
    }
    if (!this.opts.isLanSource(address)) {
      this.counters.refusedNotLan++;
      this.refused('not-lan', 'TCP connection from a non-LAN source refused', address);
      socket.destroy();
      return;
    }
    const fromSource = this.perSource.get(address) ?? 0;
    if (this.all.size >= this.limits.total || fromSource >= this.limits.perSource) {
      this.counters.refusedLimit++;
      this.refused('limit', 'TCP connection limit reached, connection refused', address, {
        open: this.all.size,
        fromSource,
      });
      socket.destroy();
      return;
    }
    const key = connectionKey(address, port);
    // The same remote address:port may briefly have two connections (the old one's close not seen yet,
    // or one to each listener): sends go to the newest.
    const conn = new TcpConnection(socket, address, port, key, intercepted, {
      clock: this.clock,
      log: this.opts.logger,
      maxMessageSize: this.limits.maxMessageSize,
      idleTimeoutMs: this.limits.idleMs,
      maxWriteBuffer: this.limits.maxWriteBuffer,
      closeGraceMs: this.limits.closeGraceMs,
      onMessage: (c, data) => this.deliver(c, data),
      onClose: (c, reason) => this.forget(c, reason),
    });
    this.all.add(conn);
    this.table.set(key, conn);
    this.perSource.set(address, fromSource + 1);
    this.counters.accepted++;
    this.opts.logger.debug('TCP connection accepted', { from: key, open: this.all.size, intercepted });
  }

  private deliver(conn: TcpConnection, data: Buffer): void {
    this.counters.messages++;
    try {
      const m: TcpMessage = { data, side: 'lan', address: conn.address, port: conn.port, transport: 'tcp' };
      this.handler(conn.intercepted ? { ...m, intercepted: true } : m);
    } catch (err) {
      this.opts.logger.error('message handler failed', {
        from: conn.key,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }

  private forget(conn: TcpConnection, reason: CloseReason): void {
    this.all.delete(conn);
    if (this.table.get(conn.key) === conn) {
      this.table.delete(conn.key);
      for (const other of this.all) if (other.key === conn.key) this.table.set(conn.key, other);
    }
    const n = (this.perSource.get(conn.address) ?? 1) - 1;
    if (n > 0) this.perSource.set(conn.address, n);
    else this.perSource.delete(conn.address);
    if (reason === 'idle') this.counters.closedIdle++;
    if (reason === 'framing') this.counters.framingErrors++;
    this.opts.logger.debug('TCP connection closed', { from: conn.key, reason, open: this.all.size });
  }

  /** Refusals are logged at most once a minute per kind (a flood must not flood the log). */
  private refused(kind: string, message: string, from: string, extra: Record<string, number> = {}): void {
    const now = this.clock.now();
    const last = this.lastRefusalLog.get(kind);
    if (last !== undefined && now - last < REFUSAL_LOG_INTERVAL_MS) {
      this.opts.logger.debug(message, { from, ...extra });
      return;
    }
    this.lastRefusalLog.set(kind, now);
    this.opts.logger.warn(message, { from, ...extra });
  }
}
