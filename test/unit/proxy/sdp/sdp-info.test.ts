import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSdp, type SdpInfo, toStreamRequests } from '../../../../proxy/sdp/sdp-info.ts';

const crlf = (...lines: string[]): string => lines.map((l) => `${l}\r\n`).join('');

const HEAD = ['v=0', 'o=- 1 1 IN IP4 192.168.1.10', 's=-', 'c=IN IP4 192.168.1.10', 't=0 0'];

function parsed(body: string): SdpInfo {
  const r = parseSdp(body);
  assert.ok(r.ok, r.ok ? '' : r.reason);
  return r.sdp;
}

function rejected(body: string, pattern: RegExp): void {
  const r = parseSdp(body);
  assert.equal(r.ok, false);
  if (!r.ok) assert.match(r.reason, pattern);
}

describe('parseSdp fields', () => {
  it('reads origin, session address and every m= field', () => {
    const sdp = parsed(crlf(...HEAD, 'm=audio 49170 RTP/AVP 0 8 101', 'a=rtpmap:0 PCMU/8000'));
    assert.equal(sdp.originAddr, '192.168.1.10');
    assert.equal(sdp.sessionAddr, '192.168.1.10');
    assert.deepEqual(sdp.media, [
      {
        index: 0,
        type: 'audio',
        port: 49170,
        portCount: 1,
        proto: 'RTP/AVP',
        formats: ['0', '8', '101'],
        addr: '192.168.1.10',
        rtcpPort: 49171,
        rtcpAddr: null,
        rtcpMux: false,
        direction: 'sendrecv',
        hold: false,
      },
    ]);
  });

  it('numbers m= lines from 0 in order and reads the port count', () => {
    const sdp = parsed(
      crlf(...HEAD, 'm=audio 4000 RTP/AVP 0', 'm=video 49170/2 RTP/AVP 31', 'm=image 4010 udptl t38'),
    );
    assert.deepEqual(
      sdp.media.map((m) => [m.index, m.type, m.port, m.portCount, m.proto, m.formats]),
      [
        [0, 'audio', 4000, 1, 'RTP/AVP', ['0']],
        [1, 'video', 49170, 2, 'RTP/AVP', ['31']],
        [2, 'image', 4010, 1, 'udptl', ['t38']],
      ],
    );
  });

  it('accepts LF-only line endings and a body without a final line ending', () => {
    const body = [...HEAD, 'm=audio 4000 RTP/AVP 0'].join('\n');
    assert.equal(parsed(body).media[0]?.port, 4000);
  });

  it('reads an m= line without formats (lenient) and one with extra spaces', () => {
    const sdp = parsed(crlf(...HEAD, 'm=application 9 DTLS/SCTP', 'm=audio  4000  RTP/AVP  0'));
    assert.deepEqual(sdp.media[0]?.formats, []);
    assert.equal(sdp.media[1]?.port, 4000);
  });

  it('returns originAddr null for a malformed o= line', () => {
    assert.equal(
      parsed(crlf('v=0', 'o=broken', 's=-', 'c=IN IP4 10.0.0.1', 'm=audio 1 RTP/AVP 0')).originAddr,
      null,
    );
  });
});

describe('parseSdp connection address (RFC 8866 §5.7)', () => {
  it('prefers the media-level c= over the session-level one', () => {
    const sdp = parsed(
      crlf(...HEAD, 'm=audio 4000 RTP/AVP 0', 'c=IN IP4 10.0.0.5', 'm=video 4002 RTP/AVP 96'),
    );
    assert.equal(sdp.media[0]?.addr, '10.0.0.5');
    assert.equal(sdp.media[1]?.addr, '192.168.1.10');
  });

  it('works with media-level c= only', () => {
    const sdp = parsed(
      crlf('v=0', 'o=- 1 1 IN IP4 10.0.0.1', 's=-', 't=0 0', 'm=audio 4000 RTP/AVP 0', 'c=IN IP4 10.0.0.1'),
    );
    assert.equal(sdp.sessionAddr, null);
    assert.equal(sdp.media[0]?.addr, '10.0.0.1');
  });

  it('uses the first of several media-level c= lines', () => {
    const sdp = parsed(crlf(...HEAD, 'm=audio 4000 RTP/AVP 0', 'c=IN IP4 10.0.0.5', 'c=IN IP4 10.0.0.6'));
    assert.equal(sdp.media[0]?.addr, '10.0.0.5');
  });

  it('strips a multicast TTL and address count suffix', () => {
    const sdp = parsed(
      crlf('v=0', 'o=- 1 1 IN IP4 10.0.0.1', 's=-', 'c=IN IP4 224.2.1.1/127/3', 'm=audio 4000 RTP/AVP 0'),
    );
    assert.equal(sdp.media[0]?.addr, '224.2.1.1');
    const six = parsed(
      crlf('v=0', 'o=- 1 1 IN IP6 ::1', 's=-', 'c=IN IP6 ff15::101/3', 'm=audio 4000 RTP/AVP 0'),
    );
    assert.equal(six.media[0]?.addr, 'ff15::101');
  });

  it('reads IPv6 (c=IN IP6) without brackets', () => {
    const sdp = parsed(
      crlf('v=0', 'o=- 1 1 IN IP6 fd00::1', 's=-', 'c=IN IP6 fd00::1', 'm=audio 4000 RTP/AVP 0'),
    );
    assert.equal(sdp.originAddr, 'fd00::1');
    assert.equal(sdp.media[0]?.addr, 'fd00::1');
  });

  it('keeps 0.0.0.0 as written', () => {
    const sdp = parsed(
      crlf('v=0', 'o=- 1 1 IN IP4 10.0.0.1', 's=-', 'c=IN IP4 0.0.0.0', 'm=audio 4000 RTP/AVP 0'),
    );
    assert.equal(sdp.media[0]?.addr, '0.0.0.0');
  });

  it('lets a port-0 stream go without any connection address', () => {
    const sdp = parsed(crlf('v=0', 'o=- 1 1 IN IP4 10.0.0.1', 's=-', 'm=audio 0 RTP/AVP 0'));
    assert.equal(sdp.media[0]?.addr, null);
    assert.equal(sdp.media[0]?.rtcpPort, 0);
  });
});

describe('parseSdp RTCP (RFC 3605, RFC 5761)', () => {
  it('defaults the RTCP port to port + 1', () => {
    assert.equal(parsed(crlf(...HEAD, 'm=audio 4000 RTP/AVP 0')).media[0]?.rtcpPort, 4001);
  });

  it('reads a=rtcp with a port only', () => {
    const m = parsed(crlf(...HEAD, 'm=audio 4000 RTP/AVP 0', 'a=rtcp:4005')).media[0];
    assert.equal(m?.rtcpPort, 4005);
    assert.equal(m?.rtcpAddr, null);
  });

  it('reads a=rtcp with an IPv4 or IPv6 address', () => {
    const m = parsed(crlf(...HEAD, 'm=audio 4000 RTP/AVP 0', 'a=rtcp:53020 IN IP4 126.16.64.4')).media[0];
    assert.equal(m?.rtcpPort, 53020);
    assert.equal(m?.rtcpAddr, '126.16.64.4');
    const six = parsed(
      crlf(...HEAD, 'm=audio 4000 RTP/AVP 0', 'a=rtcp:53020 IN IP6 2001:2345:6789:ABCD:EF01:2345:6789:ABCD'),
    );
    assert.equal(six.media[0]?.rtcpAddr, '2001:2345:6789:ABCD:EF01:2345:6789:ABCD');
  });

  it('ignores a malformed a=rtcp and falls back to port + 1', () => {
    for (const bad of ['a=rtcp:', 'a=rtcp:abc', 'a=rtcp:70000', 'a=rtcp:0']) {
      assert.equal(parsed(crlf(...HEAD, 'm=audio 4000 RTP/AVP 0', bad)).media[0]?.rtcpPort, 4001, bad);
    }
  });

  it('does not mistake rtcp-fb, rtcp-xr or rtcp-rsize for a=rtcp', () => {
    const m = parsed(
      crlf(...HEAD, 'm=audio 4000 RTP/AVP 0', 'a=rtcp-fb:* nack', 'a=rtcp-xr:voip-metrics', 'a=rtcp-rsize'),
    );
    assert.equal(m.media[0]?.rtcpPort, 4001);
    assert.equal(m.media[0]?.rtcpMux, false);
  });

  it('reads a=rtcp-mux per media', () => {
    const sdp = parsed(crlf(...HEAD, 'm=audio 4000 RTP/AVP 0', 'a=rtcp-mux', 'm=video 4002 RTP/AVP 96'));
    assert.equal(sdp.media[0]?.rtcpMux, true);
    assert.equal(sdp.media[1]?.rtcpMux, false);
  });
});

describe('parseSdp direction and hold (RFC 3264 §8.4)', () => {
  it('defaults to sendrecv', () => {
    assert.equal(parsed(crlf(...HEAD, 'm=audio 4000 RTP/AVP 0')).media[0]?.direction, 'sendrecv');
  });

  it('inherits the session-level direction, and a media-level one overrides it', () => {
    const sdp = parsed(
      crlf(...HEAD, 'a=recvonly', 'm=audio 4000 RTP/AVP 0', 'm=video 4002 RTP/AVP 96', 'a=sendrecv'),
    );
    assert.equal(sdp.media[0]?.direction, 'recvonly');
    assert.equal(sdp.media[1]?.direction, 'sendrecv');
  });

  it('marks sendonly and inactive as hold, recvonly and sendrecv not', () => {
    for (const [dir, hold] of [
      ['sendonly', true],
      ['inactive', true],
      ['recvonly', false],
      ['sendrecv', false],
    ] as const) {
      const m = parsed(crlf(...HEAD, 'm=audio 4000 RTP/AVP 0', `a=${dir}`)).media[0];
      assert.equal(m?.direction, dir);
      assert.equal(m?.hold, hold, dir);
    }
  });

  it('marks the RFC 2543 c=0.0.0.0 form, and ::, as hold while the direction stays sendrecv', () => {
    const four = parsed(
      crlf('v=0', 'o=- 1 1 IN IP4 10.0.0.1', 's=-', 'c=IN IP4 0.0.0.0', 'm=audio 4000 RTP/AVP 0'),
    );
    assert.deepEqual([four.media[0]?.hold, four.media[0]?.direction], [true, 'sendrecv']);
    const six = parsed(
      crlf('v=0', 'o=- 1 1 IN IP6 ::1', 's=-', 't=0 0', 'm=audio 4000 RTP/AVP 0', 'c=IN IP6 ::'),
    );
    assert.equal(six.media[0]?.hold, true);
  });

  it('uses the first direction attribute of a level', () => {
    const m = parsed(crlf(...HEAD, 'm=audio 4000 RTP/AVP 0', 'a=inactive', 'a=sendrecv')).media[0];
    assert.equal(m?.direction, 'inactive');
  });
});

describe('parseSdp rejects', () => {
  it('a body whose first line is not v=', () => {
    rejected('', /v=/);
    rejected(crlf('o=- 1 1 IN IP4 10.0.0.1', 'v=0'), /v=/);
    rejected('\r\nv=0\r\n', /v=/);
  });

  it('an m= line with a missing or invalid port', () => {
    rejected(crlf(...HEAD, 'm=audio'), /too few fields/);
    rejected(crlf(...HEAD, 'm=audio RTP/AVP 0'), /too few fields|invalid port/);
    for (const port of ['abc', '-1', '65536', '4000/0', '4000/', '+4000', '0x10', '123456']) {
      rejected(crlf(...HEAD, `m=audio ${port} RTP/AVP 0`), /invalid port/);
    }
  });

  it('an enabled m= line with no connection address at any level', () => {
    rejected(
      crlf('v=0', 'o=- 1 1 IN IP4 10.0.0.1', 's=-', 't=0 0', 'm=audio 4000 RTP/AVP 0'),
      /no connection address/,
    );
  });

  it('a c= line with an unknown nettype or addrtype, or an address not matching it', () => {
    const base = ['v=0', 'o=- 1 1 IN IP4 10.0.0.1', 's=-'];
    rejected(
      crlf(...base, 'c=ATM NSAP 47.0005.80.ffe100.0000.f21a.0170.0001.0000', 'm=audio 4000 RTP/AVP 0'),
      /nettype/,
    );
    rejected(crlf(...base, 'c=IN IPX 10.0.0.1', 'm=audio 4000 RTP/AVP 0'), /addrtype/);
    rejected(crlf(...base, 'c=IN IP4 fd00::1', 'm=audio 4000 RTP/AVP 0'), /not an IP4/);
    rejected(crlf(...base, 'c=IN IP6 10.0.0.1', 'm=audio 4000 RTP/AVP 0'), /not an IP6/);
    rejected(crlf(...base, 'c=IN IP4 host.example.com', 'm=audio 4000 RTP/AVP 0'), /not an IP4/);
    rejected(crlf(...base, 'c=IN IP6 fe80::1%eth0', 'm=audio 4000 RTP/AVP 0'), /not an IP6/);
    rejected(crlf(...base, 'c=IN IP4', 'm=audio 4000 RTP/AVP 0'), /fields/);
    // a bad media-level c= is refused even though the session one would do
    rejected(crlf(...base, 'c=IN IP4 10.0.0.1', 'm=audio 4000 RTP/AVP 0', 'c=IN IP5 10.0.0.1'), /addrtype/);
  });

  it('more than 64 m= lines', () => {
    const many = (n: number) =>
      crlf(...HEAD, ...Array.from({ length: n }, (_, i) => `m=audio ${4000 + 2 * i} RTP/AVP 0`));
    assert.equal(parsed(many(64)).media.length, 64);
    rejected(many(65), /64/);
  });

  it('a line over 4 KB, counted in bytes', () => {
    assert.ok(parseSdp(crlf(...HEAD, 'm=audio 4000 RTP/AVP 0', `a=x:${'a'.repeat(4092)}`)).ok);
    rejected(crlf(...HEAD, 'm=audio 4000 RTP/AVP 0', `a=x:${'a'.repeat(4093)}`), /4 KB/);
    rejected(crlf(...HEAD, 'm=audio 4000 RTP/AVP 0', `a=x:${'é'.repeat(2047)}`), /4 KB/);
  });

  it('never throws, whatever the input', () => {
    const junk = [
      '\u0000',
      'v=',
      'v=0\r\nm=',
      'v=0\nc=\nm= \n',
      'v=0\r\n\r\n\r\n',
      'v=0\na=rtcp:\nm=audio 1 x',
    ];
    for (const body of junk) assert.doesNotThrow(() => parseSdp(body));
    // @ts-expect-error: not a string, from untyped code
    assert.equal(parseSdp(undefined).ok, false);
  });
});

describe('toStreamRequests', () => {
  it('gives one request per m= line, endpoint null for a disabled stream', () => {
    const sdp = parsed(
      crlf(
        ...HEAD,
        'm=audio 4000 RTP/SAVP 0',
        'a=rtcp:4010 IN IP4 10.9.9.9',
        'a=sendonly',
        'm=video 0 RTP/AVP 96',
        'm=audio 5000 UDP/TLS/RTP/SAVPF 111',
        'a=rtcp-mux',
        'a=rtcp:5000 IN IP4 192.168.1.10',
      ),
    );
    assert.deepEqual(toStreamRequests(sdp), [
      {
        index: 0,
        endpoint: { addr: '192.168.1.10', port: 4000, rtcpPort: 4010, rtcpAddr: '10.9.9.9', rtcpMux: false },
        direction: 'sendonly',
        proto: 'RTP/SAVP',
      },
      { index: 1, endpoint: null, direction: 'sendrecv', proto: 'RTP/AVP' },
      {
        index: 2,
        endpoint: { addr: '192.168.1.10', port: 5000, rtcpPort: 5000, rtcpMux: true },
        direction: 'sendrecv',
        proto: 'UDP/TLS/RTP/SAVPF',
      },
    ]);
  });

  it('passes the 0.0.0.0 hold address through as the endpoint address', () => {
    const sdp = parsed(
      crlf('v=0', 'o=- 1 1 IN IP4 10.0.0.1', 's=-', 'c=IN IP4 0.0.0.0', 'm=audio 4000 RTP/AVP 0'),
    );
    assert.equal(toStreamRequests(sdp)[0]?.endpoint?.addr, '0.0.0.0');
  });
});
