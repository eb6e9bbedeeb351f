/**
 * One local socket and the latch of the peer it talks to: packets from that peer arrive on it and
 * packets toward that peer leave from it (RFC 4961 symmetric RTP).
 *
 * Once the latch is locked (strict source), the socket is connect()ed to the peer: the kernel then
 * drops datagrams from any other source before they reach Node (strict source at no cost, and no
 * wake-up per attacker packet) and each send skips the per-packet address lookup, the largest cost of a
 * dgram relay. The price: packets from other sources after the lock are no longer seen, so `dropped`
 * counts them only until then. A new endpoint (re-INVITE) disconnects and latching starts again.
 */
import type dgram from 'node:dgram';
import type { Latch } from './latch.ts';

const IDLE = 0;
const CONNECTING = 1;
const CONNECTED = 2;

export class PeerSocket {
  /** IDLE, CONNECTING or CONNECTED; read on the hot path. */
  state = IDLE;
  /** Bumped when the latch is reset, so that a connect that completes late can tell it is stale. */
  private generation = 0;

  constructor(
    readonly socket: dgram.Socket,
    readonly latch: Latch,
    private readonly connectWhenLocked: boolean,
  ) {}

  /** Send toward the peer; false when its address is unknown (nothing is sent). Never throws. */
  send(msg: Buffer): boolean {
    try {
      if (this.state === CONNECTED) {
        this.socket.send(msg);
        return true;
      }
      const l = this.latch;
      if (l.destPort === 0) return false;
      this.socket.send(msg, l.destPort, l.destAddr);
      return true;
    } catch {
      return false;
    }
  }

  /** Called after a packet from the latched source: lock when due and connect to the peer. */
  settle(now: number): void {
    if (this.state !== IDLE || !this.connectWhenLocked) return;
    const l = this.latch;
    if (!l.lockIfDue(now) || l.latchedAddr === null) return;
    const gen = this.generation;
    this.state = CONNECTING;
    try {
      this.socket.connect(l.latchedPort, l.latchedAddr, () => {
        if (this.generation !== gen || this.state !== CONNECTING) {
          this.safeDisconnect();
          return;
        }
        this.state = CONNECTED;
      });
    } catch {
      this.state = IDLE;
    }
  }

  /** The latch was reset (the peer moved): stop filtering on the old peer. */
  reset(): void {
    this.generation++;
    if (this.state === CONNECTED) this.safeDisconnect();
    // A connect in flight sees the new generation and undoes itself.
    this.state = IDLE;
  }

  private safeDisconnect(): void {
    try {
      this.socket.disconnect();
    } catch {
      // ERR_SOCKET_DGRAM_NOT_CONNECTED or a closed socket: nothing to undo.
    }
  }
}
