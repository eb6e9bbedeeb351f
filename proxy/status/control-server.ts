/**
 * The local control socket (a Unix socket, mode 0600): `status` returns the JSON report, `reload`
 * asks the daemon to re-read its configuration (as SIGHUP does). One request line per connection.
 */
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { SipmasqError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';

export type ControlHandler = (command: string) => Promise<unknown> | unknown;

export class ControlServer {
  private server: net.Server | null = null;

  constructor(
    private readonly path: string,
    private readonly handler: ControlHandler,
    private readonly log: Logger,
  ) {}

  async listen(): Promise<void> {
    // A socket file left by a killed daemon: remove it only if nobody answers on it.
    if (existsSync(this.path)) {
      const alive = await new Promise<boolean>((resolve) => {
        const c = net.connect(this.path, () => {
          c.destroy();
          resolve(true);
        });
        c.on('error', () => resolve(false));
      });
      if (alive)
        throw new SipmasqError('SMQ_ERR_CONTROL_SOCKET', `${this.path} is in use by a running sipmasq`);
      unlinkSync(this.path);
    }
    const server = net.createServer((conn) => this.serve(conn));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) =>
        reject(
          new SipmasqError('SMQ_ERR_CONTROL_SOCKET', `${this.path}: ${err.message}`, {}, { cause: err }),
        ),
      );
      server.listen(this.path, () => resolve());
    });
    chmodSync(this.path, 0o600);
    server.on('error', (err) => this.log.warn('control socket error', { error: err.message }));
    this.server = server;
  }

  private serve(conn: net.Socket): void {
    let buf = '';
    conn.setTimeout(5000, () => conn.destroy());
    conn.on('error', () => conn.destroy());
    conn.on('data', (chunk) => {
      buf += chunk.toString('utf8');
      if (buf.length > 1024) return conn.destroy();
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const command = buf.slice(0, nl).trim();
      Promise.resolve()
        .then(() => this.handler(command))
        .then(
          (result) => conn.end(`${JSON.stringify({ ok: true, result })}\n`),
          (err: unknown) =>
            conn.end(
              `${JSON.stringify({ ok: false, error: err instanceof Error ? err.message : String(err) })}\n`,
            ),
        );
    });
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    await new Promise<void>((resolve) => s.close(() => resolve()));
    try {
      unlinkSync(this.path);
    } catch {
      // already gone: nothing to clean
    }
  }
}

/** Client side: send one command, get the parsed answer. */
export function controlRequest(path: string, command: string, timeoutMs = 5000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let data = '';
    const c = net.connect(path);
    const timer = setTimeout(() => {
      c.destroy();
      reject(new SipmasqError('SMQ_ERR_CONTROL_SOCKET', `no answer from ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    c.on('connect', () => c.write(`${command}\n`));
    c.on('data', (d) => {
      data += d.toString('utf8');
    });
    c.on('error', (err) => {
      clearTimeout(timer);
      reject(
        new SipmasqError(
          'SMQ_ERR_CONTROL_SOCKET',
          `${path}: ${err.message} (is sipmasq running?)`,
          {},
          { cause: err },
        ),
      );
    });
    c.on('end', () => {
      clearTimeout(timer);
      try {
        const parsed = JSON.parse(data) as { ok: boolean; result?: unknown; error?: string };
        if (parsed.ok) resolve(parsed.result);
        else reject(new SipmasqError('SMQ_ERR_CONTROL_SOCKET', parsed.error ?? 'command failed'));
      } catch {
        reject(new SipmasqError('SMQ_ERR_CONTROL_SOCKET', `unreadable answer from ${path}`));
      }
    });
  });
}
