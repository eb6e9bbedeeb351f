/** A UDP peer for tests: send SIP text, wait (with a timeout) for the next datagram matching a predicate. */
import dgram from 'node:dgram';

export interface Received {
  text: string;
  address: string;
  port: number;
}

export class UdpPeer {
  readonly socket: dgram.Socket;
  private readonly inbox: Received[] = [];
  private waiters: Array<{ match: (r: Received) => boolean; resolve: (r: Received) => void }> = [];

  private constructor(socket: dgram.Socket) {
    this.socket = socket;
    socket.on('message', (buf, rinfo) => {
      const r = { text: buf.toString('utf8'), address: rinfo.address, port: rinfo.port };
      const w = this.waiters.find((x) => x.match(r));
      if (w) {
        this.waiters = this.waiters.filter((x) => x !== w);
        w.resolve(r);
      } else this.inbox.push(r);
    });
  }

  static async bind(address: string, port = 0): Promise<UdpPeer> {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(port, address, () => resolve());
    });
    return new UdpPeer(s);
  }

  get address(): string {
    return this.socket.address().address;
  }
  get port(): number {
    return this.socket.address().port;
  }

  send(text: string | Buffer, address: string, port: number): void {
    this.socket.send(typeof text === 'string' ? Buffer.from(text) : text, port, address);
  }

  /** The next datagram that matches (already received or arriving within timeoutMs). */
  next(match: (r: Received) => boolean = () => true, timeoutMs = 2000): Promise<Received> {
    const i = this.inbox.findIndex(match);
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (r: Received) => {
          clearTimeout(t);
          resolve(r);
        },
      };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== waiter);
        reject(new Error(`no matching datagram within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Resolves true if nothing matching arrives within ms. */
  async silent(match: (r: Received) => boolean = () => true, ms = 300): Promise<boolean> {
    try {
      await this.next(match, ms);
      return false;
    } catch {
      return true;
    }
  }

  close(): Promise<void> {
    return new Promise((r) => this.socket.close(() => r()));
  }
}

/** Header value of a SIP text (first occurrence, case-insensitive, long names only). */
export function header(text: string, name: string): string | undefined {
  const re = new RegExp(`^${name}[ \\t]*:[ \\t]*(.*)$`, 'im');
  return re.exec(text)?.[1]?.trim();
}

export function allHeaders(text: string, name: string): string[] {
  const re = new RegExp(`^${name}[ \\t]*:[ \\t]*(.*)$`, 'gim');
  return [...text.split('\r\n\r\n')[0]!.matchAll(re)].map((m) => m[1]!.trim());
}

export function startLine(text: string): string {
  return text.split('\r\n')[0] ?? '';
}

export function bodyOf(text: string): string {
  const i = text.indexOf('\r\n\r\n');
  return i < 0 ? '' : text.slice(i + 4);
}

/** Build a SIP message from a start line, header lines and an optional body (Content-Length added). */
export function sip(start: string, headers: string[], body = ''): string {
  return `${start}\r\n${headers.join('\r\n')}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/** Echo a request as a response: copies Via, From, To (adding a tag), Call-ID, CSeq. */
export function responseTo(
  request: string,
  status: string,
  extra: string[] = [],
  body = '',
  toTag = 'resp1',
): string {
  const vias = allHeaders(request, 'Via');
  const to = header(request, 'To') ?? '';
  const hdrs = [
    ...vias.map((v) => `Via: ${v}`),
    `From: ${header(request, 'From')}`,
    `To: ${/;tag=/.test(to) ? to : `${to};tag=${toTag}`}`,
    `Call-ID: ${header(request, 'Call-ID')}`,
    `CSeq: ${header(request, 'CSeq')}`,
    ...extra,
  ];
  return sip(`SIP/2.0 ${status}`, hdrs, body);
}
