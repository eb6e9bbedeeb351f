import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hasIce, type MediaRewrite, rewriteSdp, type SdpRewritePlan } from '../../../../proxy/sdp/rewrite.ts';

const crlf = (...lines: string[]): string => lines.map((l) => `${l}\r\n`).join('');
const PUB = '203.0.113.7';
const media = (index: number, addr = PUB, port = 40000 + 2 * index, rtcpPort = port + 1): MediaRewrite => ({
  index,
  addr,
  port,
  rtcpPort,
});

const OFFER_LINES = [
  'v=0',
  'o=- 1 1 IN IP4 192.168.1.10',
  's=-',
  'c=IN IP4 192.168.1.10',
  't=0 0',
  'm=audio 4000 RTP/AVP 0',
];
const OFFER = crlf(...OFFER_LINES);

describe('rewriteSdp plan validation (our own bugs throw TypeError)', () => {
  const bad: Array<[string, unknown]> = [
    ['no media array', {}],
    ['null plan', null],
    ['bad origin', { originAddr: 'host.example.com', media: [] }],
    ['bracketed IPv6', { media: [media(0, '[2001:db8::1]')] }],
    ['zone id', { media: [media(0, 'fe80::1%eth0')] }],
    ['negative index', { media: [media(-1)] }],
    ['fractional index', { media: [{ ...media(0), index: 0.5 }] }],
    ['duplicate index', { media: [media(0), media(0)] }],
    ['port too big', { media: [media(0, PUB, 65536)] }],
    ['rtcp port negative', { media: [media(0, PUB, 4000, -1)] }],
    ['index beyond the body', { media: [media(1)] }],
  ];
  for (const [what, plan] of bad) {
    it(`throws TypeError for ${what}`, () => {
      assert.throws(() => rewriteSdp(OFFER, plan as SdpRewritePlan), TypeError);
    });
  }
});

describe('rewriteSdp never throws on bad SDP input', () => {
  it('gives junk back unchanged when the plan is empty', () => {
    for (const body of ['', 'garbage', '\r\n\r\n', 'v=0\r\nm=\r\nc=\r\na=rtcp:\r\n', 'x'.repeat(10000)]) {
      assert.equal(rewriteSdp(body, { media: [] }), body);
    }
  });

  it('rewrites what it can read and replaces an unreadable c= or a=rtcp of a planned media whole', () => {
    const body = crlf('v=0', 'o=x', 'm=audio nonsense RTP/AVP 0', 'c=IN', 'a=rtcp:what IN');
    assert.equal(
      rewriteSdp(body, { originAddr: PUB, media: [media(0)] }),
      crlf('v=0', 'o=x', 'm=audio nonsense RTP/AVP 0', `c=IN IP4 ${PUB}`, 'a=rtcp:40001'),
    );
  });
});

describe('rewriteSdp line endings', () => {
  it('keeps mixed line endings line by line', () => {
    const body =
      'v=0\r\no=- 1 1 IN IP4 10.0.0.1\ns=-\r\nc=IN IP4 10.0.0.1\nt=0 0\r\nm=audio 4000 RTP/AVP 0\n';
    assert.equal(
      rewriteSdp(body, { media: [media(0)] }),
      `v=0\r\no=- 1 1 IN IP4 10.0.0.1\ns=-\r\nc=IN IP4 ${PUB}\nt=0 0\r\nm=audio 40000 RTP/AVP 0\n`,
    );
  });

  it('gives an inserted line the ending of the line before it', () => {
    const body =
      'v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\nm=video 4002 RTP/AVP 96\r\n';
    const out = rewriteSdp(body, { media: [media(0), media(1, '203.0.113.8')] });
    assert.equal(
      out,
      `v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 ${PUB}\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\nm=video 40002 RTP/AVP 96\r\nc=IN IP4 203.0.113.8\r\n`,
    );
  });

  it('inserts after a last line without an ending and still ends without one', () => {
    const body = 'v=0\no=- 1 1 IN IP4 10.0.0.1\ns=-\nc=IN IP4 10.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 0';
    assert.equal(
      rewriteSdp(body, { media: [media(0, '203.0.113.8', 40000, 40003)] }),
      'v=0\no=- 1 1 IN IP4 10.0.0.1\ns=-\nc=IN IP4 203.0.113.8\nt=0 0\nm=audio 40000 RTP/AVP 0\na=rtcp:40003',
    );
  });

  it('uses CRLF for an inserted line when the body has no line ending at all', () => {
    assert.equal(
      rewriteSdp('m=audio 4000 RTP/AVP 0', { media: [media(0)] }),
      `m=audio 40000 RTP/AVP 0\r\nc=IN IP4 ${PUB}`,
    );
  });
});

describe('rewriteSdp c= placement (RFC 8866 §5.7)', () => {
  it('points the session c= at the first planned media that inherits it', () => {
    const body = crlf(...OFFER_LINES, 'c=IN IP4 10.0.0.9', 'm=video 4002 RTP/AVP 96');
    const out = rewriteSdp(body, { media: [media(0, '203.0.113.1'), media(1, '203.0.113.2')] });
    assert.match(out, /^c=IN IP4 203\.0\.113\.2\r$/m);
    assert.match(out, /m=audio 40000 RTP\/AVP 0\r\nc=IN IP4 203\.0\.113\.1\r\n/);
    assert.match(out, /m=video 40002 RTP\/AVP 96\r\n$/);
  });

  it('inserts a c= for a media with its own plan address, after its i= line', () => {
    const body = crlf(...OFFER_LINES, 'm=video 4002 RTP/AVP 96', 'i=camera', 'a=rtpmap:96 VP8/90000');
    const out = rewriteSdp(body, { media: [media(0), media(1, '2001:db8::8')] });
    assert.match(out, /m=video 40002 RTP\/AVP 96\r\ni=camera\r\nc=IN IP6 2001:db8::8\r\na=rtpmap/);
  });

  it('does not insert a c= into a disabled (port 0) media', () => {
    const body = crlf(...OFFER_LINES, 'm=video 0 RTP/AVP 96');
    const out = rewriteSdp(body, { media: [media(0), media(1, '203.0.113.9')] });
    assert.ok(out.endsWith('m=video 0 RTP/AVP 96\r\n'));
    assert.ok(!out.includes('203.0.113.9'));
  });

  it('drops a multicast TTL suffix when rewriting', () => {
    const body = crlf(
      'v=0',
      'o=- 1 1 IN IP4 10.0.0.1',
      's=-',
      'c=IN IP4 224.2.1.1/127',
      'm=audio 4000 RTP/AVP 0',
    );
    assert.match(rewriteSdp(body, { media: [media(0)] }), /^c=IN IP4 203\.0\.113\.7\r$/m);
  });

  it('keeps an IPv6 :: hold address', () => {
    const body = crlf('v=0', 'o=- 1 1 IN IP6 fd00::1', 's=-', 'c=IN IP6 ::', 'm=audio 4000 RTP/AVP 0');
    const out = rewriteSdp(body, { media: [media(0, '2001:db8::1')] });
    assert.match(out, /^c=IN IP6 ::\r$/m);
    assert.ok(!out.includes('2001:db8::1'));
  });

  it('keeps the spacing of a rewritten line', () => {
    const body = crlf(
      'v=0',
      'o=-  1 1 IN  IP4  10.0.0.1',
      's=-',
      'c=IN  IP4\t10.0.0.1',
      'm=audio  4000  RTP/AVP 0',
    );
    assert.equal(
      rewriteSdp(body, { originAddr: PUB, media: [media(0)] }),
      crlf('v=0', `o=-  1 1 IN  IP4  ${PUB}`, 's=-', `c=IN  IP4\t${PUB}`, 'm=audio  40000  RTP/AVP 0'),
    );
  });
});

describe('rewriteSdp a=rtcp (RFC 3605)', () => {
  it('leaves the a=rtcp port alone when the plan gives RTCP port 0, and still rewrites its address', () => {
    const body = crlf(...OFFER_LINES, 'a=rtcp:4001 IN IP4 192.168.1.10');
    assert.match(
      rewriteSdp(body, { media: [media(0, PUB, 40000, 0)] }),
      /a=rtcp:4001 IN IP4 203\.0\.113\.7\r\n$/,
    );
  });

  it('rewrites the 0.0.0.0 placeholder address of a=rtcp', () => {
    const body = crlf(...OFFER_LINES, 'a=rtcp:9 IN IP4 0.0.0.0');
    assert.match(rewriteSdp(body, { media: [media(0)] }), /a=rtcp:40001 IN IP4 203\.0\.113\.7\r\n$/);
  });

  it('adds a=rtcp at the end of the media section when RTCP is not on port + 1', () => {
    const body = crlf(...OFFER_LINES, 'a=rtpmap:0 PCMU/8000', 'm=video 0 RTP/AVP 96');
    const out = rewriteSdp(body, { media: [media(0, PUB, 40000, 40007)] });
    assert.match(out, /a=rtpmap:0 PCMU\/8000\r\na=rtcp:40007\r\nm=video 0/);
  });

  it('does not add a=rtcp with rtcp-mux, with RTCP port 0, or when it is port + 1', () => {
    const mux = crlf(...OFFER_LINES, 'a=rtcp-mux');
    assert.ok(!rewriteSdp(mux, { media: [media(0, PUB, 40000, 40007)] }).includes('a=rtcp:'));
    assert.ok(!rewriteSdp(OFFER, { media: [media(0, PUB, 40000, 0)] }).includes('a=rtcp:'));
    assert.ok(!rewriteSdp(OFFER, { media: [media(0, PUB, 40000, 40001)] }).includes('a=rtcp:'));
  });
});

describe('rewriteSdp ICE removal', () => {
  const ICE = crlf(
    'v=0',
    'o=- 1 1 IN IP4 10.0.0.1',
    's=-',
    'a=ice-lite',
    'a=ICE-UFRAG:upper',
    'c=IN IP4 10.0.0.1',
    'm=audio 4000 RTP/AVP 0',
    'a=candidate:1 1 UDP 1 10.0.0.1 4000 typ host',
    'a=ice-options:trickle',
    'a=end-of-candidates',
    'a=ice-pwd-x:kept',
  );

  it('drops ICE attributes by default, at both levels, matching names case-insensitively', () => {
    const out = rewriteSdp(ICE, { media: [media(0)] });
    assert.equal(hasIce(out), false);
    assert.ok(!out.includes('10.0.0.1 4000'));
    assert.ok(
      out.includes('a=ice-pwd-x:kept'),
      'an attribute whose name only starts like an ICE one is kept',
    );
  });

  it('drops ICE attributes of media that are not in the plan too', () => {
    assert.equal(hasIce(rewriteSdp(ICE, { media: [] })), false);
  });

  it('keeps them with removeIce: false', () => {
    assert.equal(rewriteSdp(ICE, { media: [], removeIce: false }), ICE);
  });
});

describe('rewriteSdp leaves the rest alone', () => {
  it('leaves media that are not in the plan byte for byte', () => {
    const body = crlf(
      ...OFFER_LINES,
      'm=video 4002 RTP/AVP 96',
      'c=IN IP4 10.1.1.1',
      'a=rtcp:4009 IN IP4 10.1.1.1',
    );
    const out = rewriteSdp(body, { media: [media(0)] });
    assert.ok(
      out.endsWith(crlf('m=video 4002 RTP/AVP 96', 'c=IN IP4 10.1.1.1', 'a=rtcp:4009 IN IP4 10.1.1.1')),
    );
  });

  it('leaves o= alone without originAddr, and keeps o= fields other than the address', () => {
    assert.ok(rewriteSdp(OFFER, { media: [media(0)] }).includes('o=- 1 1 IN IP4 192.168.1.10\r\n'));
    assert.ok(
      rewriteSdp(OFFER, { originAddr: '2001:db8::1', media: [] }).includes('o=- 1 1 IN IP6 2001:db8::1\r\n'),
    );
  });

  it('does not touch the input string (pure)', () => {
    const copy = `${OFFER}`;
    rewriteSdp(OFFER, { media: [media(0)] });
    assert.equal(OFFER, copy);
  });
});
