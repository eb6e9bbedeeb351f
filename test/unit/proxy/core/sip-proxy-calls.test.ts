/**
 * The whole proxy in memory, driven with SIP text: calls from the internet to a registered phone and
 * from a phone to the internet, with their SDP and media sessions.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getHeader, getHeaderValues } from '../../../../proxy/sip/header-list.ts';
import type { SipMessage, SipRequest, SipResponse } from '../../../../proxy/sip/message.ts';
import { parseUri } from '../../../../proxy/sip/uri.ts';
import { parseVia } from '../../../../proxy/sip/via.ts';
import {
  answer,
  binding,
  DOMAIN,
  LAN,
  makeProxy,
  PHONE,
  PHONE_PORT,
  PROVIDER,
  PROVIDER_PORT,
  PUBLIC,
  sdp,
  sipText,
  uris,
} from './fixtures.ts';

const TOKEN = 'alice-smqaaaaaaaaaaaa';
const AOR = `sip:alice@${DOMAIN}`;
const PHONE_CONTACT = `sip:alice@${PHONE}:${PHONE_PORT}`;
const FAR_MEDIA = '198.51.100.200';
const CALL = 'call-in-1@provider';

function withRegistration() {
  const p = makeProxy();
  p.registrations.put(binding({ token: TOKEN, aor: AOR, contact: PHONE_CONTACT }));
  return p;
}

/** An INVITE from the provider to the registered phone. */
function incomingInvite(opts: { body?: string; branch?: string } = {}) {
  return sipText(
    [
      `INVITE sip:${TOKEN}@${PUBLIC}:5060 SIP/2.0`,
      `Via: SIP/2.0/UDP ${PROVIDER}:${PROVIDER_PORT};branch=${opts.branch ?? 'z9hG4bKinv1'}`,
      'Max-Forwards: 70',
      `Record-Route: <sip:${PROVIDER};lr>`,
      `From: "Carol" <sip:carol@${DOMAIN}>;tag=far1`,
      `To: <${AOR}>`,
      `Call-ID: ${CALL}`,
      'CSeq: 10 INVITE',
      `Contact: <sip:carol@${PROVIDER}:${PROVIDER_PORT}>`,
      ...(opts.body === '' ? [] : ['Content-Type: application/sdp']),
    ],
    opts.body ?? sdp(FAR_MEDIA, 20000),
  );
}

function fromProvider(
  method: string,
  cseq: number,
  opts: { toTag?: string; branch: string; route?: boolean },
) {
  return sipText([
    `${method} sip:${TOKEN}@${PUBLIC}:5060 SIP/2.0`,
    `Via: SIP/2.0/UDP ${PROVIDER}:${PROVIDER_PORT};branch=${opts.branch}`,
    'Max-Forwards: 70',
    ...(opts.route ? [`Route: <sip:${PUBLIC}:5060;lr>, <sip:${LAN}:5060;lr>`] : []),
    `From: "Carol" <sip:carol@${DOMAIN}>;tag=far1`,
    `To: <${AOR}>${opts.toTag ? `;tag=${opts.toTag}` : ''}`,
    `Call-ID: ${CALL}`,
    `CSeq: ${cseq} ${method}`,
  ]);
}

const body = (m: SipMessage) => m.body.toString();

describe('SipProxy: a call from the internet to a registered phone', () => {
  it('gives the phone the INVITE at its own Contact, our two Record-Routes (LAN on top), our Via, and relayed SDP', async () => {
    const p = withRegistration();
    await p.deliver(incomingInvite(), 'wan', PROVIDER, PROVIDER_PORT);
    const out = p.sender.one();
    assert.equal(out.side, 'lan');
    assert.equal(out.address, PHONE);
    assert.equal(out.port, PHONE_PORT);
    const m = out.msg as SipRequest;
    assert.equal(m.uri, PHONE_CONTACT);
    assert.equal(getHeader(m, 'max-forwards'), '69');
    assert.deepEqual(getHeaderValues(m, 'record-route'), [
      `<sip:${LAN}:5060;lr>`,
      `<sip:${PUBLIC}:5060;lr>`,
      `<sip:${PROVIDER};lr>`,
    ]);
    const vias = getHeaderValues(m, 'via');
    assert.equal(vias.length, 2);
    assert.match(
      vias[0]!,
      new RegExp(`^SIP/2.0/UDP ${LAN.replace(/\./g, '\\.')}:5060;branch=z9hG4bKsmqW[^;]+;rport$`),
    );
    assert.equal(vias[1], `SIP/2.0/UDP ${PROVIDER}:${PROVIDER_PORT};branch=z9hG4bKinv1`);
    assert.equal(p.media.updates.length, 1);
    const u = p.media.updates[0]!;
    assert.equal(u.from, 'wan');
    assert.equal(u.callId, CALL);
    assert.equal(u.streams[0]?.endpoint?.addr, FAR_MEDIA);
    assert.equal(u.streams[0]?.endpoint?.port, 20000);
    assert.ok(body(m).includes(`c=IN IP4 ${LAN}`), body(m));
    assert.ok(body(m).includes('m=audio 40000 RTP/AVP 0 8'), body(m));
    assert.ok(!body(m).includes(FAR_MEDIA));
    assert.equal(getHeader(m, 'content-length'), String(m.body.length));
    const entry = p.calls.entries(CALL)[0];
    assert.equal(entry?.direction, 'incoming');
    assert.equal(entry?.sessionId, u.sessionId);
  });

  it("sends the phone's 200 to the WAN with a masqueraded Contact and SDP rewritten from the LAN side", async () => {
    const p = withRegistration();
    await p.deliver(incomingInvite(), 'wan', PROVIDER, PROVIDER_PORT);
    const inv = p.sender.one();
    await p.deliver(
      answer(inv.msg, '200 OK', {
        toTag: 'ph1',
        extra: [`Contact: <${PHONE_CONTACT}>`],
        sdp: sdp(PHONE, 4000),
      }),
      'lan',
      PHONE,
      PHONE_PORT,
    );
    const out = p.sender.one();
    assert.equal(out.side, 'wan');
    assert.equal(out.address, PROVIDER);
    assert.equal(out.port, PROVIDER_PORT);
    const r = out.msg as SipResponse;
    assert.equal(r.status, 200);
    assert.deepEqual(getHeaderValues(r, 'via'), [
      `SIP/2.0/UDP ${PROVIDER}:${PROVIDER_PORT};branch=z9hG4bKinv1`,
    ]);
    assert.deepEqual(uris(r, 'contact'), [`sip:${TOKEN}@${PUBLIC}:5060`], 'the registration token is reused');
    assert.equal(p.media.updates.length, 2);
    assert.equal(p.media.updates[1]!.from, 'lan');
    assert.equal(
      p.media.updates[1]!.sessionId,
      p.media.updates[0]!.sessionId,
      'one session for offer and answer',
    );
    assert.ok(body(r).includes(`c=IN IP4 ${PUBLIC}`), body(r));
    assert.ok(body(r).includes('m=audio 30000 '), body(r));
    assert.ok(!out.data.toString().includes(PHONE), 'no private address leaks to the WAN');
    const entry = p.calls.entries(CALL)[0]!;
    assert.equal(entry.state, 'confirmed');
    assert.equal(entry.lanTag, 'ph1');
    assert.equal(entry.wanTag, 'far1');
  });

  it('forwards a BYE from the WAN through our Route entries to the phone and releases the media session', async () => {
    const p = withRegistration();
    await p.deliver(incomingInvite(), 'wan', PROVIDER, PROVIDER_PORT);
    const inv = p.sender.one();
    await p.deliver(
      answer(inv.msg, '200 OK', {
        toTag: 'ph1',
        extra: [`Contact: <${PHONE_CONTACT}>`],
        sdp: sdp(PHONE, 4000),
      }),
      'lan',
      PHONE,
      PHONE_PORT,
    );
    p.sender.take();
    const session = p.media.updates[0]!.sessionId;
    await p.deliver(
      fromProvider('BYE', 11, { toTag: 'ph1', branch: 'z9hG4bKbye1', route: true }),
      'wan',
      PROVIDER,
      PROVIDER_PORT,
    );
    const out = p.sender.one();
    assert.equal(out.side, 'lan');
    assert.equal(out.address, PHONE);
    const bye = out.msg as SipRequest;
    assert.equal(bye.method, 'BYE');
    assert.equal(bye.uri, PHONE_CONTACT);
    assert.deepEqual(getHeaderValues(bye, 'route'), [], 'our own Route entries are consumed');
    assert.deepEqual(p.media.releases, [{ sessionId: session, reason: 'bye' }]);
    assert.equal(p.calls.entries(CALL)[0]!.state, 'terminated');
    await p.deliver(answer(bye, '200 OK'), 'lan', PHONE, PHONE_PORT);
    const ok = p.sender.one();
    assert.equal(ok.side, 'wan');
    assert.equal((ok.msg as SipResponse).status, 200);
    assert.equal(p.media.releases.length, 1, 'released once');
  });

  it('forwards a CANCEL on the branch of its INVITE and releases the media session', async () => {
    const p = withRegistration();
    await p.deliver(incomingInvite(), 'wan', PROVIDER, PROVIDER_PORT);
    const inv = p.sender.one();
    await p.deliver(answer(inv.msg, '180 Ringing', { toTag: 'ph1' }), 'lan', PHONE, PHONE_PORT);
    assert.equal((p.sender.one().msg as SipResponse).status, 180);
    await p.deliver(fromProvider('CANCEL', 10, { branch: 'z9hG4bKinv1' }), 'wan', PROVIDER, PROVIDER_PORT);
    const out = p.sender.one();
    const cancel = out.msg as SipRequest;
    assert.equal(cancel.method, 'CANCEL');
    assert.equal(out.address, PHONE);
    assert.equal(
      getHeaderValues(cancel, 'via')[0],
      getHeaderValues(inv.msg, 'via')[0],
      'same branch as the INVITE (RFC 3261 §16.10)',
    );
    assert.deepEqual(getHeaderValues(cancel, 'record-route'), []);
    assert.deepEqual(p.media.releases, [{ sessionId: p.media.updates[0]!.sessionId, reason: 'cancel' }]);
  });

  it('releases the media session when the phone rejects the INVITE (486), and passes the 486 on', async () => {
    const p = withRegistration();
    await p.deliver(incomingInvite(), 'wan', PROVIDER, PROVIDER_PORT);
    const inv = p.sender.one();
    await p.deliver(answer(inv.msg, '486 Busy Here', { toTag: 'ph1' }), 'lan', PHONE, PHONE_PORT);
    const out = p.sender.one();
    assert.equal(out.side, 'wan');
    assert.equal((out.msg as SipResponse).status, 486);
    assert.deepEqual(p.media.releases, [{ sessionId: p.media.updates[0]!.sessionId, reason: 'failure' }]);
  });

  it('answers 503 to the sender and forwards nothing when media cannot be allocated', async () => {
    const p = withRegistration();
    p.media.fail = new Error('SMQ_ERR_PORTS_EXHAUSTED');
    await p.deliver(incomingInvite(), 'wan', PROVIDER, PROVIDER_PORT);
    const out = p.sender.one();
    assert.equal(out.side, 'wan');
    assert.equal(out.address, PROVIDER);
    assert.equal(out.port, PROVIDER_PORT);
    const r = out.msg as SipResponse;
    assert.equal(r.status, 503);
    assert.deepEqual(
      getHeaderValues(r, 'via'),
      [`SIP/2.0/UDP ${PROVIDER}:${PROVIDER_PORT};branch=z9hG4bKinv1`],
      'only the sender Via',
    );
    assert.equal(p.proxy.counters.forwarded, 0);
  });

  it('answers 488 to an INVITE whose SDP is unusable, forwarding nothing', async () => {
    const p = withRegistration();
    await p.deliver(incomingInvite({ body: 'not sdp at all' }), 'wan', PROVIDER, PROVIDER_PORT);
    const out = p.sender.one();
    assert.equal((out.msg as SipResponse).status, 488);
    assert.equal(out.side, 'wan');
  });

  it('forwards an INVITE without SDP (late offer) and rewrites the offer in the 200', async () => {
    const p = withRegistration();
    await p.deliver(incomingInvite({ body: '' }), 'wan', PROVIDER, PROVIDER_PORT);
    const inv = p.sender.one();
    assert.equal(p.media.updates.length, 0);
    await p.deliver(
      answer(inv.msg, '200 OK', {
        toTag: 'ph1',
        extra: [`Contact: <${PHONE_CONTACT}>`],
        sdp: sdp(PHONE, 4000),
      }),
      'lan',
      PHONE,
      PHONE_PORT,
    );
    assert.ok(body(p.sender.one().msg).includes(`c=IN IP4 ${PUBLIC}`));
    assert.equal(p.media.updates[0]!.from, 'lan');
  });

  it('refuses an INVITE to a masqueraded user whose registration is gone (404) without media', async () => {
    const p = makeProxy();
    await p.deliver(incomingInvite(), 'wan', PROVIDER, PROVIDER_PORT);
    assert.equal((p.sender.one().msg as SipResponse).status, 404);
    assert.equal(p.media.updates.length, 0);
  });
});

/** An INVITE from the phone to bob at the provider. */
function outgoingInvite() {
  return sipText(
    [
      `INVITE sip:bob@${DOMAIN} SIP/2.0`,
      `Via: SIP/2.0/UDP ${PHONE}:${PHONE_PORT};branch=z9hG4bKout1;rport`,
      'Max-Forwards: 70',
      `From: <${AOR}>;tag=ph9`,
      `To: <sip:bob@${DOMAIN}>`,
      'Call-ID: call-out-1@phone',
      'CSeq: 1 INVITE',
      `Contact: <sip:alice@${PHONE}:${PHONE_PORT};transport=udp>`,
      'Content-Type: application/sdp',
    ],
    sdp(PHONE, 4000),
  );
}

describe('SipProxy: a call from a phone to the internet', () => {
  it('sends the INVITE to the provider with masqueraded Contact, two Record-Routes (public on top) and relayed SDP', async () => {
    const p = makeProxy();
    await p.deliver(outgoingInvite(), 'lan', PHONE, PHONE_PORT);
    const out = p.sender.one();
    assert.equal(out.side, 'wan');
    assert.equal(out.address, PROVIDER);
    const m = out.msg as SipRequest;
    assert.equal(m.uri, `sip:bob@${DOMAIN}`);
    assert.deepEqual(getHeaderValues(m, 'record-route'), [`<sip:${PUBLIC}:5060;lr>`, `<sip:${LAN}:5060;lr>`]);
    const contact = parseUri(uris(m, 'contact')[0]!)!;
    assert.equal(contact.host, PUBLIC);
    assert.match(contact.user ?? '', /^alice-smq[a-z2-7]{12}$/);
    assert.deepEqual(contact.params, [], 'transport dropped');
    assert.equal(
      p.contacts.get(contact.user!)?.contact,
      `sip:alice@${PHONE}:${PHONE_PORT};transport=udp`,
      'dialog token remembered',
    );
    assert.equal(p.media.updates[0]!.from, 'lan');
    assert.ok(body(m).includes(`c=IN IP4 ${PUBLIC}`));
    const leaks = out.data
      .toString()
      .split('\r\n')
      .filter((l) => l.includes(PHONE) && !l.startsWith('Via:'));
    assert.deepEqual(leaks, [], 'the phone address appears only in its own Via (needed to route responses)');
    assert.equal(parseVia(getHeaderValues(m, 'via')[0]!)!.host, PUBLIC);
  });

  it("gives the phone the provider's 200 with SDP rewritten from the WAN side and learns the far tag", async () => {
    const p = makeProxy();
    await p.deliver(outgoingInvite(), 'lan', PHONE, PHONE_PORT);
    const inv = p.sender.one();
    await p.deliver(
      answer(inv.msg, '200 OK', {
        toTag: 'bob1',
        extra: [`Contact: <sip:bob@${PROVIDER}>`],
        sdp: sdp(FAR_MEDIA, 30500),
      }),
      'wan',
      PROVIDER,
      PROVIDER_PORT,
    );
    const out = p.sender.one();
    assert.equal(out.side, 'lan');
    assert.equal(out.address, PHONE);
    assert.equal(out.port, PHONE_PORT);
    const r = out.msg as SipResponse;
    assert.deepEqual(uris(r, 'contact'), [`sip:bob@${PROVIDER}`], "the far side's Contact is left alone");
    assert.equal(p.media.updates[1]!.from, 'wan');
    assert.ok(body(r).includes(`c=IN IP4 ${LAN}`));
    const entry = p.calls.entries('call-out-1@phone')[0]!;
    assert.equal(entry.wanTag, 'bob1');
    assert.equal(entry.state, 'confirmed');
  });

  it('releases the media when the phone hangs up with BYE through our Route entries', async () => {
    const p = makeProxy();
    await p.deliver(outgoingInvite(), 'lan', PHONE, PHONE_PORT);
    const inv = p.sender.one();
    await p.deliver(
      answer(inv.msg, '200 OK', {
        toTag: 'bob1',
        extra: [`Contact: <sip:bob@${PROVIDER}>`],
        sdp: sdp(FAR_MEDIA, 30500),
      }),
      'wan',
      PROVIDER,
      PROVIDER_PORT,
    );
    p.sender.take();
    await p.deliver(
      sipText([
        `BYE sip:bob@${PROVIDER} SIP/2.0`,
        `Via: SIP/2.0/UDP ${PHONE}:${PHONE_PORT};branch=z9hG4bKbye9;rport`,
        'Max-Forwards: 70',
        `Route: <sip:${LAN}:5060;lr>, <sip:${PUBLIC}:5060;lr>`,
        `From: <${AOR}>;tag=ph9`,
        `To: <sip:bob@${DOMAIN}>;tag=bob1`,
        'Call-ID: call-out-1@phone',
        'CSeq: 2 BYE',
      ]),
      'lan',
      PHONE,
      PHONE_PORT,
    );
    const out = p.sender.one();
    assert.equal(out.side, 'wan');
    assert.equal(out.address, PROVIDER);
    assert.deepEqual(getHeaderValues(out.msg, 'route'), []);
    assert.deepEqual(p.media.releases, [{ sessionId: p.media.updates[0]!.sessionId, reason: 'bye' }]);
  });

  it('releases the media when the phone cancels its INVITE', async () => {
    const p = makeProxy();
    await p.deliver(outgoingInvite(), 'lan', PHONE, PHONE_PORT);
    p.sender.take();
    await p.deliver(
      sipText([
        `CANCEL sip:bob@${DOMAIN} SIP/2.0`,
        `Via: SIP/2.0/UDP ${PHONE}:${PHONE_PORT};branch=z9hG4bKout1;rport`,
        'Max-Forwards: 70',
        `From: <${AOR}>;tag=ph9`,
        `To: <sip:bob@${DOMAIN}>`,
        'Call-ID: call-out-1@phone',
        'CSeq: 1 CANCEL',
      ]),
      'lan',
      PHONE,
      PHONE_PORT,
    );
    assert.equal((p.sender.one().msg as SipRequest).method, 'CANCEL');
    assert.deepEqual(p.media.releases, [{ sessionId: p.media.updates[0]!.sessionId, reason: 'cancel' }]);
  });

  it('does not leave a media session behind when the 200 crosses the phone CANCEL', async () => {
    const p = makeProxy();
    await p.deliver(outgoingInvite(), 'lan', PHONE, PHONE_PORT);
    const inv = p.sender.one();
    await p.deliver(
      sipText([
        `CANCEL sip:bob@${DOMAIN} SIP/2.0`,
        `Via: SIP/2.0/UDP ${PHONE}:${PHONE_PORT};branch=z9hG4bKout1;rport`,
        'Max-Forwards: 70',
        `From: <${AOR}>;tag=ph9`,
        `To: <sip:bob@${DOMAIN}>`,
        'Call-ID: call-out-1@phone',
        'CSeq: 1 CANCEL',
      ]),
      'lan',
      PHONE,
      PHONE_PORT,
    );
    p.sender.take();
    await p.deliver(
      answer(inv.msg, '200 OK', {
        toTag: 'bob1',
        extra: [`Contact: <sip:bob@${PROVIDER}>`],
        sdp: sdp(FAR_MEDIA, 30500),
      }),
      'wan',
      PROVIDER,
      PROVIDER_PORT,
    );
    const ok = p.sender.one();
    assert.equal(
      (ok.msg as SipResponse).status,
      200,
      'the 200 still reaches the phone, which must ACK and BYE it',
    );
    assert.ok(body(ok.msg).includes(`c=IN IP4 ${LAN}`), 'and its SDP is still rewritten');
    const session = p.media.updates[0]!.sessionId;
    const lastUpdate = p.media.updates.length;
    assert.equal(p.media.updates[lastUpdate - 1]!.sessionId, session);
    assert.deepEqual(
      p.media.releases.map((r) => r.sessionId),
      [session, session],
      'released by the CANCEL and again after the 200 re-allocated it',
    );
  });

  it('answers 503 to the phone, with only its own Via, when media cannot be allocated', async () => {
    const p = makeProxy();
    p.media.fail = new Error('no ports');
    await p.deliver(outgoingInvite(), 'lan', PHONE, PHONE_PORT);
    const out = p.sender.one();
    assert.equal(out.side, 'lan');
    assert.equal(out.address, PHONE);
    assert.equal((out.msg as SipResponse).status, 503);
    assert.equal(getHeaderValues(out.msg, 'via').length, 1);
    assert.equal(parseVia(getHeaderValues(out.msg, 'via')[0]!)!.host, PHONE);
  });

  it('sends a call to another phone masqueraded user round through our own WAN address (hairpin)', async () => {
    const p = withRegistration();
    await p.deliver(
      sipText([
        `INVITE sip:${TOKEN}@${PUBLIC}:5060 SIP/2.0`,
        'Via: SIP/2.0/UDP 192.168.1.51:5060;branch=z9hG4bKhp;rport',
        'Max-Forwards: 70',
        'From: <sip:bob@voip.example.net>;tag=b1',
        `To: <sip:${TOKEN}@${PUBLIC}:5060>`,
        'Call-ID: hairpin-1@phone2',
        'CSeq: 1 INVITE',
      ]),
      'lan',
      '192.168.1.51',
      5060,
    );
    const out = p.sender.one();
    assert.equal(out.side, 'wan');
    assert.equal(out.address, '198.51.100.2');
    assert.equal(out.port, 5060);
  });
});
