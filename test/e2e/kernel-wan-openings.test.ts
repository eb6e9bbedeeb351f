/**
 * Issue 3 end to end: what sipmasq opens on the WAN (DESIGN §3.4: no static open port range), once
 * per router firewall (nftables shaped like fw4, iptables like fw3), sipmasq on `firewall: 'auto'`:
 *   - the SIP port is open while sipmasq runs: with keep-alives off and the router's SIP conntrack
 *     entries gone (as after their timeout), the provider's INVITE still reaches the phone;
 *   - no RTP range is open: a packet from the internet to an unused relay port is dropped;
 *   - an RTP sprayer on the internet that targets a call's public ports before and after the answer
 *     gets nothing to the phone on the kernel path (`mediaPath: 'auto'`: WAN:X stays closed while
 *     ringing, then it is DNAT'ed only from the peer's address; the router's firewall drops it all);
 *   - on the relay path (`mediaPath: 'relay'`, firewall managed) a fresh flow from a stranger after
 *     the answer is dropped by the pinhole narrowed to the peer's address, and once the peer's RTP
 *     latched the relay nothing of the sprayer, nor of a second sender at the peer's own address
 *     (another port, so past the pinhole), reaches the phone, and the phone's audio goes to the peer
 *     only (RFC 7362 as rtpproxy/relay/latch.ts implements it: the first valid packet latches, the
 *     signalled address re-latches and locks within the window, strict source after). Before that
 *     the relay serves whatever it latched onto first: while ringing the pinhole is open to anyone
 *     (the far side's address is not known yet), so sprayed packets reach the ringing phone, and a
 *     sprayer that latches between the answer and the peer's first packet may get the phone's first
 *     packets. The test reports those counts; it asserts what latch.ts promises;
 *   - relay path with the firewall managed: an incoming call's audio from the remote arrives >= 99 %
 *     (the pinhole is open before the remote's first packet);
 *   - after SIGTERM the SIP port is closed again and nothing of sipmasq is left.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import {
  assertSignalling,
  assertTwoWayAudio,
  type CallOutcome,
  mediaCall,
  reportCounts,
} from './lib/calls.ts';
import { waitUntil } from './lib/exec.ts';
import type { FirewallBackend } from './lib/firewall.ts';
import { IP, type Lab, udpReaches } from './lib/lab.ts';
import {
  aorUri,
  MEDIA_PORT,
  REMOTE_URI,
  register,
  startPhoneUac,
  startRemoteUac,
  startUas,
} from './lib/parties.ts';
import {
  conntrackUdp,
  deleteConntrack,
  type MediaStatus,
  mediaStatus,
  onlyStream,
  origTuple,
  perCallComments,
  portOf,
  rulesetDump,
  sipmasqTraces,
  udpCounters,
  waitStatus,
  wanInputDrops,
} from './lib/router-state.ts';
import { deliveryRatio, isRtp, RtpCapture, UdpCapture, type UdpPacket } from './lib/rtp.ts';
import { countBetween, nowS } from './lib/rtp-timing.ts';
import { type Sipmasq, startSipmasq } from './lib/sipmasq.ts';
import { describeRun, type SippRun } from './lib/sipp.ts';
import { SPRAYER_IP, Sprayer, type SprayLog, sprayed } from './lib/sprayer.ts';
import { labSkip } from './lib/tools.ts';
import { guard, useLab } from './lib/with-lab.ts';

const BACKENDS: readonly FirewallBackend[] = ['nftables', 'iptables'];
/** How long the remote lets the phone's call ring before answering (the sprayer's first phase). */
const RING_MS = 3500;
/** A relay-range port (20000-20999 in the lab) that no call uses. */
const UNUSED_RELAY_PORT = 20998;
/** The far side's media endpoint (sipp's media port on the remote). */
const REMOTE_MEDIA = `${IP.remote}:${MEDIA_PORT}`;
/** SSRC of the second sender, at the remote's address. */
const SAME_IP_SSRC = 0x5bad0020;

/** The phone got the 200 to its INVITE (the ACK to the 407 before it does not count). */
function answered(run: SippRun): boolean {
  return run
    .messagesSoFar()
    .some((m) => m.direction === 'received' && m.method === 'INVITE' && m.status === 200);
}

/** What one sprayer did during a sprayed call. */
interface Spray {
  readonly sprayer: Sprayer;
  /** Packets it sent before / after the answer (the 200 reaching the phone). */
  readonly sentBefore: number;
  readonly sentAfter: number;
  /** Packets it sent while the router's WAN drop counter was watched (sprayers' start to call end). */
  readonly sentWatched: number;
  /** Its packets that reached the phone (by SSRC). */
  readonly atPhone: readonly UdpPacket[];
  /** Packets the router sent to its port (the phone's audio, if the relay took it for the peer). */
  readonly gotBack: readonly UdpPacket[];
}

interface SprayedCall {
  readonly outcome: CallOutcome;
  /** The call's public RTP port (sprayed with X + 1). */
  readonly x: number;
  /** Status once the remote's audio flows. */
  readonly status: MediaStatus;
  /** When the 200 to the INVITE reached the phone, and the remote's first RTP packet after it. */
  readonly answeredAt: number;
  readonly firstAudioAt: number;
  readonly sprays: readonly Spray[];
  /** UDP datagrams delivered to local sockets in the router during the call. */
  readonly routerDelivered: number;
  /** Unsolicited WAN input the router's own firewall dropped from the sprayers' start to the call's end. */
  readonly wanDrops: number;
  /** Conntrack entries of a fresh flow (new source port) from the first sprayer to WAN:X after the answer. */
  readonly probeFlows: readonly string[];
}

/** Source port of the fresh flow sent after the answer. */
const PROBE_PORT = 41_000;

/**
 * phone1 calls the remote, which rings RING_MS before answering; as soon as the call's public port X
 * shows in status (ringing), every sprayer sends to WAN:X and WAN:X+1 until the call is over. Once the
 * remote's audio flows, the first sprayer also opens a fresh flow to X (PROBE_PORT).
 */
async function sprayedCall(lab: Lab, smq: Sipmasq, sprayers: readonly Sprayer[]): Promise<SprayedCall> {
  const phoneAll = await UdpCapture.start(lab, 'phone1', 'udp', 'all-udp-phone1');
  const capCaller = await RtpCapture.start(lab, 'phone1', IP.phone1, MEDIA_PORT);
  const capCallee = await RtpCapture.start(lab, 'remote', IP.remote, MEDIA_PORT);
  const callee = await startUas(lab, 'remote', {
    scenario: 'uas-answer-late.xml',
    user: 'remote',
    holdMs: RING_MS,
  });
  const udpBefore = await udpCounters();
  const caller = startPhoneUac(lab, 'phone1', 'alice', 'sipmasq', REMOTE_URI, { scenario: 'uac-call.xml' });
  try {
    // The authenticated INVITE is ringing: its stream (and X) is in status.
    await waitUntil(
      'the phone to get 180',
      () => caller.messagesSoFar().some((m) => m.direction === 'received' && m.status === 180),
      10_000,
    );
    const ringing = await waitStatus(smq, 'the ringing call in status', (s) => onlyStream(s), 3000);
    const x = portOf(ringing.wanLocal);
    const drops0 = await wanInputDrops(lab);
    const t0 = nowS();
    await Promise.all(
      sprayers.map((sprayer) =>
        sprayer.start([
          [IP.routerWan, x],
          [IP.routerWan, x + 1],
        ]),
      ),
    );
    await waitUntil(
      'the answer (200 to the INVITE)',
      () => answered(caller) || !caller.proc.running,
      RING_MS + 5000,
    );
    const status = await waitStatus(
      smq,
      'the remote audio counted on its stream',
      (s) => {
        const st = onlyStream(s);
        return st && st.wanToLan.packets > 0 && st.wanPeer === REMOTE_MEDIA && s;
      },
      4000,
    );
    await sprayers[0]!.probe([IP.routerWan, x], PROBE_PORT);
    const probeFlows = await conntrackUdp(lab, `sport=${PROBE_PORT}`);
    const [callerResult, calleeResult] = await Promise.all([caller.result(), callee.result()]);
    const drops1 = await wanInputDrops(lab);
    const t1 = nowS();
    const outcome = {
      caller: callerResult,
      callee: calleeResult,
      rtp: { caller: await capCaller.stop(), callee: await capCallee.stop() },
    };
    const logs: SprayLog[] = [];
    for (const sprayer of sprayers) logs.push(await sprayer.stop());
    const udpAfter = await udpCounters();
    const atPhone = await phoneAll.stop();
    // The answer's exact time: when the 200 to the INVITE reached the phone.
    const ok = atPhone.find((p) =>
      /^SIP\/2\.0 200 [\s\S]*\r\nCSeq: *\d+ INVITE\r\n/i.test(p.payload.toString('latin1')),
    );
    assert.ok(ok, 'the 200 to the INVITE is in the phone capture');
    const answeredAt = ok.time;
    const ssrcs = new Set(sprayers.map((s) => s.ssrc));
    const audio = atPhone.filter(
      (p) => p.dport === MEDIA_PORT && isRtp(p.payload) && !ssrcs.has(p.payload.readUInt32BE(8)),
    );
    return {
      outcome,
      x,
      status,
      answeredAt,
      firstAudioAt: audio.find((p) => p.time >= answeredAt)?.time ?? Number.POSITIVE_INFINITY,
      sprays: sprayers.map((sprayer, i) => {
        const times = logs[i]!.sent.filter((p) => p.sport === sprayer.port).map((p) => p.time);
        return {
          sprayer,
          sentBefore: times.filter((t) => t < answeredAt).length,
          sentAfter: times.filter((t) => t >= answeredAt).length,
          sentWatched: countBetween(times, t0, t1),
          atPhone: sprayed(atPhone, sprayer.ssrc),
          gotBack: logs[i]!.gotBack,
        };
      }),
      routerDelivered: udpAfter.InDatagrams! - udpBefore.InDatagrams!,
      wanDrops: drops1 - drops0,
      probeFlows,
    };
  } finally {
    for (const sprayer of sprayers) if (sprayer.running) await sprayer.stop();
  }
}

function reportSpray(t: TestContext, c: SprayedCall): void {
  const spec = { caller: 'phone1', callee: 'remote' } as const;
  reportCounts(t, c.outcome, spec);
  const phases = (ps: readonly UdpPacket[]): string => {
    const before = ps.filter((p) => p.time < c.answeredAt).length;
    const latched = ps.filter((p) => p.time > c.firstAudioAt).length;
    return `${before} before the answer, ${ps.length - before - latched} between the answer and the remote's first RTP, ${latched} after`;
  };
  for (const s of c.sprays) {
    t.diagnostic(
      `sprayer ${s.sprayer.ip}:${s.sprayer.port} -> WAN:${c.x}/${c.x + 1}: sent ${s.sentBefore} before the answer, ${s.sentAfter} after; ` +
        `reached the phone: ${phases(s.atPhone)}; got from the router: ${phases(s.gotBack)}`,
    );
  }
  t.diagnostic(
    `router UDP InDatagrams during the call: ${c.routerDelivered}; WAN input dropped by the router's firewall while spraying: ${c.wanDrops}`,
  );
  t.diagnostic(`fresh flow after the answer: ${c.probeFlows.length ? c.probeFlows.join('; ') : 'dropped'}`);
  t.diagnostic(`stream: ${JSON.stringify(onlyStream(c.status))}`);
}

/** The call was good, every sprayer really sprayed, and a fresh flow to X after the answer was dropped. */
function assertCallAndSpray(c: SprayedCall): void {
  const spec = { caller: 'phone1', callee: 'remote' } as const;
  assertSignalling(c.outcome);
  assertTwoWayAudio(c.outcome, spec);
  for (const s of c.sprays) {
    assert.ok(s.sentBefore >= 50, `${s.sprayer.ip} sent ${s.sentBefore} packets before the answer`);
    assert.ok(s.sentAfter >= 200, `${s.sprayer.ip} sent ${s.sentAfter} packets after the answer`);
  }
  // Dropped before conntrack confirmed it: the router's firewall, not a socket, stopped it.
  assert.deepEqual(c.probeFlows, [], `a fresh flow from ${SPRAYER_IP} to WAN:${c.x} after the answer`);
}

for (const backend of BACKENDS) {
  describe(`WAN openings and a sprayer, router firewall ${backend}`, {
    skip: labSkip(['sipp', 'kamailio', 'kamcmd', 'conntrack']),
  }, () => {
    const env = useLab({ name: `kernel-openings-${backend}`, firewall: backend });
    let current: Sipmasq | undefined;
    let sprayer: Sprayer | undefined;
    const smq = (): Sipmasq => {
      if (!current) throw new Error('sipmasq not started (before() failed?)');
      return current;
    };
    before(async () => {
      current = await startSipmasq(env().lab, { mediaPath: 'auto', firewall: 'auto', keepaliveInterval: 0 });
      sprayer = await Sprayer.create(env().lab);
    });
    after(async () => {
      await sprayer?.remove();
      if (current?.running) await current.stop().catch(() => current?.kill());
    });

    it(`detects ${backend}; alice registers from phone1 (keep-alives off)`, () =>
      guard(env(), async () => {
        const s = await mediaStatus(smq());
        assert.equal(s.firewall.backend, backend);
        const reg = await register(env().lab, 'phone1', 'alice', { via: 'sipmasq', expires: 600 });
        assert.ok(reg.ok, describeRun(reg));
      }));

    it('the SIP port is open: with the SIP flows gone from conntrack, the provider still reaches the phone', (t) =>
      guard(env(), async () => {
        const { lab } = env();
        const sipFlows = (l: string): boolean =>
          l.includes(`dst=${IP.provider}`) || l.includes(`src=${IP.provider}`);
        assert.ok(
          (await conntrackUdp(lab, 'port=5060')).some(sipFlows),
          'the REGISTER left a conntrack entry (sanity)',
        );
        // What the 30 s UDP timeout would do (keep-alives are off): the router forgets the SIP flows.
        await deleteConntrack(lab, ['--orig-port-dst', '5060']);
        await deleteConntrack(lab, ['--orig-port-src', '5060']);
        assert.deepEqual((await conntrackUdp(lab, 'port=5060')).filter(sipFlows), [], 'no SIP flow left');

        let up: MediaStatus | undefined;
        const spec = {
          caller: 'remote',
          callee: 'phone1',
          answer: { scenario: 'uas-answer.xml', user: 'alice' },
          dial: () => startRemoteUac(lab, aorUri('alice'), { scenario: 'uac-call.xml' }),
          whileUp: async () => {
            up = await waitStatus(smq(), 'the call in status', (s) => onlyStream(s) && s);
          },
        } as const;
        const o = await mediaCall(lab, spec);
        reportCounts(t, o, spec);
        assertSignalling(o);
        assertTwoWayAudio(o, spec);
        assert.equal(onlyStream(up!)?.path, 'kernel', JSON.stringify(up?.calls));
        // The provider's INVITE came in as a new flow (the provider is its opener in conntrack): only
        // sipmasq's opening admits that, the router drops unsolicited WAN input.
        const opener = (await conntrackUdp(lab, 'port=5060'))
          .map(origTuple)
          .filter((f) => f?.src === IP.provider && f.dst === IP.routerWan && f.dport === 5060);
        assert.equal(opener.length, 1, 'the provider opened the SIP flow to WAN:5060');
      }));

    it('no static RTP range is open: a packet from the internet to an unused relay port is dropped', () =>
      guard(env(), async () => {
        const { lab } = env();
        const s = await mediaStatus(smq());
        assert.deepEqual(
          s.firewall.openings.map((o) => o.replace(/ \(smq:.*\)$/, '')),
          [`udp wan0 ${IP.routerWan}:5060 from any`],
          'only the SIP port is open without calls',
        );
        assert.deepEqual(perCallComments(await rulesetDump(lab)), []);
        assert.equal(
          await udpReaches(lab, 'remote', 'router', IP.routerWan, UNUSED_RELAY_PORT),
          false,
          `remote -> ${IP.routerWan}:${UNUSED_RELAY_PORT} must be dropped`,
        );
        // Control: the listener works, the same packet from the LAN arrives.
        assert.equal(await udpReaches(lab, 'phone1', 'router', IP.routerWan, UNUSED_RELAY_PORT), true);
      }));

    it('kernel path: an RTP sprayer gets nothing to the phone, before or after the answer', (t) =>
      guard(env(), async () => {
        const c = await sprayedCall(env().lab, smq(), [sprayer!]);
        reportSpray(t, c);
        assertCallAndSpray(c);
        assert.equal(onlyStream(c.status)?.path, 'kernel');
        const spray = c.sprays[0]!;
        assert.equal(spray.atPhone.length, 0, `${spray.atPhone.length} sprayed packets reached the phone`);
        assert.equal(spray.gotBack.length, 0, 'the router sent nothing to the sprayer');
        // Dropped by the router's firewall (WAN:X stays closed while ringing, then is DNAT'ed only from
        // the remote), not by a socket: hardly anything reached the router's UDP layer, although sipmasq
        // holds WAN:X bound as a reservation.
        assert.ok(
          c.wanDrops >= spray.sentWatched * 0.95,
          `the router dropped ${c.wanDrops} WAN packets while the sprayer sent ${spray.sentWatched}`,
        );
        assert.ok(c.routerDelivered < 40, `${c.routerDelivered} datagrams reached sockets in the router`);
      }));

    it('relay path (firewall managed): no sprayer packet reaches the phone once the peer latched', (t) =>
      guard(env(), async () => {
        const { lab } = env();
        assert.equal(await smq().stop(), 0);
        current = await startSipmasq(lab, { mediaPath: 'relay', firewall: 'auto', keepaliveInterval: 0 });
        // A second sender at the remote's own address (another port) passes a pinhole narrowed to that
        // address: only the relay's latch (RFC 7362, strict source once locked) stands in its way.
        const sameIp = Sprayer.alongside(lab, 'remote', IP.remote, SAME_IP_SSRC);
        const c = await sprayedCall(lab, smq(), [sprayer!, sameIp]);
        reportSpray(t, c);
        assertCallAndSpray(c);
        const st = onlyStream(c.status)!;
        assert.equal(st.path, 'relay');
        assert.ok(
          c.status.firewall.openings.some((o) =>
            o.startsWith(`udp wan0 ${IP.routerWan}:${c.x}-${c.x + 1} from ${IP.remote} `),
          ),
          `the pinhole is narrowed to the remote once it answered: ${JSON.stringify(c.status.firewall.openings)}`,
        );
        // Once the remote's RTP latched the relay (the latch locks on the signalled address) nothing of
        // either sender reaches the phone, and the phone's audio goes to the remote only. (Before that
        // the relay serves whatever it latched onto first: before the answer the pinhole is open to
        // anyone, see the top; the counts are reported above.)
        assert.ok(Number.isFinite(c.firstAudioAt), 'the remote audio reached the phone');
        for (const spray of c.sprays) {
          const toPhone = spray.atPhone.filter((p) => p.time > c.firstAudioAt + 0.02);
          assert.equal(
            toPhone.length,
            0,
            `${toPhone.length} packets of ${spray.sprayer.ip} reached the phone after the remote latched`,
          );
          const leaked = spray.gotBack.filter((p) => p.time > c.firstAudioAt + 0.02);
          assert.equal(
            leaked.length,
            0,
            `${leaked.length} packets went to ${spray.sprayer.ip}:${spray.sprayer.port} after the remote latched`,
          );
        }
        assert.equal(st.wanPeer, REMOTE_MEDIA, 'latched onto the remote');
      }));

    it('relay path with the firewall managed: an incoming call gets >= 99 % of the remote audio', (t) =>
      guard(env(), async () => {
        const { lab } = env();
        const udpBefore = await udpCounters();
        let up: MediaStatus | undefined;
        const spec = {
          caller: 'remote',
          callee: 'phone1',
          answer: { scenario: 'uas-answer.xml', user: 'alice' },
          dial: () => startRemoteUac(lab, aorUri('alice'), { scenario: 'uac-call.xml' }),
          whileUp: async () => {
            up = await waitStatus(smq(), 'the call in status', (s) => onlyStream(s) && s);
          },
        } as const;
        const o = await mediaCall(lab, spec);
        const delivered = (await udpCounters()).InDatagrams! - udpBefore.InDatagrams!;
        reportCounts(t, o, spec);
        assertSignalling(o);
        assertTwoWayAudio(o, spec);
        const fromRemote = deliveryRatio(o.rtp.caller.sent, o.rtp.callee.received);
        t.diagnostic(
          `remote -> phone ${(fromRemote * 100).toFixed(1)} %; router UDP InDatagrams ${delivered}`,
        );
        assert.ok(
          fromRemote >= 0.99,
          `remote -> phone delivered ${o.rtp.callee.received}/${o.rtp.caller.sent}`,
        );
        const st = onlyStream(up!)!;
        assert.equal(st.path, 'relay');
        assert.ok(
          up!.firewall.openings.some((p) =>
            p.startsWith(`udp wan0 ${st.wanLocal}-${portOf(st.wanLocal) + 1} from ${IP.remote} `),
          ),
          JSON.stringify(up!.firewall.openings),
        );
        // Control for the kernel-path proof: relayed media does reach sockets in the router.
        assert.ok(
          delivered >= (o.rtp.caller.sent + o.rtp.callee.sent) * 0.9,
          `${delivered} datagrams delivered`,
        );
      }));

    it('after SIGTERM the SIP port is closed and nothing of sipmasq is left', () =>
      guard(env(), async () => {
        const { lab } = env();
        assert.equal(await smq().stop(), 0);
        assert.deepEqual(sipmasqTraces(await rulesetDump(lab)), []);
        assert.equal(
          await udpReaches(lab, 'remote', 'router', IP.routerWan, 5060),
          false,
          'the SIP port is closed on the WAN',
        );
        assert.equal(
          await udpReaches(lab, 'phone1', 'router', IP.routerWan, 5060),
          true,
          'control from the LAN',
        );
      }));
  });
}
