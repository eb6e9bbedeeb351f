import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { StreamGrant } from '../../../rtpproxy/control.ts';
import { endpoint, type Fixture, makeRelay, request, stream } from './relay-fixture.ts';
import { rtp, UdpPeer } from './udp-peer.ts';

for (const connectWhenLocked of [false, true]) {
  // With connectWhenLocked the kernel filters strangers once the latch is locked: never delivered,
  // but no longer counted.
  const afterLock = (n: number) => (connectWhenLocked ? 0 : n);

  describe(`relay latching and strict source (connectWhenLocked: ${connectWhenLocked})`, () => {
    let fx: Fixture;
    let phone: UdpPeer;
    let far: UdpPeer;
    let attacker: UdpPeer;
    let elsewhere: UdpPeer; // a port nobody reads: where a NAT'd peer's SDP points
    let toFar: StreamGrant;
    let toPhone: StreamGrant;

    beforeEach(async () => {
      fx = makeRelay({ connectWhenLocked });
      phone = await UdpPeer.open();
      far = await UdpPeer.open();
      attacker = await UdpPeer.open();
      elsewhere = await UdpPeer.open();
      [toFar] = (await fx.relay.update(request('lan', [stream(0, endpoint('127.0.0.1', phone.port))]))) as [
        StreamGrant,
      ];
      [toPhone] = (await fx.relay.update(request('wan', [stream(0, endpoint('127.0.0.1', far.port))]))) as [
        StreamGrant,
      ];
    });
    afterEach(async () => {
      await fx.relay.close();
      await Promise.all([phone.close(), far.close(), attacker.close(), elsewhere.close()]);
    });

    const status = () => fx.relay.query()[0]?.streams[0];

    it('latches to a NAT-ed far side whose source port differs from its signalled port', async () => {
      await fx.relay.update(request('wan', [stream(0, endpoint('127.0.0.1', elsewhere.port))]));
      await phone.send(rtp(1), toPhone.port);
      await elsewhere.waitFor(1); // before latching: toward the signalled address
      await far.send(rtp(2), toFar.port);
      await phone.waitFor(1);
      assert.equal(status()?.wanPeer, `127.0.0.1:${far.port}`);
      await phone.send(rtp(3), toPhone.port);
      const [got] = await far.waitFor(1);
      assert.equal(got?.data.readUInt16BE(2), 3);
      assert.equal(elsewhere.received.length, 1);
    });

    it('drops and counts packets from a third source after latching, and never delivers them', async () => {
      await far.send(rtp(1), toFar.port);
      await phone.waitFor(1);
      for (let i = 0; i < 4; i++) await attacker.send(rtp(50 + i), toFar.port);
      await phone.send(rtp(2), toPhone.port); // still reaches the real far side
      await far.waitFor(1);
      assert.equal(await phone.quiet(), 0);
      assert.equal(phone.received.length, 1);
      assert.equal(attacker.received.length, 0);
      assert.deepEqual(status()?.wanToLan, { packets: 1, bytes: 172, dropped: afterLock(4) });
      assert.equal(status()?.wanPeer, `127.0.0.1:${far.port}`);
    });

    it('drops and counts invalid packets before latching and does not latch to them', async () => {
      await attacker.send(Buffer.from('GET / HTTP/1.0\r\n\r\n'), toFar.port);
      await attacker.send(Buffer.from([0x80, 0, 1]), toFar.port); // version 2 but shorter than a header
      await far.send(Buffer.from('not rtp at all, but long enough'), toFar.port);
      assert.equal(await phone.quiet(), 0);
      assert.equal(status()?.wanLatched, false);
      assert.equal(status()?.wanToLan.dropped, 3);
      await far.send(rtp(1), toFar.port);
      await phone.waitFor(1);
      assert.equal(status()?.wanLatched, true);
    });

    it('re-latches once to the signalled address when a stranger latched first, then is strict', async () => {
      await attacker.send(rtp(1), toFar.port); // wins the race: latched (RFC 7362 learning)
      await phone.waitFor(1);
      assert.equal(status()?.wanPeer, `127.0.0.1:${attacker.port}`);
      fx.clock.advance(500); // inside the learning window
      await far.send(rtp(2), toFar.port);
      await phone.waitFor(2);
      assert.equal(status()?.wanPeer, `127.0.0.1:${far.port}`);
      await attacker.send(rtp(3), toFar.port);
      await phone.send(rtp(4), toPhone.port);
      await far.waitFor(1);
      assert.equal(await phone.quiet(), 0);
      assert.equal(attacker.received.length, 0);
      assert.equal(status()?.wanToLan.dropped, afterLock(1));
    });

    it('counts a stranger inside the learning window and still never delivers it', async () => {
      await fx.relay.update(request('wan', [stream(0, endpoint('127.0.0.1', elsewhere.port))]));
      await far.send(rtp(1), toFar.port); // NAT-ed: not the signalled port, so not locked yet
      await phone.waitFor(1);
      await attacker.send(rtp(2), toFar.port);
      await far.send(rtp(3), toFar.port);
      await phone.waitFor(2);
      assert.equal(await phone.quiet(), 0);
      assert.deepEqual(
        phone.received.map((r) => r.data.readUInt16BE(2)),
        [1, 3],
      );
      assert.equal(status()?.wanToLan.dropped, 1);
    });

    it('learns the new far side after a re-INVITE moved the media', async () => {
      await far.send(rtp(1), toFar.port);
      await phone.waitFor(1);
      await phone.send(rtp(2), toPhone.port);
      await far.waitFor(1); // locked (and connected) to far
      await fx.relay.update(request('wan', [stream(0, endpoint('127.0.0.1', elsewhere.port))]));
      await elsewhere.send(rtp(3), toFar.port);
      await phone.waitFor(2);
      await phone.send(rtp(4), toPhone.port);
      const [got] = await elsewhere.waitFor(1);
      assert.equal(got?.data.readUInt16BE(2), 4);
      assert.equal(far.received.length, 1);
      await far.send(rtp(5), toFar.port); // the old peer is now a stranger
      assert.equal(await phone.quiet(), 0);
    });

    it('keeps the first latch after the learning window even for the signalled address', async () => {
      await fx.relay.update(request('wan', [stream(0, endpoint('127.0.0.1', elsewhere.port))]));
      await far.send(rtp(1), toFar.port);
      await phone.waitFor(1);
      fx.clock.advance(5000);
      await elsewhere.send(rtp(2), toFar.port);
      assert.equal(await phone.quiet(), 0);
      assert.equal(status()?.wanPeer, `127.0.0.1:${far.port}`);
      assert.equal(status()?.wanToLan.dropped, 1);
    });

    it('drops and counts packets while the destination is unknown', async () => {
      await fx.relay.update(
        request('wan', [stream(0, endpoint('0.0.0.0', far.port, { rtcpPort: far.port + 1 }))]),
      );
      await phone.send(rtp(1), toPhone.port);
      assert.equal(await far.quiet(), 0);
      assert.deepEqual(status()?.lanToWan, { packets: 0, bytes: 0, dropped: 1 });
      assert.equal(status()?.onHold, true);
    });
  });
}
