import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSipmasqError } from '../../../common/errors.ts';
import { DEFAULTS, OPTIONS, parseOutboundProxy, validateConfig } from '../../../proxy/config.ts';

/** Asserts that validating `raw` fails with SMQ_ERR_CONFIG_INVALID naming `option`. */
function rejects(raw: unknown, option: string | undefined): void {
  assert.throws(
    () => validateConfig(raw),
    (err: unknown) => {
      assert.ok(isSipmasqError(err, 'SMQ_ERR_CONFIG_INVALID'), String(err));
      assert.equal(err.details.option, option, `names ${option}: ${err.message}`);
      if (option) assert.ok(err.message.includes(`'${option}'`), err.message);
      return true;
    },
    JSON.stringify(raw),
  );
}

describe('config defaults', () => {
  it('an empty object gives exactly the documented defaults', () => {
    assert.deepEqual(validateConfig({}), DEFAULTS);
  });

  it('the defaults are valid as input and frozen, lists included', () => {
    const c = validateConfig(DEFAULTS);
    assert.deepEqual(c, DEFAULTS);
    for (const obj of [DEFAULTS, c]) {
      assert.ok(Object.isFrozen(obj));
      assert.ok(Object.isFrozen(obj.modes));
      assert.ok(Object.isFrozen(obj.lanNetworks));
    }
  });

  it('the validated config cannot be changed', () => {
    const c = validateConfig({ sipPort: 5070 }) as { sipPort: number };
    assert.throws(() => {
      c.sipPort = 1;
    }, TypeError);
    assert.equal(c.sipPort, 5070);
  });

  it('documents every Config key exactly once, with the default that validation applies', () => {
    const keys = OPTIONS.map((o) => o.key);
    assert.equal(new Set(keys).size, keys.length);
    assert.deepEqual([...keys].sort(), Object.keys(DEFAULTS).sort());
    for (const o of OPTIONS) {
      assert.ok(o.doc.length > 0, `${o.key} has a doc`);
      assert.deepEqual(o.def, DEFAULTS[o.key], `${o.key} documented default`);
    }
  });

  it('flags are unique and spelled --kebab-case', () => {
    const flags = OPTIONS.flatMap((o) => (o.flag ? [o.flag] : []));
    assert.equal(new Set(flags).size, flags.length);
    for (const f of flags) assert.match(f, /^--[a-z]+(-[a-z]+)*$/);
  });
});

describe('config validation', () => {
  it('refuses a non-object', () => {
    for (const raw of [null, undefined, 'x', 5, [], [{}]]) rejects(raw, undefined);
  });

  it('refuses an unknown option, naming it (typos must not pass)', () => {
    rejects({ sipport: 5060 }, 'sipport');
    rejects({ wanInterfce: 'eth0' }, 'wanInterfce');
  });

  it('rejects every bad value naming the option it belongs to', () => {
    const bad: Array<[string, unknown]> = [
      ['modes', []],
      ['modes', ['outbound', 'bogus']],
      ['modes', 5],
      ['modes', [1]],
      ['modes', ''],
      ['lanInterface', 'this-name-is-too-long'],
      ['lanInterface', 'eth 0'],
      ['lanInterface', 5],
      ['lanAddress', 'example.com'],
      ['lanAddress', '192.168.1.300'],
      ['lanAddress', 1],
      ['lanNetworks', ['192.168.1.0/33']],
      ['lanNetworks', 'not-a-cidr'],
      ['lanNetworks', [5]],
      ['lanNetworks', {}],
      ['wanInterface', 'wan/0'],
      ['wanAddress', 'x'],
      ['publicAddress', '203.0.113'],
      ['sipPort', 0],
      ['sipPort', 65536],
      ['sipPort', 5060.5],
      ['sipPort', '50x'],
      ['sipPort', '-1'],
      ['sipPort', true],
      ['sipPort', null],
      ['rtpPortMin', 1023],
      ['rtpPortMin', 65535],
      ['rtpPortMax', 65536],
      ['mediaPath', 'fast'],
      ['mediaPath', 1],
      ['mediaIdleTimeout', 4],
      ['mediaIdleTimeout', 86401],
      ['mediaHoldTimeout', 4],
      ['keepaliveInterval', -1],
      ['keepaliveInterval', 3601],
      ['firewall', 'pf'],
      ['sipHelper', 'ignore'],
      ['storePath', 'relative/file.db'],
      ['storePath', 1],
      ['storeFlushInterval', 0],
      ['controlSocket', 'sipmasq.sock'],
      ['controlSocket', 7],
      ['logLevel', 'trace'],
      ['logLevel', 'toString'],
      ['logLevel', 3],
      ['maxMessageSize', 1499],
      ['maxMessageSize', 1048577],
    ];
    for (const [option, value] of bad) rejects({ [option]: value }, option);
  });

  it('accepts numeric strings for numbers, as flags deliver them', () => {
    const c = validateConfig({
      sipPort: '5070',
      rtpPortMin: ' 20000 ',
      rtpPortMax: '20099',
      keepaliveInterval: '0',
    });
    assert.equal(c.sipPort, 5070);
    assert.equal(c.rtpPortMin, 20000);
    assert.equal(c.rtpPortMax, 20099);
    assert.equal(c.keepaliveInterval, 0);
  });

  it('accepts the edges of each numeric range', () => {
    const c = validateConfig({
      sipPort: 65535,
      rtpPortMin: 1024,
      rtpPortMax: 65535,
      mediaIdleTimeout: 5,
      mediaHoldTimeout: 604800,
      keepaliveInterval: 3600,
      storeFlushInterval: 3600,
      maxMessageSize: 1500,
    });
    assert.equal(c.sipPort, 65535);
    assert.equal(c.maxMessageSize, 1500);
  });

  it('requires room for two port pairs in the media range', () => {
    assert.equal(validateConfig({ rtpPortMin: 20000, rtpPortMax: 20003 }).rtpPortMax, 20003);
    rejects({ rtpPortMin: 20000, rtpPortMax: 20002 }, 'rtpPortMax');
    rejects({ rtpPortMin: 20000, rtpPortMax: 19000 }, 'rtpPortMax');
    rejects({ rtpPortMin: 30000 }, 'rtpPortMax');
  });

  it('reads modes as a list or as comma/space separated text, without duplicates', () => {
    assert.deepEqual(validateConfig({ modes: 'outbound, transparent' }).modes, ['outbound', 'transparent']);
    assert.deepEqual(validateConfig({ modes: ['outbound', 'outbound'] }).modes, ['outbound']);
    assert.deepEqual(validateConfig({ lanNetworks: '10.0.0.0/8 192.168.0.0/16' }).lanNetworks, [
      '10.0.0.0/8',
      '192.168.0.0/16',
    ]);
  });

  it('treats empty and null addresses and devices as "detect"', () => {
    const c = validateConfig({
      lanAddress: '',
      wanAddress: null,
      publicAddress: '',
      wanInterface: '',
      lanInterface: '',
    });
    assert.equal(c.lanAddress, null);
    assert.equal(c.wanAddress, null);
    assert.equal(c.publicAddress, null);
    assert.equal(c.wanInterface, null);
    assert.equal(c.lanInterface, DEFAULTS.lanInterface);
  });

  it('accepts IPv6 addresses and OpenWrt device names', () => {
    const c = validateConfig({
      lanInterface: 'br-lan.10',
      wanInterface: 'pppoe-wan',
      wanAddress: '2001:db8::2',
      publicAddress: '203.0.113.9',
    });
    assert.equal(c.wanAddress, '2001:db8::2');
    assert.equal(c.wanInterface, 'pppoe-wan');
  });

  it("accepts memory-only stores ('' and ':memory:') and './file' paths", () => {
    for (const storePath of ['', ':memory:', './x.db', '/tmp/x.db'])
      assert.equal(validateConfig({ storePath }).storePath, storePath);
  });
});

describe('config: transparent mode and DNS options', () => {
  it('accepts intercept ports as a list or a comma string and refuses bad ones', () => {
    assert.deepEqual([...validateConfig({ interceptPorts: '5060, 5080' }).interceptPorts], [5060, 5080]);
    assert.deepEqual([...validateConfig({ interceptPorts: [5060, 5060] }).interceptPorts], [5060]);
    assert.throws(() => validateConfig({ interceptPorts: [0] }), /interceptPorts/);
    assert.throws(() => validateConfig({ interceptPorts: [] }), /interceptPorts/);
  });

  it('refuses an intercept listen port equal to the SIP port', () => {
    assert.throws(() => validateConfig({ interceptListenPort: 5060 }), /interceptListenPort/);
  });

  it('parses outbound proxies as domain=host[:port] and refuses anything else', () => {
    assert.deepEqual(parseOutboundProxy('Example.COM=proxy.example.net:5070'), {
      domain: 'example.com',
      host: 'proxy.example.net',
      port: 5070,
    });
    assert.deepEqual(parseOutboundProxy('a.example=198.51.100.1'), {
      domain: 'a.example',
      host: '198.51.100.1',
      port: undefined,
    });
    for (const bad of ['nodomain', 'a=b=c', 'x.example=sip:p.example', 'x.example=p.example:70000', '*=/*'])
      assert.equal(parseOutboundProxy(bad), null, bad);
    assert.throws(() => validateConfig({ outboundProxies: ['bad entry'] }), /outboundProxies/);
  });

  it('keeps the failover timeout within 1..32 s', () => {
    assert.equal(validateConfig({}).failoverTimeout, 4);
    assert.throws(() => validateConfig({ failoverTimeout: 0 }), /failoverTimeout/);
    assert.throws(() => validateConfig({ failoverTimeout: 33 }), /failoverTimeout/);
  });
});
