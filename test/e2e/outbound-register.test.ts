/**
 * Registration through sipmasq: the phone's REGISTER (digest challenge answered end to end) reaches
 * the provider with a Contact on the router's public address, a refresh keeps one binding, a wrong
 * password stays refused, an un-REGISTER removes the binding at the provider and in sipmasq, and
 * `status --json` lists what is registered.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitUntil } from './lib/exec.ts';
import { IP } from './lib/lab.ts';
import { register } from './lib/parties.ts';
import { useSipmasq } from './lib/sipmasq.ts';
import { describeRun, header } from './lib/sipp.ts';
import { labSkip } from './lib/tools.ts';
import { guard, useLab } from './lib/with-lab.ts';

const PUBLIC_CONTACT = new RegExp(`^sip:[^@]+@${IP.routerWan.replaceAll('.', '\\.')}(:5060)?([;>]|$)`);
const CALL_ID = 'reg-alice-phone1@192.168.1.10';

describe('registration through sipmasq', { skip: labSkip(['sipp', 'kamailio', 'kamcmd']) }, () => {
  const env = useLab({ name: 'outbound-register' });
  const smq = useSipmasq(() => env().lab);

  it('REGISTER with digest auth: the provider stores a Contact on the public address', (t) =>
    guard(env(), async () => {
      const { lab, kamailio } = env();
      const reg = await register(lab, 'phone1', 'alice', {
        via: 'sipmasq',
        expires: 300,
        callId: CALL_ID,
        baseCseq: 1,
      });
      assert.ok(reg.ok, describeRun(reg));
      assert.deepEqual(
        reg.messages.map((m) => m.status ?? m.method),
        ['REGISTER', 401, 'REGISTER', 200],
        'the 401 challenge reached the phone and its answer was accepted',
      );
      const challenge = reg.messages[1]!.text;
      assert.match(header(challenge, 'WWW-Authenticate') ?? '', /Digest realm="203\.0\.113\.10"/);

      const ok = reg.messages[3]!.text;
      assert.match(
        header(ok, 'Contact', 'm') ?? '',
        /<sip:alice@192\.168\.1\.10:5060>/,
        `the phone sees its own Contact\n${ok}`,
      );

      const contacts = await kamailio.contactsOf('alice');
      t.diagnostic(`provider location: ${JSON.stringify(contacts)}`);
      assert.equal(contacts.length, 1);
      assert.match(contacts[0]!.address, PUBLIC_CONTACT, 'Contact on 203.0.113.1');
      assert.ok(contacts[0]!.expires > 250 && contacts[0]!.expires <= 300, `expires ${contacts[0]!.expires}`);

      const status = await smq().status();
      t.diagnostic(`status registrations: ${JSON.stringify(status.registrations)}`);
      const mine = status.registrations.filter((r) => r.aor.includes('alice'));
      assert.equal(mine.length, 1, JSON.stringify(status.registrations));
      assert.match(mine[0]!.contact, /192\.168\.1\.10/);
      assert.ok(mine[0]!.token.length > 0);
      assert.ok(contacts[0]!.address.includes(mine[0]!.token), 'the public Contact carries the token');
      assert.ok(Date.parse(mine[0]!.expiresAt) > Date.now() + 200_000, mine[0]!.expiresAt);
      assert.equal(typeof status.store.kind, 'string');
    }));

  it('a refresh (same Call-ID, higher CSeq) keeps one binding with the new expiry', () =>
    guard(env(), async () => {
      const { lab, kamailio } = env();
      const before = await kamailio.contactsOf('alice');
      const reg = await register(lab, 'phone1', 'alice', {
        via: 'sipmasq',
        expires: 600,
        callId: CALL_ID,
        baseCseq: 10,
      });
      assert.ok(reg.ok, describeRun(reg));
      const after = await kamailio.contactsOf('alice');
      assert.equal(after.length, 1, JSON.stringify(after));
      assert.equal(after[0]!.address, before[0]!.address, 'same public Contact');
      assert.ok(after[0]!.expires > 550, `expires ${after[0]!.expires}`);
      const status = await smq().status();
      assert.equal(status.registrations.filter((r) => r.aor.includes('alice')).length, 1);
    }));

  it('a wrong password is refused by the provider and changes nothing', () =>
    guard(env(), async () => {
      const { lab, kamailio } = env();
      const before = await kamailio.contactsOf('alice');
      const reg = await register(lab, 'phone1', 'alice', {
        via: 'sipmasq',
        expires: 60,
        password: 'not-the-password',
        callId: CALL_ID,
        baseCseq: 20,
      });
      assert.ok(!reg.ok, 'sipp fails: the second REGISTER gets another 401');
      assert.deepEqual(
        reg.messages.filter((m) => m.status !== null).map((m) => m.status),
        [401, 401],
      );
      const after = await kamailio.contactsOf('alice');
      assert.deepEqual(
        after.map((c) => [c.address, c.cseq]),
        before.map((c) => [c.address, c.cseq]),
        'the binding is untouched',
      );
    }));

  it('un-REGISTER (Expires: 0) removes the binding at the provider and in sipmasq', () =>
    guard(env(), async () => {
      const { lab, kamailio } = env();
      const reg = await register(lab, 'phone1', 'alice', {
        via: 'sipmasq',
        expires: 0,
        callId: CALL_ID,
        baseCseq: 30,
      });
      assert.ok(reg.ok, describeRun(reg));
      assert.deepEqual(await kamailio.contactsOf('alice'), []);
      await waitUntil(
        'sipmasq to drop the registration',
        async () => !(await smq().status()).registrations.some((r) => r.aor.includes('alice')),
        3000,
        100,
      );
    }));
});
