/**
 * One relayed session (one dialog or early-dialog branch, named by the proxy): its streams by media
 * index and the time of its last activity. close() cascades to every stream.
 */
import type { Logger } from '../../common/logger.ts';
import type { SessionStatus } from '../control.ts';
import type { RelayStream } from './relay-stream.ts';

export class RelaySession {
  readonly streams = new Map<number, RelayStream>();
  /** Last time an SDP for this session was applied (creation counts as activity). */
  lastSignalAt: number;
  private closing: Promise<void> | null = null;

  constructor(
    readonly id: string,
    readonly callId: string,
    readonly createdAt: number,
    readonly logger: Logger,
  ) {
    this.lastSignalAt = createdAt;
  }

  get closed(): boolean {
    return this.closing !== null;
  }

  /** Latest of the last SDP and the last packet relayed in any stream. */
  lastActivity(): number {
    let last = this.lastSignalAt;
    for (const s of this.streams.values())
      if (s.lastPacketAt !== null && s.lastPacketAt > last) last = s.lastPacketAt;
    return last;
  }

  /** On hold when any stream is (either side sendonly/recvonly/inactive or 0.0.0.0). */
  get onHold(): boolean {
    for (const s of this.streams.values()) if (s.onHold) return true;
    return false;
  }

  status(): SessionStatus {
    return {
      sessionId: this.id,
      callId: this.callId,
      createdAt: this.createdAt,
      streams: [...this.streams.values()].sort((a, b) => a.index - b.index).map((s) => s.status()),
    };
  }

  /**
   * Close every stream; resolves with the streams that were closed so that the owner can return their
   * ports. Idempotent: a later call resolves with an empty list (ports are returned once).
   */
  close(): Promise<RelayStream[]> {
    const streams = [...this.streams.values()];
    this.closing ??= Promise.all(streams.map((s) => s.close())).then(() => undefined);
    this.streams.clear();
    return this.closing.then(() => streams);
  }
}
