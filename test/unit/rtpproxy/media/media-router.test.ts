import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../../../common/clock.ts';
import { isSipmasqError, SipmasqError } from '../../../../common/errors.ts';
import { Logger, MemorySink } from '../../../../common/logger.ts';
import { nodeSocketFactory } from '../../../../common/socket-factory.ts';
import type { MediaEvents } from '../../../../rtpproxy/control.ts';
import { ConntrackCleaner } from '../../../../rtpproxy/firewall/conntrack-cleaner.ts';
import { Firewall } from '../../../../rtpproxy/firewall/firewall.ts';
import { MediaRouter } from '../../../../rtpproxy/media/media-router.ts';
import { choosePath } from '../../../../rtpproxy/media/path-choice.ts';
import { endpoint, request, stream } from '../../../integration/rtpproxy/relay-fixture.ts';
import { FakeBackend, RecordingRunner } from '../firewall/fake-backend.ts';

const FAR = '203.0.113.7';
const PHONE = '192.168.1.10';

async function makeRouter(kernel = true) {
  const clock = new ManualClock();
  const sink = new MemorySink();
  const logger = Logger.root('debug', sink);
  const backend = new FakeBackend();
  const firewall = new Firewall({ backend, reason: 'test', clock, logger });
  await firewall.start();
  const runner = new RecordingRunner();
  const base = 20_000 + Math.floor(Math.random() * 10_000) * 2;
  const router = new MediaRouter({
    lanAddress: '127.0.0.1',
    wanAddress: '127.0.0.1',
    publicAddress: () => '198.51.100.2',
    portMin: base,
    portMax: base + 199,
    idleTimeoutMs: 30_000,
    holdTimeoutMs: 600_000,
    clock,
    sockets: nodeSocketFactory,
    logger,
    firewall,
    kernel: kernel ? { wanDevice: 'wan', lanDevice: 'br-lan', wanAddress: '127.0.0.1' } : null,
    kernelUnavailable: 'test: relay only',
    pinholeDevice: 'wan',
    conntrack: new ConntrackCleaner(runner, logger, () => undefined),
  });
  const close = async () => {
    await router.close();
    await firewall.close();
  };
  return { router, firewall, backend, runner, clock, sink, close };
}

const kinds = (b: FakeBackend) => b.current.filter((r) => r.kind !== 'marker').map((r) => r.kind);

describe('path choice', () => {
  const ctx = { kernelUnavailable: null, own: ['198.51.100.2', '127.0.0.1'] };
  const ep = (addr: string) => endpoint(addr, 5000);
  it('relays private, own, on-hold, non-IPv4 and unknown far sides; maps a public far side in the kernel', () => {
    assert.equal(choosePath(ep(FAR), null, ctx).path, 'kernel');
    for (const a of [
      '10.1.2.3',
      '100.64.0.9',
      '192.168.5.5',
      '198.51.100.2',
      '0.0.0.0',
      '2001:db8::1',
      'pbx.example',
    ])
      assert.equal(choosePath(ep(a), null, ctx).path, 'relay', a);
    assert.equal(choosePath(ep(FAR), null, { ...ctx, kernelUnavailable: 'no backend' }).path, 'relay');
    assert.equal(choosePath({ ...ep(FAR), rtcpAddr: '203.0.113.99' }, null, ctx).path, 'relay');
    assert.equal(choosePath(ep(FAR), endpoint('fd00::5', 4000), ctx).path, 'relay');
  });
});

describe('MediaRouter (kernel path and relay fallback)', () => {
  it('outgoing call to a public far side: WAN port first, kernel rules installed before the answer is granted', async () => {
    const t = await makeRouter();
    const [offer] = await t.router.update(request('lan', [stream(0, endpoint(PHONE, 4000))]));
    assert.equal(offer?.addr, '198.51.100.2');
    assert.equal(offer?.rtcpPort, (offer?.port ?? 0) + 1);
    assert.deepEqual(kinds(t.backend), [], 'nothing open before the far side is known');
    const [answer] = await t.router.update(request('wan', [stream(0, endpoint(FAR, 7000))]));
    assert.deepEqual(answer, { index: 0, addr: FAR, port: 7000, rtcpPort: 7001, path: 'kernel' });
    assert.deepEqual(kinds(t.backend), [
      'dnat',
      'snat',
      'fwd-in',
      'fwd-out',
      'dnat',
      'snat',
      'fwd-in',
      'fwd-out',
    ]);
    const dnat = t.backend.current.find((r) => r.kind === 'dnat');
    assert.ok(dnat?.kind === 'dnat');
    assert.equal(dnat.dport, offer?.port);
    assert.equal(dnat.saddr, FAR, 'only the far side reaches the phone through X');
    assert.equal(dnat.to, PHONE);
    assert.ok(t.runner.commands('conntrack').length > 0, 'stale flows forgotten on install');
    const s = t.router.query()[0]?.streams[0];
    assert.equal(s?.path, 'kernel');
    assert.equal(s?.wanLocal, `198.51.100.2:${offer?.port}`);
    // Retransmitted answer: same grant, no new apply, no conntrack work.
    const applies = t.backend.applies.length;
    const ct = t.runner.calls.length;
    assert.deepEqual((await t.router.update(request('wan', [stream(0, endpoint(FAR, 7000))])))[0], answer);
    assert.equal(t.backend.applies.length, applies);
    assert.equal(t.runner.calls.length, ct);
    // BYE: rules gone, conntrack entries of X deleted.
    await t.router.release('sess-1', 'bye');
    assert.deepEqual(kinds(t.backend), []);
    const args = t.runner
      .commands('conntrack')
      .slice(ct)
      .map((c) => c.args.join(' '));
    assert.ok(args.includes(`-D -p udp --orig-port-dst ${offer?.port}`));
    assert.ok(args.includes(`-D -p udp --reply-port-dst ${offer?.port}`));
    assert.ok(args.includes(`-D -p udp --orig-src ${PHONE} --orig-port-src 4000`));
    await t.close();
  });

  it('incoming call: the far offer decides kernel, the phone answer completes the mapping', async () => {
    const t = await makeRouter();
    const [toPhone] = await t.router.update(
      request('wan', [stream(0, endpoint(FAR, 7000, { rtcpMux: true }))]),
    );
    assert.deepEqual(toPhone, { index: 0, addr: FAR, port: 7000, rtcpPort: 7000, path: 'kernel' });
    assert.deepEqual(kinds(t.backend), []);
    const [toFar] = await t.router.update(request('lan', [stream(0, endpoint(PHONE, 4000))]));
    assert.equal(toFar?.path, 'kernel');
    assert.equal(t.backend.current.filter((r) => r.kind === 'dnat').length, 2);
    // A re-INVITE moving the phone re-applies the rules for the new port.
    await t.router.update(request('lan', [stream(0, endpoint(PHONE, 4100))]));
    const dnat = t.backend.current.find((r) => r.kind === 'dnat');
    assert.ok(dnat?.kind === 'dnat' && dnat.toPort === 4100);
    await t.close();
    assert.equal(t.backend.removed, 1);
  });

  it('falls back to the relay for a private far side and opens a pinhole for X and X+1 only', async () => {
    const t = await makeRouter();
    const [offer] = await t.router.update(request('lan', [stream(0, endpoint(PHONE, 4000))]));
    const [answer] = await t.router.update(request('wan', [stream(0, endpoint('10.9.9.9', 7000))]));
    assert.equal(answer?.path, 'relay');
    assert.equal(answer?.addr, '127.0.0.1');
    const pins = t.backend.current.filter((r) => r.kind === 'accept-in');
    assert.equal(pins.length, 1);
    assert.ok(pins[0]?.kind === 'accept-in');
    assert.deepEqual(pins[0].ports, [offer?.port, (offer?.port ?? 0) + 1]);
    assert.equal(pins[0].saddr, null, 'a private SDP address says nothing of the real source');
    assert.equal(t.router.query()[0]?.streams[0]?.path, 'relay');
    await t.router.release('sess-1', 'bye');
    assert.deepEqual(kinds(t.backend), []);
    await t.close();
  });

  it('moves a kernel stream to the relay when a re-INVITE puts the far side on our own address', async () => {
    const t = await makeRouter();
    await t.router.update(request('lan', [stream(0, endpoint(PHONE, 4000))]));
    await t.router.update(request('wan', [stream(0, endpoint(FAR, 7000))]));
    const [moved] = await t.router.update(request('wan', [stream(0, endpoint('198.51.100.2', 7000))]));
    assert.equal(moved?.path, 'relay');
    assert.deepEqual(kinds(t.backend), ['accept-in']);
    await t.close();
  });

  it('relay-only mode pins the relay pinhole to a public far side', async () => {
    const t = await makeRouter(false);
    const [offer] = await t.router.update(request('lan', [stream(0, endpoint(PHONE, 4000))]));
    assert.equal(offer?.path, 'relay');
    let pin = t.backend.current.find((r) => r.kind === 'accept-in');
    assert.ok(pin?.kind === 'accept-in' && pin.saddr === null, 'open to anyone until the far side is known');
    await t.router.update(request('wan', [stream(0, endpoint(FAR, 7000))]));
    pin = t.backend.current.find((r) => r.kind === 'accept-in');
    assert.ok(pin?.kind === 'accept-in' && pin.saddr === FAR);
    await t.close();
  });

  it('releases an idle kernel stream by its counters, hold-aware, with the released event', async () => {
    const t = await makeRouter();
    const released: MediaEvents['released'][] = [];
    t.router.on('released', (e) => released.push(e));
    await t.router.update(request('lan', [stream(0, endpoint(PHONE, 4000))]));
    await t.router.update(request('wan', [stream(0, endpoint(FAR, 7000))]));
    const inRtp = t.backend.current.find((r) => r.comment.includes(':in-rtp:'))!.comment;
    for (let i = 1; i <= 10; i++) {
      t.backend.counters.set(inRtp, { packets: i * 100, bytes: i * 16_000 });
      t.clock.advance(5000);
      await t.firewall.check();
    }
    assert.equal(released.length, 0, 'packets flow: not idle after 50 s');
    assert.equal(t.router.query()[0]?.streams[0]?.wanToLan.packets, 1000);
    t.clock.advance(31_000);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(released, [{ sessionId: 'sess-1', callId: 'call-sess-1', reason: 'timeout' }]);
    assert.deepEqual(kinds(t.backend), []);
    // On hold (sendonly), the hold timeout applies instead.
    await t.router.update(request('lan', [stream(0, endpoint(PHONE, 4000))], 'held'));
    await t.router.update(
      request('wan', [stream(0, endpoint(FAR, 7000), { direction: 'sendonly' })], 'held'),
    );
    t.clock.advance(60_000);
    await new Promise((r) => setImmediate(r));
    assert.equal(t.router.query().length, 1);
    await t.close();
  });

  it('a firewall failure fails the update with SMQ_ERR_FIREWALL and ends the session', async () => {
    const t = await makeRouter();
    await t.router.update(request('lan', [stream(0, endpoint(PHONE, 4000))]));
    t.backend.failNext = new SipmasqError('SMQ_ERR_FIREWALL', 'nft: Could not process rule');
    await assert.rejects(t.router.update(request('wan', [stream(0, endpoint(FAR, 7000))])), (e) =>
      isSipmasqError(e, 'SMQ_ERR_FIREWALL'),
    );
    assert.equal(t.router.query().length, 0);
    await t.close();
  });
});
