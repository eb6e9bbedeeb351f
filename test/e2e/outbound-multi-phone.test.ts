/**
 * Several phones behind one router, all on local port 5060: two accounts on two phones are each
 * reachable (the call for bob rings phone2 only, the call for alice phone1 only), and one account on
 * two phones makes both ring when the provider forks; the one that answers gets the call, the other
 * is cancelled.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { User } from './lib/accounts.ts';
import {
  assertSignalling,
  assertTwoWayAudio,
  finalStatuses,
  mediaCall,
  received,
  reportCounts,
} from './lib/calls.ts';
import { IP, type PhoneKey } from './lib/lab.ts';
import { aorUri, register, startRemoteUac, startUas } from './lib/parties.ts';
import { sipRequests, UdpCapture } from './lib/rtp.ts';
import { useSipmasq } from './lib/sipmasq.ts';
import { describeRun } from './lib/sipp.ts';
import { labSkip } from './lib/tools.ts';
import { guard, useLab } from './lib/with-lab.ts';

const PUBLIC = IP.routerWan.replaceAll('.', '\\.');

describe('several phones behind one router', { skip: labSkip(['sipp', 'kamailio', 'kamcmd']) }, () => {
  const env = useLab({ name: 'outbound-multi-phone' });
  useSipmasq(() => env().lab);

  it('phone1 (alice) and phone2 (bob), both on port 5060, register with distinct public Contacts', () =>
    guard(env(), async () => {
      const { lab, kamailio } = env();
      for (const [phone, user] of [
        ['phone1', 'alice'],
        ['phone2', 'bob'],
      ] as const) {
        const reg = await register(lab, phone, user, { via: 'sipmasq' });
        assert.ok(reg.ok, describeRun(reg));
      }
      const alice = await kamailio.contactsOf('alice');
      const bob = await kamailio.contactsOf('bob');
      assert.equal(alice.length, 1);
      assert.equal(bob.length, 1);
      for (const c of [...alice, ...bob]) assert.match(c.address, new RegExp(`@${PUBLIC}(:\\d+)?([;>]|$)`));
      assert.notEqual(alice[0]!.address, bob[0]!.address, 'each phone has its own public Contact');
    }));

  for (const [phone, user, other] of [
    ['phone2', 'bob', 'phone1'],
    ['phone1', 'alice', 'phone2'],
  ] as const) {
    it(`a call to ${user} reaches ${phone} only, with two-way audio`, (t) =>
      guard(env(), async () => {
        const { lab } = env();
        const sipAtOther = await UdpCapture.start(lab, other, 'udp port 5060', `sip-${other}`);
        const spec = {
          caller: 'remote',
          callee: phone,
          answer: { scenario: 'uas-answer.xml', user },
          dial: () => startRemoteUac(lab, aorUri(user as User), { scenario: 'uac-call.xml' }),
        } as const;
        const o = await mediaCall(lab, spec);
        reportCounts(t, o, spec);
        assertSignalling(o);
        assertTwoWayAudio(o, spec);
        assert.match(received(o.callee, 'INVITE')[0]!.startLine, new RegExp(`^INVITE sip:${user}@`));
        assert.equal(sipRequests(await sipAtOther.stop(), 'INVITE').length, 0, `${other} did not ring`);
      }));
  }

  it('one account on two phones: the provider forks, both ring, the first to answer gets the call', (t) =>
    guard(env(), async () => {
      const { lab, kamailio } = env();
      for (const phone of ['phone1', 'phone3'] as PhoneKey[]) {
        const reg = await register(lab, phone, 'carol', { via: 'sipmasq' });
        assert.ok(reg.ok, describeRun(reg));
      }
      const carol = await kamailio.contactsOf('carol');
      t.diagnostic(`carol at the provider: ${carol.map((c) => c.address).join(', ')}`);
      assert.equal(carol.length, 2, 'two bindings for one AOR');
      assert.notEqual(carol[0]!.address, carol[1]!.address);

      // phone3 only rings; phone1 answers after 300 ms and gets the audio.
      const ringer = await startUas(lab, 'phone3', { scenario: 'uas-ring.xml', user: 'carol' });
      const spec = {
        caller: 'remote',
        callee: 'phone1',
        answer: { scenario: 'uas-answer.xml', user: 'carol' },
        dial: () => startRemoteUac(lab, aorUri('carol'), { scenario: 'uac-call.xml' }),
      } as const;
      const o = await mediaCall(lab, spec);
      const rang = await ringer.result();
      reportCounts(t, o, spec);
      assertSignalling(o);
      assertTwoWayAudio(o, spec);
      assert.equal(received(rang, 'INVITE').length, 1, `phone3 rang too\n${describeRun(rang)}`);
      assert.equal(
        received(rang, 'CANCEL').length,
        1,
        `phone3 was cancelled when phone1 answered\n${describeRun(rang)}`,
      );
      assert.ok(rang.ok, describeRun(rang));
      assert.ok(finalStatuses(o.caller).includes(200));
    }));
});
