/**
 * Issue 3 end to end: the kernel media path (DESIGN §3.2), once per router firewall (nftables shaped
 * like fw4, iptables like fw3), with sipmasq on `mediaPath: 'auto'` and `firewall: 'auto'`:
 *   - sipmasq detects the router's backend and opens only its SIP port on the WAN;
 *   - a call phone -> remote is forwarded by NAT rules alone: two-way audio, every stream `kernel` in
 *     status with moving counters, and no media datagram delivered to any socket in the router
 *     (the namespace's UDP InDatagrams counter barely moves while 800 RTP packets cross it); the
 *     far side's audio is counted also when the phone's packet opened the conntrack flow;
 *   - after BYE no per-call rule is left, only sipmasq's chains, hooks and SIP opening;
 *   - a firewall reload mid-call (the lab's ruleset applied again, which wipes sipmasq's chains) is
 *     repaired by the watchdog, and the audio goes on, even once conntrack has forgotten the flow;
 *   - kill -9 mid-call: the audio keeps flowing; the next start removes the leftover rules (calls are
 *     not persisted) and the old mapping stops forwarding;
 *   - SIGTERM removes every trace of sipmasq from the firewall.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertSignalling, assertTwoWayAudio, mediaCall, reportCounts } from './lib/calls.ts';
import { sleep, waitUntil } from './lib/exec.ts';
import type { FirewallBackend } from './lib/firewall.ts';
import { IP, type Lab } from './lib/lab.ts';
import { MEDIA_PORT, REMOTE_URI, register, startPhoneUac } from './lib/parties.ts';
import {
  audioPackets,
  conntrackUdp,
  deleteConntrack,
  type MediaStatus,
  mediaStatus,
  onlyStream,
  origTuple,
  perCallComments,
  portOf,
  ruleCounter,
  rulesetDump,
  sessionComments,
  sipmasqTraces,
  smqComments,
  type UdpSocket,
  udpCounters,
  udpSocketsOf,
  waitStatus,
  withAudioSeconds,
} from './lib/router-state.ts';
import { UdpCapture, type UdpPacket } from './lib/rtp.ts';
import { arrivals, countBetween, largestGap, nowS } from './lib/rtp-timing.ts';
import { type Sipmasq, useSipmasq } from './lib/sipmasq.ts';
import { describeRun } from './lib/sipp.ts';
import { labSkip } from './lib/tools.ts';
import { guard, useLab } from './lib/with-lab.ts';

const BACKENDS: readonly FirewallBackend[] = ['nftables', 'iptables'];
const ROLES = ['input', 'forward', 'dstnat', 'srcnat'] as const;
const SIP_OPENING = 'smq:@sip:udp:5060';
/** The far side's media endpoint as the phone is told it on the kernel path. */
const REMOTE_MEDIA = `${IP.remote}:${MEDIA_PORT}`;
/** Seconds of audio for the calls that outlast a crash or a firewall reload. */
const LONG_AUDIO_S = 10;
/** Seconds of audio of the plain kernel-path call (long enough to look at it twice). */
const KERNEL_CALL_AUDIO_S = 8;

/** A phone1 -> remote call (alice's account), the phone hanging up after `holdMs`. */
function phoneToRemote(lab: Lab, holdMs?: number, whileUp?: () => Promise<void>) {
  return {
    caller: 'phone1',
    callee: 'remote',
    answer: { scenario: 'uas-answer.xml', user: 'remote' },
    dial: () =>
      startPhoneUac(lab, 'phone1', 'alice', 'sipmasq', REMOTE_URI, {
        scenario: 'uac-call.xml',
        ...(holdMs ? { holdMs } : {}),
      }),
    ...(whileUp ? { whileUp } : {}),
  } as const;
}

/** Captures of both ends' media port, read back for arrival times. */
async function timedCaptures(lab: Lab): Promise<{ stop: () => Promise<[UdpPacket[], UdpPacket[]]> }> {
  const filter = `udp and port ${MEDIA_PORT}`;
  const phone = await UdpCapture.start(lab, 'phone1', filter, 'times-phone1');
  const remote = await UdpCapture.start(lab, 'remote', filter, 'times-remote');
  return { stop: async () => [await phone.stop(), await remote.stop()] };
}

/** The kernel stream of the only call once its counters moved both ways (watchdog reads them every 2 s). */
function kernelStreamFlowing(smq: Sipmasq, min = 1): Promise<MediaStatus> {
  return waitStatus(
    smq,
    `a kernel stream with >= ${min} packets counted each way`,
    (s) => {
      const st = onlyStream(s);
      return st?.path === 'kernel' && st.lanToWan.packets >= min && st.wanToLan.packets >= min
        ? s
        : undefined;
    },
    6000,
  );
}

/**
 * Make the phone's packet open the call's conntrack flow (the far side's packets then arrive as its
 * replies, with the SNAT status rather than DNAT): hold the remote's RTP back on the "internet" bridge
 * for a moment (a bridge-family drop in the inet namespace), forget the flow, let the phone's next
 * packet through, then let the remote's go. Returns the opener and what the in-rtp rule (the kernel
 * path's far-side counter) counted in the following second.
 */
async function phoneOpensTheFlow(lab: Lab): Promise<{ opener: string; inRtp: number }> {
  const table = 'smqe2e_hold';
  await lab.exec('inet', 'nft', ['-f', '-'], {
    input: `table bridge ${table} {\n  chain hold {\n    type filter hook forward priority 0; policy accept;\n    ip saddr ${IP.remote} udp sport ${MEDIA_PORT} drop\n  }\n}\n`,
  });
  try {
    await deleteConntrack(lab, ['--orig-port-src', String(MEDIA_PORT)]);
    await sleep(50);
  } finally {
    await lab.exec('inet', 'nft', ['delete', 'table', 'bridge', table]);
  }
  const flows = (await conntrackUdp(lab)).map(origTuple).filter((f) => f?.sport === MEDIA_PORT);
  const opener = flows.map((f) => `${f!.src}:${f!.sport} > ${f!.dst}:${f!.dport}`).join(', ');
  assert.ok(
    flows.length === 1 && flows[0]!.src === IP.phone1,
    `the phone should have opened the media flow: ${opener}`,
  );
  const c0 = ruleCounter(await rulesetDump(lab), ':k:in-rtp:');
  await sleep(1000);
  const c1 = ruleCounter(await rulesetDump(lab), ':k:in-rtp:');
  assert.ok(c0 !== null && c1 !== null, 'the in-rtp rule is there');
  return { opener, inRtp: c1 - c0 };
}

/** sipmasq's standing rules are all there: markers, hooks, SIP opening; and (by default) no per-call rule. */
function assertOnlyStandingRules(dump: string, backend: FirewallBackend, perCall = false): void {
  const comments = smqComments(dump);
  if (!perCall)
    assert.deepEqual(perCallComments(dump), [], `no per-call rule may remain:\n${comments.join('\n')}`);
  assert.ok(comments.includes(SIP_OPENING), `the SIP opening stays:\n${comments.join('\n')}`);
  for (const role of ROLES) assert.ok(comments.includes(`smq:@marker:${role}`), `marker of ${role}`);
  if (backend === 'nftables')
    assert.ok(comments.filter((c) => c === 'smq:@hook').length >= ROLES.length, 'a hook per fw4 chain');
}

for (const backend of BACKENDS) {
  describe(`kernel media path, router firewall ${backend}`, {
    skip: labSkip(['sipp', 'kamailio', 'kamcmd', 'conntrack']),
  }, () => {
    const env = useLab({ name: `kernel-media-${backend}`, firewall: backend });
    const smq = useSipmasq(() => env().lab, { mediaPath: 'auto', firewall: 'auto' });

    it(`detects ${backend} in the router and opens only the SIP port; registers alice`, () =>
      guard(env(), async () => {
        const { lab } = env();
        const s = await mediaStatus(smq());
        assert.equal(s.firewall.backend, backend, JSON.stringify(s.firewall));
        assert.match(s.firewall.reason, /^detected /);
        assert.ok(s.firewall.healthy, JSON.stringify(s.firewall));
        assert.equal(s.firewall.openings.length, 1, JSON.stringify(s.firewall.openings));
        assert.match(s.firewall.openings[0]!, /^udp wan0 203\.0\.113\.1:5060 from any /);
        assertOnlyStandingRules(await rulesetDump(lab), backend);
        const reg = await register(lab, 'phone1', 'alice', { via: 'sipmasq' });
        assert.ok(reg.ok, describeRun(reg));
      }));

    it('a call on the kernel path: two-way audio, kernel counters, no media into sipmasq; no per-call rule after BYE', (t) =>
      guard(env(), async () => {
        const { lab } = env();
        let up: MediaStatus | undefined;
        let during = '';
        let sockets: UdpSocket[] = [];
        let phoneFlow: { opener: string; inRtp: number } | undefined;
        const udpBefore = await udpCounters();
        const spec = phoneToRemote(lab, (KERNEL_CALL_AUDIO_S + 1) * 1000, async () => {
          up = await kernelStreamFlowing(smq(), 20);
          during = await rulesetDump(lab);
          sockets = await udpSocketsOf(up.pid);
          phoneFlow = await phoneOpensTheFlow(lab);
        });
        const o = await withAudioSeconds(lab, KERNEL_CALL_AUDIO_S, () => mediaCall(lab, spec));
        const udpAfter = await udpCounters();
        reportCounts(t, o, spec);
        assertSignalling(o);
        assertTwoWayAudio(o, spec, 0.95, audioPackets(KERNEL_CALL_AUDIO_S));

        // Whichever side's packet opens the conntrack flow, the far side's audio is counted: the
        // phone-opened flow (SNAT'ed to X) carries it as replies.
        assert.ok(phoneFlow, 'the flow was re-opened by the phone');
        t.diagnostic(
          `phone-opened flow: ${phoneFlow.opener}; in-rtp rule counted ${phoneFlow.inRtp} packets in 1 s`,
        );
        assert.ok(
          phoneFlow.inRtp >= 40,
          `in-rtp counted ${phoneFlow.inRtp} of the far side's packets in 1 s`,
        );

        assert.ok(up, 'status was read while the call was up');
        const call = up.calls[0]!;
        const st = call.streams[0]!;
        t.diagnostic(`stream: ${JSON.stringify(st)}`);
        assert.ok(
          up.calls.every((c) => c.streams.every((s) => s.path === 'kernel')),
          JSON.stringify(up.calls),
        );
        const x = portOf(st.wanLocal);
        assert.equal(st.wanLocal, `${IP.routerWan}:${x}`);
        // The phone talks to the far side's own endpoint: no LAN relay socket for this stream.
        assert.equal(st.lanLocal, REMOTE_MEDIA);
        assert.deepEqual(o.rtp.caller.sentTo, [REMOTE_MEDIA]);
        // The remote's packets reach the phone with their own source (forwarded by the kernel; the
        // relay would send them from 192.168.1.1), and the phone's leave from WAN:X (SNAT to X).
        assert.deepEqual(o.rtp.caller.receivedFrom, [REMOTE_MEDIA]);
        assert.deepEqual(o.rtp.callee.receivedFrom, [`${IP.routerWan}:${x}`]);
        // The kernel counters moved both ways.
        assert.ok(st.lanToWan.packets >= 20 && st.wanToLan.packets >= 20, JSON.stringify(st));
        assert.ok(st.lanToWan.bytes >= st.lanToWan.packets * 172, JSON.stringify(st.lanToWan));
        // The mapping was in the firewall, narrowed to the remote, and announced in status.
        const mine = sessionComments(during, call.sessionId);
        for (const role of ['dnat-rtp', 'snat-rtp', 'in-rtp', 'out-rtp'])
          assert.ok(
            mine.some((c) => c.includes(`:k:${role}:${x}:${IP.phone1}:${MEDIA_PORT}:`)),
            `${role} rule for X=${x}:\n${mine.join('\n')}`,
          );
        assert.ok(
          mine.every((c) => c.endsWith(`:${IP.remote}`)),
          `mapping restricted to the remote:\n${mine.join('\n')}`,
        );
        assert.ok(
          up.firewall.openings.some((o) =>
            o.startsWith(`udp wan0 ${IP.routerWan}:${x} -> ${IP.phone1}:${MEDIA_PORT} from ${IP.remote}`),
          ),
          JSON.stringify(up.firewall.openings),
        );

        // No media reached any socket of the router: sipmasq holds no LAN media socket, its WAN
        // reservation of X saw no drops, and the namespace's UDP layer delivered only SIP.
        const lanMedia = sockets.filter(
          (s) => s.local.startsWith(`${IP.routerLan}:`) && s.local !== `${IP.routerLan}:5060`,
        );
        assert.deepEqual(lanMedia, [], `sipmasq has no LAN media socket: ${JSON.stringify(sockets)}`);
        assert.ok(
          sockets.some((s) => s.local === `${IP.routerWan}:${x}` && s.drops === 0),
          `WAN:X is held (reserved) by sipmasq, nothing dropped there: ${JSON.stringify(sockets)}`,
        );
        const rtpThrough = o.rtp.caller.sent + o.rtp.callee.sent;
        const delivered = udpAfter.InDatagrams! - udpBefore.InDatagrams!;
        t.diagnostic(
          `router UDP InDatagrams during the call: ${delivered} (RTP through the router: ${rtpThrough})`,
        );
        assert.ok(
          delivered < 40,
          `${delivered} datagrams reached local sockets in the router during a call of ${rtpThrough} RTP packets`,
        );

        // After BYE: no per-call rule, only the chains, hooks and the SIP opening.
        await waitUntil(
          'the call to leave status',
          async () => (await mediaStatus(smq())).calls.length === 0,
          5000,
          200,
        );
        const after = await rulesetDump(lab);
        assertOnlyStandingRules(after, backend);
        assert.deepEqual(sessionComments(after, call.sessionId), []);
        const fw = (await mediaStatus(smq())).firewall;
        assert.equal(fw.openings.length, 1, JSON.stringify(fw.openings));
      }));

    it('a firewall reload mid-call: the watchdog restores the rules within seconds, the audio goes on', (t) =>
      guard(env(), async () => {
        const { lab } = env();
        await withAudioSeconds(lab, LONG_AUDIO_S, async () => {
          const times = await timedCaptures(lab);
          const marks = { reload: 0, restored: 0, forgot: 0 };
          let x = 0;
          let wiped: string[] = [];
          let restoredDump = '';
          let sessionId = '';
          let restored: MediaStatus | undefined;
          const spec = phoneToRemote(lab, (LONG_AUDIO_S + 1) * 1000, async () => {
            const first = await kernelStreamFlowing(smq());
            sessionId = first.calls[0]!.sessionId;
            x = portOf(onlyStream(first)!.wanLocal);
            const before = first.firewall.restored;
            marks.reload = nowS();
            await lab.applyFirewall();
            // What the reload took (the lab's ruleset covers the filter and nat tables / table fw4).
            wiped = smqComments(await rulesetDump(lab)).filter(
              (c) =>
                c === SIP_OPENING || ROLES.some((r) => c === `smq:@marker:${r}`) || !c.startsWith('smq:@'),
            );
            restored = await waitStatus(
              smq(),
              'the watchdog to restore the rules',
              (s) => (s.firewall.restored > before ? s : undefined),
              6000,
            );
            marks.restored = nowS();
            restoredDump = await rulesetDump(lab);
            // The restored rules, not the flow's old conntrack entry, must carry the audio now.
            await deleteConntrack(lab, ['--orig-port-src', String(MEDIA_PORT)]);
            marks.forgot = nowS();
          });
          const o = await mediaCall(lab, spec);
          const [atPhone, atRemote] = await times.stop();
          reportCounts(t, o, spec);
          assertSignalling(o);
          assertTwoWayAudio(o, spec, 0.95, audioPackets(LONG_AUDIO_S));

          assert.deepEqual(
            wiped,
            [],
            "the reload removed sipmasq's media chains, SIP opening and call rules",
          );
          assert.ok(restored, 'restored status');
          t.diagnostic(
            `restored ${(marks.restored - marks.reload).toFixed(2)} s after the reload; firewall ${JSON.stringify(restored.firewall)}`,
          );
          assert.ok(restored.firewall.healthy);
          assert.ok(marks.restored - marks.reload < 5, 'restored within a few seconds');
          assertOnlyStandingRules(restoredDump, backend, true);
          assert.ok(
            sessionComments(restoredDump, sessionId).length >= 4,
            `the call's rules are back:\n${smqComments(restoredDump).join('\n')}`,
          );

          // Audio after the conntrack entries were forgotten: the restored mapping carries it, X unchanged.
          const end = marks.forgot + 3;
          const toPhone = arrivals(atPhone, IP.phone1, MEDIA_PORT);
          const toRemote = arrivals(atRemote, IP.remote, MEDIA_PORT);
          const phoneAfter = countBetween(toPhone, marks.forgot + 0.2, end);
          const remoteAfter = countBetween(toRemote, marks.forgot + 0.2, end);
          const gap = largestGap(toPhone);
          t.diagnostic(
            `after the restore: phone got ${phoneAfter}, remote got ${remoteAfter} in 2.8 s; largest gap at the phone ${gap.gap.toFixed(3)} s`,
          );
          assert.ok(phoneAfter >= 2.8 * 50 * 0.9, `phone got ${phoneAfter} packets after the restore`);
          assert.ok(remoteAfter >= 2.8 * 50 * 0.9, `remote got ${remoteAfter} packets after the restore`);
          assert.ok(gap.gap < 1, `audio gap at the phone of ${gap.gap.toFixed(3)} s`);
          assert.deepEqual(
            [...new Set(atRemote.filter((p) => p.dport === MEDIA_PORT).map((p) => `${p.src}:${p.sport}`))],
            [`${IP.routerWan}:${x}`],
            'the phone stays on WAN:X through the reload',
          );
        });
      }));

    it('kill -9 mid-call: the audio keeps flowing; the next start removes the leftover rules', (t) =>
      guard(env(), async () => {
        const { lab } = env();
        await withAudioSeconds(lab, LONG_AUDIO_S, async () => {
          const times = await timedCaptures(lab);
          const marks = { kill: 0, restarted: 0, end: 0 };
          let sessionId = '';
          let leftAfterKill: string[] = [];
          let afterRestart = '';
          let statusAfter: MediaStatus | undefined;
          const spec = phoneToRemote(lab, (LONG_AUDIO_S + 1) * 1000, async () => {
            const up = await kernelStreamFlowing(smq());
            sessionId = up.calls[0]!.sessionId;
            await smq().kill();
            marks.kill = nowS();
            leftAfterKill = sessionComments(await rulesetDump(lab), sessionId);
            await sleep(3000);
            await smq().start();
            marks.restarted = nowS();
            statusAfter = await mediaStatus(smq());
            afterRestart = await rulesetDump(lab);
            await sleep(1500);
            marks.end = nowS();
          });
          const o = await mediaCall(lab, spec);
          const [atPhone, atRemote] = await times.stop();
          reportCounts(t, o, spec);
          // The call itself survives: its BYE goes through the restarted sipmasq.
          assertSignalling(o);
          assert.ok(o.rtp.caller.sent >= audioPackets(LONG_AUDIO_S) * 0.95, 'the phone sent its audio');

          // While sipmasq was dead the kernel kept forwarding both ways.
          assert.ok(leftAfterKill.length >= 4, `rules survive kill -9:\n${leftAfterKill.join('\n')}`);
          const toPhone = arrivals(atPhone, IP.phone1, MEDIA_PORT);
          const toRemote = arrivals(atRemote, IP.remote, MEDIA_PORT);
          const window = [marks.kill + 0.1, marks.kill + 2.9] as const;
          const dead = { phone: countBetween(toPhone, ...window), remote: countBetween(toRemote, ...window) };
          t.diagnostic(`with sipmasq dead for 2.8 s: phone got ${dead.phone}, remote got ${dead.remote}`);
          assert.ok(dead.phone >= 2.8 * 50 * 0.95, `phone got ${dead.phone} packets while sipmasq was dead`);
          assert.ok(
            dead.remote >= 2.8 * 50 * 0.95,
            `remote got ${dead.remote} packets while sipmasq was dead`,
          );

          // The new process knows no call (calls are not persisted): every leftover rule is removed.
          assert.ok(statusAfter, 'status after the restart');
          assert.equal(statusAfter.calls.length, 0, JSON.stringify(statusAfter.calls));
          assertOnlyStandingRules(afterRestart, backend);
          assert.match(
            smq().process.output,
            /removed media rules left by an earlier run \[rules:\d+\]/,
            'the restart says it cleaned up',
          );
          // ... and the old mapping no longer forwards: the remote's RTP to WAN:X stops reaching the phone.
          const stale = countBetween(toPhone, marks.restarted + 0.3, marks.end);
          t.diagnostic(`after the restart: phone got ${stale} packets through the removed mapping`);
          assert.equal(stale, 0, 'the removed mapping forwards nothing');
        });
      }));

    it('SIGTERM: nothing of sipmasq is left in the firewall', () =>
      guard(env(), async () => {
        const { lab } = env();
        assert.equal(await smq().stop(), 0, 'clean exit');
        const dump = await rulesetDump(lab);
        assert.deepEqual(sipmasqTraces(dump), [], 'no chain, hook, rule or comment of sipmasq');
      }));
  });
}
