import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applySdp, hasSdp } from '../../../../proxy/core/sdp-media.ts';
import { FakeMedia, LAN, PHONE, PUBLIC, quietLogger, req, sdp } from './fixtures.ts';

const SESSION = { sessionId: 's1', callId: 'call-1@phone' };

function invite(body: string, type: string | null = 'application/sdp') {
  return req(
    [
      'INVITE sip:bob@voip.example.net SIP/2.0',
      `Via: SIP/2.0/UDP ${PHONE}:5062;branch=z9hG4bK1`,
      'Max-Forwards: 70',
      'From: <sip:alice@voip.example.net>;tag=a1',
      'To: <sip:bob@voip.example.net>',
      'Call-ID: call-1@phone',
      'CSeq: 1 INVITE',
      ...(type ? [`Content-Type: ${type}`] : []),
    ],
    body,
  );
}

describe('hasSdp', () => {
  it('is true only for a non-empty body typed application/sdp (parameters and case allowed)', () => {
    assert.ok(hasSdp(invite(sdp(PHONE, 4000))));
    assert.ok(hasSdp(invite(sdp(PHONE, 4000), 'Application/SDP; charset=utf-8')));
    assert.ok(!hasSdp(invite('')));
    assert.ok(!hasSdp(invite(sdp(PHONE, 4000), null)), 'a body without Content-Type is not assumed SDP');
    assert.ok(!hasSdp(invite('x', 'application/sdpx')));
    assert.ok(!hasSdp(invite('x', 'multipart/mixed;boundary=a')));
  });
});

describe('applySdp', () => {
  it('does nothing without SDP', async () => {
    const media = new FakeMedia();
    assert.deepEqual(await applySdp(invite(''), media, SESSION, 'lan', quietLogger().log), { kind: 'none' });
    assert.equal(media.updates.length, 0);
  });

  it('asks the media side for the streams of the SDP and writes the grants into it', async () => {
    const media = new FakeMedia();
    const m = invite(sdp(PHONE, 4000, ['a=rtcp:4001']));
    assert.deepEqual(await applySdp(m, media, SESSION, 'lan', quietLogger().log), { kind: 'rewritten' });
    assert.equal(media.updates.length, 1);
    const u = media.updates[0]!;
    assert.equal(u.sessionId, 's1');
    assert.equal(u.callId, 'call-1@phone');
    assert.equal(u.from, 'lan');
    assert.deepEqual(u.streams, [
      {
        index: 0,
        endpoint: { addr: PHONE, port: 4000, rtcpPort: 4001, rtcpMux: false },
        direction: 'sendrecv',
        proto: 'RTP/AVP',
      },
    ]);
    const body = m.body.toString();
    assert.ok(body.includes(`c=IN IP4 ${PUBLIC}`), body);
    assert.ok(body.includes(`o=- 1 1 IN IP4 ${PUBLIC}`), body);
    assert.ok(body.includes('m=audio 30000 RTP/AVP 0 8'), body);
    assert.ok(body.includes('a=rtcp:30001'), body);
    assert.ok(!body.includes(PHONE), 'no private address leaks');
  });

  it('writes the LAN-facing grant into an SDP from the far side', async () => {
    const media = new FakeMedia();
    const m = invite(sdp('198.51.100.77', 20000));
    await applySdp(m, media, SESSION, 'wan', quietLogger().log);
    assert.equal(media.updates[0]!.from, 'wan');
    assert.ok(m.body.toString().includes(`c=IN IP4 ${LAN}`));
    assert.ok(m.body.toString().includes('m=audio 40000 '));
  });

  it('reports an unusable SDP without asking the media side and leaves the body alone', async () => {
    const media = new FakeMedia();
    const m = invite('this is not sdp');
    const { log, sink } = quietLogger();
    const out = await applySdp(m, media, SESSION, 'lan', log);
    assert.equal(out.kind, 'bad-sdp');
    assert.equal(media.updates.length, 0);
    assert.equal(m.body.toString(), 'this is not sdp');
    assert.ok(sink.lines.some((l) => l.includes('unusable SDP') && l.includes('call:call-1@phone')));
  });

  it('reports a media allocation failure with its reason and leaves the body alone', async () => {
    const media = new FakeMedia();
    media.fail = new Error('no ports');
    const body = sdp(PHONE, 4000);
    const m = invite(body);
    const { log, sink } = quietLogger();
    const out = await applySdp(m, media, SESSION, 'lan', log);
    assert.deepEqual(out, { kind: 'media-failed', reason: 'no ports' });
    assert.equal(m.body.toString(), body);
    assert.ok(sink.lines.some((l) => l.startsWith('error') && l.includes('media allocation failed')));
  });
});
