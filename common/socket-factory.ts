/** UDP sockets are made through this factory so that tests can observe or replace them. */
import dgram from 'node:dgram';
import type { Family } from './net.ts';

export interface SocketFactory {
  udp(family: Family): dgram.Socket;
}

export const nodeSocketFactory: SocketFactory = {
  udp: (family) => dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4', reuseAddr: false }),
};
