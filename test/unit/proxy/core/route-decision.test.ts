import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../../../common/clock.ts';
import { AddressBook } from '../../../../proxy/core/address-book.ts';
import { ContactMap } from '../../../../proxy/core/contact-map.ts';
import { RegistrationTable } from '../../../../proxy/core/registration-table.ts';
import { type DecisionDeps, decide } from '../../../../proxy/core/route-decision.ts';
import { MemoryStore } from '../../../../proxy/store/memory-store.ts';
import {
  ADDRESSES,
  binding,
  DOMAIN,
  LAN,
  PHONE,
  PHONE2,
  PUBLIC,
  quietLogger,
  req,
  T0,
  WAN,
} from './fixtures.ts';

const TOKEN = 'alice-smqaaaaaaaaaaaa';
const DIALOG_TOKEN = 'bob-smqbbbbbbbbbbbb';

function setup(knownCalls: string[] = []) {
  const clock = new ManualClock(T0);
  const registrations = new RegistrationTable(new MemoryStore(), clock, quietLogger().log);
  const contacts = new ContactMap(clock);
  const book = new AddressBook(ADDRESSES);
  const deps: DecisionDeps = {
    isSelf: (h, p) => book.isSelf(h, p),
    wanAddress: WAN,
    sipPort: 5060,
    registrations,
    contacts,
    knownCall: (id) => knownCalls.includes(id),
  };
  return { clock, registrations, contacts, deps };
}

function request(method: string, uri: string, opts: { toTag?: string; to?: string; extra?: string[] } = {}) {
  const to = opts.to ?? `<sip:alice@${DOMAIN}>`;
  return req([
    `${method} ${uri} SIP/2.0`,
    'Via: SIP/2.0/UDP 198.51.100.77;branch=z9hG4bKx',
    'Max-Forwards: 70',
    `From: <sip:carol@${DOMAIN}>;tag=far`,
    `To: ${to}${opts.toTag ? `;tag=${opts.toTag}` : ''}`,
    'Call-ID: call-9@provider',
    `CSeq: 1 ${method}`,
    ...(opts.extra ?? []),
  ]);
}

describe('decide: from the LAN', () => {
  it('goes to the host of the top Route, honouring maddr', () => {
    const { deps } = setup();
    assert.deepEqual(
      decide(
        request('INVITE', `sip:bob@${DOMAIN}`, { extra: ['Route: <sip:proxy.example:5070;lr>'] }),
        'lan',
        deps,
      ),
      {
        kind: 'to-wan',
        host: 'proxy.example',
        port: 5070,
      },
    );
    assert.deepEqual(
      decide(
        request('INVITE', `sip:bob@${DOMAIN}`, {
          extra: ['Route: <sip:proxy.example;lr;maddr=198.51.100.5>'],
        }),
        'lan',
        deps,
      ),
      { kind: 'to-wan', host: '198.51.100.5', port: undefined },
    );
  });

  it('goes to the Request-URI host without a Route, honouring maddr', () => {
    const { deps } = setup();
    assert.deepEqual(decide(request('REGISTER', `sip:${DOMAIN}`), 'lan', deps), {
      kind: 'to-wan',
      host: DOMAIN,
      port: undefined,
    });
    assert.deepEqual(decide(request('INVITE', `sip:bob@${DOMAIN}:5080;maddr=198.51.100.6`), 'lan', deps), {
      kind: 'to-wan',
      host: '198.51.100.6',
      port: 5080,
    });
  });

  it('answers OPTIONS to sipmasq itself with 200 and other requests to itself without a user with 404', () => {
    const { deps } = setup();
    assert.deepEqual(decide(request('OPTIONS', `sip:${LAN}`), 'lan', deps), { kind: 'respond', status: 200 });
    assert.deepEqual(decide(request('OPTIONS', `sip:${PUBLIC}:5060`), 'wan', deps), {
      kind: 'respond',
      status: 200,
    });
    assert.equal((decide(request('INVITE', `sip:${LAN}`), 'lan', deps) as { status: number }).status, 404);
  });

  it('sends a request for a masqueraded user round through our own WAN address (hairpin)', () => {
    const { deps, registrations } = setup();
    registrations.put(binding({ token: TOKEN, contact: `sip:alice@${PHONE2}` }));
    assert.deepEqual(decide(request('INVITE', `sip:${TOKEN}@${PUBLIC}:5060`), 'lan', deps), {
      kind: 'to-wan',
      host: WAN,
      port: 5060,
    });
  });

  it('refuses a tel: or other non-SIP Request-URI with 416', () => {
    const { deps } = setup();
    assert.equal((decide(request('INVITE', 'tel:+4930123'), 'lan', deps) as { status: number }).status, 416);
    assert.equal(
      (decide(request('INVITE', 'http://example.com/'), 'lan', deps) as { status: number }).status,
      416,
    );
  });
});

describe('decide: from the WAN', () => {
  it('reaches the phone of a live registration by its token', () => {
    const { deps, registrations } = setup();
    registrations.put(binding({ token: TOKEN }));
    assert.deepEqual(decide(request('INVITE', `sip:${TOKEN}@${PUBLIC}:5060`), 'wan', deps), {
      kind: 'to-phone',
      user: TOKEN,
      contact: binding().contact,
      addr: PHONE,
      port: binding().phonePort,
      intercepted: false,
      tcp: false,
    });
  });

  it('answers 404 for a token whose registration expired', () => {
    const { deps, registrations, clock } = setup();
    registrations.put(binding({ token: TOKEN, expiresAt: T0 + 1000 }));
    clock.advance(1000 + 32_000);
    assert.deepEqual(decide(request('INVITE', `sip:${TOKEN}@${PUBLIC}:5060`), 'wan', deps), {
      kind: 'respond',
      status: 404,
      reason: 'Not Found',
    });
  });

  it('answers 481 for an in-dialog request to an unknown user', () => {
    const { deps } = setup();
    assert.equal(
      (
        decide(request('BYE', `sip:${TOKEN}@${PUBLIC}:5060`, { toTag: 'x' }), 'wan', deps) as {
          status: number;
        }
      ).status,
      481,
    );
  });

  it('reaches a phone through a dialog token (ContactMap) only in a dialog or a known call', () => {
    const { deps, contacts } = setup(['known-call']);
    contacts.remember(DIALOG_TOKEN, `sip:bob@${PHONE2}:5060`, PHONE2, 5060);
    const want = {
      kind: 'to-phone',
      user: DIALOG_TOKEN,
      contact: `sip:bob@${PHONE2}:5060`,
      addr: PHONE2,
      port: 5060,
      intercepted: false,
      tcp: false,
    };
    assert.deepEqual(
      decide(request('BYE', `sip:${DIALOG_TOKEN}@${PUBLIC}:5060`, { toTag: 'ph' }), 'wan', deps),
      want,
    );
    assert.deepEqual(decide(request('INVITE', `sip:${DIALOG_TOKEN}@${PUBLIC}:5060`), 'wan', deps), {
      kind: 'respond',
      status: 404,
      reason: 'Not Found',
    });
    const known = request('INVITE', `sip:${DIALOG_TOKEN}@${PUBLIC}:5060`);
    known.headers.find((h) => h.name === 'call-id')!.value = 'known-call';
    assert.deepEqual(decide(known, 'wan', deps), want);
  });

  it('refuses a foreign Request-URI with 403 (not an open relay)', () => {
    const { deps } = setup();
    assert.deepEqual(decide(request('INVITE', 'sip:victim@198.51.100.200'), 'wan', deps), {
      kind: 'respond',
      status: 403,
      reason: 'Relaying Denied',
    });
  });

  it('refuses a WAN request carrying a Route that is not ours with 403', () => {
    const { deps, registrations } = setup();
    registrations.put(binding({ token: TOKEN }));
    const r = request('INVITE', `sip:${TOKEN}@${PUBLIC}:5060`, { extra: ['Route: <sip:198.51.100.200;lr>'] });
    assert.equal((decide(r, 'wan', deps) as { status: number }).status, 403);
  });

  it('routes a foreign Request-URI that is the AOR of a live registration to that phone', () => {
    const { deps, registrations } = setup();
    registrations.put(binding({ token: TOKEN }));
    assert.deepEqual(decide(request('INVITE', `sip:alice@${DOMAIN.toUpperCase()};user=phone`), 'wan', deps), {
      kind: 'to-phone',
      user: TOKEN,
      contact: binding().contact,
      addr: PHONE,
      port: binding().phonePort,
      intercepted: false,
      tcp: false,
    });
    assert.equal(
      (decide(request('INVITE', 'sip:alice@other.example'), 'wan', deps) as { status: number }).status,
      403,
      'same user, other domain',
    );
  });

  it('falls back to the AOR user (or the To user) when the provider ignores our Contact user', () => {
    const { deps, registrations } = setup();
    registrations.put(binding({ token: TOKEN }));
    const byUser = decide(request('INVITE', `sip:alice@${PUBLIC}:5060`), 'wan', deps);
    assert.equal(byUser.kind, 'to-phone');
    const byTo = decide(
      request('INVITE', `sip:+4930123@${PUBLIC}:5060`, { to: `<sip:alice@${DOMAIN}>` }),
      'wan',
      deps,
    );
    assert.equal(byTo.kind, 'to-phone');
    assert.equal((byTo as { user: string }).user, TOKEN);
  });
});

describe('decide: configured outbound proxies (outboundProxies)', () => {
  it('sends a domain with a configured proxy there instead of to its DNS targets', () => {
    const { deps } = setup();
    const withProxy: DecisionDeps = {
      ...deps,
      proxyFor: (d) => (d === DOMAIN.toLowerCase() ? { host: '198.51.100.9', port: 5070 } : undefined),
    };
    assert.deepEqual(decide(request('INVITE', `sip:bob@${DOMAIN}`), 'lan', withProxy), {
      kind: 'to-wan',
      host: '198.51.100.9',
      port: 5070,
    });
    assert.deepEqual(decide(request('INVITE', 'sip:bob@other.example'), 'lan', withProxy), {
      kind: 'to-wan',
      host: 'other.example',
      port: undefined,
    });
  });

  it('lets a Route header win over the configured proxy (RFC 3261 §16.6 loose routing)', () => {
    const { deps } = setup();
    const withProxy: DecisionDeps = { ...deps, proxyFor: () => ({ host: '198.51.100.9', port: 5070 }) };
    const d = decide(
      request('BYE', `sip:bob@${DOMAIN}`, { extra: ['Route: <sip:rr.example;lr>'] }),
      'lan',
      withProxy,
    );
    assert.deepEqual(d, { kind: 'to-wan', host: 'rr.example', port: undefined });
  });
});
