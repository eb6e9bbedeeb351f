import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSipmasqError } from '../../../common/errors.ts';
import type { MediaEvents, StreamGrant } from '../../../rtpproxy/control.ts';
import { endpoint, makeRelay, request, stream } from '../../integration/rtpproxy/relay-fixture.ts';
import { rtp, UdpPeer } from '../../integration/rtpproxy/udp-peer.ts';

type Released = MediaEvents['released'];

describe('RelayControl', () => {
  it('returns the same ports for the same request and keeps the latch', async () => {
    const { relay } = makeRelay();
    const far = await UdpPeer.open();
    const req = request('lan', [
      stream(0, endpoint('127.0.0.1', 9000)),
      stream(1, endpoint('127.0.0.1', 9002)),
    ]);
    const first = await relay.update(req);
    const [toPhone] = (await relay.update(request('wan', [stream(0, endpoint('127.0.0.1', far.port))]))) as [
      StreamGrant,
    ];
    await far.send(rtp(1), first[0]!.port);
    await waitUntil(() => relay.query()[0]?.streams[0]?.wanLatched === true);
    const [again, concurrent] = await Promise.all([relay.update(req), relay.update(req)]);
    assert.deepEqual(again, first);
    assert.deepEqual(concurrent, first);
    assert.deepEqual(
      (await relay.update(request('wan', [stream(0, endpoint('127.0.0.1', far.port))])))[0],
      toPhone,
    );
    assert.equal(relay.query()[0]?.streams[0]?.wanLatched, true);
    assert.equal(relay.query().length, 1);
    await Promise.all([far.close(), relay.close()]);
  });

  it('resets the latch of a side whose endpoint changed', async () => {
    const { relay } = makeRelay();
    const far = await UdpPeer.open();
    const [toFar] = (await relay.update(request('lan', [stream(0, endpoint('127.0.0.1', 9000))]))) as [
      StreamGrant,
    ];
    await relay.update(request('wan', [stream(0, endpoint('127.0.0.1', far.port))]));
    await far.send(rtp(1), toFar.port);
    await waitUntil(() => relay.query()[0]?.streams[0]?.wanLatched === true);
    await relay.update(request('lan', [stream(0, endpoint('127.0.0.1', 9010))])); // the other side moved
    assert.equal(relay.query()[0]?.streams[0]?.wanLatched, true);
    const [moved] = await relay.update(request('wan', [stream(0, endpoint('127.0.0.1', 9020))]));
    const s = relay.query()[0]?.streams[0];
    assert.equal(s?.wanLatched, false);
    assert.equal(s?.wanPeer, '127.0.0.1:9020');
    assert.equal(s?.lanPeer, '127.0.0.1:9010');
    assert.equal(moved?.addr, '127.0.0.1');
    await Promise.all([far.close(), relay.close()]);
  });

  it('grants the WAN side at the current public address and the LAN side at the LAN address', async () => {
    let pub = '127.0.0.1';
    const { relay } = makeRelay({ publicAddress: () => pub });
    const [a] = await relay.update(request('lan', [stream(0, endpoint('127.0.0.1', 9000))]));
    pub = '203.0.113.5'; // hotplug: the WAN address changed
    const [b] = await relay.update(request('lan', [stream(0, endpoint('127.0.0.1', 9000))]));
    assert.equal(a?.addr, '127.0.0.1');
    assert.equal(b?.addr, '203.0.113.5');
    assert.equal(b?.port, a?.port);
    await relay.close();
  });

  it('releases a stream disabled with port 0 and keeps the others', async () => {
    const { relay } = makeRelay();
    await relay.update(
      request('lan', [stream(0, endpoint('127.0.0.1', 9000)), stream(1, endpoint('127.0.0.1', 9002))]),
    );
    const grants = await relay.update(
      request('wan', [stream(0, null), stream(1, endpoint('127.0.0.1', 9100))]),
    );
    assert.equal(grants[0]?.port, 0);
    assert.equal(grants[0]?.rtcpPort, 0);
    assert.ok((grants[1]?.port ?? 0) > 0);
    assert.deepEqual(
      relay.query()[0]?.streams.map((s) => s.index),
      [1],
    );
    await relay.close();
  });

  it('releases what it allocated when the ports run out part-way, with SMQ_ERR_PORTS_EXHAUSTED', async () => {
    const base = 30_000 + 2 * Math.floor(Math.random() * 10_000);
    const { relay } = makeRelay({ portMin: base, portMax: base + 3 }); // two pairs: one stream
    const req = request('lan', [
      stream(0, endpoint('127.0.0.1', 9000)),
      stream(1, endpoint('127.0.0.1', 9002)),
    ]);
    await assert.rejects(relay.update(req), (e) => isSipmasqError(e, 'SMQ_ERR_PORTS_EXHAUSTED'));
    assert.deepEqual(relay.query(), []);
    const [one] = await relay.update(request('lan', [stream(0, endpoint('127.0.0.1', 9000))]));
    assert.ok(one && one.port >= base && one.port <= base + 2);
    await relay.close();
  });

  it('releases an idle session after idleTimeoutMs and emits released with reason timeout', async () => {
    const { relay, clock, sink } = makeRelay({ idleTimeoutMs: 10_000, holdTimeoutMs: 60_000 });
    const events: Released[] = [];
    relay.on('released', (e) => events.push(e));
    await relay.update(request('lan', [stream(0, endpoint('127.0.0.1', 9000))], 'idle'));
    clock.advance(9_000);
    assert.equal(relay.query().length, 1);
    clock.advance(2_000);
    await waitUntil(() => events.length === 1);
    assert.deepEqual(events, [{ sessionId: 'idle', callId: 'call-idle', reason: 'timeout' }]);
    assert.deepEqual(relay.query(), []);
    assert.ok(sink.lines.some((l) => l.includes('media session released') && l.includes('call:call-idle')));
    await relay.close();
  });

  it('uses holdTimeoutMs while a stream is on hold', async () => {
    const { relay, clock } = makeRelay({ idleTimeoutMs: 10_000, holdTimeoutMs: 60_000 });
    const events: Released[] = [];
    relay.on('released', (e) => events.push(e));
    await relay.update(
      request('lan', [stream(0, endpoint('127.0.0.1', 9000), { direction: 'sendonly' })], 'held'),
    );
    await relay.update(request('lan', [stream(0, endpoint('127.0.0.1', 9000))], 'old-hold'));
    await relay.update(request('wan', [stream(0, endpoint('0.0.0.0', 9100))], 'old-hold')); // RFC 2543 hold
    clock.advance(30_000);
    assert.deepEqual(
      relay.query().map((s) => s.sessionId),
      ['held', 'old-hold'],
    );
    assert.equal(relay.query()[0]?.streams[0]?.onHold, true);
    clock.advance(31_000);
    await waitUntil(() => events.length === 2);
    assert.deepEqual(events.map((e) => e.sessionId).sort(), ['held', 'old-hold']);
    await relay.close();
  });

  it('counts relayed packets as activity', async () => {
    const { relay, clock } = makeRelay({ idleTimeoutMs: 10_000 });
    const far = await UdpPeer.open();
    const [toFar] = (await relay.update(request('lan', [stream(0, endpoint('127.0.0.1', 9000))]))) as [
      StreamGrant,
    ];
    // The far side's answer names it: only then does the relay learn from it.
    await relay.update(request('wan', [stream(0, endpoint('127.0.0.1', 9002))]));
    clock.advance(8_000);
    await far.send(rtp(1), toFar.port);
    await waitUntil(() => relay.query()[0]?.streams[0]?.lastPacketAt === clock.now());
    clock.advance(8_000);
    assert.equal(relay.query().length, 1);
    await Promise.all([far.close(), relay.close()]);
  });

  it('release is idempotent, ignores unknown ids and does not emit released', async () => {
    const { relay } = makeRelay();
    const events: Released[] = [];
    relay.on('released', (e) => events.push(e));
    await relay.update(request('lan', [stream(0, endpoint('127.0.0.1', 9000))]));
    await Promise.all([relay.release('sess-1', 'bye'), relay.release('sess-1', 'bye')]);
    await relay.release('sess-1', 'bye');
    await relay.release('nope', 'cancel');
    assert.deepEqual(relay.query(), []);
    assert.deepEqual(events, []);
    await relay.close();
  });

  it('close releases everything, is idempotent, and refuses later updates', async () => {
    const { relay, sink } = makeRelay();
    await relay.update(request('lan', [stream(0, endpoint('127.0.0.1', 9000))], 'a'));
    await relay.update(request('lan', [stream(0, endpoint('127.0.0.1', 9000))], 'b'));
    await Promise.all([relay.close(), relay.close()]);
    assert.deepEqual(relay.query(), []);
    assert.equal(sink.lines.filter((l) => l.includes('reason:shutdown')).length, 2);
    await assert.rejects(relay.update(request('lan', [stream(0, endpoint('127.0.0.1', 9000))], 'c')), (e) =>
      isSipmasqError(e, 'SMQ_ERR_MEDIA_SESSION'),
    );
  });

  it('rejects malformed requests with TypeError', async () => {
    const { relay } = makeRelay();
    assert.throws(() => relay.update(request('lan', [stream(0, null), stream(0, null)])), TypeError);
    assert.throws(() => relay.update(request('lan', [], '')), TypeError);
    await relay.close();
  });
});

async function waitUntil(cond: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timeout waiting for condition');
    await new Promise((r) => setTimeout(r, 5));
  }
}
