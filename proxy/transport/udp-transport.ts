/**
 * SIP over UDP (RFC 3261 §18): one socket on the LAN address and one on the WAN address, both on the
 * SIP port. Which side a datagram came from is the socket it arrived on (or, when LAN and WAN share one
 * address, whether its source is a LAN network).
 */
import type dgram from 'node:dgram';
import { SipmasqError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import { ipFamily, sameAddress } from '../../common/net.ts';
import type { SocketFactory } from '../../common/socket-factory.ts';
import type { Side } from '../../rtpproxy/control.ts';

export interface Datagram {
  readonly data: Buffer;
  readonly side: Side;
  readonly address: string;
  readonly port: number;
  /** Arrived on the intercept socket: a phone's SIP redirected by the firewall (transparent mode). */
  readonly intercepted?: boolean;
  /** The transport it came over (absent: udp). */
  readonly transport?: 'udp' | 'tcp';
}

export interface TransportOptions {
  lanAddress: string;
  wanAddress: string;
  port: number;
  /** Transparent mode: the LAN port redirected SIP arrives on; null when the mode is off. */
  interceptPort: number | null;
  isLanSource: (addr: string) => boolean;
  sockets: SocketFactory;
  logger: Logger;
}

/** Node's dgram hands IPv4 sources on udp6 sockets as ::ffff:a.b.c.d. */
function plainAddress(addr: string): string {
  return addr.startsWith('::ffff:') && ipFamily(addr.slice(7)) === 4 ? addr.slice(7) : addr;
}

export class UdpTransport {
  private lan: dgram.Socket | null = null;
  private wan: dgram.Socket | null = null;
  private intercept: dgram.Socket | null = null;
  private handler: (d: Datagram) => void = () => {};
  private closed = false;

  constructor(private readonly opts: TransportOptions) {}

  onDatagram(fn: (d: Datagram) => void): void {
    this.handler = fn;
  }

  async listen(): Promise<void> {
    const shared = sameAddress(this.opts.lanAddress, this.opts.wanAddress);
    this.lan = await this.bind(this.opts.lanAddress, shared ? null : 'lan', this.opts.port, false);
    this.wan = shared ? this.lan : await this.bind(this.opts.wanAddress, 'wan', this.opts.port, false);
    if (this.opts.interceptPort !== null)
      this.intercept = await this.bind(this.opts.lanAddress, 'lan', this.opts.interceptPort, true);
  }

  private bind(
    address: string,
    side: Side | null,
    port: number,
    intercepted: boolean,
  ): Promise<dgram.Socket> {
    const family = ipFamily(address);
    if (!family) throw new TypeError(`not an IP address: ${address}`);
    const sock = this.opts.sockets.udp(family);
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => {
        sock.close();
        reject(
          new SipmasqError('SMQ_ERR_BIND', `${address}:${port}: ${err.message}`, { address }, { cause: err }),
        );
      };
      sock.once('error', onError);
      sock.bind({ address, port, exclusive: true }, () => {
        sock.off('error', onError);
        sock.on('error', (err) => this.opts.logger.warn('socket error', { address, error: err.message }));
        sock.on('message', (data, rinfo) => {
          const src = plainAddress(rinfo.address);
          const from: Side = side ?? (this.opts.isLanSource(src) ? 'lan' : 'wan');
          this.handler(
            intercepted
              ? { data, side: from, address: src, port: rinfo.port, intercepted }
              : { data, side: from, address: src, port: rinfo.port },
          );
        });
        resolve(sock);
      });
    });
  }

  send(side: Side, data: Buffer, address: string, port: number, intercepted = false): void {
    const sock = side === 'wan' ? this.wan : intercepted && this.intercept ? this.intercept : this.lan;
    if (!sock || this.closed) return;
    sock.send(data, port, address, (err) => {
      if (err) this.opts.logger.debug('send failed', { to: `${address}:${port}`, error: err.message });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const socks = [...new Set([this.lan, this.wan, this.intercept])].filter(
      (s): s is dgram.Socket => s !== null,
    );
    await Promise.all(socks.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}
