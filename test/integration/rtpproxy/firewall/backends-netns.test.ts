/**
 * The firewall backends against the real nft and iptables, inside a private network namespace holding a
 * fw4-shaped (nftables) or fw3-shaped (iptables) ruleset. The media sockets stay on loopback in the
 * test's own namespace; only the rules live in the namespace.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { systemClock } from '../../../../common/clock.ts';
import { Logger, MemorySink } from '../../../../common/logger.ts';
import { nodeSocketFactory } from '../../../../common/socket-factory.ts';
import { SpawnRunner } from '../../../../rtpproxy/command-runner.ts';
import type { MediaSideOptions } from '../../../../rtpproxy/control.ts';
import { createMediaSide } from '../../../../rtpproxy/media-side.ts';
import { endpoint, request, stream } from '../relay-fixture.ts';
import { ChildSide } from './child-side.ts';
import { canUseNamespaces, FW3_RULESET, FW4_RULESET, inNs, Namespaces, waitFor } from './netns.ts';

const FAR = '203.0.113.7';
const PHONE = '192.168.1.10';
const skip = canUseNamespaces();

function options(kind: 'nftables' | 'iptables'): Omit<MediaSideOptions, 'publicAddress'> {
  const base = 20_000 + Math.floor(Math.random() * 10_000) * 2;
  return {
    lanAddress: '127.0.0.1',
    wanAddress: '127.0.0.1',
    lanDevice: 'lan0',
    wanDevice: 'wan0',
    sipPort: 5060,
    portMin: base,
    portMax: base + 99,
    idleTimeoutMs: 60_000,
    holdTimeoutMs: 600_000,
    mediaPath: 'auto',
    firewall: kind,
  };
}

for (const kind of ['nftables', 'iptables'] as const) {
  describe(`${kind} backend in a namespace`, { skip: skip ?? false }, () => {
    const spaces = new Namespaces();
    let ns = '';
    const load = () =>
      kind === 'nftables'
        ? inNs(ns, 'nft', ['-f', '-'], FW4_RULESET)
        : inNs(ns, 'iptables-restore', [], FW3_RULESET);
    const listing = () =>
      kind === 'nftables' ? inNs(ns, 'nft', ['list', 'ruleset']) : inNs(ns, 'iptables-save', []);
    /** A DNAT to `addr:port` in the listing: a map element's data (nftables) or a rule's target. */
    const dnatTo = (to: string) =>
      kind === 'nftables' ? `: ${to.replace(':', ' . ')}` : `--to-destination ${to}`;
    const open = async (opts: Omit<MediaSideOptions, 'publicAddress'>) =>
      createMediaSide(
        { ...opts, publicAddress: () => '198.51.100.2' },
        {
          clock: systemClock,
          sockets: nodeSocketFactory,
          logger: Logger.root('info', new MemorySink()),
          runner: new SpawnRunner({ netns: ns }),
          tuning: { watchdogMs: 200 },
        },
      );

    before(() => {
      ns = spaces.add(kind === 'nftables' ? 'nft' : 'ipt');
      load();
    });
    after(() => spaces.cleanup());

    it('opens the SIP port, hooks its chains, maps a kernel stream, survives a reload, and leaves nothing at close', async () => {
      const opts = options(kind);
      const side = await open(opts);
      try {
        let text = listing();
        assert.match(text, /smq:@sip:udp:5060/);
        if (kind === 'nftables') {
          for (const [parent, ours] of [
            ['input', 'sipmasq_input'],
            ['forward', 'sipmasq_forward'],
            ['dstnat', 'sipmasq_dstnat'],
            ['srcnat', 'sipmasq_srcnat'],
          ]) {
            const first = JSON.parse(
              inNs(ns, 'nft', ['-j', 'list', 'chain', 'inet', 'fw4', parent!]),
            ).nftables.find((i: { rule?: unknown }) => i.rule);
            assert.equal(first?.rule?.expr?.[0]?.jump?.target, ours, `${parent} starts with the jump`);
          }
        } else {
          for (const hook of [
            '-A INPUT -j sipmasq_input',
            '-A FORWARD -j sipmasq_forward',
            '-A PREROUTING -j sipmasq_dstnat',
            '-A POSTROUTING -j sipmasq_srcnat',
          ])
            assert.ok(text.includes(hook), hook);
        }
        const [offer] = await side.media.update(request('lan', [stream(0, endpoint(PHONE, 4000))]));
        const [answer] = await side.media.update(request('wan', [stream(0, endpoint(FAR, 7000))]));
        assert.equal(answer?.path, 'kernel');
        const x = offer?.port ?? 0;
        text = listing();
        assert.ok(text.includes(dnatTo(`${PHONE}:4000`)), 'DNAT to the phone');
        assert.ok(text.includes(dnatTo(`${PHONE}:4001`)), 'DNAT of RTCP');
        assert.ok(text.includes(kind === 'nftables' ? `: 127.0.0.1 . ${x}` : `--to-source 127.0.0.1:${x}`));
        assert.ok(text.includes(FAR), 'restricted to the far side');
        await side.media.release('sess-1', 'bye');
        assert.ok(!listing().includes(dnatTo(`${PHONE}:4000`)), 'released: the mapping is gone');

        // A firewall reload wipes our chains: the watchdog puts them back within a few seconds.
        load();
        assert.ok(!listing().includes('smq:@sip'));
        await waitFor('rules restored', () => listing().includes('smq:@sip:udp:5060'), 5000);
        await waitFor('restore counted', () => side.network.status().restored >= 1, 2000);
        assert.equal(side.network.status().backend, kind);

        await side.network.setRedirects([{ proto: 'udp', port: 5060, toPort: 5060 }]);
        assert.match(listing(), kind === 'nftables' ? /redirect to :5060/ : /REDIRECT --to-ports 5060/);
        await side.network.setRedirects([]);
        assert.doesNotMatch(listing(), /smq:@redirect/);
      } finally {
        await side.close();
      }
      const left = listing();
      assert.ok(!left.includes('sipmasq'), left);
      assert.ok(!left.includes('smq:'), left);
    });

    it('after kill -9 the kernel rules stay; reconcile adopts the known session and removes the other', async () => {
      const opts = options(kind);
      const child = ChildSide.start({
        opts,
        public: '198.51.100.2',
        netns: ns,
        updates: [
          request('lan', [stream(0, endpoint(PHONE, 4000))], 'keep'),
          request('wan', [stream(0, endpoint(FAR, 7000))], 'keep'),
          request('lan', [stream(0, endpoint(PHONE, 4010))], 'drop'),
          request('wan', [stream(0, endpoint(FAR, 7010))], 'drop'),
        ],
      });
      try {
        await child.next('ready');
      } finally {
        await child.kill9();
      }
      assert.ok(listing().includes(dnatTo(`${PHONE}:4010`)), 'rules survive the crash');
      const side = await open(opts);
      try {
        assert.ok(listing().includes(dnatTo(`${PHONE}:4000`)), 'start keeps them until reconcile');
        const res = await side.reconcile(new Set(['keep', 'other']));
        assert.deepEqual(res, { adopted: ['keep'], removed: 8 });
        const text = listing();
        assert.ok(text.includes(dnatTo(`${PHONE}:4000`)));
        assert.ok(!text.includes(dnatTo(`${PHONE}:4010`)));
        const s = side.media.query();
        assert.equal(s.length, 1);
        assert.equal(s[0]?.streams[0]?.path, 'kernel');
        assert.equal(s[0]?.streams[0]?.lanPeer, `${PHONE}:4000`);
        await side.media.release('keep', 'bye');
        assert.ok(!listing().includes(dnatTo(`${PHONE}:4000`)));
      } finally {
        await side.close();
      }
      assert.ok(!listing().includes('sipmasq'));
    });
  });
}
