/**
 * A small authoritative-looking DNS server for tests, on a loopback address: UDP and TCP on the same
 * port, answering from a zone table (records of the asked type, the CNAME chain to them, NXDOMAIN for a
 * name with nothing). Knobs: names answered with TC=1 over UDP (the full answer only over TCP), silence,
 * a fixed RCODE, and a wrong-id reply sent before each right one.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { encodeMessage, readQuery, T, type WireRecord } from '../../../unit/proxy/dns/dns-wire.ts';

export interface SeenQuery {
  readonly name: string;
  readonly type: number;
  readonly via: 'udp' | 'tcp';
}

export class FakeDnsServer {
  readonly seen: SeenQuery[] = [];
  zone: WireRecord[] = [];
  /** Names whose UDP answers carry TC=1 and no records. */
  readonly truncate = new Set<string>();
  silent = false;
  rcode: number | null = null;
  spoofFirst = false;
  private readonly connections = new Set<net.Socket>();

  private constructor(
    readonly address: string,
    private readonly udp: dgram.Socket,
    private readonly tcp: net.Server | null,
  ) {
    udp.on('message', (buf, rinfo) => {
      const reply = this.answer(buf, 'udp');
      if (!reply) return;
      if (this.spoofFirst) {
        const wrong = Buffer.from(reply);
        wrong.writeUInt16BE((wrong.readUInt16BE(0) + 1) & 0xffff, 0);
        udp.send(wrong, rinfo.port, rinfo.address);
      }
      udp.send(reply, rinfo.port, rinfo.address);
    });
    tcp?.on('connection', (sock) => {
      this.connections.add(sock);
      sock.on('close', () => this.connections.delete(sock));
      let pending = Buffer.alloc(0);
      sock.on('error', () => sock.destroy());
      sock.on('data', (chunk) => {
        pending = Buffer.concat([pending, chunk]);
        while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
          const query = pending.subarray(2, 2 + pending.readUInt16BE(0));
          pending = pending.subarray(2 + query.length);
          const reply = this.answer(query, 'tcp');
          if (!reply) continue;
          const prefix = Buffer.alloc(2);
          prefix.writeUInt16BE(reply.length, 0);
          sock.write(Buffer.concat([prefix, reply]));
        }
      });
    });
  }

  get port(): number {
    return this.udp.address().port;
  }

  /** Listen on address:port (port 0: a free one, the same for UDP and TCP); tcp false for UDP only. */
  static async start(address = '127.0.0.1', port = 0, tcp = true): Promise<FakeDnsServer> {
    for (let attempt = 0; ; attempt++) {
      const udp = dgram.createSocket('udp4');
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(port, address, () => resolve());
      });
      if (!tcp) return new FakeDnsServer(address, udp, null);
      const server = net.createServer();
      const ok = await new Promise<boolean>((resolve) => {
        server.once('error', () => resolve(false));
        server.listen(udp.address().port, address, () => resolve(true));
      });
      if (ok) return new FakeDnsServer(address, udp, server);
      udp.close();
      if (port !== 0 || attempt >= 10) throw new Error(`no free UDP+TCP port on ${address}`);
    }
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.udp.close(() => resolve()));
    if (this.tcp) {
      for (const sock of this.connections) sock.destroy();
      await new Promise<void>((resolve) => this.tcp?.close(() => resolve()));
    }
  }

  private answer(buf: Buffer, via: 'udp' | 'tcp'): Buffer | null {
    const q = readQuery(buf);
    if (!q) return null;
    this.seen.push({ name: q.name, type: q.type, via });
    if (this.silent) return null;
    const question = { name: q.name, type: q.type };
    if (this.rcode !== null) return encodeMessage({ id: q.id, rcode: this.rcode, question });
    if (via === 'udp' && this.truncate.has(q.name.toLowerCase()))
      return encodeMessage({ id: q.id, truncated: true, question });
    const answers: WireRecord[] = [];
    let owner = q.name.toLowerCase();
    for (let hop = 0; hop < 10; hop++) {
      const here = this.zone.filter((r) => r.name.toLowerCase() === owner);
      const wanted = here.filter((r) => r.type === q.type);
      if (wanted.length) return encodeMessage({ id: q.id, question, answers: [...answers, ...wanted] });
      const alias = here.find((r) => r.type === T.CNAME);
      if (!alias)
        return encodeMessage({ id: q.id, question, answers, rcode: here.length || answers.length ? 0 : 3 });
      answers.push(alias);
      owner = readTarget(alias.rdata);
    }
    return encodeMessage({ id: q.id, question, answers });
  }
}

/** The uncompressed name in a CNAME's RDATA. */
function readTarget(rdata: Buffer): string {
  const labels: string[] = [];
  for (let at = 0; at < rdata.length && rdata[at] !== 0; at += 1 + rdata[at]!)
    labels.push(rdata.toString('latin1', at + 1, at + 1 + rdata[at]!));
  return labels.join('.').toLowerCase();
}
