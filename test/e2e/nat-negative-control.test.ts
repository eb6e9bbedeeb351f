/**
 * Negative control: without sipmasq, a phone behind the router's NAT registers straight to the
 * provider. The provider (no NAT help) stores the phone's private Contact, and SIP through a plain
 * NAT fails exactly the way it does in the field:
 *   (a) a call to the phone's AOR never reaches the phone; the caller gets an error;
 *   (b) a call from the phone has one-way audio: the remote hears the phone, the phone hears nothing,
 *       because the remote sends its RTP to 192.168.1.x.
 * If these ever pass as "working", the lab no longer reproduces the problem sipmasq solves.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DOMAIN } from './lib/accounts.ts';
import { CONNTRACK_UDP_TIMEOUT, IP, udpReaches } from './lib/lab.ts';
import {
  aorUri,
  MEDIA_PORT,
  REMOTE_URI,
  register,
  startPhoneUac,
  startRemoteUac,
  startUas,
} from './lib/parties.ts';
import { formatCounts, RtpCapture, sipRequests, UdpCapture } from './lib/rtp.ts';
import { body, describeRun, sdpAudio } from './lib/sipp.ts';
import { labSkip } from './lib/tools.ts';
import { AUDIO_PACKETS, guard, useLab } from './lib/with-lab.ts';

describe('negative control: a phone behind plain NAT, no sipmasq', {
  skip: labSkip(['sipp', 'kamailio', 'kamcmd']),
}, () => {
  const env = useLab({ name: 'negative-control' });

  it('the provider stores the private Contact of a phone registering through NAT', () =>
    guard(env(), async () => {
      const { lab, kamailio } = env();
      const reg = await register(lab, 'phone1', 'alice', { via: 'direct', expires: 300 });
      assert.ok(reg.ok, describeRun(reg));
      assert.deepEqual(
        reg.messages.map((m) => m.status ?? m.method),
        ['REGISTER', 401, 'REGISTER', 200],
        'digest challenge answered',
      );
      const contacts = await kamailio.contactsOf('alice');
      assert.equal(contacts.length, 1, JSON.stringify(contacts));
      assert.equal(contacts[0]!.address, `sip:alice@${IP.phone1}:5060`, 'private Contact stored as sent');
      assert.equal(contacts[0]!.received, null, 'no NAT handling at the provider');
    }));

  it('the router masquerades with the chosen firewall backend, 30 s UDP timeouts and no SIP helper', () =>
    guard(env(), async () => {
      const { lab } = env();
      const rules = await lab.firewallDump();
      assert.match(rules, lab.firewall === 'nftables' ? /masquerade/ : /-j MASQUERADE/);
      const timeouts = await lab.exec('router', 'sysctl', [
        '-n',
        'net.netfilter.nf_conntrack_udp_timeout',
        'net.netfilter.nf_conntrack_udp_timeout_stream',
      ]);
      assert.deepEqual(timeouts.stdout.trim().split(/\s+/), [
        String(CONNTRACK_UDP_TIMEOUT),
        String(CONNTRACK_UDP_TIMEOUT),
      ]);
      const ct = await lab.conntrack(['-L', '-p', 'udp', '--orig-port-dst', '5060']);
      assert.match(
        ct,
        new RegExp(`src=${IP.phone1.replaceAll('.', '\\.')} dst=${IP.provider.replaceAll('.', '\\.')}`),
        ct,
      );
      assert.doesNotMatch(ct, /helper=/, 'no conntrack helper on SIP');
      assert.ok(await udpReaches(lab, 'phone1', 'router', IP.routerLan, 39999), 'LAN -> router accepted');
      assert.ok(
        !(await udpReaches(lab, 'remote', 'router', IP.routerWan, 39999)),
        'unsolicited WAN -> router dropped',
      );
      assert.ok(
        !(await udpReaches(lab, 'remote', 'phone1', IP.phone1, 39999)),
        'unsolicited WAN -> LAN dropped',
      );
      assert.ok(await udpReaches(lab, 'phone1', 'remote', IP.remote, 39999), 'LAN -> WAN forwarded');
    }));

  it('(a) a call to the AOR never reaches the phone and the caller gets an error', (t) =>
    guard(env(), async () => {
      const { lab, kamailio } = env();
      await kamailio.waitContacts('alice', (cs) => cs.length === 1);
      const sipAtPhone = await UdpCapture.start(lab, 'phone1', 'udp port 5060', 'sip-phone1');
      const phone = await startUas(lab, 'phone1', {
        scenario: 'uas-answer.xml',
        user: 'alice',
        timeoutS: 20,
      });
      const caller = await startRemoteUac(lab, aorUri('alice'), {
        scenario: 'uac-call.xml',
        timeoutS: 20,
      }).result();

      const received = caller.messages.filter((m) => m.direction === 'received' && m.status !== null);
      const finals = received.filter((m) => m.status! >= 200);
      t.diagnostic(`caller got: ${received.map((m) => m.startLine).join(', ')}`);
      assert.ok(!caller.ok, `the call must fail\n${describeRun(caller)}`);
      assert.ok(
        finals.length > 0 && finals.every((m) => m.status! >= 400),
        `caller gets an error response\n${describeRun(caller)}`,
      );
      assert.ok(!received.some((m) => m.status === 180 || m.status === 200), 'no ringing, no answer');

      await phone.stop();
      const atPhone = await sipAtPhone.stop();
      assert.equal(sipRequests(atPhone, 'INVITE').length, 0, 'no INVITE reached the phone');
      const phoneRun = await phone.result();
      assert.equal(phoneRun.messages.length, 0, `phone saw no SIP:\n${describeRun(phoneRun)}`);
    }));

  it('(b) a call from the phone has one-way audio: remote hears the phone, the phone hears nothing', (t) =>
    guard(env(), async () => {
      const { lab } = env();
      const capPhone = await RtpCapture.start(lab, 'phone1', IP.phone1, MEDIA_PORT);
      const capRemote = await RtpCapture.start(lab, 'remote', IP.remote, MEDIA_PORT);
      const remote = await startUas(lab, 'remote', { scenario: 'uas-answer.xml', user: 'remote' });
      const call = await startPhoneUac(lab, 'phone1', 'alice', 'direct', REMOTE_URI, {
        scenario: 'uac-call.xml',
      }).result();
      const answered = await remote.result();
      assert.ok(call.ok, `signalling works through NAT for an outgoing call\n${describeRun(call)}`);
      assert.ok(answered.ok, describeRun(answered));

      const invite = answered.messages.find((m) => m.direction === 'received' && m.method === 'INVITE');
      assert.ok(invite, 'remote got the INVITE');
      const offer = sdpAudio(body(invite.text));
      assert.equal(offer.addr, IP.phone1, 'the offer carries the private address');
      assert.match(invite.text, new RegExp(`^From: .*${DOMAIN}`, 'm'));

      const phone = await capPhone.stop();
      const far = await capRemote.stop();
      const detail = `${formatCounts('phone1', phone)}\n${formatCounts('remote', far)}`;
      for (const line of detail.split('\n')) t.diagnostic(line);
      assert.ok(phone.sent >= AUDIO_PACKETS * 0.95, `phone sent its audio\n${detail}`);
      assert.ok(far.sent >= AUDIO_PACKETS * 0.95, `remote sent its audio\n${detail}`);
      assert.ok(far.received >= phone.sent * 0.95, `remote hears the phone (>= 95 %)\n${detail}`);
      assert.ok(
        far.sentTo.every((d) => d.startsWith(`${IP.phone1}:`)),
        `remote sends to the private address\n${detail}`,
      );
      assert.equal(phone.received, 0, `the phone hears nothing\n${detail}`);
    }));
});
