/** A TCP "phone" for tests: connect, send text, wait (with a timeout) for text or for the close. */
import net from 'node:net';

export class TcpPeer {
  /** Everything received so far. */
  text = '';
  closed = false;
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (b: Buffer) => {
      this.text += b.toString('latin1');
      this.wake();
    });
    socket.on('error', () => {
      // ECONNRESET when the server refuses: the 'close' that follows is what tests look at.
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static connect(
    port: number,
    host = '127.0.0.1',
    localAddress?: string,
    timeoutMs = 2000,
  ): Promise<TcpPeer> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host, ...(localAddress ? { localAddress } : {}) });
      const t = setTimeout(() => {
        s.destroy();
        reject(new Error(`no connection to ${host}:${port} within ${timeoutMs} ms`));
      }, timeoutMs);
      s.once('error', (err) => {
        clearTimeout(t);
        reject(err);
      });
      s.once('connect', () => {
        clearTimeout(t);
        s.removeAllListeners('error');
        resolve(new TcpPeer(s));
      });
    });
  }

  get localPort(): number {
    return this.socket.localPort ?? 0;
  }

  send(text: string | Buffer): void {
    this.socket.write(text);
  }

  /** Resolves once `cond` holds (checked on every event), rejects after timeoutMs. */
  until(cond: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!cond()) return;
        clearTimeout(t);
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve();
      };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`${what}: not within ${timeoutMs} ms (received ${JSON.stringify(this.text)})`));
      }, timeoutMs);
      this.waiters.push(check);
    });
  }

  /** Waits until the received text contains `s`. */
  receive(s: string, timeoutMs = 2000): Promise<void> {
    return this.until(() => this.text.includes(s), `receive ${JSON.stringify(s)}`, timeoutMs);
  }

  /** Waits until the server closed the connection. */
  waitClosed(timeoutMs = 2000): Promise<void> {
    return this.until(() => this.closed, 'connection closed', timeoutMs);
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}

/** Resolves once `cond` holds, polling every 10 ms; rejects after timeoutMs. */
export async function eventually(cond: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
