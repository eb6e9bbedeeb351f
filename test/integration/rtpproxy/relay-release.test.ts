import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StreamGrant } from '../../../rtpproxy/control.ts';
import { endpoint, makeRelay, request, stream } from './relay-fixture.ts';
import { rtp, UdpPeer } from './udp-peer.ts';

describe('relay release', () => {
  it('closes the ports on release so that a bind on them succeeds afterwards', async () => {
    const { relay } = makeRelay({ wanAddress: '127.0.0.2', publicAddress: () => '127.0.0.2' });
    const [toFar] = (await relay.update(request('lan', [stream(0, endpoint('127.0.0.1', 9))]))) as [
      StreamGrant,
    ];
    const lanLocal = relay.query()[0]?.streams[0]?.lanLocal;
    const lanPort = Number(lanLocal?.split(':')[1]);
    await assert.rejects(UdpPeer.open('127.0.0.2', toFar.port), { code: 'EADDRINUSE' });
    await relay.release('sess-1', 'bye');
    await relay.release('sess-1', 'bye');
    assert.deepEqual(relay.query(), []);
    const reopened = await Promise.all([
      UdpPeer.open('127.0.0.2', toFar.port),
      UdpPeer.open('127.0.0.2', toFar.port + 1),
      UdpPeer.open('127.0.0.1', lanPort),
      UdpPeer.open('127.0.0.1', lanPort + 1),
    ]);
    await Promise.all(reopened.map((p) => p.close()));
    await relay.close();
  });

  it('stops relaying a stream disabled with port 0 and frees its ports', async () => {
    const { relay } = makeRelay();
    const phone = await UdpPeer.open();
    const far = await UdpPeer.open();
    const [toFar] = (await relay.update(request('lan', [stream(0, endpoint('127.0.0.1', phone.port))]))) as [
      StreamGrant,
    ];
    const [toPhone] = (await relay.update(request('wan', [stream(0, endpoint('127.0.0.1', far.port))]))) as [
      StreamGrant,
    ];
    const [disabled] = await relay.update(request('lan', [stream(0, null)]));
    assert.deepEqual(disabled, { index: 0, addr: '127.0.0.1', port: 0, rtcpPort: 0, path: 'relay' });
    assert.deepEqual(relay.query()[0]?.streams, []);
    await phone.send(rtp(1), toPhone.port);
    assert.equal(await far.quiet(), 0);
    const p = await UdpPeer.open('127.0.0.1', toFar.port);
    await Promise.all([p.close(), phone.close(), far.close(), relay.close()]);
  });

  it('relays over IPv6 loopback when it is available', async (t) => {
    const probe = await UdpPeer.open('::1').catch(() => null);
    if (!probe) return t.skip('no IPv6 loopback');
    const { relay } = makeRelay({ lanAddress: '::1', wanAddress: '::1', publicAddress: () => '::1' });
    const far = await UdpPeer.open('::1');
    const [toFar] = (await relay.update(request('lan', [stream(0, endpoint('::1', probe.port))]))) as [
      StreamGrant,
    ];
    const [toPhone] = (await relay.update(request('wan', [stream(0, endpoint('0:0::1', far.port))]))) as [
      StreamGrant,
    ];
    assert.equal(toPhone.addr, '::1');
    await probe.send(rtp(1), toPhone.port, '::1');
    const [got] = await far.waitFor(1);
    assert.equal(got?.port, toFar.port);
    await far.send(rtp(2), toFar.port, '::1');
    await probe.waitFor(1);
    assert.equal(relay.query()[0]?.streams[0]?.wanLocal, `[::1]:${toFar.port}`);
    await Promise.all([probe.close(), far.close(), relay.close()]);
  });
});
