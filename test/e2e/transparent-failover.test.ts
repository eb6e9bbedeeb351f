/**
 * RFC 3263 §4.3 failover in transparent mode: the domain's SRV records name p1 (priority 10) and p2
 * (priority 20). When p1 does not answer at all (its kamailio is not running), sipmasq tries p2 after
 * failoverTimeout (4 s, the default) - soon enough that the phone, which still sends to p1's address,
 * gets its REGISTER answered before it gives up; p2 holds the binding and a call out goes through p2.
 * When p1 answers 503, p2 is tried at once (well before the timeout).
 *
 * One router firewall backend: SMQ_LAB_FIREWALL (default nftables).
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { assertSignalling, assertTwoWayAudio, mediaCall, received, reportCounts } from './lib/calls.ts';
import { IP } from './lib/lab.ts';
import { type Sipmasq, useSipmasq } from './lib/sipmasq.ts';
import { describeRun, headers } from './lib/sipp.ts';
import { labSkip } from './lib/tools.ts';
import {
  P1,
  P2,
  REMOTE_DOMAIN_URI,
  registerDomain,
  startDomainUac,
  type TransparentEnv,
  transparentOverrides,
  useTransparentLab,
} from './lib/transparent.ts';
import { guard } from './lib/with-lab.ts';

const PUBLIC_CONTACT = new RegExp(`^sip:[^@]+@${IP.routerWan.replaceAll('.', '\\.')}(:5060)?([;>]|$)`);
/** sipmasq's default failoverTimeout, seconds. */
const FAILOVER_TIMEOUT_S = 4;
const SKIP = labSkip(['sipp', 'kamailio', 'kamcmd']);

async function registersThroughP2(t: TestContext, env: TransparentEnv, smq: Sipmasq): Promise<number> {
  const { lab, p2 } = env;
  const t0 = Date.now();
  const reg = await registerDomain(lab, 'phone1', 'alice', { timeoutS: 30 });
  const elapsed = Date.now() - t0;
  t.diagnostic(`REGISTER answered after ${elapsed} ms`);
  assert.ok(reg.ok, describeRun(reg));
  assert.deepEqual(
    reg.messages.filter((m) => m.direction === 'received').map((m) => m.status ?? m.method),
    [401, 200],
    `the phone got its challenge and its 200, nothing else (no 503, no 408)\n${describeRun(reg)}`,
  );
  const contacts = await p2.contactsOf('alice');
  t.diagnostic(`p2 location: ${JSON.stringify(contacts)}`);
  assert.equal(contacts.length, 1, 'p2 holds the binding');
  assert.match(contacts[0]!.address, PUBLIC_CONTACT);
  const status = await smq.status();
  t.diagnostic(`status registrations: ${JSON.stringify(status.registrations)}`);
  const mine = status.registrations.find((r) => r.aor.includes('alice')) as
    | { registrar?: string }
    | undefined;
  assert.ok(mine, 'sipmasq knows the registration');
  assert.equal(mine.registrar, `${P2}:5060`, 'sipmasq records p2 as the registrar');
  return elapsed;
}

async function callsOutThroughP2(t: TestContext, env: TransparentEnv): Promise<void> {
  const { lab } = env;
  const spec = {
    caller: 'phone1',
    callee: 'remote',
    answer: { scenario: 'uas-answer.xml', user: 'remote', timeoutS: 45 },
    dial: () =>
      startDomainUac(lab, 'phone1', 'alice', REMOTE_DOMAIN_URI, { scenario: 'uac-call.xml', timeoutS: 45 }),
  } as const;
  const t0 = Date.now();
  const o = await mediaCall(lab, spec);
  t.diagnostic(`call took ${Date.now() - t0} ms`);
  reportCounts(t, o, spec);
  assertSignalling(o);
  assertTwoWayAudio(o, spec);
  const vias = headers(received(o.callee, 'INVITE')[0]!.text, 'Via', 'v').join(' | ');
  assert.ok(vias.includes(P2), `the INVITE came through p2: ${vias}`);
  assert.ok(!vias.includes(P1), `not through p1: ${vias}`);
}

describe('failover: p1 does not answer at all', { skip: SKIP }, () => {
  const env = useTransparentLab({ name: 'transparent-failover-down', p1: 'down' });
  const smq = useSipmasq(() => env().lab, transparentOverrides());

  it(`the phone's REGISTER is answered through p2 after the ${FAILOVER_TIMEOUT_S} s failover timeout, p2 holds the binding`, (t) =>
    guard(env().lab, async () => {
      const elapsed = await registersThroughP2(t, env(), smq());
      // Two transactions (the challenged REGISTER and the answer), each waiting once for p1.
      assert.ok(
        elapsed >= FAILOVER_TIMEOUT_S * 1000 - 500,
        `p1 was tried first (answered after ${elapsed} ms)`,
      );
    }));

  it('a call out goes through p2 with two-way audio', (t) =>
    guard(env().lab, () => callsOutThroughP2(t, env())));
});

describe('failover: p1 answers 503', { skip: SKIP }, () => {
  const env = useTransparentLab({ name: 'transparent-failover-503', p1: '503' });
  const smq = useSipmasq(() => env().lab, transparentOverrides());

  it('the REGISTER goes on to p2 at once on 503, which the phone never sees', (t) =>
    guard(env().lab, async () => {
      const elapsed = await registersThroughP2(t, env(), smq());
      assert.ok(
        elapsed < FAILOVER_TIMEOUT_S * 1000,
        `the 503 moved on at once, not after the timeout (${elapsed} ms)`,
      );
      const p1Log = env().p1!.proc.output;
      assert.match(p1Log, /REQ REGISTER sip:voip\.example\.test/, 'p1 was asked first');
    }));

  it('a call out goes through p2 with two-way audio', (t) =>
    guard(env().lab, () => callsOutThroughP2(t, env())));
});
