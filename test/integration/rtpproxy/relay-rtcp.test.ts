import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { StreamGrant } from '../../../rtpproxy/control.ts';
import { endpoint, type Fixture, makeRelay, request, stream } from './relay-fixture.ts';
import { rtcpRr, rtp, UdpPeer } from './udp-peer.ts';

/** Two peers on consecutive ports (RTP even, RTCP odd), as a phone without a=rtcp would use. */
async function openPair(): Promise<[UdpPeer, UdpPeer]> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 42_000 + 2 * Math.floor(Math.random() * 4000);
    const a = await UdpPeer.open('127.0.0.1', port).catch(() => null);
    if (!a) continue;
    const b = await UdpPeer.open('127.0.0.1', port + 1).catch(() => null);
    if (b) return [a, b];
    await a.close();
  }
  throw new Error('no free consecutive port pair on loopback');
}

describe('relay RTCP', () => {
  let fx: Fixture;
  const peers: UdpPeer[] = [];
  const open = async (): Promise<UdpPeer> => {
    const p = await UdpPeer.open();
    peers.push(p);
    return p;
  };

  beforeEach(() => {
    fx = makeRelay();
  });
  afterEach(async () => {
    await fx.relay.close();
    await Promise.all(peers.splice(0).map((p) => p.close()));
  });

  it('relays RTCP between port + 1 on one side and an a=rtcp port on the other', async () => {
    const [phone, phoneRtcp] = await openPair();
    peers.push(phone, phoneRtcp);
    const far = await open();
    const farRtcp = await open(); // RFC 3605 a=rtcp: any port
    const [toFar] = (await fx.relay.update(
      request('lan', [stream(0, endpoint('127.0.0.1', phone.port))]),
    )) as [StreamGrant];
    const [toPhone] = (await fx.relay.update(
      request('wan', [stream(0, endpoint('127.0.0.1', far.port, { rtcpPort: farRtcp.port }))]),
    )) as [StreamGrant];
    assert.equal(toFar.rtcpPort, toFar.port + 1);
    assert.equal(toPhone.rtcpPort, toPhone.port + 1);

    await phoneRtcp.send(rtcpRr(1), toPhone.rtcpPort);
    const [atFar] = await farRtcp.waitFor(1);
    assert.equal(atFar?.port, toFar.rtcpPort); // symmetric: sent from our RTCP port
    await farRtcp.send(rtcpRr(2), toFar.rtcpPort);
    const [atPhone] = await phoneRtcp.waitFor(1);
    assert.equal(atPhone?.data.readUInt32BE(4), 2);
    assert.equal(atPhone?.port, toPhone.rtcpPort);
    // RTCP never leaks onto the RTP sockets.
    assert.equal(phone.received.length + far.received.length, 0);
  });

  it('does not latch the RTCP socket to RTP or garbage', async () => {
    const phone = await open();
    const phoneRtcp = await open();
    const far = await open();
    const [toFar] = (await fx.relay.update(
      request('lan', [stream(0, endpoint('127.0.0.1', phone.port, { rtcpPort: phoneRtcp.port }))]),
    )) as [StreamGrant];
    await fx.relay.update(
      request('wan', [stream(0, endpoint('127.0.0.1', far.port, { rtcpPort: far.port }))]),
    );
    await far.send(rtp(1), toFar.rtcpPort); // RTP on the RTCP port is not valid RTCP
    assert.equal(await phoneRtcp.quiet(), 0);
    assert.equal(fx.relay.query()[0]?.streams[0]?.wanToLan.dropped, 1);
  });

  it('relays rtcp-mux RTCP on the RTP ports and grants rtcpPort = port', async () => {
    const phone = await open();
    const far = await open();
    const mux = { rtcpMux: true };
    const [toFar] = (await fx.relay.update(
      request('lan', [stream(0, endpoint('127.0.0.1', phone.port, mux))]),
    )) as [StreamGrant];
    const [toPhone] = (await fx.relay.update(
      request('wan', [stream(0, endpoint('127.0.0.1', far.port, mux))]),
    )) as [StreamGrant];
    assert.equal(toFar.rtcpPort, toFar.port);
    assert.equal(toPhone.rtcpPort, toPhone.port);
    await phone.send(rtcpRr(7), toPhone.port); // 8 bytes: valid only as muxed RTCP
    await phone.send(rtp(1), toPhone.port);
    const got = await far.waitFor(2);
    assert.deepEqual(
      got.map((r) => r.data.length),
      [8, 172],
    );
    await far.send(rtcpRr(8), toFar.port);
    const [back] = await phone.waitFor(1);
    assert.equal(back?.data[1], 201);
  });

  it('translates between an rtcp-mux phone and a far side with a separate RTCP port', async () => {
    const phone = await open();
    const far = await open();
    const farRtcp = await open();
    const [toFar] = (await fx.relay.update(
      request('lan', [stream(0, endpoint('127.0.0.1', phone.port, { rtcpMux: true }))]),
    )) as [StreamGrant];
    const [toPhone] = (await fx.relay.update(
      request('wan', [stream(0, endpoint('127.0.0.1', far.port, { rtcpPort: farRtcp.port }))]),
    )) as [StreamGrant];
    await phone.send(rtcpRr(3), toPhone.port);
    const [atFarRtcp] = await farRtcp.waitFor(1);
    assert.equal(atFarRtcp?.port, toFar.port + 1);
    await farRtcp.send(rtcpRr(4), toFar.port + 1);
    const [atPhone] = await phone.waitFor(1);
    assert.equal(atPhone?.port, toPhone.port); // muxed onto the phone's RTP port
    assert.equal(far.received.length, 0);
  });
});
