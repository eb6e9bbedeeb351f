/**
 * One DNS query over TCP, used when a UDP answer comes back truncated. RFC 1035 §4.2.2: "The message
 * is prefixed with a two byte length field which gives the message length, excluding the two byte length
 * field." RFC 7766 §5: a truncated UDP answer means "the requestor SHOULD retry using TCP". One
 * connection per query, closed after the answer; the whole exchange (connect included) has one timeout.
 */
import net from 'node:net';
import type { Clock } from '../../common/clock.ts';
import { type DnsMessage, decodeAnswer, type SentQuery } from './dns-message.ts';

export type TcpConnector = (options: { host: string; port: number }) => net.Socket;

export const nodeTcpConnector: TcpConnector = (options) => net.connect(options);

export type ExchangeResult =
  | { ok: true; message: DnsMessage }
  | { ok: false; error: string; timedOut: boolean };

export class DnsTcpExchange {
  constructor(
    private readonly clock: Clock,
    private readonly connect: TcpConnector = nodeTcpConnector,
  ) {}

  /** Send `packet` (the encoded `query`) to server:port and read one length-prefixed answer. */
  run(
    server: string,
    port: number,
    packet: Buffer,
    query: SentQuery,
    timeoutMs: number,
  ): Promise<ExchangeResult> {
    return new Promise((resolve) => {
      let done = false;
      let pending = Buffer.alloc(0);
      const socket = this.connect({ host: server, port });
      const finish = (res: ExchangeResult): void => {
        if (done) return;
        done = true;
        timer.cancel();
        socket.destroy();
        resolve(res);
      };
      const timer = this.clock.setTimeout(
        () => finish({ ok: false, error: `no TCP answer from ${server} in ${timeoutMs} ms`, timedOut: true }),
        timeoutMs,
      );
      socket.on('error', (err) =>
        finish({ ok: false, error: `TCP to ${server}: ${err.message}`, timedOut: false }),
      );
      socket.on('close', () =>
        finish({ ok: false, error: `TCP to ${server} closed before an answer`, timedOut: false }),
      );
      socket.on('connect', () => {
        const prefix = Buffer.alloc(2);
        prefix.writeUInt16BE(packet.length, 0);
        socket.write(Buffer.concat([prefix, packet]));
      });
      socket.on('data', (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        if (pending.length < 2) return;
        const length = pending.readUInt16BE(0);
        if (pending.length < 2 + length) return;
        const res = decodeAnswer(pending.subarray(2, 2 + length), query);
        finish(
          res.ok ? res : { ok: false, error: `TCP answer from ${server}: ${res.error}`, timedOut: false },
        );
      });
    });
  }
}
