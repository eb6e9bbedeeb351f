/**
 * Calls sipmasq is in the path of: one entry per dialog (or early-dialog branch toward one phone),
 * each naming its media session on the control seam. It answers two questions: which media session an
 * SDP belongs to, and whether an in-dialog request from the WAN belongs to a dialog we know.
 *
 * RFC 3261 §12: a dialog is identified by Call-ID, local tag and remote tag. Here the tags are kept as
 * the phone's (lanTag) and the far side's (wanTag), so a request in either direction finds its entry.
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../../common/clock.ts';

export type CallState = 'early' | 'confirmed' | 'terminated';

export interface PhoneTarget {
  /** Where requests for the phone are sent (LAN address and port). */
  readonly addr: string;
  readonly port: number;
}

export interface CallEntry {
  readonly sessionId: string;
  readonly callId: string;
  /** 'outgoing': the phone sent the INVITE; 'incoming': the far side did. */
  readonly direction: 'outgoing' | 'incoming';
  /** Branch discriminator for incoming calls forked to several phones (the masqueraded target). */
  readonly target: string;
  lanTag: string | undefined;
  wanTag: string | undefined;
  state: CallState;
  phone: PhoneTarget;
  readonly createdAt: number;
  updatedAt: number;
  /** When a terminated entry may be forgotten. */
  forgetAt: number | null;
}

/** Terminated entries are kept for late retransmissions: RFC 3261 Timer J / 64*T1. */
const LINGER_MS = 32_000;
/** An early dialog older than Timer C (3 minutes, RFC 3261 §16.6 step 11) plus margin is dead. */
const EARLY_MAX_MS = 300_000;
/** A confirmed dialog with no message for a day (and whose media would have timed out long ago). */
const CONFIRMED_MAX_IDLE_MS = 24 * 3600_000;
const MAX_ENTRIES = 20_000;

function sessionIdOf(...parts: string[]): string {
  return createHash('sha1').update(parts.join('\n')).digest('base64url').slice(0, 16);
}

export class CallTable {
  private readonly byCallId = new Map<string, CallEntry[]>();
  private count = 0;

  constructor(private readonly clock: Clock) {}

  /** The entry for an initial INVITE from the phone (idempotent for retransmissions). */
  outgoing(callId: string, fromTag: string, phone: PhoneTarget): CallEntry {
    const found = this.entries(callId).find((e) => e.direction === 'outgoing' && e.lanTag === fromTag);
    if (found) return this.touch(found);
    return this.add({
      sessionId: sessionIdOf(callId, fromTag, 'out'),
      callId,
      direction: 'outgoing',
      target: '',
      lanTag: fromTag,
      wanTag: undefined,
      state: 'early',
      phone,
      createdAt: this.clock.now(),
      updatedAt: this.clock.now(),
      forgetAt: null,
    });
  }

  /** The entry for an initial INVITE from the WAN toward one phone (`target` tells forks apart). */
  incoming(callId: string, fromTag: string, target: string, phone: PhoneTarget): CallEntry {
    const found = this.entries(callId).find(
      (e) => e.direction === 'incoming' && e.wanTag === fromTag && e.target === target,
    );
    if (found) return this.touch(found);
    return this.add({
      sessionId: sessionIdOf(callId, fromTag, target, 'in'),
      callId,
      direction: 'incoming',
      target,
      lanTag: undefined,
      wanTag: fromTag,
      state: 'early',
      phone,
      createdAt: this.clock.now(),
      updatedAt: this.clock.now(),
      forgetAt: null,
    });
  }

  /**
   * The entry of an in-dialog message by its two tags, in either order. An entry still missing one tag
   * matches on the other (the first answer fills it in).
   */
  find(callId: string, tagA: string | undefined, tagB: string | undefined): CallEntry | undefined {
    const list = this.entries(callId).filter((e) => e.state !== 'terminated' || e.forgetAt !== null);
    const tags = [tagA, tagB].filter((t): t is string => !!t);
    const full = list.find((e) => tags.includes(e.lanTag ?? '\0') && tags.includes(e.wanTag ?? '\0'));
    if (full) return full;
    return list.find(
      (e) =>
        (e.lanTag === undefined && e.wanTag && tags.includes(e.wanTag)) ||
        (e.wanTag === undefined && e.lanTag && tags.includes(e.lanTag)),
    );
  }

  bySession(sessionId: string): CallEntry | undefined {
    for (const list of this.byCallId.values()) for (const e of list) if (e.sessionId === sessionId) return e;
    return undefined;
  }

  hasCallId(callId: string): boolean {
    return this.entries(callId).some((e) => e.state !== 'terminated');
  }

  entries(callId: string): CallEntry[] {
    return this.byCallId.get(callId) ?? [];
  }

  all(): CallEntry[] {
    return [...this.byCallId.values()].flat();
  }

  confirm(entry: CallEntry): void {
    if (entry.state === 'early') entry.state = 'confirmed';
    this.touch(entry);
  }

  /** Mark an entry ended; it lingers for retransmissions, then sweep() forgets it. */
  terminate(entry: CallEntry): void {
    entry.state = 'terminated';
    entry.forgetAt = this.clock.now() + LINGER_MS;
  }

  /**
   * Forget lingering terminated entries; end early dialogs that never got a final answer and dialogs
   * silent for a day. Returns the entries it ended, so their media can be released.
   */
  sweep(): CallEntry[] {
    const now = this.clock.now();
    const ended: CallEntry[] = [];
    for (const e of this.all()) {
      const stale =
        (e.state === 'early' && now - e.updatedAt > EARLY_MAX_MS) ||
        (e.state === 'confirmed' && now - e.updatedAt > CONFIRMED_MAX_IDLE_MS);
      if (stale) {
        this.terminate(e);
        ended.push(e);
      }
    }
    for (const [callId, list] of this.byCallId) {
      const keep = list.filter((e) => e.forgetAt === null || e.forgetAt > now);
      this.count -= list.length - keep.length;
      if (keep.length) this.byCallId.set(callId, keep);
      else this.byCallId.delete(callId);
    }
    return ended;
  }

  private touch(e: CallEntry): CallEntry {
    e.updatedAt = this.clock.now();
    return e;
  }

  private add(e: CallEntry): CallEntry {
    if (this.count >= MAX_ENTRIES) this.sweep();
    if (this.count >= MAX_ENTRIES) this.evictOldest();
    const list = this.byCallId.get(e.callId);
    if (list) list.push(e);
    else this.byCallId.set(e.callId, [e]);
    this.count++;
    return e;
  }

  private evictOldest(): void {
    let oldest: CallEntry | undefined;
    for (const e of this.all()) if (!oldest || e.updatedAt < oldest.updatedAt) oldest = e;
    if (oldest) {
      const list = this.entries(oldest.callId).filter((e) => e !== oldest);
      if (list.length) this.byCallId.set(oldest.callId, list);
      else this.byCallId.delete(oldest.callId);
      this.count--;
    }
  }
}
