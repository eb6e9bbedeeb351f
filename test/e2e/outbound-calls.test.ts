/**
 * A phone behind the router calls the remote party through sipmasq (outbound proxy 192.168.1.1):
 * answered calls with two-way audio (>= 95 % each way) ended by BYE from either side, a CANCEL
 * before answer, the callee's 486 and 603, the provider's 408, MESSAGE and OPTIONS outside a dialog,
 * and `sipmasq status --json` showing the call with per-direction counters while it is up.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DOMAIN } from './lib/accounts.ts';
import {
  assertSignalling,
  assertTwoWayAudio,
  finalStatuses,
  mediaCall,
  received,
  reportCounts,
} from './lib/calls.ts';
import { waitUntil } from './lib/exec.ts';
import { IP } from './lib/lab.ts';
import { aorUri, REMOTE_URI, register, startPhoneUac, startRemoteUac, startUas } from './lib/parties.ts';
import { type Status, useSipmasq } from './lib/sipmasq.ts';
import { body, describeRun, header, sdpAudio } from './lib/sipp.ts';
import { labSkip } from './lib/tools.ts';
import { guard, useLab } from './lib/with-lab.ts';

const PUBLIC = IP.routerWan.replaceAll('.', '\\.');

describe('outbound calls from a phone through sipmasq', {
  skip: labSkip(['sipp', 'kamailio', 'kamcmd']),
}, () => {
  // A short INVITE timer keeps the 408 case quick.
  const env = useLab({ name: 'outbound-calls', kamailio: { frInvTimer: 6000 } });
  const smq = useSipmasq(() => env().lab);

  it('registers alice from phone1 through sipmasq', () =>
    guard(env(), async () => {
      const reg = await register(env().lab, 'phone1', 'alice', { via: 'sipmasq' });
      assert.ok(reg.ok, describeRun(reg));
    }));

  it('answered call: two-way audio >= 95 %, the phone hangs up, status shows the call and its counters', (t) =>
    guard(env(), async () => {
      const { lab } = env();
      let during: Status | undefined;
      const spec = {
        caller: 'phone1',
        callee: 'remote',
        answer: { scenario: 'uas-answer.xml', user: 'remote' },
        dial: () =>
          startPhoneUac(lab, 'phone1', 'alice', 'sipmasq', REMOTE_URI, { scenario: 'uac-call.xml' }),
        whileUp: async () => {
          during = await waitUntil(
            'status to show the call with packets both ways',
            async () => {
              const s = await smq().status();
              const st = s.calls[0]?.streams[0];
              return st && st.lanToWan.packets > 10 && st.wanToLan.packets > 10 ? s : undefined;
            },
            4000,
            200,
          );
        },
      } as const;
      const o = await mediaCall(lab, spec);
      reportCounts(t, o, spec);
      assertSignalling(o);
      assertTwoWayAudio(o, spec);

      // What the remote saw: the router's public address in the SDP, the phone nowhere.
      const invite = received(o.callee, 'INVITE')[0];
      assert.ok(invite, describeRun(o.callee));
      const offer = sdpAudio(body(invite.text));
      assert.equal(offer.addr, IP.routerWan, `offer c= must be the public address\n${invite.text}`);
      assert.doesNotMatch(body(invite.text), /^c=.*192\.168\./m, 'no private media address leaks to the WAN');
      assert.match(header(invite.text, 'Contact', 'm') ?? '', new RegExp(`@${PUBLIC}(:5060)?[;>]`));
      assert.ok(
        o.rtp.callee.receivedFrom.every((p) => p.startsWith(`${IP.routerWan}:`)),
        'remote gets RTP from the router',
      );
      assert.ok(
        o.rtp.caller.receivedFrom.every((p) => p.startsWith(`${IP.routerLan}:`)),
        'phone gets RTP from the router',
      );

      // status --json while the call was up
      assert.ok(during, 'status was read during the call');
      const callId = header(invite.text, 'Call-ID', 'i');
      assert.equal(during.calls.length, 1, JSON.stringify(during.calls));
      const call = during.calls[0]!;
      assert.equal(call.callId, callId);
      const stream = call.streams[0]!;
      t.diagnostic(`status stream: ${JSON.stringify(stream)}`);
      assert.equal(stream.path, 'relay');
      assert.match(stream.lanLocal, new RegExp(`^${IP.routerLan.replaceAll('.', '\\.')}:\\d+$`));
      assert.match(stream.wanLocal, new RegExp(`^${PUBLIC}:\\d+$`));
      assert.equal(`${IP.routerWan}:${offer.port}`, stream.wanLocal, 'the SDP port is the relay port');
      for (const dir of [stream.lanToWan, stream.wanToLan]) {
        assert.ok(dir.packets > 0 && dir.bytes >= dir.packets * 172, JSON.stringify(dir));
        assert.equal(typeof dir.dropped, 'number');
      }
      assert.ok(
        during.registrations.some((r) => r.aor.includes('alice')),
        'registration listed in status',
      );
      // and the call is gone once it ended
      await waitUntil(
        'the call to leave status',
        async () => (await smq().status()).calls.length === 0,
        5000,
        200,
      );
    }));

  it('answered call ended by the remote party: BYE from the WAN side, two-way audio', (t) =>
    guard(env(), async () => {
      const { lab } = env();
      const spec = {
        caller: 'phone1',
        callee: 'remote',
        answer: { scenario: 'uas-answer-bye.xml', user: 'remote' },
        dial: () =>
          startPhoneUac(lab, 'phone1', 'alice', 'sipmasq', REMOTE_URI, { scenario: 'uac-call-wait-bye.xml' }),
      } as const;
      const o = await mediaCall(lab, spec);
      reportCounts(t, o, spec);
      assertSignalling(o);
      assertTwoWayAudio(o, spec);
      assert.equal(received(o.caller, 'BYE').length >= 1, true, 'the phone got the BYE');
      await waitUntil(
        'the call to leave status',
        async () => (await smq().status()).calls.length === 0,
        5000,
        200,
      );
    }));

  it('CANCEL before answer: the remote stops ringing, the phone gets 487', () =>
    guard(env(), async () => {
      const { lab } = env();
      const remote = await startUas(lab, 'remote', { scenario: 'uas-ring.xml', user: 'remote' });
      const caller = await startPhoneUac(lab, 'phone1', 'alice', 'sipmasq', REMOTE_URI, {
        scenario: 'uac-cancel.xml',
      }).result();
      const callee = await remote.result();
      assert.ok(caller.ok, describeRun(caller));
      assert.ok(callee.ok, describeRun(callee));
      assert.equal(received(callee, 'CANCEL').length, 1, 'the CANCEL reached the remote');
      assert.deepEqual(finalStatuses(caller), [407, 200, 487]);
      await waitUntil(
        'no call left in status',
        async () => (await smq().status()).calls.length === 0,
        5000,
        200,
      );
    }));

  for (const [scenario, code] of [
    ['uas-busy.xml', 486],
    ['uas-decline.xml', 603],
  ] as const) {
    it(`the remote declines with ${code}: the phone gets ${code} and ACKs it`, () =>
      guard(env(), async () => {
        const { lab } = env();
        const remote = await startUas(lab, 'remote', { scenario, user: 'remote' });
        const caller = await startPhoneUac(lab, 'phone1', 'alice', 'sipmasq', REMOTE_URI, {
          scenario: 'uac-reject.xml',
        }).result();
        const callee = await remote.result();
        assert.ok(caller.ok, describeRun(caller));
        assert.ok(callee.ok, `the remote got its ACK\n${describeRun(callee)}`);
        assert.deepEqual(finalStatuses(caller), [407, code]);
        await waitUntil(
          'no call left in status',
          async () => (await smq().status()).calls.length === 0,
          5000,
          200,
        );
      }));
  }

  it('nobody answers: the provider times the INVITE out, the phone gets 408', () =>
    guard(env(), async () => {
      const { lab } = env();
      const remote = await startUas(lab, 'remote', { scenario: 'uas-ring.xml', user: 'remote' });
      const caller = await startPhoneUac(lab, 'phone1', 'alice', 'sipmasq', REMOTE_URI, {
        scenario: 'uac-reject.xml',
      }).result();
      const callee = await remote.result();
      assert.ok(caller.ok, describeRun(caller));
      assert.deepEqual(finalStatuses(caller), [407, 408]);
      assert.ok(callee.ok, `the provider cancelled the ringing branch\n${describeRun(callee)}`);
      await waitUntil(
        'no call left in status',
        async () => (await smq().status()).calls.length === 0,
        5000,
        200,
      );
    }));

  for (const method of ['MESSAGE', 'OPTIONS'] as const) {
    it(`${method} outside a dialog, phone -> remote (407 answered) and remote -> phone's AOR`, () =>
      guard(env(), async () => {
        const { lab } = env();
        const scenario = method === 'MESSAGE' ? 'uac-message.xml' : 'uac-options.xml';
        const remote = await startUas(lab, 'remote', { scenario: 'uas-request.xml', user: 'remote' });
        const out = await startPhoneUac(lab, 'phone1', 'alice', 'sipmasq', REMOTE_URI, { scenario }).result();
        const atRemote = await remote.result();
        assert.ok(out.ok, describeRun(out));
        assert.ok(atRemote.ok, describeRun(atRemote));
        assert.deepEqual(finalStatuses(out), [407, 200]);
        const req = received(atRemote, method)[0]!;
        assert.doesNotMatch(
          header(req.text, 'Contact', 'm') ?? '',
          /192\.168\./,
          `no private Contact:\n${req.text}`,
        );

        const phone = await startUas(lab, 'phone1', { scenario: 'uas-request.xml', user: 'alice' });
        const inbound = await startRemoteUac(lab, aorUri('alice'), { scenario }).result();
        const atPhone = await phone.result();
        assert.ok(inbound.ok, describeRun(inbound));
        assert.ok(atPhone.ok, describeRun(atPhone));
        assert.deepEqual(finalStatuses(inbound), [200]);
        assert.match(received(atPhone, method)[0]!.startLine, new RegExp(`^${method} sip:alice@`));
        assert.match(received(atPhone, method)[0]!.text, new RegExp(`^To: <${aorUri('alice')}>`, 'm'));
        assert.ok(DOMAIN);
      }));
  }
});
