import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeAnswer, decodeMessage, encodeQuery, mismatch } from '../../../../proxy/dns/dns-message.ts';
import { decodeName, encodeName } from '../../../../proxy/dns/dns-name.ts';
import { Rcode } from '../../../../proxy/dns/dns-record.ts';
import { a, aaaa, cname, encodeMessage, naptr, srv, T, u16, u32, wireName } from './dns-wire.ts';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const ascii = (s: string) => Buffer.from(s, 'latin1').toString('hex');

function decoded(buf: Buffer) {
  const res = decodeMessage(buf);
  assert.ok(res.ok, res.ok ? '' : res.error);
  return res.message;
}

function rejects(buf: Buffer, pattern: RegExp) {
  const res = decodeMessage(buf);
  assert.equal(res.ok, false, 'should not decode');
  if (!res.ok) assert.match(res.error, pattern);
}

describe('encodeQuery', () => {
  it('writes the RFC 1035 header with RD set, one question, class IN', () => {
    assert.deepEqual(
      encodeQuery('example.com', 'A', 0x1234),
      hex(`1234 0100 0001 0000 0000 0000  07${ascii('example')} 03${ascii('com')} 00  0001 0001`),
    );
  });

  it('writes SRV and NAPTR questions with underscore labels, a trailing dot making no difference', () => {
    const srvQ = hex(
      `beef 0100 0001 0000 0000 0000 04${ascii('_sip')} 04${ascii('_udp')} 07${ascii('example')} 03${ascii('com')} 00 0021 0001`,
    );
    assert.deepEqual(encodeQuery('_sip._udp.example.com', 'SRV', 0xbeef), srvQ);
    assert.deepEqual(encodeQuery('_sip._udp.example.com.', 'SRV', 0xbeef), srvQ);
    assert.equal(encodeQuery('example.com', 'NAPTR', 1).readUInt16BE(29 - 4), 35);
    assert.equal(encodeQuery('example.com', 'AAAA', 1).readUInt16BE(25), 28);
  });

  it('refuses names it must not send and ids outside 16 bits, as TypeError', () => {
    for (const bad of [
      '',
      '.',
      'a..b',
      'sp ace.example',
      `${'x'.repeat(64)}.example`,
      'é.example',
      '-a.example',
      'a-.example',
    ])
      assert.throws(() => encodeQuery(bad, 'A', 1), TypeError, bad);
    const long = Array.from({ length: 5 }, () => 'y'.repeat(50)).join('.');
    assert.equal(encodeName(long), null, 'a 256-octet name');
    assert.ok(encodeName(Array.from({ length: 5 }, () => 'y'.repeat(49)).join('.')), 'a 251-octet name');
    assert.throws(() => encodeQuery('example.com', 'A', 0x10000), TypeError);
    assert.throws(() => encodeQuery('example.com', 'A', -1), TypeError);
  });
});

describe('decodeMessage', () => {
  it('reads an A answer whose owner is a pointer to the question (RFC 1035 §4.1.4)', () => {
    const buf = hex(
      `1234 8180 0001 0001 0000 0000` +
        ` 07${ascii('example')} 03${ascii('com')} 00 0001 0001` +
        ` c00c 0001 0001 00000e10 0004 c0000201`,
    );
    const m = decoded(buf);
    assert.equal(m.id, 0x1234);
    assert.equal(m.response, true);
    assert.equal(m.recursionDesired, true);
    assert.equal(m.recursionAvailable, true);
    assert.equal(m.truncated, false);
    assert.equal(m.rcode, Rcode.NOERROR);
    assert.deepEqual(m.questions, [{ name: 'example.com', type: 1, class: 1 }]);
    assert.deepEqual(m.answers, [
      { name: 'example.com', class: 1, ttl: 3600, type: 'A', address: '192.0.2.1' },
    ]);
  });

  it('reads SRV (RFC 2782) and NAPTR (RFC 3403) RDATA, compressed names in them included', () => {
    // Question _sip._udp.example.com SRV at offset 12; "example.com" starts at 12 + 5 + 5 = 22.
    const srvBuf = hex(
      `0001 8180 0001 0001 0000 0000` +
        ` 04${ascii('_sip')} 04${ascii('_udp')} 07${ascii('example')} 03${ascii('com')} 00 0021 0001` +
        ` c00c 0021 0001 0000012c 000c  000a 003c 13c4 03${ascii('sip')} c016`,
    );
    assert.deepEqual(decoded(srvBuf).answers, [
      {
        name: '_sip._udp.example.com',
        class: 1,
        ttl: 300,
        type: 'SRV',
        priority: 10,
        weight: 60,
        port: 5060,
        target: 'sip.example.com',
      },
    ]);
    // Question example.com NAPTR; the replacement _sip._udp.example.com ends in a pointer to offset 12.
    const naptrBuf = hex(
      `0002 8180 0001 0001 0000 0000` +
        ` 07${ascii('example')} 03${ascii('com')} 00 0023 0001` +
        ` c00c 0023 0001 00000258 001b  000a 0014 01${ascii('S')} 07${ascii('SIP+D2U')} 00 04${ascii('_sip')} 04${ascii('_udp')} c00c`,
    );
    assert.deepEqual(decoded(naptrBuf).answers, [
      {
        name: 'example.com',
        class: 1,
        ttl: 600,
        type: 'NAPTR',
        order: 10,
        preference: 20,
        flags: 'S',
        services: 'SIP+D2U',
        regexp: '',
        replacement: '_sip._udp.example.com',
      },
    ]);
  });

  it('reads AAAA and CNAME, keeps unknown types raw, and reads a TTL with the top bit set as 0 (RFC 2181 §8)', () => {
    const buf = encodeMessage({
      id: 7,
      question: { name: 'www.example.com', type: T.AAAA },
      answers: [
        cname('www.example.com', 'host.example.com', 60),
        aaaa('host.example.com', '2001:db8::5', 120),
        { name: 'host.example.com', type: T.TXT, ttl: 0x80000001, rdata: Buffer.from('\x02hi', 'latin1') },
      ],
    });
    const [c, six, txt] = decoded(buf).answers;
    assert.deepEqual(c, {
      name: 'www.example.com',
      class: 1,
      ttl: 60,
      type: 'CNAME',
      target: 'host.example.com',
    });
    assert.deepEqual(six, {
      name: 'host.example.com',
      class: 1,
      ttl: 120,
      type: 'AAAA',
      address: '2001:db8::5',
    });
    assert.equal(txt?.type, 'OTHER');
    assert.equal(txt?.ttl, 0);
    if (txt?.type === 'OTHER') {
      assert.equal(txt.typeCode, T.TXT);
      assert.deepEqual(txt.data, Buffer.from('\x02hi', 'latin1'));
    }
  });

  it('reads RCODE, TC and the authority and additional sections', () => {
    const nx = decoded(
      encodeMessage({ id: 9, rcode: Rcode.NXDOMAIN, question: { name: 'nope.example', type: T.A } }),
    );
    assert.equal(nx.rcode, Rcode.NXDOMAIN);
    assert.deepEqual(nx.answers, []);
    const tc = decoded(
      encodeMessage({
        id: 9,
        truncated: true,
        question: { name: 'big.example', type: T.A },
        answers: [a('big.example', '192.0.2.1')],
        authorities: [a('ns.example', '192.0.2.53')],
        additionals: [a('x.example', '192.0.2.54')],
      }),
    );
    assert.equal(tc.truncated, true);
    assert.equal(tc.authorities.length, 1);
    assert.equal(tc.additionals.length, 1);
  });

  it('keeps the whole records of a truncated (TC) answer that ends part way', () => {
    const full = encodeMessage({
      id: 3,
      truncated: true,
      question: { name: 'big.example', type: T.A },
      answers: [a('big.example', '192.0.2.1'), a('big.example', '192.0.2.2')],
    });
    const cut = full.subarray(0, full.length - 6);
    assert.deepEqual(
      decoded(cut).answers.map((r) => (r.type === 'A' ? r.address : '')),
      ['192.0.2.1'],
    );
    // Without TC, the same cut is an error.
    const noTc = Buffer.from(cut);
    noTc.writeUInt16BE(0x8180, 2);
    rejects(noTc, /RDLENGTH|cut short/);
  });
});

describe('decodeMessage on malformed input returns an error value', () => {
  const header = (an: number) => Buffer.concat([u16(1), u16(0x8180), u16(1), u16(an), u16(0), u16(0)]);
  const question = Buffer.concat([wireName('example.com'), u16(1), u16(1)]);

  it('a message shorter than a header', () => {
    rejects(Buffer.alloc(0), /header/);
    rejects(hex('1234 8180 0001'), /header/);
  });

  it('a question cut short, a label running past the end', () => {
    rejects(Buffer.concat([header(0), question.subarray(0, question.length - 2)]), /question cut short/);
    rejects(Buffer.concat([header(0), hex('07 6578 616d')]), /label runs past|runs past/);
    rejects(Buffer.concat([header(0)]), /runs past/);
  });

  it('a pointer to itself, a loop of two pointers, a pointer forward, a pointer past the end', () => {
    rejects(Buffer.concat([header(0), hex('c00c 0001 0001')]), /point back/);
    // offset 12: label "a" then a pointer on to 16, where a pointer leads back to 12: a loop.
    rejects(Buffer.concat([header(0), hex('0161 c010 c00c 0001 0001')]), /point back/);
    rejects(Buffer.concat([header(1), question, hex('c0ff 0001 0001 0000003c 0004 c0000201')]), /point back/);
    rejects(Buffer.concat([header(0), hex('c0')]), /cut short/);
  });

  it('a name longer than 255 octets built from pointers, and reserved label types', () => {
    // Names at 12.. each "63 x's" then a pointer to the previous one: the fifth is too long.
    const parts: Buffer[] = [header(0)];
    let at = 12;
    let prev = -1;
    for (let i = 0; i < 5; i++) {
      const label = Buffer.concat([Buffer.from([63]), Buffer.alloc(63, 0x78)]);
      const tail = prev < 0 ? Buffer.from([0]) : u16(0xc000 | prev);
      parts.push(label, tail);
      prev = at;
      at += label.length + tail.length;
    }
    const buf = Buffer.concat(parts);
    const res = decodeName(buf, prev);
    assert.equal(res.ok, false);
    if (!res.ok) assert.match(res.error, /255/);
    rejects(Buffer.concat([header(0), hex('41 0001 0001')]), /label type/);
    rejects(Buffer.concat([header(0), hex('81 0001 0001')]), /label type/);
  });

  it('RDLENGTH past the end, and RDATA of the wrong size for its type', () => {
    const rr = (type: number, rdata: Buffer, rdlength = rdata.length) =>
      Buffer.concat([header(1), question, hex('c00c'), u16(type), u16(1), u32(60), u16(rdlength), rdata]);
    rejects(rr(T.A, hex('c0000201'), 40), /RDLENGTH 40/);
    rejects(rr(T.A, hex('c000020101')), /A record with RDLENGTH 5/);
    rejects(rr(T.AAAA, hex('c0000201')), /AAAA record/);
    rejects(rr(T.SRV, hex('0001 0001 13c4')), /SRV record with RDLENGTH 6/);
    rejects(
      rr(T.SRV, Buffer.concat([hex('0001 0001 13c4'), wireName('a.example'), hex('ff')])),
      /bytes after/,
    );
    rejects(rr(T.CNAME, Buffer.concat([wireName('a.example'), hex('00')])), /bytes after/);
    // A name inside RDATA that would run past RDLENGTH into the next bytes.
    rejects(rr(T.CNAME, hex('0161 0162 00'), 3), /runs past/);
    rejects(rr(T.NAPTR, hex('000a 0014 05 5301')), /character-string runs past/);
    rejects(rr(T.NAPTR, hex('000a 0014 0153 00')), /character-string missing/);
    rejects(rr(T.NAPTR, hex('000a')), /cut short/);
    rejects(
      rr(T.NAPTR, Buffer.concat([hex('000a 0014 0153 00 00'), wireName('r.example'), hex('00')])),
      /bytes after/,
    );
  });

  it('never throws on any prefix of a valid answer or on random bytes', () => {
    const valid = encodeMessage({
      id: 77,
      question: { name: 'example.com', type: T.NAPTR },
      answers: [
        naptr('example.com', 10, 20, 'S', 'SIP+D2U', '', '_sip._udp.example.com'),
        srv('_sip._udp.example.com', 1, 2, 5060, 'sip.example.com'),
        a('sip.example.com', '192.0.2.1'),
      ],
    });
    for (let n = 0; n <= valid.length; n++) decodeMessage(valid.subarray(0, n));
    let seed = 1;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed & 0xff;
    };
    for (let i = 0; i < 2000; i++) {
      const buf = Buffer.from(valid);
      for (let k = 0; k < 4; k++) buf[rnd() % buf.length] = rnd();
      decodeMessage(buf);
      decodeMessage(Buffer.from(Array.from({ length: rnd() }, rnd)));
    }
  });
});

describe('decodeAnswer matches the answer to the query (RFC 5452 §9.1)', () => {
  const query = { id: 0x4242, name: 'example.com', type: 'A' as const };
  const answer = (over: Partial<Parameters<typeof encodeMessage>[0]>) =>
    encodeMessage({
      id: 0x4242,
      question: { name: 'example.com', type: T.A },
      answers: [a('example.com', '192.0.2.1')],
      ...over,
    });

  it('accepts the matching answer, the question name in any case', () => {
    assert.ok(decodeAnswer(answer({}), query).ok);
    assert.ok(decodeAnswer(answer({ question: { name: 'ExAmPlE.CoM', type: T.A } }), query).ok);
  });

  it('refuses another id, a query (QR=0), another name, type or class, or no question', () => {
    const cases: [Buffer, RegExp][] = [
      [answer({ id: 0x4243 }), /id/],
      [answer({ flags: 0x0100 }), /QR=0/],
      [answer({ question: { name: 'example.org', type: T.A } }), /question name/],
      [answer({ question: { name: 'example.com', type: T.AAAA } }), /type or class/],
      [answer({ question: { name: 'example.com', type: T.A, class: 3 } }), /type or class/],
      [answer({ question: undefined }), /0 questions/],
      [answer({ flags: 0x8980 }), /opcode/],
    ];
    for (const [buf, pattern] of cases) {
      const res = decodeAnswer(buf, query);
      assert.equal(res.ok, false);
      if (!res.ok) assert.match(res.error, pattern);
    }
    const m = decoded(answer({}));
    assert.equal(mismatch(m, { ...query, id: 1 }), `id ${0x4242} is not 1`);
  });
});
