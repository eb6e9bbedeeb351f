import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../../../common/clock.ts';
import { AddressBook } from '../../../../proxy/core/address-book.ts';
import { ContactTokens } from '../../../../proxy/core/contact-token.ts';
import { RegisterFlow } from '../../../../proxy/core/register-flow.ts';
import { RegistrationTable } from '../../../../proxy/core/registration-table.ts';
import type { PendingRegister } from '../../../../proxy/core/transaction-memo.ts';
import { getHeaderValues } from '../../../../proxy/sip/header-list.ts';
import { parseNameAddr } from '../../../../proxy/sip/name-addr.ts';
import { parseUri } from '../../../../proxy/sip/uri.ts';
import { MemoryStore } from '../../../../proxy/store/memory-store.ts';
import {
  ADDRESSES,
  binding,
  DOMAIN,
  PHONE,
  PHONE_PORT,
  PUBLIC,
  quietLogger,
  req,
  resp,
  T0,
  TOKEN_KEY,
} from './fixtures.ts';

const AOR = `sip:alice@${DOMAIN}`;
const C1 = `sip:alice@${PHONE}:${PHONE_PORT}`;
const C2 = `sip:alice@${PHONE}:5064;line=2`;

function setup() {
  const clock = new ManualClock(T0);
  const store = new MemoryStore();
  const table = new RegistrationTable(store, clock, quietLogger().log);
  const tokens = new ContactTokens(TOKEN_KEY);
  const flow = new RegisterFlow(table, tokens, new AddressBook(ADDRESSES));
  return { clock, store, table, tokens, flow };
}

function register(contacts: string[], extra: string[] = []) {
  return req([
    `REGISTER sip:${DOMAIN} SIP/2.0`,
    `Via: SIP/2.0/UDP ${PHONE}:${PHONE_PORT};branch=z9hG4bKr1;rport`,
    'Max-Forwards: 70',
    `From: <${AOR}>;tag=f1`,
    `To: "Alice" <sip:Alice@VOIP.Example.NET;transport=udp>`,
    'Call-ID: reg-1@phone',
    'CSeq: 1 REGISTER',
    ...contacts.map((c) => `Contact: ${c}`),
    ...extra,
  ]);
}

function ok(contacts: string[], extra: string[] = []) {
  return resp([
    'SIP/2.0 200 OK',
    `Via: SIP/2.0/UDP ${PHONE}:${PHONE_PORT};branch=z9hG4bKr1;rport=${PHONE_PORT}`,
    `From: <${AOR}>;tag=f1`,
    `To: <${AOR}>;tag=reg`,
    'Call-ID: reg-1@phone',
    'CSeq: 1 REGISTER',
    ...contacts.map((c) => `Contact: ${c}`),
    ...extra,
  ]);
}

function outbound(flow: RegisterFlow, r: ReturnType<typeof register>): PendingRegister {
  const p = flow.outbound(r, PHONE, PHONE_PORT, 'reg-1@phone');
  assert.ok(p);
  p.registrar = '198.51.100.77:5060';
  return p;
}

function contactUris(m: Parameters<typeof getHeaderValues>[0]): string[] {
  return getHeaderValues(m, 'contact').map((v) => parseNameAddr(v)!.uri);
}

describe('RegisterFlow.outbound', () => {
  it('masquerades every Contact to a token at the public address and remembers the phone contacts', () => {
    const { flow, tokens } = setup();
    const r = register([`<${C1}>;expires=300;+sip.instance="<urn:uuid:1>"`, `<${C2}>`], ['Expires: 600']);
    const p = outbound(flow, r);
    assert.equal(p.aor, 'sip:Alice@voip.example.net', 'AOR normalised: host lower-cased, no parameters');
    assert.equal(p.callId, 'reg-1@phone');
    assert.equal(p.phoneAddr, PHONE);
    assert.equal(p.phonePort, PHONE_PORT);
    assert.equal(p.star, false);
    assert.equal(p.expiresHeader, 600);
    assert.equal(p.contacts.length, 2);
    assert.deepEqual(p.contacts[0], {
      user: tokens.userFor(p.aor, C1, 'alice'),
      contact: C1,
      expires: 300,
      instance: '"<urn:uuid:1>"',
    });
    assert.equal(p.contacts[1]!.contact, C2);
    assert.equal(p.contacts[1]!.expires, null);
    const uris = contactUris(r).map((u) => parseUri(u)!);
    assert.deepEqual(
      uris.map((u) => [u.user, u.host, u.port]),
      p.contacts.map((c) => [c.user, PUBLIC, 5060]),
    );
    assert.ok(ContactTokens.looksMasqueraded(p.contacts[0]!.user));
    assert.notEqual(p.contacts[0]!.user, p.contacts[1]!.user);
    const raw = getHeaderValues(r, 'contact').join(',');
    assert.ok(!raw.includes(PHONE), 'no private address leaks');
    assert.ok(raw.includes(';expires=300'));
    assert.ok(raw.includes(';line=2'));
  });

  it('reuses the token of an existing binding for the same AOR and contact', () => {
    const { flow, table } = setup();
    table.put(binding({ token: 'alice-smqzzzzzzzzzzzz', aor: 'sip:Alice@voip.example.net', contact: C1 }));
    const p = outbound(flow, register([`<${C1}>`]));
    assert.equal(p.contacts[0]!.user, 'alice-smqzzzzzzzzzzzz');
  });

  it('notes a Contact: * (remove all) and leaves it untouched', () => {
    const { flow } = setup();
    const r = register(['*'], ['Expires: 0']);
    const p = outbound(flow, r);
    assert.equal(p.star, true);
    assert.deepEqual(p.contacts, []);
    assert.deepEqual(getHeaderValues(r, 'contact'), ['*']);
  });

  it('gives null for a REGISTER whose To cannot be read as an AOR', () => {
    const { flow } = setup();
    const r = register([`<${C1}>`]);
    r.headers.find((h) => h.name === 'to')!.value = '<urn:x:y>';
    assert.equal(flow.outbound(r, PHONE, PHONE_PORT, 'c'), null);
  });
});

describe('RegisterFlow.inbound', () => {
  it('records the expiry of the contact param of the 2xx, preferring it over the Expires header', () => {
    const { flow, table } = setup();
    const p = outbound(flow, register([`<${C1}>;expires=3600`]));
    const user = p.contacts[0]!.user;
    flow.inbound(ok([`<sip:${user}@${PUBLIC}:5060>;expires=120`], ['Expires: 900']), p, T0);
    const rec = table.get(user);
    assert.ok(rec);
    assert.equal(rec.expiresAt, T0 + 120_000);
    assert.equal(rec.contact, C1);
    assert.equal(rec.aor, p.aor);
    assert.equal(rec.phoneAddr, PHONE);
    assert.equal(rec.phonePort, PHONE_PORT);
    assert.equal(rec.registrar, '198.51.100.77:5060');
    assert.equal(rec.callId, 'reg-1@phone');
    assert.equal(rec.updatedAt, T0);
  });

  it('uses the Expires header of the 2xx when its contact has no expires param', () => {
    const { flow, table } = setup();
    const p = outbound(flow, register([`<${C1}>`]));
    const user = p.contacts[0]!.user;
    flow.inbound(ok([`<sip:${user}@${PUBLIC}:5060>`], ['Expires: 900']), p, T0);
    assert.equal(table.get(user)?.expiresAt, T0 + 900_000);
  });

  it('falls back to 3600 s when the 2xx lists our contact without any expiry', () => {
    const { flow, table } = setup();
    const p = outbound(flow, register([`<${C1}>`], ['Expires: 60']));
    const user = p.contacts[0]!.user;
    flow.inbound(ok([`<sip:${user}@${PUBLIC}:5060>`]), p, T0);
    assert.equal(table.get(user)?.expiresAt, T0 + 3600_000);
  });

  it('believes the request when the 2xx lists no Contact at all', () => {
    const { flow, table } = setup();
    const p = outbound(flow, register([`<${C1}>;expires=300`, `<${C2}>`], ['Expires: 600']));
    flow.inbound(ok([]), p, T0);
    assert.equal(table.get(p.contacts[0]!.user)?.expiresAt, T0 + 300_000, 'contact expires param');
    assert.equal(table.get(p.contacts[1]!.user)?.expiresAt, T0 + 600_000, 'request Expires header');
  });

  it('removes a binding the 2xx no longer lists', () => {
    const { flow, table, store } = setup();
    const p = outbound(flow, register([`<${C1}>`, `<${C2}>`]));
    const [u1, u2] = p.contacts.map((c) => c.user);
    flow.inbound(
      ok([`<sip:${u1}@${PUBLIC}:5060>;expires=60`, `<sip:${u2}@${PUBLIC}:5060>;expires=60`]),
      p,
      T0,
    );
    assert.ok(table.get(u2!));
    flow.inbound(
      ok([`<sip:${u1}@${PUBLIC}:5060>;expires=60`, '<sip:someone-else@198.51.100.3>;expires=60']),
      p,
      T0,
    );
    assert.ok(table.get(u1!));
    assert.equal(table.get(u2!), undefined);
    assert.ok(!store.loadAll().some((r) => r.token === u2));
  });

  it('removes a binding on Expires 0', () => {
    const { flow, table } = setup();
    const p = outbound(flow, register([`<${C1}>`]));
    const user = p.contacts[0]!.user;
    flow.inbound(ok([`<sip:${user}@${PUBLIC}:5060>;expires=60`]), p, T0);
    assert.ok(table.get(user));
    const p0 = outbound(flow, register([`<${C1}>;expires=0`]));
    assert.equal(p0.contacts[0]!.user, user, 'same token for the de-registration');
    flow.inbound(ok([`<sip:${user}@${PUBLIC}:5060>;expires=0`]), p0, T0);
    assert.equal(table.get(user), undefined);
  });

  it('removes a binding de-registered with Expires: 0 answered by a 2xx with no Contact', () => {
    const { flow, table } = setup();
    const p = outbound(flow, register([`<${C1}>`]));
    const user = p.contacts[0]!.user;
    flow.inbound(ok([]), p, T0);
    assert.ok(table.get(user));
    const p0 = outbound(flow, register([`<${C1}>`], ['Expires: 0']));
    flow.inbound(ok([]), p0, T0);
    assert.equal(table.get(user), undefined);
  });

  it('removes every binding of the AOR on Contact: *, and only those', () => {
    const { flow, table } = setup();
    const p = outbound(flow, register([`<${C1}>`, `<${C2}>`]));
    flow.inbound(ok([]), p, T0);
    table.put(binding({ token: 'bob-smqbbbbbbbbbbbb', aor: `sip:bob@${DOMAIN}` }));
    assert.equal(table.list().length, 3);
    const star = outbound(flow, register(['*'], ['Expires: 0']));
    flow.inbound(ok([]), star, T0);
    assert.deepEqual(
      table.list().map((r) => r.token),
      ['bob-smqbbbbbbbbbbbb'],
    );
  });

  it('changes nothing on a non-2xx answer', () => {
    const { flow, table } = setup();
    const p = outbound(flow, register([`<${C1}>`]));
    const r = ok([]);
    r.status = 401;
    r.reason = 'Unauthorized';
    flow.inbound(r, p, T0);
    assert.deepEqual(table.list(), []);
  });

  it('gives the phone its own contacts back in the response, other contacts untouched', () => {
    const { flow } = setup();
    const p = outbound(flow, register([`<${C1}>`, `<${C2}>`]));
    const [u1, u2] = p.contacts.map((c) => c.user);
    const r = ok([
      `<sip:${u1}@${PUBLIC}:5060>;expires=60`,
      `"Line 2" <sip:${u2}@${PUBLIC}:5060>;expires=120`,
      '<sip:desk@198.51.100.3>;expires=30',
    ]);
    flow.inbound(r, p, T0);
    assert.deepEqual(getHeaderValues(r, 'contact'), [
      `<${C1}>;expires=60`,
      `"Line 2" <${C2}>;expires=120`,
      '<sip:desk@198.51.100.3>;expires=30',
    ]);
  });

  it('gives the phone back contacts registered earlier through the table when answering a query', () => {
    const { flow, table } = setup();
    const p = outbound(flow, register([`<${C1}>`]));
    const user = p.contacts[0]!.user;
    flow.inbound(ok([]), p, T0);
    assert.ok(table.get(user));
    const query = outbound(flow, register([]));
    const r = ok([`<sip:${user}@${PUBLIC}:5060>;expires=50`]);
    flow.inbound(r, query, T0);
    assert.deepEqual(getHeaderValues(r, 'contact'), [`<${C1}>;expires=50`]);
    assert.equal(table.get(user)?.expiresAt, T0 + 3600_000, 'a query changes no binding');
  });
});
