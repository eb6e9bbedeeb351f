/**
 * /etc/init.d/sipmasq under a stand-in for rc.common/procd/UCI/network.sh (harness/), run by dash and,
 * when installed, busybox ash: the procd instance it asks for, its triggers, the JSON config it writes
 * for sample UCI files (field by field, and accepted by the daemon's own validateConfig), and its
 * refusal, with a log line naming the problem, of invalid ones.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type Config, validateConfig } from '../../../proxy/config.ts';
import {
  callsTo,
  makeRoot,
  type NetState,
  REPO,
  type RunResult,
  runInit,
  SHIPPED_UCI,
  STOCK_NET,
  shells,
} from './harness/driver.ts';

/** A temp dir removed when the test process exits. */
const madeDirs: string[] = [];
process.on('exit', () => {
  for (const d of madeDirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  madeDirs.push(d);
  return d;
}

const CONF = '/var/etc/sipmasq/sipmasq.json';

/** The shipped /etc/config/sipmasq with one option changed (or added when absent). */
function withOption(name: string, value: string, kind: 'option' | 'list' = 'option'): string {
  const line = new RegExp(`^\\s*(option|list) ${name} .*$`, 'gm');
  const stripped = SHIPPED_UCI.replace(line, '').replace(/^\s*# list lan_network.*$/m, '');
  return `${stripped}\t${kind} ${name} '${value}'\n`;
}

const STOCK_JSON: Config = {
  modes: ['outbound'],
  lanInterface: 'br-lan',
  lanAddress: '192.168.1.1',
  lanNetworks: [],
  wanInterface: 'eth1',
  wanAddress: '203.0.113.7',
  publicAddress: null,
  sipPort: 5060,
  rtpPortMin: 16384,
  rtpPortMax: 16999,
  mediaPath: 'auto',
  mediaIdleTimeout: 60,
  mediaHoldTimeout: 7200,
  keepaliveInterval: 20,
  interceptPorts: [5060],
  interceptListenPort: 5069,
  outboundProxies: [],
  failoverTimeout: 4,
  firewall: 'auto',
  sipHelper: 'disable',
  storePath: '/etc/sipmasq/sipmasq.db',
  storeFlushInterval: 30,
  controlSocket: '/var/run/sipmasq.sock',
  logLevel: 'info',
  maxMessageSize: 65535,
};

interface ValidSample {
  readonly name: string;
  readonly uci: string;
  readonly net: NetState;
  readonly json: Config;
}

const VALID: ValidSample[] = [
  { name: 'the shipped config on a stock router', uci: SHIPPED_UCI, net: STOCK_NET, json: STOCK_JSON },
  {
    name: 'both modes, PPPoE WAN behind CGNAT, every option set',
    uci: `config sipmasq 'main'
	option enabled 'yes'
	list mode 'outbound'
	list mode 'transparent'
	option lan 'lan'
	option wan 'wan'
	list lan_network '192.168.1.0/24'
	list lan_network '10.10.0.0/16'
	option public_address '198.51.100.20'
	option sip_port '5080'
	option rtp_port_min '20000'
	option rtp_port_max '20099'
	option media_path 'relay'
	option media_idle_timeout '90'
	option media_hold_timeout '3600'
	option keepalive_interval '0'
	list intercept_port '5060'
	list intercept_port '05062'
	option intercept_listen_port '5070'
	list outbound_proxy 'sip.example.com=proxy.example.net:5061'
	list outbound_proxy 'voip.example.org=192.0.2.10'
	option failover_timeout '010'
	option firewall 'nftables'
	option sip_helper 'warn'
	option store_path 'none'
	option store_flush_interval '60'
	option control_socket '/tmp/run/sipmasq.sock'
	option log_level 'debug'
	option max_message_size '8192'
`,
    net: {
      lan: { device: 'br-lan', ipaddr: '192.168.1.1' },
      wan: { device: 'pppoe-wan', ipaddr: '100.64.3.9' },
    },
    json: {
      modes: ['outbound', 'transparent'],
      lanInterface: 'br-lan',
      lanAddress: '192.168.1.1',
      lanNetworks: ['192.168.1.0/24', '10.10.0.0/16'],
      wanInterface: 'pppoe-wan',
      wanAddress: '100.64.3.9',
      publicAddress: '198.51.100.20',
      sipPort: 5080,
      rtpPortMin: 20000,
      rtpPortMax: 20099,
      mediaPath: 'relay',
      mediaIdleTimeout: 90,
      mediaHoldTimeout: 3600,
      keepaliveInterval: 0,
      interceptPorts: [5060, 5062],
      interceptListenPort: 5070,
      outboundProxies: ['sip.example.com=proxy.example.net:5061', 'voip.example.org=192.0.2.10'],
      failoverTimeout: 10,
      firewall: 'nftables',
      sipHelper: 'warn',
      storePath: '',
      storeFlushInterval: 60,
      controlSocket: '/tmp/run/sipmasq.sock',
      logLevel: 'debug',
      maxMessageSize: 8192,
    },
  },
  {
    name: 'other network names, address overrides, a minimal section, leading zeros',
    uci: `config sipmasq 'main'
	option lan 'guest'
	option wan 'wwan'
	option lan_address '192.168.7.1'
	option wan_address '10.0.0.2'
	option sip_port '05060'
	option firewall 'iptables'
`,
    net: {
      lan: { device: 'br-lan', ipaddr: '192.168.1.1' },
      guest: { device: 'br-guest', ipaddr: '192.168.7.254' },
      wwan: { device: 'phy0-sta0', ipaddr: '10.0.0.99' },
    },
    json: {
      ...STOCK_JSON,
      lanInterface: 'br-guest',
      lanAddress: '192.168.7.1',
      wanInterface: 'phy0-sta0',
      wanAddress: '10.0.0.2',
      firewall: 'iptables',
    },
  },
  {
    name: 'WAN not up yet: the daemon is left to find the default route',
    uci: SHIPPED_UCI,
    net: { lan: STOCK_NET.lan! },
    json: { ...STOCK_JSON, wanInterface: null, wanAddress: null },
  },
];

interface InvalidSample {
  readonly uci: string;
  /** The option the log line must name, or a phrase it must hold. */
  readonly says: string;
  /** Title for the test; default: the changed line. */
  readonly what?: string;
  /** The same mistake in the daemon's JSON: validateConfig must refuse it too. */
  readonly json: Partial<Record<keyof Config, unknown>>;
}

const INVALID: InvalidSample[] = [
  { uci: withOption('sip_port', '70000'), says: "'sip_port'", json: { sipPort: 70000 } },
  { uci: withOption('sip_port', '0x13c4'), says: "'sip_port'", json: { sipPort: '0x13c4' } },
  { uci: withOption('mode', 'proxy', 'list'), says: "'mode'", json: { modes: ['proxy'] } },
  {
    uci: SHIPPED_UCI.replace("list mode 'outbound'", "list mode 'bogus'\n\tlist mode 'outbound'"),
    says: "'mode'",
    what: "list mode 'bogus' before a valid one (validate_data passes it)",
    json: { modes: ['bogus', 'outbound'] },
  },
  { uci: withOption('lan_address', '300.1.1.1'), says: "'lan_address'", json: { lanAddress: '300.1.1.1' } },
  {
    uci: withOption('public_address', 'sip.example.com'),
    says: "'public_address'",
    json: { publicAddress: 'sip.example.com' },
  },
  {
    uci: withOption('lan_network', '10.0.0.0/33', 'list'),
    says: "'lan_network'",
    json: { lanNetworks: ['10.0.0.0/33'] },
  },
  {
    uci: withOption('rtp_port_min', '17000'),
    says: 'rtp_port_min (17000) must be below',
    json: { rtpPortMin: 17000 },
  },
  {
    uci: withOption('rtp_port_min', '16998'),
    says: 'at least two port pairs',
    json: { rtpPortMin: 16998 },
  },
  { uci: withOption('rtp_port_max', '70000'), says: "'rtp_port_max'", json: { rtpPortMax: 70000 } },
  { uci: withOption('media_path', 'fast'), says: "'media_path'", json: { mediaPath: 'fast' } },
  { uci: withOption('firewall', 'pf'), says: "'firewall'", json: { firewall: 'pf' } },
  { uci: withOption('sip_helper', 'ignore'), says: "'sip_helper'", json: { sipHelper: 'ignore' } },
  { uci: withOption('log_level', 'trace'), says: "'log_level'", json: { logLevel: 'trace' } },
  {
    uci: withOption('store_path', 'sipmasq.db'),
    says: "'store_path' must be an absolute path",
    json: { storePath: 'sipmasq.db' },
  },
  {
    uci: withOption('control_socket', 'run/sipmasq.sock'),
    says: "'control_socket' must be an absolute path",
    json: { controlSocket: 'run/sipmasq.sock' },
  },
  { uci: withOption('max_message_size', '100'), says: "'max_message_size'", json: { maxMessageSize: 100 } },
  {
    uci: withOption('media_idle_timeout', '-1'),
    says: "'media_idle_timeout'",
    json: { mediaIdleTimeout: -1 },
  },
  { uci: withOption('failover_timeout', '0'), says: "'failover_timeout'", json: { failoverTimeout: 0 } },
  { uci: withOption('failover_timeout', '33'), says: "'failover_timeout'", json: { failoverTimeout: 33 } },
  {
    uci: withOption('intercept_port', '70000', 'list'),
    says: "'intercept_port'",
    json: { interceptPorts: [70000] },
  },
  {
    uci: withOption('intercept_port', '0x13c4', 'list'),
    says: "'intercept_port' must be a decimal number",
    json: { interceptPorts: ['0x13c4'] },
  },
  {
    uci: `${SHIPPED_UCI}\tlist intercept_port '0'\n\tlist intercept_port '5060'\n`,
    says: "'intercept_port'",
    what: "list intercept_port '0' before a valid one (validate_data passes it)",
    json: { interceptPorts: [0, 5060] },
  },
  {
    uci: withOption('intercept_listen_port', '70000'),
    says: "'intercept_listen_port'",
    json: { interceptListenPort: 70000 },
  },
  {
    uci: withOption('intercept_listen_port', '5060'),
    says: "'intercept_listen_port' (5060) must differ from sip_port",
    json: { interceptListenPort: 5060 },
  },
  {
    uci: withOption('outbound_proxy', 'proxy.example.net', 'list'),
    says: "'outbound_proxy' must be domain=host[:port], got 'proxy.example.net'",
    json: { outboundProxies: ['proxy.example.net'] },
  },
  {
    uci: withOption('outbound_proxy', 'example.com=proxy.example.net:70000', 'list'),
    says: "'outbound_proxy'",
    json: { outboundProxies: ['example.com=proxy.example.net:70000'] },
  },
  {
    uci: withOption('outbound_proxy', 'example.com=proxy.example.net:0', 'list'),
    says: "'outbound_proxy'",
    json: { outboundProxies: ['example.com=proxy.example.net:0'] },
  },
  {
    uci: withOption('outbound_proxy', 'example.com=sip:proxy.example.net', 'list'),
    says: "'outbound_proxy'",
    json: { outboundProxies: ['example.com=sip:proxy.example.net'] },
  },
  {
    uci: withOption('outbound_proxy', 'example.com=proxy.example.net:005060', 'list'),
    says: "'outbound_proxy'",
    json: { outboundProxies: ['example.com=proxy.example.net:005060'] },
  },
  {
    uci: withOption('outbound_proxy', 'a=b=c', 'list'),
    says: "'outbound_proxy'",
    json: { outboundProxies: ['a=b=c'] },
  },
  {
    uci: withOption('outbound_proxy', '*=/*', 'list'),
    says: "got '*=/*'",
    what: "list outbound_proxy '*=/*' (not expanded as a glob)",
    json: { outboundProxies: ['*=/*'] },
  },
  {
    uci: `${SHIPPED_UCI}\tlist outbound_proxy 'example.com=proxy.example.net'\n\tlist outbound_proxy 'example.org proxy.example.net'\n`,
    says: "got 'example.org'",
    what: 'a valid outbound_proxy entry, then one with a space',
    json: { outboundProxies: ['example.com=proxy.example.net', 'example.org proxy.example.net'] },
  },
  { uci: withOption('enabled', 'maybe'), says: "'enabled'", json: {} },
  { uci: withOption('lan', 'br-lan'), says: "'lan'", json: {} },
];

function instance(r: RunResult): string[][] {
  const open = r.calls.findIndex((c) => c[0] === 'procd_open_instance');
  const close = r.calls.findIndex((c) => c[0] === 'procd_close_instance');
  return open < 0
    ? []
    : r.calls
        .slice(open + 1, close)
        .filter((c) => c[0] === 'procd_set_param')
        .map((c) => c.slice(1));
}

// rc.common's start() returns procd_close_service's status, not start_service's (as on OpenWrt), so a
// refusal shows as: no instance, and the log line.
function assertRefused(r: RunResult, says: string): void {
  assert.equal(callsTo(r, 'procd_open_instance').length, 0, 'no instance may be started');
  const logs = callsTo(r, 'logger');
  const err = logs.find((l) => l[0] === '-t' && l[1] === 'sipmasq' && l[2] === '-p' && l[3] === 'daemon.err');
  assert.ok(err, `a daemon.err log line tagged sipmasq, got ${JSON.stringify(logs)}`);
  assert.match(err[4] ?? '', /^invalid configuration in \/etc\/config\/sipmasq: .*; not starting$/);
  assert.ok(err[4]?.includes(says), `log line ${JSON.stringify(err[4])} names ${says}`);
  assert.ok(r.stderr.includes(says), 'the refusal is also printed for the user at the console');
}

for (const shell of shells()) {
  describe(`init script under ${shell.name}`, () => {
    it('runs node on the bundle with the generated config, respawn, HUP reload, stdout/stderr to logd', () => {
      const r = runInit(makeRoot(), 'start', shell);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(callsTo(r, 'procd_open_service')[0]?.[0], 'sipmasq');
      assert.deepEqual(instance(r), [
        ['command', '/usr/bin/node', '/usr/share/sipmasq/sipmasq.mjs', '--config', CONF],
        ['file', CONF],
        ['reload_signal', 'HUP'],
        ['respawn', '3600', '5', '5'],
        ['term_timeout', '10'],
        ['stdout', '1'],
        ['stderr', '1'],
      ]);
    });

    it('reloads on UCI changes and on events of the configured LAN and WAN networks, and registers its schema', () => {
      const r = runInit(makeRoot(), 'start', shell);
      assert.deepEqual(callsTo(r, 'procd_add_reload_trigger'), [['sipmasq']]);
      assert.deepEqual(callsTo(r, 'procd_add_reload_interface_trigger'), [['lan'], ['wan']]);
      assert.deepEqual(callsTo(r, 'procd_add_validation'), [['sipmasq_validate']]);
      const schema = Object.fromEntries(callsTo(r, 'json_add_string').map(([k, v]) => [k, v]));
      assert.equal(schema['package'], 'sipmasq');
      assert.equal(schema['sip_port'], 'range(1,65535)');
      assert.equal(schema['intercept_port'], 'list(range(1,65535))');
      assert.equal(schema['outbound_proxy'], 'list(string)');

      const custom = makeRoot({ uci: `config sipmasq 'main'\n\toption lan 'guest'\n\toption wan 'guest'\n` });
      const r2 = runInit(custom, 'start', shell);
      assert.deepEqual(callsTo(r2, 'procd_add_reload_interface_trigger'), [['guest']]);
    });

    for (const sample of VALID) {
      it(`writes the daemon config for ${sample.name}`, () => {
        const r = runInit(makeRoot({ uci: sample.uci, net: sample.net }), 'start', shell);
        assert.equal(r.status, 0, r.stderr);
        assert.ok(r.config, 'the JSON config is written');
        assert.deepEqual(Object.keys(r.config), Object.keys(STOCK_JSON), 'every option, in config.ts order');
        for (const [key, want] of Object.entries(sample.json)) assert.deepEqual(r.config[key], want, key);
        assert.equal(callsTo(r, 'procd_open_instance').length, 1);
        const daemon = validateConfig(r.config);
        assert.deepEqual(
          {
            ...daemon,
            modes: [...daemon.modes],
            lanNetworks: [...daemon.lanNetworks],
            interceptPorts: [...daemon.interceptPorts],
            outboundProxies: [...daemon.outboundProxies],
          },
          sample.json,
        );
      });
    }

    it('says so in the log when the WAN is not up yet, and starts anyway', () => {
      const r = runInit(makeRoot({ net: { lan: STOCK_NET.lan! } }), 'start', shell);
      assert.equal(r.status, 0);
      assert.ok(
        callsTo(r, 'logger').some((l) => l[3] === 'daemon.notice' && l[4]?.includes("network 'wan'")),
      );
    });

    it('starts nothing while the LAN network is down, and keeps its triggers to start when it comes up', () => {
      const r = runInit(makeRoot({ net: {} }), 'start', shell);
      assert.equal(callsTo(r, 'procd_open_instance').length, 0);
      assert.deepEqual(callsTo(r, 'procd_add_reload_interface_trigger'), [['lan'], ['wan']]);
      assert.ok(
        callsTo(r, 'logger').some((l) => l[3] === 'daemon.notice' && l[4]?.includes("network 'lan'")),
      );
      assert.equal(r.config, null);
    });

    it("starts nothing when option enabled is '0', and says so", () => {
      const r = runInit(makeRoot({ uci: withOption('enabled', '0') }), 'start', shell);
      assert.equal(r.status, 0);
      assert.equal(callsTo(r, 'procd_open_instance').length, 0);
      assert.deepEqual(callsTo(r, 'procd_add_reload_trigger'), [['sipmasq']]);
      assert.ok(callsTo(r, 'logger').some((l) => l[3] === 'daemon.info' && l[4]?.startsWith('disabled')));
    });

    for (const bad of INVALID) {
      it(`refuses to start, with a log line naming ${bad.says} (${bad.what ?? bad.uci.trim().split('\n').at(-1)?.trim()})`, () => {
        const r = runInit(makeRoot({ uci: bad.uci }), 'start', shell);
        assertRefused(r, bad.says);
        assert.equal(r.config, null, 'no config is written');
      });
    }

    it('reload regenerates the config with the new WAN address (procd then sends SIGHUP)', () => {
      const root = makeRoot();
      assert.equal(runInit(root, 'start', shell).status, 0);
      root.setNet({ ...STOCK_NET, wan: { device: 'eth1', ipaddr: '203.0.113.99' } });
      const r = runInit(root, 'reload', shell);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.config?.['wanAddress'], '203.0.113.99');
      assert.deepEqual(instance(r)[0], [
        'command',
        '/usr/bin/node',
        '/usr/share/sipmasq/sipmasq.mjs',
        '--config',
        CONF,
      ]);
      assert.deepEqual(instance(r)[2], ['reload_signal', 'HUP']);
    });

    it('reload with an invalid config keeps the running daemon and its last good config', () => {
      const root = makeRoot();
      const first = runInit(root, 'start', shell);
      root.setUci(withOption('sip_port', '99999'));
      const r = runInit(root, 'reload', shell);
      assert.notEqual(r.status, 0);
      assert.equal(
        callsTo(r, 'procd_open_service').length,
        0,
        'procd is not told anything, so it keeps the instance',
      );
      assert.equal(r.configText, first.configText);
      assert.ok(callsTo(r, 'logger').some((l) => l[3] === 'daemon.warn' && l[4]?.includes('reload refused')));
      assert.ok(callsTo(r, 'logger').some((l) => l[3] === 'daemon.err' && l[4]?.includes("'sip_port'")));
    });
  });
}

describe('the init script and the daemon agree on what is invalid', () => {
  for (const bad of INVALID) {
    if (Object.keys(bad.json).length === 0) continue;
    it(`validateConfig refuses ${JSON.stringify(bad.json)} too`, () => {
      assert.throws(() => validateConfig({ ...STOCK_JSON, ...bad.json }), { code: 'SMQ_ERR_CONFIG_INVALID' });
    });
  }
});

describe('the daemon itself accepts the generated config', {
  skip: !existsSync(join(REPO, 'proxy', 'main.ts')) && 'proxy/main.ts does not exist yet',
}, () => {
  const loopback: NetState = {
    lan: { device: 'lo', ipaddr: '127.0.0.1' },
    wan: { device: 'lo', ipaddr: '127.0.0.1' },
  };
  for (const sample of VALID.slice(0, 2)) {
    it(`sipmasq check-config passes for ${sample.name} (devices mapped to lo)`, () => {
      const shell = shells()[0]!;
      const r = runInit(makeRoot({ uci: sample.uci, net: loopback }), 'start', shell);
      assert.ok(r.configText, r.stderr);
      const file = join(tempDir('sipmasq-cc-'), 'sipmasq.json');
      writeFileSync(file, r.configText);
      const res = spawnSync(
        process.execPath,
        ['--import', 'tsx', join(REPO, 'proxy', 'main.ts'), 'check-config', '--config', file],
        {
          cwd: REPO,
          encoding: 'utf8',
          timeout: 30_000,
        },
      );
      assert.equal(res.status, 0, res.stdout + res.stderr);
    });
  }
});
