/**
 * The media port pools, one per bind address (LAN and WAN may share one when they are the same
 * address), and leasing bound socket pairs from them. A bind failure other than "port taken" is
 * SMQ_ERR_BIND; exhaustion is SMQ_ERR_PORTS_EXHAUSTED (port-pool.ts).
 */
import type { Clock } from '../../common/clock.ts';
import { errorText, isSipmasqError, SipmasqError } from '../../common/errors.ts';
import { canonicalIp } from '../../common/net.ts';
import type { SocketFactory } from '../../common/socket-factory.ts';
import { PortPool } from '../relay/port-pool.ts';
import { SocketPair } from '../relay/socket-pair.ts';

export interface PortLeasesOptions {
  lanAddress: string;
  wanAddress: string;
  portMin: number;
  portMax: number;
  clock: Clock;
  sockets: SocketFactory;
  random?: () => number;
  portCooldownMs?: number;
}

export class PortLeases {
  private readonly pools = new Map<string, PortPool>();

  constructor(private readonly opts: PortLeasesOptions) {
    for (const a of [opts.lanAddress, opts.wanAddress]) this.poolFor(a);
  }

  /** A bound pair from the pool of `address`; bind failures other than "port taken" are SMQ_ERR_BIND. */
  async lease(address: string): Promise<SocketPair> {
    try {
      const { value } = await this.poolFor(address).acquire((port) =>
        SocketPair.bind(this.opts.sockets, address, port),
      );
      return value;
    } catch (err) {
      if (isSipmasqError(err)) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      throw new SipmasqError(
        'SMQ_ERR_BIND',
        `media socket on ${address}: ${errorText(err)}`,
        { address, code },
        { cause: err },
      );
    }
  }

  async returnPair(pair: SocketPair): Promise<void> {
    await pair.close();
    this.returnPorts([pair]);
  }

  returnPorts(pairs: readonly SocketPair[]): void {
    for (const p of pairs) this.poolFor(p.address).release(p.port);
  }

  poolFor(address: string): PortPool {
    const key = canonicalIp(address) ?? address;
    let pool = this.pools.get(key);
    if (!pool) {
      pool = new PortPool({
        portMin: this.opts.portMin,
        portMax: this.opts.portMax,
        clock: this.opts.clock,
        ...(this.opts.random ? { random: this.opts.random } : {}),
        ...(this.opts.portCooldownMs !== undefined ? { cooldownMs: this.opts.portCooldownMs } : {}),
      });
      this.pools.set(key, pool);
    }
    return pool;
  }
}
