/**
 * One accepted SIP-over-TCP connection from a phone (an RFC 5626 flow): frames its bytes into messages,
 * answers double-CRLF pings with a CRLF pong (RFC 5626 §4.4.1), closes itself when idle, and writes
 * with a bounded send queue (a peer that does not read is cut off, never buffered for without limit).
 * A framing error is answered with 400/513 when the head allows a response, then the connection is
 * closed: a stream that lost its framing cannot be resynchronised (RFC 3261 §18.3).
 */
import type net from 'node:net';
import type { Clock, Timer } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import { parseMessage } from '../sip/parse.ts';
import { createResponse } from '../sip/responses.ts';
import { serializeMessage } from '../sip/serialize.ts';
import { type FramingError, StreamFramer } from './stream-framer.ts';

const PONG = Buffer.from('\r\n');

export type CloseReason = 'peer' | 'idle' | 'framing' | 'slow-reader' | 'error' | 'shutdown';

export interface TcpConnectionDeps {
  readonly clock: Clock;
  readonly log: Logger;
  readonly maxMessageSize: number;
  readonly idleTimeoutMs: number;
  /** Most bytes queued for writing before the peer is considered stuck and the connection dropped. */
  readonly maxWriteBuffer: number;
  /** How long a connection closing after a framing error may take to flush its answer. */
  readonly closeGraceMs: number;
  readonly onMessage: (conn: TcpConnection, data: Buffer) => void;
  readonly onClose: (conn: TcpConnection, reason: CloseReason) => void;
}

/** The response to send before closing on a framing error, or null when none can be built. */
export function framingErrorReply(error: FramingError): Buffer | null {
  if (error.head.length === 0) return null;
  const parsed = parseMessage(error.head, { maxSize: error.head.length });
  const req = parsed.ok ? (parsed.msg.type === 'request' ? parsed.msg : null) : parsed.error.partial;
  if (!req || req.method === 'ACK') return null;
  try {
    return serializeMessage(createResponse(req, error.status, { reason: error.reason.slice(0, 100) }));
  } catch {
    // Only a value of ours with CR/LF can make serialize throw; then no answer, just the close.
    return null;
  }
}

export class TcpConnection {
  readonly key: string;
  readonly since: number;
  lastSeen: number;
  messages = 0;
  pings = 0;
  private readonly framer: StreamFramer;
  private idleTimer: Timer | null = null;
  private graceTimer: Timer | null = null;
  private closing: CloseReason | null = null;
  private finished = false;

  constructor(
    private readonly socket: net.Socket,
    readonly address: string,
    readonly port: number,
    key: string,
    /** Accepted on the intercept listener (transparent mode). */
    readonly intercepted: boolean,
    private readonly d: TcpConnectionDeps,
  ) {
    this.key = key;
    this.since = this.lastSeen = d.clock.now();
    this.framer = new StreamFramer({ maxSize: d.maxMessageSize });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => {
      this.d.log.debug('TCP connection error', { from: key, error: err.message });
      this.closing ??= 'error';
    });
    socket.on('end', () => {
      this.closing ??= 'peer';
    });
    socket.on('close', () => this.finish());
    this.armIdle(d.idleTimeoutMs);
  }

  /** Open for writing: not closing, not destroyed. */
  get open(): boolean {
    return this.closing === null && !this.socket.destroyed && this.socket.writable;
  }

  /** Writes on this connection; false when it is closing or its peer stopped reading (then dropped). */
  write(data: Buffer): boolean {
    if (!this.open) return false;
    if (this.socket.writableLength + data.length > this.d.maxWriteBuffer) {
      this.d.log.warn('TCP peer does not read, connection dropped', {
        to: this.key,
        queued: this.socket.writableLength,
      });
      this.destroy('slow-reader');
      return false;
    }
    this.socket.write(data);
    return true;
  }

  /** Closes at once (idempotent). */
  destroy(reason: CloseReason): void {
    this.closing ??= reason;
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.closing) return;
    this.lastSeen = this.d.clock.now();
    for (const ev of this.framer.push(chunk)) {
      if (this.closing) return;
      if (ev.kind === 'message') {
        this.messages++;
        this.d.onMessage(this, ev.data);
      } else if (ev.kind === 'keepalive') {
        this.pings++;
        this.write(PONG);
      } else this.failFraming(ev.error);
    }
  }

  private failFraming(error: FramingError): void {
    this.d.log.info('SIP framing error on TCP, connection closed', {
      from: this.key,
      reason: error.reason,
      code: error.code,
    });
    const reply = framingErrorReply(error);
    if (reply && this.socket.writableLength + reply.length <= this.d.maxWriteBuffer) {
      this.socket.write(reply);
    }
    this.closing = 'framing';
    // Half-close and let the answer drain; cut off a peer that keeps its side open.
    this.socket.end();
    this.graceTimer = this.d.clock.setTimeout(() => this.socket.destroy(), this.d.closeGraceMs);
  }

  /**
   * RFC 5626 keep-alives and messages refresh `lastSeen`; one timer per connection checks it lazily
   * instead of being re-armed on every chunk.
   */
  private armIdle(ms: number): void {
    this.idleTimer = this.d.clock.setTimeout(() => {
      const idle = this.d.clock.now() - this.lastSeen;
      if (idle < this.d.idleTimeoutMs) return this.armIdle(this.d.idleTimeoutMs - idle);
      this.d.log.debug('idle TCP connection closed', { from: this.key, idleMs: idle });
      this.destroy('idle');
    }, ms);
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.idleTimer?.cancel();
    this.graceTimer?.cancel();
    this.d.onClose(this, this.closing ?? 'peer');
  }
}
