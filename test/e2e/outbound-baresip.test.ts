/**
 * End to end with a real softphone: baresip on phone1 (alice, outbound proxy sipmasq, auto-answer,
 * audio from a WAV file) and baresip as the remote party (auto-answer, no registration, the provider
 * as its outbound proxy). Calls both ways with two-way audio counted at both ends.
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { ACCOUNTS, DOMAIN } from './lib/accounts.ts';
import { BARESIP_RTP_MAX, BARESIP_RTP_MIN, Baresip } from './lib/baresip.ts';
import { sleep } from './lib/exec.ts';
import { IP } from './lib/lab.ts';
import { deliveryRatio, formatCounts, RtpCapture } from './lib/rtp.ts';
import { useSipmasq } from './lib/sipmasq.ts';
import { labSkip } from './lib/tools.ts';
import { guard, useLab } from './lib/with-lab.ts';

const TALK_MS = 4000;
const MIN_PACKETS = (TALK_MS / 20) * 0.8;

describe('baresip softphones end to end through sipmasq', {
  skip: labSkip(['kamailio', 'kamcmd', 'baresip']),
}, () => {
  const env = useLab({ name: 'outbound-baresip' });
  useSipmasq(() => env().lab);
  let phone: Baresip | undefined;
  let remote: Baresip | undefined;

  async function talk(t: TestContext, caller: Baresip, callee: Baresip, uri: string): Promise<void> {
    const { lab } = env();
    const capPhone = await RtpCapture.start(lab, 'phone1', IP.phone1, BARESIP_RTP_MIN, BARESIP_RTP_MAX);
    const capRemote = await RtpCapture.start(lab, 'remote', IP.remote, BARESIP_RTP_MIN, BARESIP_RTP_MAX);
    const fromCaller = caller.mark();
    const fromCallee = callee.mark();
    await caller.command(`/dial ${uri}`);
    await caller.waitFor(/Call established/, 10_000, fromCaller);
    await callee.waitFor(/Call established/, 5000, fromCallee);
    await sleep(TALK_MS);
    await caller.command('/hangup');
    await caller.waitFor(/terminated/, 5000, fromCaller);
    await callee.waitFor(/terminated|session closed/, 5000, fromCallee);
    const p = await capPhone.stop();
    const r = await capRemote.stop();
    const detail = `${formatCounts('phone1 (baresip)', p)}\n${formatCounts('remote (baresip)', r)}`;
    for (const line of detail.split('\n')) t.diagnostic(line);
    assert.ok(p.sent >= MIN_PACKETS && r.sent >= MIN_PACKETS, `both sides sent audio\n${detail}`);
    assert.ok(deliveryRatio(p.sent, r.received) >= 0.95, `phone -> remote >= 95 %\n${detail}`);
    assert.ok(deliveryRatio(r.sent, p.received) >= 0.95, `remote -> phone >= 95 %\n${detail}`);
    assert.ok(
      p.receivedFrom.every((a) => a.startsWith(`${IP.routerLan}:`)),
      detail,
    );
    assert.ok(
      r.receivedFrom.every((a) => a.startsWith(`${IP.routerWan}:`)),
      detail,
    );
  }

  it('starts baresip on phone1 (registers as alice through sipmasq) and on the remote', () =>
    guard(env(), async () => {
      const { lab, kamailio } = env();
      phone = await Baresip.start(lab, {
        ns: 'phone1',
        name: 'alice',
        sipListen: `${IP.phone1}:5060`,
        aor: `sip:alice@${DOMAIN}`,
        authUser: 'alice',
        authPass: ACCOUNTS.alice,
        outbound: `sip:${IP.routerLan};lr`,
        regint: 300,
      });
      remote = await Baresip.start(lab, {
        ns: 'remote',
        name: 'remote',
        sipListen: `${IP.remote}:5060`,
        aor: `sip:remote@${IP.remote}`,
        outbound: `sip:${IP.provider};lr`,
        regint: 0,
      });
      await phone.waitFor(/200 OK .*\[1 binding\]/, 10_000);
      const contacts = await kamailio.contactsOf('alice');
      assert.equal(contacts.length, 1);
      assert.match(contacts[0]!.address, /@203\.0\.113\.1(:5060)?([;>]|$)/);
    }));

  it('baresip on the phone calls the remote baresip: auto-answer, two-way audio >= 95 %', (t) =>
    guard(env(), async () => {
      assert.ok(phone && remote, 'baresip running');
      await talk(t, phone, remote, `sip:remote@${DOMAIN}`);
    }));

  it("the remote baresip calls alice's AOR: the phone auto-answers, two-way audio >= 95 %", (t) =>
    guard(env(), async () => {
      assert.ok(phone && remote, 'baresip running');
      await talk(t, remote, phone, `sip:alice@${DOMAIN}`);
    }));
});
