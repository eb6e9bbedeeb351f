import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { endpoint, type Fixture, makeRelay, request, stream } from './relay-fixture.ts';
import { rtp, UdpPeer } from './udp-peer.ts';

describe('relay RTP on loopback', () => {
  let fx: Fixture;
  let phone: UdpPeer;
  let far: UdpPeer;
  before(async () => {
    fx = makeRelay({ wanAddress: '127.0.0.2', publicAddress: () => '127.0.0.2' });
    phone = await UdpPeer.open('127.0.0.1');
    far = await UdpPeer.open('127.0.0.1');
  });
  after(async () => {
    await fx.relay.close();
    await phone.close();
    await far.close();
  });

  it('relays both ways symmetrically and counts packets and bytes', async () => {
    const [toFar] = await fx.relay.update(request('lan', [stream(0, endpoint('127.0.0.1', phone.port))]));
    const [toPhone] = await fx.relay.update(request('wan', [stream(0, endpoint('127.0.0.1', far.port))]));
    assert.ok(toFar && toPhone);
    assert.equal(toFar.addr, '127.0.0.2');
    assert.equal(toPhone.addr, '127.0.0.1');
    for (let i = 0; i < 5; i++) await phone.send(rtp(i), toPhone.port, '127.0.0.1');
    const got = await far.waitFor(5);
    assert.deepEqual(
      got.map((r) => [r.address, r.port, r.data.readUInt16BE(2)]),
      [0, 1, 2, 3, 4].map((i) => ['127.0.0.2', toFar.port, i]),
    );
    for (let i = 0; i < 3; i++) await far.send(rtp(100 + i, 8, 80), toFar.port, '127.0.0.2');
    const back = await phone.waitFor(3);
    assert.deepEqual(
      back.map((r) => [r.address, r.port, r.data.length]),
      [0, 1, 2].map(() => ['127.0.0.1', toPhone.port, 92]),
    );
    const [status] = fx.relay.query();
    const s = status?.streams[0];
    assert.ok(s);
    assert.deepEqual(s.lanToWan, { packets: 5, bytes: 5 * 172, dropped: 0 });
    assert.deepEqual(s.wanToLan, { packets: 3, bytes: 3 * 92, dropped: 0 });
    assert.equal(s.lanLatched, true);
    assert.equal(s.wanLatched, true);
    assert.equal(s.lanLocal, `127.0.0.1:${toPhone.port}`);
    assert.equal(s.wanLocal, `127.0.0.2:${toFar.port}`);
    assert.equal(s.lastPacketAt, fx.clock.now());
  });
});
