/**
 * Calls from the internet to a phone's AOR through sipmasq: the provider's INVITE reaches the phone
 * behind the router, with two-way audio, ended by either side; and it still does after the lab sat
 * idle for longer than the router's 30 s UDP conntrack timeout (sipmasq must keep its WAN binding
 * alive: the firewall drops unsolicited input from the WAN).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertSignalling, assertTwoWayAudio, mediaCall, received, reportCounts } from './lib/calls.ts';
import { sleep } from './lib/exec.ts';
import { CONNTRACK_UDP_TIMEOUT, IP } from './lib/lab.ts';
import { aorUri, register, startRemoteUac } from './lib/parties.ts';
import { useSipmasq } from './lib/sipmasq.ts';
import { body, describeRun, sdpAudio } from './lib/sipp.ts';
import { labSkip } from './lib/tools.ts';
import { guard, useLab } from './lib/with-lab.ts';

describe('incoming calls to a phone behind the router', {
  skip: labSkip(['sipp', 'kamailio', 'kamcmd']),
}, () => {
  const env = useLab({ name: 'outbound-incoming' });
  useSipmasq(() => env().lab);

  it('registers alice from phone1', () =>
    guard(env(), async () => {
      const reg = await register(env().lab, 'phone1', 'alice', { via: 'sipmasq' });
      assert.ok(reg.ok, describeRun(reg));
    }));

  it('the remote calls the AOR: the phone rings and answers, two-way audio, the remote hangs up', (t) =>
    guard(env(), async () => {
      const { lab } = env();
      const spec = {
        caller: 'remote',
        callee: 'phone1',
        answer: { scenario: 'uas-answer.xml', user: 'alice' },
        dial: () => startRemoteUac(lab, aorUri('alice'), { scenario: 'uac-call.xml' }),
      } as const;
      const o = await mediaCall(lab, spec);
      reportCounts(t, o, spec);
      assertSignalling(o);
      assertTwoWayAudio(o, spec);
      const invite = received(o.callee, 'INVITE')[0]!;
      assert.match(
        invite.startLine,
        /^INVITE sip:alice@192\.168\.1\.10:5060/,
        "R-URI is the phone's own Contact",
      );
      assert.equal(
        sdpAudio(body(invite.text)).addr,
        IP.routerLan,
        'the phone is offered the relay on the LAN',
      );
    }));

  it('the phone hangs up an incoming call: BYE from the LAN side', (t) =>
    guard(env(), async () => {
      const { lab } = env();
      const spec = {
        caller: 'remote',
        callee: 'phone1',
        answer: { scenario: 'uas-answer-bye.xml', user: 'alice' },
        dial: () => startRemoteUac(lab, aorUri('alice'), { scenario: 'uac-call-wait-bye.xml' }),
      } as const;
      const o = await mediaCall(lab, spec);
      reportCounts(t, o, spec);
      assertSignalling(o);
      assertTwoWayAudio(o, spec);
      assert.equal(received(o.caller, 'BYE').length, 1);
    }));

  it(`after more than ${CONNTRACK_UDP_TIMEOUT} s idle, a call to the AOR still reaches the phone`, (t) =>
    guard(env(), async () => {
      const { lab, kamailio } = env();
      const before = await kamailio.contactsOf('alice');
      await sleep((CONNTRACK_UDP_TIMEOUT + 5) * 1000);
      const spec = {
        caller: 'remote',
        callee: 'phone1',
        answer: { scenario: 'uas-answer.xml', user: 'alice' },
        dial: () => startRemoteUac(lab, aorUri('alice'), { scenario: 'uac-call.xml' }),
      } as const;
      const o = await mediaCall(lab, spec);
      reportCounts(t, o, spec);
      assertSignalling(o);
      assertTwoWayAudio(o, spec);
      const after = await kamailio.contactsOf('alice');
      assert.deepEqual(
        after.map((c) => [c.address, c.callId, c.cseq]),
        before.map((c) => [c.address, c.callId, c.cseq]),
        'the phone did not register again',
      );
    }));
});
