import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { NetworkInterfaceInfo } from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isSipmasqError } from '../../../common/errors.ts';
import { validateConfig } from '../../../proxy/config.ts';
import { detectAddresses, type InterfaceSource, readDefaultRouteDevice } from '../../../proxy/net-detect.ts';

function v4(address: string, prefix: number, internal = false): NetworkInterfaceInfo {
  return {
    address,
    netmask: '255.255.255.0',
    family: 'IPv4',
    mac: '00:00:00:00:00:00',
    internal,
    cidr: `${address}/${prefix}`,
  };
}

function v6(address: string): NetworkInterfaceInfo {
  return {
    address,
    netmask: 'ffff:ffff:ffff:ffff::',
    family: 'IPv6',
    mac: '00:00:00:00:00:00',
    internal: false,
    cidr: `${address}/64`,
    scopeid: 0,
  };
}

function source(
  ifaces: Record<string, NetworkInterfaceInfo[]>,
  route: string | null = 'wan',
): InterfaceSource {
  return { interfaces: () => ifaces, defaultRouteDevice: () => route };
}

const ROUTER = {
  lo: [v4('127.0.0.1', 8, true)],
  'br-lan': [v6('fd00::1'), v4('192.168.1.1', 24), v4('10.10.0.1', 16)],
  wan: [v4('198.51.100.2', 24)],
  eth9: [v4('203.0.113.7', 28)],
};

function rejectsNaming(fn: () => unknown, option: string, text: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isSipmasqError(err, 'SMQ_ERR_INTERFACE'), String(err));
    assert.equal(err.details.option, option);
    assert.ok(err.message.includes(option), err.message);
    assert.match(err.message, text);
    return true;
  });
}

describe('detectAddresses', () => {
  it('takes the first IPv4 of the LAN device, all its subnets, and the default-route device for the WAN', () => {
    const a = detectAddresses(validateConfig({}), source(ROUTER));
    assert.deepEqual(a, {
      lanAddress: '192.168.1.1',
      wanAddress: '198.51.100.2',
      publicAddress: '198.51.100.2',
      lanNetworks: ['192.168.1.1/24', '10.10.0.1/16'],
      sipPort: 5060,
      lanDevice: 'br-lan',
      wanDevice: 'wan',
    });
  });

  it('uses the configured WAN device over the default route, and the public address when given', () => {
    const a = detectAddresses(
      validateConfig({ wanInterface: 'eth9', publicAddress: '203.0.113.99', sipPort: 5070 }),
      source(ROUTER),
    );
    assert.equal(a.wanAddress, '203.0.113.7');
    assert.equal(a.wanDevice, 'eth9');
    assert.equal(a.publicAddress, '203.0.113.99');
    assert.equal(a.sipPort, 5070);
  });

  it('keeps configured addresses and networks and does not need the devices then', () => {
    const a = detectAddresses(
      validateConfig({
        lanAddress: '192.168.5.1',
        lanNetworks: ['192.168.5.0/24'],
        wanAddress: '198.51.100.9',
      }),
      source({}, null),
    );
    assert.deepEqual(a, {
      lanAddress: '192.168.5.1',
      wanAddress: '198.51.100.9',
      publicAddress: '198.51.100.9',
      lanNetworks: ['192.168.5.0/24'],
      sipPort: 5060,
      lanDevice: 'br-lan',
      wanDevice: null,
    });
  });

  it('still reads the LAN subnets from the device when only the LAN address is configured', () => {
    const a = detectAddresses(
      validateConfig({ lanAddress: '10.10.0.1', wanAddress: '198.51.100.9' }),
      source(ROUTER),
    );
    assert.equal(a.lanAddress, '10.10.0.1');
    assert.deepEqual(a.lanNetworks, ['192.168.1.1/24', '10.10.0.1/16']);
  });

  it('fails naming lanInterface when the LAN device does not exist', () => {
    rejectsNaming(
      () => detectAddresses(validateConfig({ lanInterface: 'br-guest' }), source(ROUTER)),
      'lanInterface',
      /br-guest.*does not exist/,
    );
  });

  it('fails naming lanInterface when the LAN device has no IPv4 address', () => {
    rejectsNaming(
      () => detectAddresses(validateConfig({}), source({ ...ROUTER, 'br-lan': [v6('fd00::1')] })),
      'lanInterface',
      /no IPv4 address/,
    );
  });

  it('fails naming wanInterface when the WAN device is missing or has no IPv4 address', () => {
    rejectsNaming(
      () => detectAddresses(validateConfig({ wanInterface: 'wwan0' }), source(ROUTER)),
      'wanInterface',
      /wwan0.*does not exist/,
    );
    rejectsNaming(
      () => detectAddresses(validateConfig({}), source({ ...ROUTER, wan: [v6('2001:db8::2')] })),
      'wanInterface',
      /no IPv4 address/,
    );
  });

  it('fails naming wanInterface when none is set and there is no default route', () => {
    rejectsNaming(
      () => detectAddresses(validateConfig({}), source(ROUTER, null)),
      'wanInterface',
      /default route/,
    );
  });

  it('falls back to an internal IPv4 address when the device has nothing else', () => {
    const a = detectAddresses(validateConfig({ lanInterface: 'lo' }), source(ROUTER));
    assert.equal(a.lanAddress, '127.0.0.1');
    assert.deepEqual(a.lanNetworks, ['127.0.0.1/8']);
  });
});

describe('readDefaultRouteDevice', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'smq-route-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const HEADER = 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT';
  const table = (name: string, rows: string[]) => {
    const p = join(dir, name);
    writeFileSync(p, `${[HEADER, ...rows].join('\n')}\n`);
    return p;
  };

  it('finds the device of the 0.0.0.0/0 route among others', () => {
    const p = table('route', [
      'br-lan\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
      'pppoe-wan\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0',
      'eth1\t00000000\t0101A8C0\t0003\t0\t0\t10\t00000000\t0\t0\t0',
    ]);
    assert.equal(readDefaultRouteDevice(p), 'pppoe-wan');
  });

  it('does not take a route to 0.0.0.0 with a non-zero mask for the default route', () => {
    const p = table('nodefault', [
      'br-lan\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
      'odd\t00000000\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0',
    ]);
    assert.equal(readDefaultRouteDevice(p), null);
  });

  it('gives null for a missing file, an empty file and a header-only file', () => {
    assert.equal(readDefaultRouteDevice(join(dir, 'absent')), null);
    writeFileSync(join(dir, 'empty'), '');
    assert.equal(readDefaultRouteDevice(join(dir, 'empty')), null);
    assert.equal(readDefaultRouteDevice(table('header', [])), null);
  });
});
