/**
 * The whole proxy in memory, driven with SIP text: registration through sipmasq, requests sipmasq
 * answers itself, and the input it must survive.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ContactTokens } from '../../../../proxy/core/contact-token.ts';
import { getHeader, getHeaderValues } from '../../../../proxy/sip/header-list.ts';
import type { SipRequest, SipResponse } from '../../../../proxy/sip/message.ts';
import { parseUri } from '../../../../proxy/sip/uri.ts';
import { parseVia } from '../../../../proxy/sip/via.ts';
import {
  answer,
  DOMAIN,
  LAN,
  makeProxy,
  PHONE,
  PHONE_PORT,
  PROVIDER,
  PROVIDER_PORT,
  PUBLIC,
  sipText,
  T0,
  uris,
} from './fixtures.ts';

const AOR = `sip:alice@${DOMAIN}`;
const PHONE_CONTACT = `sip:alice@${PHONE}:${PHONE_PORT}`;

function register(
  opts: { cseq?: number; contact?: string; maxForwards?: string | null; extra?: string[] } = {},
) {
  const cseq = opts.cseq ?? 1;
  return sipText([
    `REGISTER sip:${DOMAIN} SIP/2.0`,
    `Via: SIP/2.0/UDP ${PHONE}:${PHONE_PORT};branch=z9hG4bKreg${cseq};rport`,
    ...(opts.maxForwards === null ? [] : [`Max-Forwards: ${opts.maxForwards ?? '70'}`]),
    `From: <${AOR}>;tag=r1`,
    `To: <${AOR}>`,
    'Call-ID: reg-1@phone',
    `CSeq: ${cseq} REGISTER`,
    `Contact: ${opts.contact ?? `<${PHONE_CONTACT}>;expires=300`}`,
    ...(opts.extra ?? []),
  ]);
}

/** Registers the phone through the proxy; returns the masqueraded user the provider saw. */
async function registered(p: ReturnType<typeof makeProxy>): Promise<string> {
  await p.deliver(register(), 'lan', PHONE, PHONE_PORT);
  const out = p.sender.one();
  const user = parseUri(uris(out.msg, 'contact')[0]!)!.user!;
  await p.deliver(
    answer(out.msg, '200 OK', { toTag: 'reg', extra: [`Contact: <sip:${user}@${PUBLIC}:5060>;expires=300`] }),
    'wan',
    PROVIDER,
    PROVIDER_PORT,
  );
  p.sender.take();
  return user;
}

describe('SipProxy: REGISTER from a phone', () => {
  it('sends it to the registrar with a masqueraded Contact, our Via on top asking for rport, Max-Forwards decremented', async () => {
    const p = makeProxy();
    await p.deliver(register(), 'lan', PHONE, PHONE_PORT);
    const out = p.sender.one();
    assert.equal(out.side, 'wan');
    assert.equal(out.address, PROVIDER);
    assert.equal(out.port, PROVIDER_PORT);
    const m = out.msg as SipRequest;
    assert.equal(m.method, 'REGISTER');
    assert.equal(m.uri, `sip:${DOMAIN}`);
    const vias = getHeaderValues(m, 'via').map((v) => parseVia(v)!);
    assert.equal(vias.length, 2);
    assert.equal(vias[0]!.host, PUBLIC);
    assert.equal(vias[0]!.port, 5060);
    assert.match(getHeaderValues(m, 'via')[0]!, /;branch=z9hG4bKsmqL[^;]+;rport$/);
    assert.equal(
      getHeaderValues(m, 'via')[1],
      `SIP/2.0/UDP ${PHONE}:${PHONE_PORT};branch=z9hG4bKreg1;rport=${PHONE_PORT};received=${PHONE}`,
    );
    assert.equal(getHeader(m, 'max-forwards'), '69');
    const contact = getHeaderValues(m, 'contact');
    assert.equal(contact.length, 1);
    assert.match(
      contact[0]!,
      new RegExp(`^<sip:alice-smq[a-z2-7]{12}@${PUBLIC.replace(/\./g, '\\.')}:5060>;expires=300$`),
    );
    assert.ok(!out.data.toString().includes(`${PHONE}:${PHONE_PORT}>`), 'the private contact does not leak');
    assert.equal(getHeader(m, 'record-route'), undefined, 'REGISTER is not record-routed');
    assert.deepEqual(p.resolver.asked, [[DOMAIN, undefined]]);
  });

  it('adds Max-Forwards: 70 when the phone sent none', async () => {
    const p = makeProxy();
    await p.deliver(register({ maxForwards: null }), 'lan', PHONE, PHONE_PORT);
    assert.equal(getHeader(p.sender.one().msg, 'max-forwards'), '70');
  });

  it('records the binding from the 2xx and gives the phone the 200 with its own Contact', async () => {
    const p = makeProxy();
    await p.deliver(register(), 'lan', PHONE, PHONE_PORT);
    const out = p.sender.one();
    const user = parseUri(uris(out.msg, 'contact')[0]!)!.user!;
    await p.deliver(
      answer(out.msg, '200 OK', {
        toTag: 'reg',
        extra: [`Contact: <sip:${user}@${PUBLIC}:5060>;expires=120`],
      }),
      'wan',
      PROVIDER,
      PROVIDER_PORT,
    );
    const back = p.sender.one();
    assert.equal(back.side, 'lan');
    assert.equal(back.address, PHONE);
    assert.equal(back.port, PHONE_PORT);
    const r = back.msg as SipResponse;
    assert.equal(r.status, 200);
    assert.deepEqual(getHeaderValues(r, 'via'), [
      `SIP/2.0/UDP ${PHONE}:${PHONE_PORT};branch=z9hG4bKreg1;rport=${PHONE_PORT};received=${PHONE}`,
    ]);
    assert.deepEqual(getHeaderValues(r, 'contact'), [`<${PHONE_CONTACT}>;expires=120`]);
    const rec = p.registrations.get(user);
    assert.ok(rec);
    assert.equal(rec.contact, PHONE_CONTACT);
    assert.equal(rec.aor, AOR);
    assert.equal(rec.registrar, `${PROVIDER}:${PROVIDER_PORT}`);
    assert.equal(rec.expiresAt, T0 + 120_000);
    assert.deepEqual(p.registrations.registrars(), [`${PROVIDER}:${PROVIDER_PORT}`]);
    assert.ok(
      p.store.loadAll().some((r) => r.token === user),
      'written through the store',
    );
  });

  it('keeps the same masqueraded Contact on a refresh, and the same branch for a retransmission', async () => {
    const p = makeProxy();
    const user = await registered(p);
    await p.deliver(register({ cseq: 2 }), 'lan', PHONE, PHONE_PORT);
    const first = p.sender.one();
    await p.deliver(register({ cseq: 2 }), 'lan', PHONE, PHONE_PORT);
    const again = p.sender.one();
    assert.equal(parseUri(uris(first.msg, 'contact')[0]!)!.user, user);
    assert.equal(getHeaderValues(first.msg, 'via')[0], getHeaderValues(again.msg, 'via')[0]);
  });

  it('removes the binding when the phone unregisters with expires=0', async () => {
    const p = makeProxy();
    const user = await registered(p);
    await p.deliver(register({ cseq: 2, contact: `<${PHONE_CONTACT}>;expires=0` }), 'lan', PHONE, PHONE_PORT);
    const out = p.sender.one();
    await p.deliver(answer(out.msg, '200 OK', { toTag: 'reg' }), 'wan', PROVIDER, PROVIDER_PORT);
    assert.equal(p.sender.one().side, 'lan');
    assert.equal(p.registrations.get(user), undefined);
  });

  it('passes a 401 challenge back to the phone without recording anything', async () => {
    const p = makeProxy();
    await p.deliver(register(), 'lan', PHONE, PHONE_PORT);
    const out = p.sender.one();
    await p.deliver(
      answer(out.msg, '401 Unauthorized', {
        toTag: 'reg',
        extra: ['WWW-Authenticate: Digest realm="x", nonce="abc"'],
      }),
      'wan',
      PROVIDER,
      PROVIDER_PORT,
    );
    const back = p.sender.one();
    assert.equal((back.msg as SipResponse).status, 401);
    assert.equal(getHeader(back.msg, 'www-authenticate'), 'Digest realm="x", nonce="abc"');
    assert.deepEqual(p.registrations.list(), []);
  });

  it('answers 400 to a REGISTER whose To is not a SIP AOR, with only the phone Via', async () => {
    const p = makeProxy();
    const bad = Buffer.from(register().toString().replace(`To: <${AOR}>`, 'To: <urn:service:sos>'));
    await p.deliver(bad, 'lan', PHONE, PHONE_PORT);
    const out = p.sender.one();
    assert.equal(out.side, 'lan');
    assert.equal((out.msg as SipResponse).status, 400);
    assert.equal(getHeaderValues(out.msg, 'via').length, 1);
    assert.deepEqual(p.registrations.list(), []);
  });

  it('still passes a 200 back to the phone after its memo expired, without recording a binding', async () => {
    const p = makeProxy();
    await p.deliver(register(), 'lan', PHONE, PHONE_PORT);
    const out = p.sender.one();
    const user = parseUri(uris(out.msg, 'contact')[0]!)!.user!;
    p.clock.advance(32_001);
    await p.deliver(
      answer(out.msg, '200 OK', {
        toTag: 'reg',
        extra: [`Contact: <sip:${user}@${PUBLIC}:5060>;expires=300`],
      }),
      'wan',
      PROVIDER,
      PROVIDER_PORT,
    );
    const back = p.sender.one();
    assert.equal(back.side, 'lan');
    assert.equal(back.address, PHONE);
    assert.equal(p.registrations.get(user), undefined);
  });

  it('lets an INVITE from the WAN reach the registered phone by its masqueraded Contact', async () => {
    const p = makeProxy();
    const user = await registered(p);
    assert.ok(ContactTokens.looksMasqueraded(user));
    await p.deliver(
      sipText([
        `OPTIONS sip:${user}@${PUBLIC}:5060 SIP/2.0`,
        `Via: SIP/2.0/UDP ${PROVIDER}:${PROVIDER_PORT};branch=z9hG4bKopt1`,
        'Max-Forwards: 70',
        `From: <sip:${DOMAIN}>;tag=o1`,
        `To: <sip:${user}@${PUBLIC}:5060>`,
        'Call-ID: opt-1@provider',
        'CSeq: 1 OPTIONS',
      ]),
      'wan',
      PROVIDER,
      PROVIDER_PORT,
    );
    const out = p.sender.one();
    assert.equal(out.side, 'lan');
    assert.equal(out.address, PHONE);
    assert.equal(out.port, PHONE_PORT);
    assert.equal((out.msg as SipRequest).uri, PHONE_CONTACT);
  });
});

function request(method: string, uri: string, extra: string[] = [], mf = '70') {
  return sipText([
    `${method} ${uri} SIP/2.0`,
    `Via: SIP/2.0/UDP ${PROVIDER}:${PROVIDER_PORT};branch=z9hG4bKx1`,
    `Max-Forwards: ${mf}`,
    `From: <sip:carol@${DOMAIN}>;tag=c1`,
    `To: <${uri}>`,
    'Call-ID: misc-1@somewhere',
    `CSeq: 1 ${method}`,
    ...extra,
  ]);
}

describe('SipProxy: requests it answers itself', () => {
  it('answers 483 when Max-Forwards is 0', async () => {
    const p = makeProxy();
    await p.deliver(register({ maxForwards: '0' }), 'lan', PHONE, PHONE_PORT);
    const out = p.sender.one();
    assert.equal(out.side, 'lan');
    assert.equal(out.address, PHONE);
    assert.equal((out.msg as SipResponse).status, 483);
    assert.equal(p.proxy.counters.answered, 1);
    assert.equal(p.proxy.counters.forwarded, 0);
  });

  it('answers 403 to a request on the LAN side from a source outside the LAN networks', async () => {
    const p = makeProxy();
    await p.deliver(register(), 'lan', '10.9.9.9', 5060);
    const out = p.sender.one();
    assert.equal(out.side, 'lan');
    assert.equal(out.address, '10.9.9.9');
    assert.equal((out.msg as SipResponse).status, 403);
  });

  it('answers 403 to a WAN request for a foreign destination (no open relay)', async () => {
    const p = makeProxy();
    await p.deliver(request('INVITE', 'sip:victim@192.0.2.99'), 'wan', PROVIDER, PROVIDER_PORT);
    const out = p.sender.one();
    assert.equal(out.side, 'wan');
    assert.equal(out.address, PROVIDER);
    assert.equal((out.msg as SipResponse).status, 403);
    assert.ok(
      p.sink.lines.some(
        (l) => l.includes('request from the WAN refused') && l.includes('call:misc-1@somewhere'),
      ),
    );
  });

  it('answers 404 to a WAN request for an unknown masqueraded user', async () => {
    const p = makeProxy();
    await p.deliver(
      request('INVITE', `sip:nobody-smqaaaaaaaaaaaa@${PUBLIC}:5060`),
      'wan',
      PROVIDER,
      PROVIDER_PORT,
    );
    assert.equal((p.sender.one().msg as SipResponse).status, 404);
  });

  it('answers OPTIONS to itself with 200 and an Allow header', async () => {
    const p = makeProxy();
    await p.deliver(request('OPTIONS', `sip:${LAN}`), 'lan', PHONE, PHONE_PORT);
    const r = p.sender.one().msg as SipResponse;
    assert.equal(r.status, 200);
    assert.match(getHeader(r, 'allow') ?? '', /INVITE, ACK, CANCEL, BYE, OPTIONS/);
  });

  it('never answers an ACK, even one it would refuse', async () => {
    const p = makeProxy();
    await p.deliver(request('ACK', 'sip:victim@192.0.2.99'), 'wan', PROVIDER, PROVIDER_PORT);
    await p.deliver(request('ACK', 'sip:victim@192.0.2.99', [], '0'), 'wan', PROVIDER, PROVIDER_PORT);
    assert.deepEqual(p.sender.take(), []);
  });

  it('answers 503 when the next hop cannot be resolved, with the phone Via on top', async () => {
    const p = makeProxy();
    await p.deliver(
      sipText([
        'INVITE sip:bob@unknown.example SIP/2.0',
        `Via: SIP/2.0/UDP ${PHONE}:${PHONE_PORT};branch=z9hG4bKnx;rport`,
        'Max-Forwards: 70',
        `From: <${AOR}>;tag=a1`,
        '<sip:bob@unknown.example>'.replace(/^/, 'To: '),
        'Call-ID: nx-1@phone',
        'CSeq: 1 INVITE',
      ]),
      'lan',
      PHONE,
      PHONE_PORT,
    );
    const out = p.sender.one();
    assert.equal(out.side, 'lan');
    assert.equal((out.msg as SipResponse).status, 503);
    const vias = getHeaderValues(out.msg, 'via');
    assert.equal(vias.length, 1, `only the phone's Via: ${vias.join(' | ')}`);
    assert.equal(parseVia(vias[0]!)?.host, PHONE);
  });
});

describe('SipProxy: input it must survive', () => {
  it('drops a response whose top Via is not ours', async () => {
    const p = makeProxy();
    await p.deliver(
      sipText([
        'SIP/2.0 200 OK',
        `Via: SIP/2.0/UDP ${PROVIDER}:5060;branch=z9hG4bKsmqLforged`,
        `Via: SIP/2.0/UDP ${PHONE}:${PHONE_PORT};branch=z9hG4bK1`,
        `From: <${AOR}>;tag=1`,
        `To: <${AOR}>;tag=2`,
        'Call-ID: x',
        'CSeq: 1 REGISTER',
      ]),
      'wan',
      PROVIDER,
      PROVIDER_PORT,
    );
    assert.deepEqual(p.sender.take(), []);
    assert.equal(p.proxy.counters.dropped, 1);
  });

  it('drops a response that comes back from the side its request came from', async () => {
    const p = makeProxy();
    await p.deliver(register(), 'lan', PHONE, PHONE_PORT);
    const out = p.sender.one();
    await p.deliver(answer(out.msg, '200 OK', { toTag: 'x' }), 'lan', PHONE, PHONE_PORT);
    assert.deepEqual(p.sender.take(), []);
    assert.equal(p.proxy.counters.dropped, 1);
  });

  it('ignores CRLF keep-alives without counting them as errors', async () => {
    const p = makeProxy();
    await p.deliver(Buffer.from('\r\n\r\n'), 'wan', PROVIDER, PROVIDER_PORT);
    assert.deepEqual(p.sender.take(), []);
    assert.equal(p.proxy.counters.parseErrors, 0);
    assert.equal(p.proxy.counters.received, 1);
  });

  it('counts and drops garbage without answering or throwing', async () => {
    const p = makeProxy();
    const junk = [
      Buffer.from('hello'),
      Buffer.from([0, 1, 2, 255, 254]),
      Buffer.alloc(0),
      Buffer.from('SIP/2.0 200 OK\r\n\r\n'),
    ];
    for (const j of junk) await p.deliver(j, 'wan', PROVIDER, PROVIDER_PORT);
    assert.deepEqual(p.sender.take(), []);
    assert.equal(p.proxy.counters.received, junk.length);
    assert.ok(p.proxy.counters.parseErrors >= junk.length - 1);
  });

  it('answers an oversized request with 513 and counts it', async () => {
    const p = makeProxy({ maxMessageSize: 1500 });
    await p.deliver(register({ extra: [`X-Padding: ${'a'.repeat(2000)}`] }), 'lan', PHONE, PHONE_PORT);
    const out = p.sender.one();
    assert.equal((out.msg as SipResponse).status, 513);
    assert.equal(out.address, PHONE);
    assert.equal(p.proxy.counters.parseErrors, 1);
  });

  it('answers a request with a bad header 400 and counts it', async () => {
    const p = makeProxy();
    await p.deliver(register({ extra: ['Content-Length: abc'] }), 'lan', PHONE, PHONE_PORT);
    assert.equal((p.sender.one().msg as SipResponse).status, 400);
    assert.equal(p.proxy.counters.parseErrors, 1);
  });

  it('survives a storm of mutated and random datagrams without throwing or rejecting', async () => {
    const p = makeProxy();
    const base = register();
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let i = 0; i < 400; i++) {
      const buf = Buffer.from(base);
      const flips = 1 + rand(8);
      for (let f = 0; f < flips; f++) buf[rand(buf.length)] = rand(256);
      const cut = i % 5 === 0 ? buf.subarray(0, rand(buf.length)) : buf;
      assert.doesNotThrow(() =>
        p.proxy.handle({
          data: cut,
          side: i % 2 ? 'lan' : 'wan',
          address: i % 3 ? PHONE : PROVIDER,
          port: 5060,
        }),
      );
    }
    for (let i = 0; i < 100; i++) {
      const buf = Buffer.alloc(rand(3000));
      for (let j = 0; j < buf.length; j++) buf[j] = rand(256);
      assert.doesNotThrow(() => p.proxy.handle({ data: buf, side: 'wan', address: PROVIDER, port: 5060 }));
    }
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(p.proxy.counters.received, 500);
    assert.ok(
      !p.sink.lines.some((l) => l.includes('internal error')),
      p.sink.lines.filter((l) => l.includes('internal')).join('\n'),
    );
  });
});
