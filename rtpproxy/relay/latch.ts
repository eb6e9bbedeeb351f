/**
 * Where one side's packets on one socket (RTP or RTCP) come from and go to: the signalled endpoint
 * from SDP and the source learnt from the first valid packet.
 *
 * RFC 7362 §4 (latching): "the media relay ... 'latches' onto the source address and port of the first
 * packet it receives and uses it as the destination for media in the reverse direction". RFC 7362 §5.2
 * warns that latching can be hijacked; we follow the advice to "learn in a short window, prefer the
 * signalled address": a packet from the exact signalled address within `windowMs` of the first latch
 * moves the latch there once, and then the latch is locked (strict source: anything else is dropped).
 *
 * Two more rules against RTP injection (RFC 7362 §5.2): nothing is learnt before the SDP has named
 * the peer (a port allocated for an offer is not an invitation to whoever sprays it first), and when
 * the signalled address is public — a peer not behind a NAT — only packets from that address are
 * learnt (any port); a private or unusable signalled address is the NAT'd-peer case latching exists for.
 *
 * The per-packet fields (`latchedAddr`, `latchedPort`, `destAddr`, `destPort`) are read directly by the
 * relay stream so that the hot path is two comparisons.
 */
import { canonicalIp, isPrivateAddress } from '../../common/net.ts';

export class Latch {
  /** Signalled address and port (canonical text), or null/0 when unknown or on hold (0.0.0.0). */
  signalledAddr: string | null = null;
  signalledPort = 0;
  /** Source learnt from the first valid packet; null until then. */
  latchedAddr: string | null = null;
  latchedPort = 0;
  latchedAt = 0;
  /** The signalled address is public: the source address must be exactly it. */
  pinned = false;
  /** Locked: no more re-latching (the signalled address was seen, or the window passed). */
  locked = false;
  /** Where to send toward this peer: the latched source, else the signalled endpoint; port 0 = unknown. */
  destAddr = '';
  destPort = 0;

  constructor(private readonly windowMs: number) {}

  /**
   * Set the signalled endpoint. Returns true if it changed, in which case the latch is reset (a
   * re-INVITE that moved the media must be learnt again).
   */
  signal(addr: string | null, port: number): boolean {
    const canon = addr === null ? null : canonicalIp(addr);
    const usable = canon !== null && port > 0 && port < 65536 && !isUnspecified(canon);
    const nextAddr = usable ? canon : null;
    const nextPort = usable ? port : 0;
    if (nextAddr === this.signalledAddr && nextPort === this.signalledPort) return false;
    this.signalledAddr = nextAddr;
    this.signalledPort = nextPort;
    this.pinned = nextAddr !== null && !isPrivateAddress(nextAddr);
    this.reset();
    return true;
  }

  /** Forget what was learnt; the destination falls back to the signalled endpoint. */
  reset(): void {
    this.latchedAddr = null;
    this.latchedPort = 0;
    this.latchedAt = 0;
    this.locked = false;
    this.destAddr = this.signalledAddr ?? '';
    this.destPort = this.signalledPort;
  }

  /** True when (addr, port) is the latched source: the fast path of every packet. */
  matches(addr: string, port: number): boolean {
    return this.latchedPort === port && this.latchedAddr === addr;
  }

  /**
   * Slow path for a packet whose source is not the latched one. Returns true if the packet is accepted
   * (and the latch moved to its source), false if it must be dropped.
   */
  admit(addr: string, port: number, valid: boolean, now: number): boolean {
    if (!valid || this.signalledAddr === null) return false;
    if (this.pinned && addr !== this.signalledAddr) return false;
    if (this.latchedAddr === null) {
      this.latchTo(addr, port, now);
      this.locked = this.isSignalled(addr, port);
      return true;
    }
    if (this.locked) return false;
    if (now - this.latchedAt > this.windowMs) {
      this.locked = true;
      return false;
    }
    if (!this.isSignalled(addr, port)) return false;
    this.latchTo(addr, port, now);
    this.locked = true;
    return true;
  }

  /** Lock once the learning window has passed since the latch; true when locked. */
  lockIfDue(now: number): boolean {
    if (!this.locked && this.latchedAddr !== null && now - this.latchedAt > this.windowMs) this.locked = true;
    return this.locked;
  }

  get latched(): boolean {
    return this.latchedAddr !== null;
  }

  private isSignalled(addr: string, port: number): boolean {
    return port === this.signalledPort && addr === this.signalledAddr;
  }

  private latchTo(addr: string, port: number, now: number): void {
    this.latchedAddr = addr;
    this.latchedPort = port;
    this.latchedAt = now;
    this.destAddr = addr;
    this.destPort = port;
  }
}

export function isUnspecified(addr: string): boolean {
  return addr === '0.0.0.0' || addr === '::';
}
