/**
 * The SIP transports as one: UDP on both sides (udp-transport.ts) and TCP on the LAN side
 * (tcp-transport.ts). Messages from either arrive through one handler, tagged with the transport they
 * came on; sends pick the transport asked for.
 *
 * The WAN side is UDP only (sipmasq's upstream Via says UDP). On the LAN side a send asked for TCP goes
 * on the phone's connection (RFC 3261 §18.2.2 connection reuse, RFC 5626 flows); when there is none it
 * falls back to UDP to the same address and port, and says so in the log. A caller that must know
 * (RFC 5626 §5.3: a request for a gone flow is answered 430) asks hasFlow() first or reads the result of
 * send(): true when the TCP connection took the message.
 */
import type { Logger } from '../../common/logger.ts';
import type { Side } from '../../rtpproxy/control.ts';
import type { TcpMessage, TcpStatus, TcpTransport } from './tcp-transport.ts';
import type { Datagram } from './udp-transport.ts';

export type TransportKind = 'udp' | 'tcp';

/** A datagram or a framed stream message, with the transport it arrived on. */
export interface SipPacket extends Datagram {
  readonly transport: TransportKind;
  /** Arrived on an intercept listener (transparent mode). */
  readonly intercepted?: boolean;
}

export interface SipTransport {
  /**
   * `transport`: how to reach a LAN peer (default udp; the WAN is always udp). `intercepted`: a UDP
   * send goes out of the intercept socket (transparent mode); a TCP send needs no such choice, the
   * connection already belongs to the right listener.
   */
  send(
    side: Side,
    data: Buffer,
    address: string,
    port: number,
    transport?: TransportKind,
    intercepted?: boolean,
  ): void;
}

/** What TransportSet needs of UdpTransport (or of a fake in tests). */
export interface UdpPart {
  onDatagram(fn: (d: Datagram) => void): void;
  listen(): Promise<void>;
  send(side: Side, data: Buffer, address: string, port: number, intercepted?: boolean): void;
  close(): Promise<void>;
}

/** What TransportSet needs of TcpTransport. */
export type TcpPart = Pick<TcpTransport, 'onMessage' | 'listen' | 'send' | 'has' | 'connections' | 'close'>;

export class TransportSet implements SipTransport {
  private closing: Promise<void> | null = null;
  /** LAN sends asked for TCP that went out over UDP for want of a connection. */
  fallbacks = 0;

  /** Owns both transports: listen() and close() cascade to them. `tcp` null: TCP disabled. */
  constructor(
    private readonly udp: UdpPart,
    private readonly tcp: TcpPart | null,
    private readonly log: Logger,
  ) {}

  /** One handler for both transports (a later call replaces it). */
  onMessage(fn: (p: SipPacket) => void): void {
    this.udp.onDatagram((d) => fn({ ...d, transport: 'udp' }));
    this.tcp?.onMessage((m: TcpMessage) => fn(m));
  }

  /** UDP first, then TCP; if TCP cannot listen, UDP is closed again and the error thrown. */
  async listen(): Promise<void> {
    await this.udp.listen();
    try {
      await this.tcp?.listen();
    } catch (err) {
      await this.udp.close();
      throw err;
    }
  }

  /**
   * Sends one message. Returns true when it went on a TCP connection, or over UDP when UDP was asked
   * for (UDP is fire-and-forget); false when TCP was asked for and UDP had to stand in.
   */
  send(
    side: Side,
    data: Buffer,
    address: string,
    port: number,
    transport: TransportKind = 'udp',
    intercepted = false,
  ): boolean {
    if (this.closing) return false;
    if (transport === 'tcp' && side === 'lan' && this.tcp) {
      if (this.tcp.send(data, address, port)) return true;
    }
    const udp = () =>
      intercepted ? this.udp.send(side, data, address, port, true) : this.udp.send(side, data, address, port);
    if (transport === 'tcp') {
      this.fallbacks++;
      const why = side === 'wan' ? 'TCP is not used on the WAN side' : 'no TCP connection to the phone';
      this.log.info('sent over UDP instead of TCP', { to: `${address}:${port}`, side, reason: why });
      udp();
      return false;
    }
    udp();
    return true;
  }

  /** Is there a TCP connection (an RFC 5626 flow) from this LAN address and port? */
  hasFlow(address: string, port: number): boolean {
    return this.tcp?.has(address, port) ?? false;
  }

  /** TCP connections for the status output (null when TCP is disabled). */
  tcpStatus(): TcpStatus | null {
    return this.tcp?.connections() ?? null;
  }

  /** Closes both transports. Idempotent. */
  close(): Promise<void> {
    this.closing ??= Promise.all([this.udp.close(), this.tcp?.close()]).then(() => undefined);
    return this.closing;
  }
}
