/**
 * One session of the composite (one dialog or early-dialog branch, named by the proxy): its streams
 * by media index and the time of its last signalling; activity and hold come from its streams.
 */
import type { Logger } from '../../common/logger.ts';
import type { SessionStatus } from '../control.ts';
import type { MediaStream } from './media-stream.ts';

export class MediaSession {
  readonly streams = new Map<number, MediaStream>();
  lastSignalAt: number;

  constructor(
    readonly id: string,
    readonly callId: string,
    readonly createdAt: number,
    readonly logger: Logger,
  ) {
    this.lastSignalAt = createdAt;
  }

  /** Latest of the last SDP and the last packet seen in any stream (relayed or kernel-counted). */
  lastActivity(): number {
    let last = this.lastSignalAt;
    for (const s of this.streams.values()) {
      const at = s.lastPacketAt;
      if (at !== null && at > last) last = at;
    }
    return last;
  }

  /** RFC 3264 §8.4: on hold when any stream is (sendonly/recvonly/inactive or 0.0.0.0). */
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
}
