/**
 * Masqueraded Contacts handed out in dialogs (INVITE, SUBSCRIBE, their answers) that are not
 * registrations: token -> the phone's own Contact and LAN address. An entry is the capability to reach
 * that phone in a dialog: requests from the WAN that name an unknown token are refused.
 */
import type { Clock } from '../../common/clock.ts';

export interface MappedContact {
  readonly user: string;
  /** The phone's own Contact URI. */
  readonly contact: string;
  readonly addr: string;
  readonly port: number;
  /** Reached through the intercept socket (transparent mode). */
  readonly intercepted: boolean;
  /** Reached over TCP (the phone's connection). */
  readonly tcp: boolean;
  lastUsed: number;
}

/** Long enough for a long call or subscription without traffic; refreshed on every use. */
const TTL_MS = 24 * 3600_000;
const MAX_ENTRIES = 10_000;

export class ContactMap {
  private readonly map = new Map<string, MappedContact>();

  constructor(private readonly clock: Clock) {}

  remember(
    user: string,
    contact: string,
    addr: string,
    port: number,
    intercepted = false,
    tcp = false,
  ): void {
    this.map.delete(user);
    this.map.set(user, { user, contact, addr, port, intercepted, tcp, lastUsed: this.clock.now() });
    while (this.map.size > MAX_ENTRIES) {
      const oldest = this.map.keys().next().value;
      if (oldest === undefined) break;
      this.map.delete(oldest);
    }
  }

  get(user: string): MappedContact | undefined {
    const e = this.map.get(user);
    if (!e) return undefined;
    if (e.lastUsed + TTL_MS < this.clock.now()) {
      this.map.delete(user);
      return undefined;
    }
    e.lastUsed = this.clock.now();
    return e;
  }

  get size(): number {
    return this.map.size;
  }
}
