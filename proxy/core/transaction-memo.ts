/**
 * What sipmasq remembers about a request it forwarded until the responses come back: keyed by the
 * branch of the Via it pushed. Forwarding stays stateless (responses are routed by Via alone and
 * survive a restart); the memo only carries what a response needs to update our tables.
 */
import type { Clock } from '../../common/clock.ts';

export interface PendingContact {
  readonly user: string;
  readonly contact: string;
  readonly expires: number | null;
  readonly instance: string | null;
}

export interface PendingRegister {
  readonly aor: string;
  readonly callId: string;
  readonly phoneAddr: string;
  readonly phonePort: number;
  registrar: string;
  readonly contacts: readonly PendingContact[];
  readonly star: boolean;
  readonly expiresHeader: number | null;
  /** The REGISTER was intercepted (transparent mode). */
  readonly intercepted: boolean;
  /** It came over TCP. */
  readonly tcp: boolean;
}

export interface MemoEntry {
  readonly method: string;
  readonly callId: string;
  /** The media session of an INVITE/UPDATE/PRACK, when the call table has one. */
  readonly sessionId: string | null;
  readonly register: PendingRegister | null;
  /** For requests toward a phone: the masqueraded user that chose it (masquerades its answer). */
  readonly phoneAor: string | null;
  expiresAt: number;
}

/** INVITE transactions may wait for a final answer up to Timer C (> 3 minutes, RFC 3261 §16.6). */
const INVITE_MS = 200_000;
/** Others end within 64*T1. */
const OTHER_MS = 32_000;
const MAX_ENTRIES = 50_000;

export class TransactionMemo {
  private readonly map = new Map<string, MemoEntry>();

  constructor(private readonly clock: Clock) {}

  set(branch: string, entry: Omit<MemoEntry, 'expiresAt'>): void {
    const ttl = entry.method === 'INVITE' ? INVITE_MS : OTHER_MS;
    this.map.delete(branch);
    this.map.set(branch, { ...entry, expiresAt: this.clock.now() + ttl });
    if (this.map.size > MAX_ENTRIES) this.sweep();
    while (this.map.size > MAX_ENTRIES) {
      const oldest = this.map.keys().next().value;
      if (oldest === undefined) break;
      this.map.delete(oldest);
    }
  }

  get(branch: string): MemoEntry | undefined {
    const e = this.map.get(branch);
    if (e && e.expiresAt < this.clock.now()) {
      this.map.delete(branch);
      return undefined;
    }
    return e;
  }

  sweep(): void {
    const now = this.clock.now();
    for (const [k, e] of this.map) if (e.expiresAt < now) this.map.delete(k);
  }

  get size(): number {
    return this.map.size;
  }
}
