/**
 * Two UDP sockets bound on (address, even port) for RTP and (address, port + 1) for RTCP. The socket
 * family follows the bind address. close() is idempotent and resolves when both sockets are closed.
 */
import type dgram from 'node:dgram';
import { ipFamily } from '../../common/net.ts';
import type { SocketFactory } from '../../common/socket-factory.ts';

export class SocketPair {
  private closing: Promise<void> | null = null;

  private constructor(
    readonly address: string,
    readonly port: number,
    readonly rtp: dgram.Socket,
    readonly rtcp: dgram.Socket,
  ) {}

  get rtcpPort(): number {
    return this.port + 1;
  }

  /** Bind both sockets; on failure nothing stays open and the bind error (with its errno code) is thrown. */
  static async bind(sockets: SocketFactory, address: string, port: number): Promise<SocketPair> {
    const family = ipFamily(address);
    if (family === null) throw new TypeError(`not an IP address: ${address}`);
    const rtp = sockets.udp(family);
    try {
      await bindOne(rtp, address, port);
    } catch (err) {
      await closeSocket(rtp);
      throw err;
    }
    const rtcp = sockets.udp(family);
    try {
      await bindOne(rtcp, address, port + 1);
    } catch (err) {
      await Promise.all([closeSocket(rtp), closeSocket(rtcp)]);
      throw err;
    }
    return new SocketPair(address, port, rtp, rtcp);
  }

  close(): Promise<void> {
    this.closing ??= Promise.all([closeSocket(this.rtp), closeSocket(this.rtcp)]).then(() => undefined);
    return this.closing;
  }
}

function bindOne(socket: dgram.Socket, address: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      socket.off('listening', onListening);
      reject(err);
    };
    const onListening = (): void => {
      socket.off('error', onError);
      resolve();
    };
    socket.once('error', onError);
    socket.once('listening', onListening);
    socket.bind({ port, address, exclusive: true });
  });
}

/** Close a socket whatever its state; never throws, resolves once closed. */
function closeSocket(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      // ERR_SOCKET_DGRAM_NOT_RUNNING: already closed (or never bound and closed by a failed bind).
      resolve();
    }
  });
}
