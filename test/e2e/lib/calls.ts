/**
 * One call between two sipp parties with RTP counted at both ends, and the assertions every good call
 * shares: both scenarios succeed, each side sent its audio and each direction delivered >= 95 %.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { waitUntil } from './exec.ts';
import { IP, type Lab, type PhoneKey } from './lab.ts';
import { MEDIA_PORT, startUas, type UasOptions } from './parties.ts';
import { deliveryRatio, formatCounts, RtpCapture, type RtpCounts } from './rtp.ts';
import { describeRun, type SipMessage, type SippResult, type SippRun } from './sipp.ts';
import { AUDIO_PACKETS } from './with-lab.ts';

export type Party = PhoneKey | 'remote';

export function partyIp(p: Party): string {
  return p === 'remote' ? IP.remote : IP[p];
}

export interface CallSpec {
  readonly caller: Party;
  readonly callee: Party;
  /** Options of the answering sipp (started first, on port 5060 of the callee). */
  readonly answer: UasOptions;
  /** Starts the calling sipp. */
  readonly dial: () => SippRun;
  /** Runs once the caller has sent its ACK (the call is up), before the call ends. */
  readonly whileUp?: () => Promise<void>;
}

export interface CallOutcome {
  readonly caller: SippResult;
  readonly callee: SippResult;
  readonly rtp: { readonly caller: RtpCounts; readonly callee: RtpCounts };
}

/** Has this party's trace an ACK sent (the call is established from the caller's view)? */
function ackSent(run: SippRun): boolean {
  return run
    .messagesSoFar()
    .some((m) => m.direction === 'sent' && m.method === 'ACK' && m.startLine.startsWith('ACK'));
}

export async function mediaCall(lab: Lab, spec: CallSpec): Promise<CallOutcome> {
  const capCaller = await RtpCapture.start(lab, spec.caller, partyIp(spec.caller), MEDIA_PORT);
  const capCallee = await RtpCapture.start(lab, spec.callee, partyIp(spec.callee), MEDIA_PORT);
  const callee = await startUas(lab, spec.callee, spec.answer);
  const caller = spec.dial();
  let hookError: unknown;
  if (spec.whileUp) {
    try {
      await waitUntil(
        'the call to be up (ACK sent)',
        () => ackSent(caller) || !caller.proc.running,
        20_000,
        100,
      );
      if (caller.proc.running) await spec.whileUp();
    } catch (err) {
      hookError = err;
    }
  }
  const [callerResult, calleeResult] = await Promise.all([caller.result(), callee.result()]);
  const rtp = { caller: await capCaller.stop(), callee: await capCallee.stop() };
  if (hookError) throw hookError;
  return { caller: callerResult, callee: calleeResult, rtp };
}

export function countsText(o: CallOutcome, spec: Pick<CallSpec, 'caller' | 'callee'>): string {
  return `${formatCounts(`${spec.caller} (caller)`, o.rtp.caller)}\n${formatCounts(`${spec.callee} (callee)`, o.rtp.callee)}`;
}

/** Report the per-endpoint counts as test diagnostics. */
export function reportCounts(
  t: TestContext,
  o: CallOutcome,
  spec: Pick<CallSpec, 'caller' | 'callee'>,
): void {
  for (const line of countsText(o, spec).split('\n')) t.diagnostic(line);
}

/** Both scenarios succeeded. */
export function assertSignalling(o: CallOutcome): void {
  assert.ok(o.caller.ok, `caller scenario failed\n${describeRun(o.caller)}`);
  assert.ok(o.callee.ok, `callee scenario failed\n${describeRun(o.callee)}`);
}

/** Each side sent (nearly) its whole file and each direction delivered at least `min` of it. */
export function assertTwoWayAudio(
  o: CallOutcome,
  spec: Pick<CallSpec, 'caller' | 'callee'>,
  min = 0.95,
  expectPackets = AUDIO_PACKETS,
): void {
  const detail = countsText(o, spec);
  const { caller, callee } = o.rtp;
  assert.ok(caller.sent >= expectPackets * min, `caller sent too little RTP\n${detail}`);
  assert.ok(callee.sent >= expectPackets * min, `callee sent too little RTP\n${detail}`);
  assert.ok(
    deliveryRatio(caller.sent, callee.received) >= min,
    `caller -> callee delivered ${callee.received}/${caller.sent}\n${detail}`,
  );
  assert.ok(
    deliveryRatio(callee.sent, caller.received) >= min,
    `callee -> caller delivered ${caller.received}/${callee.sent}\n${detail}`,
  );
}

/** The messages of one direction and method (requests) or status (responses). */
export function received(r: SippResult, what: string | number): SipMessage[] {
  return r.messages.filter(
    (m) =>
      m.direction === 'received' &&
      (typeof what === 'number' ? m.status === what : m.status === null && m.method === what),
  );
}

/** Final response statuses (>= 200) the party received. */
export function finalStatuses(r: SippResult): number[] {
  return r.messages
    .filter((m) => m.direction === 'received' && m.status !== null && m.status >= 200)
    .map((m) => m.status!);
}
