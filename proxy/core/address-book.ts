/**
 * The addresses sipmasq lives on: where it listens on the LAN and the WAN, what it tells the internet
 * (the public address, which a hotplug event may change at run time) and which sources count as LAN.
 */
import { type Cidr, cidrContains, parseCidr, sameAddress, stripBrackets } from '../../common/net.ts';

export interface Addresses {
  readonly lanAddress: string;
  readonly wanAddress: string;
  readonly publicAddress: string;
  readonly lanNetworks: readonly string[];
  readonly sipPort: number;
  /** Linux devices of the two sides (firewall rules match on them); null when not known. */
  readonly lanDevice: string | null;
  readonly wanDevice: string | null;
}

export class AddressBook {
  private current: Addresses;
  private networks: Cidr[];

  constructor(initial: Addresses) {
    this.current = Object.freeze({ ...initial });
    this.networks = AddressBook.cidrs(initial.lanNetworks);
  }

  private static cidrs(list: readonly string[]): Cidr[] {
    return list.map((n) => {
      const c = parseCidr(n);
      if (!c) throw new TypeError(`invalid LAN network ${n}`);
      return c;
    });
  }

  get lan(): string {
    return this.current.lanAddress;
  }
  get wan(): string {
    return this.current.wanAddress;
  }
  get public(): string {
    return this.current.publicAddress;
  }
  get sipPort(): number {
    return this.current.sipPort;
  }
  snapshot(): Addresses {
    return this.current;
  }

  /** Replace addresses (hotplug / SIGHUP). Returns true when anything changed. */
  update(next: Addresses): boolean {
    const before = JSON.stringify(this.current);
    this.current = Object.freeze({ ...next });
    this.networks = AddressBook.cidrs(next.lanNetworks);
    return JSON.stringify(this.current) !== before;
  }

  /** A source that may use sipmasq as its outbound proxy. */
  isLanSource(addr: string): boolean {
    return this.networks.some((c) => cidrContains(c, addr));
  }

  /** True when host[:port] names sipmasq itself (any of its addresses, on its SIP port). */
  isSelf(host: string, port: number | undefined): boolean {
    const h = stripBrackets(host);
    const p = port ?? 5060;
    if (p !== this.current.sipPort) return false;
    return [this.current.lanAddress, this.current.wanAddress, this.current.publicAddress].some((a) =>
      sameAddress(a, h),
    );
  }
}
