/** A test peer: one UDP socket on loopback that records what it receives and can wait for packets. */
import dgram from 'node:dgram';

export interface Received {
  readonly data: Buffer;
  readonly address: string;
  readonly port: number;
}

export class UdpPeer {
  readonly received: Received[] = [];
  private waiters: Array<() => void> = [];
  private closed = false;

  private constructor(readonly socket: dgram.Socket) {
    socket.on('message', (data, rinfo) => {
      this.received.push({ data, address: rinfo.address, port: rinfo.port });
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static async open(address = '127.0.0.1', port = 0): Promise<UdpPeer> {
    const socket = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, address, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new UdpPeer(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  get address(): string {
    return this.socket.address().address;
  }

  send(data: Buffer, port: number, address = '127.0.0.1'): Promise<void> {
    return new Promise((resolve, reject) =>
      this.socket.send(data, port, address, (err) => (err ? reject(err) : resolve())),
    );
  }

  /** Resolve once `count` packets in total have been received; reject after `timeoutMs`. */
  async waitFor(count: number, timeoutMs = 2000): Promise<Received[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timeout waiting for ${count} packets, got ${this.received.length}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== done);
          resolve();
        }, left);
        const done = (): void => {
          clearTimeout(t);
          resolve();
        };
        this.waiters.push(done);
      });
    }
    return this.received.slice(0, count);
  }

  /** Wait a little and assert nothing more arrived (for negative checks). */
  async quiet(ms = 150): Promise<number> {
    const before = this.received.length;
    await new Promise((r) => setTimeout(r, ms));
    return this.received.length - before;
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/** A minimal valid RTP packet (RFC 3550 §5.1): V=2, PT, sequence number, timestamp, SSRC, payload. */
export function rtp(seq: number, payloadType = 0, payload = 160): Buffer {
  const b = Buffer.alloc(12 + payload);
  b[0] = 0x80;
  b[1] = payloadType & 0x7f;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(seq * 160, 4);
  b.writeUInt32BE(0x11223344, 8);
  return b;
}

/** A minimal RTCP receiver report without report blocks (RFC 3550 §6.4.2): 8 bytes, PT 201. */
export function rtcpRr(ssrc = 0x55667788): Buffer {
  const b = Buffer.alloc(8);
  b[0] = 0x80;
  b[1] = 201;
  b.writeUInt16BE(1, 2);
  b.writeUInt32BE(ssrc, 4);
  return b;
}
