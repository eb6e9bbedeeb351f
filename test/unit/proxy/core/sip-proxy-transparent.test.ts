/**
 * Transparent interception and TCP phones through the whole proxy in memory: what came in on the
 * intercept socket goes back out of it (the phone sees its provider's address), bindings remember it,
 * TCP phones get their answers and requests on their connection with TCP Via and Record-Route.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getHeaderValues } from '../../../../proxy/sip/header-list.ts';
import type { SipRequest } from '../../../../proxy/sip/message.ts';
import { parseUri } from '../../../../proxy/sip/uri.ts';
import {
  answer,
  DOMAIN,
  makeProxy,
  PHONE,
  PHONE_PORT,
  PROVIDER,
  PROVIDER_PORT,
  PUBLIC,
  sipText,
  uris,
} from './fixtures.ts';

const AOR = `sip:alice@${DOMAIN}`;

function register(transport: 'UDP' | 'TCP', rport: boolean) {
  return sipText([
    `REGISTER sip:${DOMAIN} SIP/2.0`,
    `Via: SIP/2.0/${transport} ${PHONE}:5060;branch=z9hG4bKt1${rport ? ';rport' : ''}`,
    'Max-Forwards: 70',
    `From: <${AOR}>;tag=r1`,
    `To: <${AOR}>`,
    'Call-ID: reg-t@phone',
    'CSeq: 1 REGISTER',
    `Contact: <sip:alice@${PHONE}:5060${transport === 'TCP' ? ';transport=tcp' : ''}>;expires=300`,
  ]);
}

function invite(user: string) {
  return sipText([
    `INVITE sip:${user}@${PUBLIC}:5060 SIP/2.0`,
    `Via: SIP/2.0/UDP ${PROVIDER}:${PROVIDER_PORT};branch=z9hG4bKin1`,
    'Max-Forwards: 70',
    `From: <sip:bob@${DOMAIN}>;tag=b1`,
    `To: <${AOR}>`,
    'Call-ID: in-t@provider',
    'CSeq: 1 INVITE',
    `Contact: <sip:bob@${PROVIDER}:${PROVIDER_PORT}>`,
  ]);
}

async function registerThrough(
  p: ReturnType<typeof makeProxy>,
  how: { intercepted?: boolean; transport?: 'udp' | 'tcp' },
) {
  const tcp = how.transport === 'tcp';
  await p.deliver(register(tcp ? 'TCP' : 'UDP', !tcp), 'lan', PHONE, tcp ? 40123 : PHONE_PORT, how);
  const out = p.sender.one();
  const user = parseUri(uris(out.msg, 'contact')[0]!)!.user!;
  await p.deliver(
    answer(out.msg, '200 OK', { toTag: 'reg', extra: [`Contact: <sip:${user}@${PUBLIC}:5060>;expires=300`] }),
    'wan',
    PROVIDER,
    PROVIDER_PORT,
  );
  const back = p.sender.one();
  return { user, back };
}

describe('transparent interception through the proxy', () => {
  it('answers an intercepted REGISTER out of the intercept socket and remembers the binding as intercepted', async () => {
    const p = makeProxy();
    const { back } = await registerThrough(p, { intercepted: true });
    assert.equal(back.intercepted, true, 'the 200 goes back out of the intercept socket');
    assert.equal(back.address, PHONE);
    assert.equal(p.registrations.list()[0]?.intercepted, true);
  });

  it('sends an incoming INVITE to an intercepted phone out of the intercept socket', async () => {
    const p = makeProxy();
    const { user } = await registerThrough(p, { intercepted: true });
    await p.deliver(invite(user), 'wan', PROVIDER, PROVIDER_PORT);
    const out = p.sender.one();
    assert.equal(out.side, 'lan');
    assert.equal(out.intercepted, true);
  });

  it('answers its own errors to an intercepted phone out of the intercept socket', async () => {
    const p = makeProxy();
    await p.deliver(
      sipText([
        'OPTIONS sip:x SIP/2.0',
        `Via: SIP/2.0/UDP ${PHONE}:5060;branch=z9hG4bKo1`,
        'Max-Forwards: 0',
        'From: <sip:a@b>;tag=1',
        'To: <sip:x@y>',
        'Call-ID: o1',
        'CSeq: 1 OPTIONS',
      ]),
      'lan',
      PHONE,
      5060,
      { intercepted: true },
    );
    const out = p.sender.one();
    assert.match(out.data.toString(), /^SIP\/2.0 483/);
    assert.equal(out.intercepted, true);
  });
});

describe('TCP phones through the proxy', () => {
  it('records the connection (received/rport) and answers the phone on it', async () => {
    const p = makeProxy();
    const { back } = await registerThrough(p, { transport: 'tcp' });
    assert.equal(back.transport, 'tcp');
    assert.equal(back.port, 40123, 'to the connection, not to the Via port 5060');
    assert.equal(p.registrations.list()[0]?.transport, 'tcp');
  });

  it('sends an incoming INVITE on the connection with a TCP Via and a TCP Record-Route toward the phone', async () => {
    const p = makeProxy();
    const { user } = await registerThrough(p, { transport: 'tcp' });
    await p.deliver(invite(user), 'wan', PROVIDER, PROVIDER_PORT);
    const out = p.sender.one();
    assert.equal(out.transport, 'tcp');
    assert.equal(out.port, 40123);
    const req = out.msg as SipRequest;
    assert.match(getHeaderValues(req, 'via')[0]!, /^SIP\/2.0\/TCP /);
    assert.match(getHeaderValues(req, 'record-route')[0]!, /;transport=tcp;lr>$/);
  });
});
