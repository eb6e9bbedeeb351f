/** The media side's NetworkControl: source mappings and the SIP helper policy, with a recording runner. */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ManualClock } from '../../../../common/clock.ts';
import { isSipmasqError } from '../../../../common/errors.ts';
import { Logger, MemorySink } from '../../../../common/logger.ts';
import { nodeSocketFactory } from '../../../../common/socket-factory.ts';
import type { MediaSideOptions } from '../../../../rtpproxy/control.ts';
import { createMediaSide } from '../../../../rtpproxy/media-side.ts';
import { fail, ok, RecordingRunner } from './fake-backend.ts';

const MAPPING = {
  phoneAddress: '192.168.1.10',
  phonePort: 5062,
  proto: 'udp',
  asAddress: '203.0.113.10',
  asPort: 5060,
} as const;

function opts(over: Partial<MediaSideOptions> = {}): MediaSideOptions {
  return {
    lanAddress: '192.168.1.1',
    wanAddress: '198.51.100.2',
    publicAddress: () => '198.51.100.2',
    lanDevice: 'br-lan',
    wanDevice: 'wan',
    sipPort: 5060,
    portMin: 30000,
    portMax: 30099,
    idleTimeoutMs: 30_000,
    holdTimeoutMs: 600_000,
    mediaPath: 'relay',
    firewall: 'nftables',
    ...over,
  };
}

describe('NetworkControl: source mappings and the SIP helper', () => {
  let dir = '';
  let fw4Json = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'smqh-'));
    await mkdir(join(dir, 'sys', 'nf_conntrack_sip'), { recursive: true });
    fw4Json = await readFile(fileURLToPath(new URL('./fixtures/fw4-helpers.json', import.meta.url)), 'utf8');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /** nft answering like fw4 with helpers (the fixture); our own chains never listed. */
  const fw4Runner = () =>
    new RecordingRunner()
      .on(
        (c) => c.cmd === 'nft' && c.args.join(' ') === '-j list ruleset',
        () => ok(fw4Json),
      )
      .on(
        (c) => c.cmd === 'nft' && c.args[0] === '-j',
        () => ok('{"nftables":[{"chain":{"name":"prerouting"}}]}'),
      );
  const open = (o: MediaSideOptions, runner: RecordingRunner, sink = new MemorySink()) =>
    createMediaSide(o, {
      clock: new ManualClock(),
      sockets: nodeSocketFactory,
      logger: Logger.root('debug', sink),
      runner,
      tuning: {
        helperPaths: {
          procModules: join(dir, 'none'),
          sysModule: join(dir, 'sys'),
          autoAssign: join(dir, 'none'),
        },
      },
    });
  const lastScript = (r: RecordingRunner) =>
    r
      .commands('nft')
      .filter((c) => c.args[0] === '-f')
      .at(-1)?.stdin ?? '';

  it('installs, replaces and removes source mappings atomically; a bad one changes nothing', async () => {
    const runner = fw4Runner();
    const side = await open(opts(), runner);
    try {
      await side.network.setSourceMappings([MAPPING]);
      assert.match(
        lastScript(runner),
        /add rule inet fw4 sipmasq_srcnat ip saddr 192\.168\.1\.1 udp sport 5060 ip daddr 192\.168\.1\.10 udp dport 5062 counter snat ip to 203\.0\.113\.10:5060 comment "smq:@srcmap:udp:192\.168\.1\.10:5062"/,
      );
      const applies = runner.commands('nft').filter((c) => c.args[0] === '-f').length;
      for (const bad of [
        { ...MAPPING, phoneAddress: '2001:db8::10' },
        { ...MAPPING, asAddress: 'registrar.example' },
        { ...MAPPING, phonePort: 0 },
        { ...MAPPING, localPort: 65536 },
      ])
        await assert.rejects(side.network.setSourceMappings([bad]), (e) =>
          isSipmasqError(e, 'SMQ_ERR_FIREWALL'),
        );
      await assert.rejects(side.network.setSourceMappings([MAPPING, MAPPING]), (e) =>
        isSipmasqError(e, 'SMQ_ERR_FIREWALL'),
      );
      assert.equal(
        runner.commands('nft').filter((c) => c.args[0] === '-f').length,
        applies,
        'nothing applied',
      );
      await side.network.setSourceMappings([{ ...MAPPING, proto: 'tcp', phonePort: 5070, localPort: 5069 }]);
      const script = lastScript(runner);
      assert.match(
        script,
        /tcp sport 5069 ip daddr 192\.168\.1\.10 tcp dport 5070/,
        'from the intercept port',
      );
      assert.doesNotMatch(script, /udp:192\.168\.1\.10:5062/);
      await side.network.setSourceMappings([]);
      assert.doesNotMatch(lastScript(runner), /@srcmap/);
    } finally {
      await side.close();
    }
  });

  it('disable (the default) hooks the helper chain into fw4 prerouting and follows the redirects', async () => {
    const runner = fw4Runner();
    const side = await open(opts(), runner);
    try {
      let script = lastScript(runner);
      assert.match(script, /insert rule inet fw4 prerouting jump sipmasq_helper comment "smq:@hook"/);
      assert.match(
        script,
        /sipmasq_helper meta l4proto udp th dport 5060 fib daddr type local counter accept/,
      );
      const st = side.network.status();
      assert.equal(st.sipHelper.loaded, true);
      assert.equal(st.sipHelper.attached, true);
      assert.match(st.sipHelper.action, /^disabled/);
      // helper_lo and the custom table are not behind prerouting: said, not hidden.
      assert.ok(
        st.warnings.some((w) => /helper_lo, ip custom pre/.test(w)),
        st.warnings.join('; '),
      );
      await side.network.setRedirects([{ proto: 'udp', port: 5060, toPort: 5060 }]);
      script = lastScript(runner);
      assert.match(script, /redirect to :5060/);
      assert.match(script, /iifname "br-lan" meta l4proto udp th dport 5060 ct original proto-dst 5060/);
      await side.network.setRedirects([]);
      assert.doesNotMatch(lastScript(runner), /@nohelper:redirect/);
    } finally {
      await side.close();
    }
  });

  it('warn leaves the firewall alone and puts the warning in the status', async () => {
    const runner = fw4Runner();
    const sink = new MemorySink();
    const side = await open(opts({ sipHelper: 'warn' }), runner, sink);
    try {
      assert.doesNotMatch(lastScript(runner), /sipmasq_helper/);
      const st = side.network.status();
      assert.ok(
        st.warnings.includes(
          "nf_conntrack_sip is active: it rewrites SIP behind sipmasq; set sipHelper 'disable' or unload it",
        ),
      );
      assert.match(st.sipHelper.action, /^warned/);
      assert.ok(sink.lines.some((l) => l.startsWith('warn') && l.includes('nf_conntrack_sip is active')));
    } finally {
      await side.close();
    }
  });

  it('without a firewall backend source mappings are refused; bad policies are refused', async () => {
    const runner = new RecordingRunner();
    const side = await open(opts({ firewall: 'none' }), runner);
    await assert.rejects(side.network.setSourceMappings([MAPPING]), (e) =>
      isSipmasqError(e, 'SMQ_ERR_FIREWALL'),
    );
    await side.network.setSourceMappings([]);
    assert.match(side.network.status().sipHelper.action, /^unknown: no firewall backend/);
    await side.close();
    assert.equal(runner.calls.length, 0);
    await assert.rejects(open(opts({ sipHelper: 'ignore' as 'warn' }), runner), TypeError);
    const broken = new RecordingRunner().on(
      () => true,
      () => fail('nft: permission denied'),
    );
    await assert.rejects(open(opts(), broken), (e) => isSipmasqError(e, 'SMQ_ERR_FIREWALL'));
  });
});
