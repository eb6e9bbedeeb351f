/**
 * Turn the configured interfaces into addresses at start (and again on SIGHUP): the LAN address and
 * subnets of lanInterface, the WAN address of wanInterface (or of the default-route device).
 */
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { SipmasqError } from '../common/errors.ts';
import type { Config } from './config.ts';
import type { Addresses } from './core/address-book.ts';

export interface InterfaceSource {
  interfaces(): ReturnType<typeof networkInterfaces>;
  defaultRouteDevice(): string | null;
}

/** The device of the IPv4 default route, from /proc/net/route. */
export function readDefaultRouteDevice(routeTable = '/proc/net/route'): string | null {
  let text: string;
  try {
    text = readFileSync(routeTable, 'utf8');
  } catch {
    return null;
  }
  for (const line of text.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length >= 8 && cols[1] === '00000000' && cols[7] === '00000000') return cols[0] ?? null;
  }
  return null;
}

export const systemInterfaces: InterfaceSource = {
  interfaces: () => networkInterfaces(),
  defaultRouteDevice: () => readDefaultRouteDevice(),
};

function ipv4Of(src: InterfaceSource, device: string, option: string) {
  const list = src.interfaces()[device];
  if (!list)
    throw new SipmasqError('SMQ_ERR_INTERFACE', `${option}: device '${device}' does not exist`, { option });
  const v4 = list.filter((a) => a.family === 'IPv4' && !a.internal);
  const first = v4[0] ?? list.find((a) => a.family === 'IPv4');
  if (!first)
    throw new SipmasqError('SMQ_ERR_INTERFACE', `${option}: device '${device}' has no IPv4 address`, {
      option,
    });
  return { first, all: v4.length ? v4 : [first] };
}

export function detectAddresses(config: Config, src: InterfaceSource = systemInterfaces): Addresses {
  let lanAddress = config.lanAddress;
  let lanNetworks = [...config.lanNetworks];
  if (!lanAddress || lanNetworks.length === 0) {
    const lan = ipv4Of(src, config.lanInterface, 'lanInterface');
    lanAddress ??= lan.first.address;
    if (lanNetworks.length === 0) lanNetworks = lan.all.map((a) => a.cidr ?? `${a.address}/32`);
  }
  let wanAddress = config.wanAddress;
  const wanDevice = config.wanInterface ?? src.defaultRouteDevice();
  if (!wanAddress) {
    if (!wanDevice)
      throw new SipmasqError(
        'SMQ_ERR_INTERFACE',
        'wanInterface: not set and there is no IPv4 default route',
        {
          option: 'wanInterface',
        },
      );
    wanAddress = ipv4Of(src, wanDevice, 'wanInterface').first.address;
  }
  return {
    lanAddress,
    wanAddress,
    publicAddress: config.publicAddress ?? wanAddress,
    lanNetworks,
    sipPort: config.sipPort,
    lanDevice: config.lanInterface,
    wanDevice: wanDevice ?? null,
  };
}
