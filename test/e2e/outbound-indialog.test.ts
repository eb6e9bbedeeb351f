/**
 * In-dialog requests through sipmasq, in both directions: re-INVITE hold (a=sendonly) and resume,
 * UPDATE with SDP, INFO, OPTIONS and MESSAGE inside the dialog, then BYE, with the audio still
 * flowing both ways. The re-offers keep the relay's address and port, and keep the direction
 * attribute.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  assertSignalling,
  assertTwoWayAudio,
  type CallOutcome,
  mediaCall,
  received,
  reportCounts,
} from './lib/calls.ts';
import { IP } from './lib/lab.ts';
import { aorUri, REMOTE_URI, register, startPhoneUac, startRemoteUac } from './lib/parties.ts';
import { useSipmasq } from './lib/sipmasq.ts';
import { body, describeRun, type SippResult, sdpAudio } from './lib/sipp.ts';
import { labSkip } from './lib/tools.ts';
import { guard, useLab } from './lib/with-lab.ts';

const METHODS = ['INVITE', 'INVITE', 'INVITE', 'UPDATE', 'INFO', 'OPTIONS', 'MESSAGE', 'BYE'];

/** The offers the answering side received, in order (initial INVITE, hold, resume, UPDATE). */
function offers(r: SippResult) {
  return r.messages
    .filter(
      (m) =>
        m.direction === 'received' && (m.method === 'INVITE' || m.method === 'UPDATE') && m.status === null,
    )
    .map((m) => sdpAudio(body(m.text)));
}

function checkDialog(o: CallOutcome, expectAddr: string): void {
  assertSignalling(o);
  const requests = o.callee.messages.filter(
    (m) => m.direction === 'received' && m.status === null && m.method !== 'ACK',
  );
  assert.deepEqual(
    requests.map((m) => m.method),
    METHODS,
    `every in-dialog request arrived in order\n${describeRun(o.callee)}`,
  );
  const [initial, hold, resume, update] = offers(o.callee);
  assert.ok(initial && hold && resume && update, describeRun(o.callee));
  assert.equal(initial.addr, expectAddr);
  assert.equal(hold.direction, 'sendonly', 'hold offer keeps a=sendonly');
  assert.equal(resume.direction, 'sendrecv');
  for (const re of [hold, resume, update]) {
    assert.equal(re.addr, initial.addr, 're-offers keep the relay address');
    assert.equal(re.port, initial.port, 're-offers keep the relay port');
  }
  // the hold answer came back as recvonly
  const holdAnswer = o.caller.messages.filter(
    (m) => m.direction === 'received' && m.status === 200 && m.method === 'INVITE',
  )[1];
  assert.ok(holdAnswer, describeRun(o.caller));
  assert.equal(sdpAudio(body(holdAnswer.text)).direction, 'recvonly');
  assert.equal(received(o.callee, 'MESSAGE').length, 1);
}

describe('in-dialog requests through sipmasq', { skip: labSkip(['sipp', 'kamailio', 'kamcmd']) }, () => {
  const env = useLab({ name: 'outbound-indialog' });
  useSipmasq(() => env().lab);

  it('registers alice from phone1', () =>
    guard(env(), async () => {
      const reg = await register(env().lab, 'phone1', 'alice', { via: 'sipmasq' });
      assert.ok(reg.ok, describeRun(reg));
    }));

  it('phone -> remote: hold/resume re-INVITEs, UPDATE, INFO, OPTIONS, MESSAGE, BYE from the phone', (t) =>
    guard(env(), async () => {
      const { lab } = env();
      const spec = {
        caller: 'phone1',
        callee: 'remote',
        answer: { scenario: 'uas-indialog.xml', user: 'remote' },
        dial: () =>
          startPhoneUac(lab, 'phone1', 'alice', 'sipmasq', REMOTE_URI, {
            scenario: 'uac-indialog.xml',
            holdMs: 3500,
          }),
      } as const;
      const o = await mediaCall(lab, spec);
      reportCounts(t, o, spec);
      checkDialog(o, IP.routerWan);
      assertTwoWayAudio(o, spec);
    }));

  it('remote -> phone: the same dialog driven from the WAN side, BYE from the remote', (t) =>
    guard(env(), async () => {
      const { lab } = env();
      const spec = {
        caller: 'remote',
        callee: 'phone1',
        answer: { scenario: 'uas-indialog.xml', user: 'alice' },
        dial: () => startRemoteUac(lab, aorUri('alice'), { scenario: 'uac-indialog.xml', holdMs: 3500 }),
      } as const;
      const o = await mediaCall(lab, spec);
      reportCounts(t, o, spec);
      checkDialog(o, IP.routerLan);
      assertTwoWayAudio(o, spec);
    }));
});
