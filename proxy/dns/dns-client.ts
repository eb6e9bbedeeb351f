/**
 * A stub resolver over UDP (RFC 1035 §4.2.1), with TTLs, for the name servers in resolv.conf: each
 * attempt asks every server in turn, each try waiting `timeout`; an answer with TC set is asked again
 * over TCP of the same server (RFC 7766 §5). NXDOMAIN and empty answers are values; only "no server
 * answered" is an error (SMQ_ERR_DNS). Each try uses a fresh socket, so a fresh random source port, and a
 * fresh random id (RFC 5452 §9.2), connected to the server so that only its datagrams are read.
 */
import type dgram from 'node:dgram';
import { type Clock, systemClock } from '../../common/clock.ts';
import { SipmasqError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import { ipFamily, sameAddress } from '../../common/net.ts';
import { nodeSocketFactory, type SocketFactory } from '../../common/socket-factory.ts';
import { type DnsMessage, decodeAnswer, encodeQuery, randomQueryId, type SentQuery } from './dns-message.ts';
import { type DnsRecord, type QueryType, Rcode, rcodeName } from './dns-record.ts';
import { DnsTcpExchange, type ExchangeResult, type TcpConnector } from './dns-tcp-exchange.ts';
import { ResolvConf, type ResolvConfig } from './resolv-conf.ts';

export interface DnsAnswer {
  readonly rcode: number;
  readonly answers: readonly DnsRecord[];
  /** The server that answered, and how. */
  readonly server: string;
  readonly transport: 'udp' | 'tcp';
}

/** What the SIP resolver needs of a DNS client (tests give it a fake). */
export interface DnsClient {
  query(name: string, type: QueryType): Promise<DnsAnswer>;
}

export interface UdpDnsClientOptions {
  /** Default /etc/resolv.conf. */
  readonly resolvConfPath?: string;
  readonly clock?: Clock;
  readonly sockets?: SocketFactory;
  readonly tcp?: TcpConnector;
  /** The name servers' port, 53; other values are for tests (resolv.conf cannot name a port). */
  readonly port?: number;
  /** Override resolv.conf's timeout (ms) and attempts. */
  readonly timeoutMs?: number;
  readonly attempts?: number;
  readonly queryId?: () => number;
  readonly logger?: Logger;
}

export interface DnsClientStats {
  queries: number;
  udpTimeouts: number;
  tcpRetries: number;
  serverFailures: number;
  failures: number;
}

/* RFC 1035 §4.2.1: "Messages carried by UDP are restricted to 512 bytes"; we send no EDNS0. */
const SERVER_FAILURES = new Set<number>([Rcode.SERVFAIL, Rcode.NOTIMP, Rcode.REFUSED, Rcode.FORMERR]);

export class UdpDnsClient implements DnsClient {
  private readonly clock: Clock;
  private readonly sockets: SocketFactory;
  private readonly conf: ResolvConf;
  private readonly tcp: DnsTcpExchange;
  private readonly port: number;
  private readonly queryId: () => number;
  private readonly aborts = new Set<() => void>();
  private readonly counters: DnsClientStats = {
    queries: 0,
    udpTimeouts: 0,
    tcpRetries: 0,
    serverFailures: 0,
    failures: 0,
  };
  private next = 0;
  private closed = false;

  constructor(private readonly opts: UdpDnsClientOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.sockets = opts.sockets ?? nodeSocketFactory;
    this.conf = new ResolvConf(opts.resolvConfPath ?? '/etc/resolv.conf', this.clock);
    this.tcp = new DnsTcpExchange(this.clock, opts.tcp);
    this.port = opts.port ?? 53;
    this.queryId = opts.queryId ?? randomQueryId;
  }

  stats(): Readonly<DnsClientStats> {
    return { ...this.counters };
  }

  /** The configuration queries use now (resolv.conf with this client's overrides). */
  async config(): Promise<ResolvConfig> {
    const c = await this.conf.current();
    return {
      ...c,
      timeoutMs: this.opts.timeoutMs ?? c.timeoutMs,
      attempts: this.opts.attempts ?? c.attempts,
    };
  }

  async query(name: string, type: QueryType): Promise<DnsAnswer> {
    if (this.closed) throw new SipmasqError('SMQ_ERR_DNS', 'client closed', { name, type });
    this.counters.queries++;
    const conf = await this.config();
    const servers = [...conf.nameservers];
    if (conf.rotate) {
      const k = this.next++ % servers.length;
      servers.push(...servers.splice(0, k));
    }
    let failed: DnsAnswer | null = null;
    let lastError = 'no name server';
    for (let attempt = 0; attempt < conf.attempts; attempt++) {
      for (const server of servers) {
        if (this.closed) throw new SipmasqError('SMQ_ERR_DNS', 'client closed', { name, type });
        const query: SentQuery = { id: this.queryId(), name, type };
        const packet = encodeQuery(name, type, query.id);
        let res = await this.udpTry(server, packet, query, conf.timeoutMs);
        let transport: 'udp' | 'tcp' = 'udp';
        if (res.ok && res.message.truncated) {
          this.counters.tcpRetries++;
          this.opts.logger?.debug('truncated answer, asking over TCP', { name, type, server });
          res = await this.tcp.run(server, this.port, packet, query, conf.timeoutMs);
          transport = 'tcp';
        }
        if (!res.ok) {
          if (res.timedOut) this.counters.udpTimeouts++;
          lastError = res.error;
          this.opts.logger?.debug('no answer', { name, type, server, error: res.error });
          continue;
        }
        const answer = toAnswer(res.message, server, transport);
        // A server that cannot answer (SERVFAIL, REFUSED, ...) sends us on to the next one.
        if (!SERVER_FAILURES.has(answer.rcode)) return answer;
        this.counters.serverFailures++;
        lastError = `${server} answered ${rcodeName(answer.rcode)}`;
        failed = answer;
      }
    }
    if (failed) return failed;
    this.counters.failures++;
    throw new SipmasqError('SMQ_ERR_DNS', `${type} ${name}: ${lastError}`, {
      name,
      type,
      servers: servers.join(','),
    });
  }

  /** Abandon queries in flight (they fail with SMQ_ERR_DNS) and refuse new ones. Idempotent. */
  close(): void {
    this.closed = true;
    for (const abort of [...this.aborts]) abort();
  }

  private udpTry(
    server: string,
    packet: Buffer,
    query: SentQuery,
    timeoutMs: number,
  ): Promise<ExchangeResult> {
    return new Promise((resolve) => {
      let socket: dgram.Socket;
      try {
        socket = this.sockets.udp(ipFamily(server) === 6 ? 6 : 4);
      } catch (err) {
        resolve({ ok: false, error: `no UDP socket: ${(err as Error).message}`, timedOut: false });
        return;
      }
      let done = false;
      const finish = (res: ExchangeResult): void => {
        if (done) return;
        done = true;
        timer.cancel();
        this.aborts.delete(abort);
        socket.removeAllListeners('message');
        socket.on('error', () => {}); // late ICMP errors after close have nowhere to go
        try {
          socket.close();
        } catch {
          // already closed by an error: nothing left to release
        }
        resolve(res);
      };
      const abort = (): void => finish({ ok: false, error: 'client closed', timedOut: false });
      this.aborts.add(abort);
      const timer = this.clock.setTimeout(
        () => finish({ ok: false, error: `no answer from ${server} in ${timeoutMs} ms`, timedOut: true }),
        timeoutMs,
      );
      socket.on('error', (err) =>
        finish({ ok: false, error: `UDP to ${server}: ${err.message}`, timedOut: false }),
      );
      socket.on('message', (buf: Buffer, rinfo: dgram.RemoteInfo) => {
        if (!sameAddress(rinfo.address, server) || rinfo.port !== this.port) return;
        const res = decodeAnswer(buf, query);
        // RFC 5452 §9.1: a reply that does not match the query is not the answer; keep waiting for it.
        if (!res.ok) {
          this.opts.logger?.debug('ignored a DNS reply', { server, error: res.error });
          return;
        }
        finish(res);
      });
      socket.connect(this.port, server, () => {
        if (done) return;
        socket.send(packet, (err) => {
          if (err) finish({ ok: false, error: `UDP to ${server}: ${err.message}`, timedOut: false });
        });
      });
    });
  }
}

function toAnswer(msg: DnsMessage, server: string, transport: 'udp' | 'tcp'): DnsAnswer {
  return { rcode: msg.rcode, answers: msg.answers, server, transport };
}
