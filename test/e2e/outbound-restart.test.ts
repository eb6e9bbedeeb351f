/**
 * sipmasq restarts while phones are registered: after a clean stop (SIGTERM) and after a crash
 * (kill -9) the new process restores the registrations from its store, and a call to a phone's AOR
 * reaches the phone at once, without the phone registering again.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { User } from './lib/accounts.ts';
import { assertSignalling, assertTwoWayAudio, mediaCall, reportCounts } from './lib/calls.ts';
import { sleep } from './lib/exec.ts';
import type { PhoneKey } from './lib/lab.ts';
import { aorUri, register, startRemoteUac } from './lib/parties.ts';
import { useSipmasq } from './lib/sipmasq.ts';
import { describeRun } from './lib/sipp.ts';
import { labSkip } from './lib/tools.ts';
import { guard, type LabEnv, useLab } from './lib/with-lab.ts';

async function bindings(env: LabEnv): Promise<string> {
  const all = await env.kamailio.contacts();
  return JSON.stringify(all.map((c) => [c.aor, c.address, c.callId, c.cseq]).sort());
}

describe('sipmasq restart with registered phones', { skip: labSkip(['sipp', 'kamailio', 'kamcmd']) }, () => {
  const env = useLab({ name: 'outbound-restart' });
  const smq = useSipmasq(() => env().lab, { storeFlushInterval: 1 });
  let registered = '';

  it('registers alice (phone1) and bob (phone2), and lets the store flush', () =>
    guard(env(), async () => {
      const { lab } = env();
      for (const [phone, user] of [
        ['phone1', 'alice'],
        ['phone2', 'bob'],
      ] as const) {
        const reg = await register(lab, phone, user, { via: 'sipmasq', expires: 600 });
        assert.ok(reg.ok, describeRun(reg));
      }
      registered = await bindings(env());
      await sleep(2500); // storeFlushInterval is 1 s
    }));

  for (const [how, phone, user] of [
    ['SIGTERM', 'phone1', 'alice'],
    ['kill -9', 'phone2', 'bob'],
  ] as const) {
    it(`after ${how} and a new start, a call to ${user} reaches ${phone} at once`, (t) =>
      guard(env(), async () => {
        const { lab } = env();
        if (how === 'SIGTERM') assert.equal(await smq().stop(), 0, 'clean exit on SIGTERM');
        else await smq().kill();
        const t0 = Date.now();
        await smq().start();
        t.diagnostic(`restarted in ${Date.now() - t0} ms`);

        const status = await smq().status();
        t.diagnostic(`store ${JSON.stringify(status.store)}; registrations ${status.registrations.length}`);
        for (const u of ['alice', 'bob'])
          assert.ok(
            status.registrations.some((r) => r.aor.includes(u)),
            `${u} restored: ${JSON.stringify(status.registrations)}`,
          );

        const spec = {
          caller: 'remote',
          callee: phone as PhoneKey,
          answer: { scenario: 'uas-answer.xml', user },
          dial: () => startRemoteUac(lab, aorUri(user as User), { scenario: 'uac-call.xml' }),
        } as const;
        const o = await mediaCall(lab, spec);
        reportCounts(t, o, spec);
        assertSignalling(o);
        assertTwoWayAudio(o, spec);
        assert.equal(await bindings(env()), registered, 'no phone registered again');
      }));
  }
});
