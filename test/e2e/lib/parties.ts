/**
 * The lab's parties driven with sipp: phones (on the LAN, each on local port 5060, optionally through
 * an outbound proxy) and the remote party (on the internet side). Thin wrappers that fill in
 * addresses, accounts and keys so that tests read as what they do.
 */
import { ACCOUNTS, DOMAIN, REMOTE_USER, type User } from './accounts.ts';
import { IP, type Lab, type NsKey, type PhoneKey } from './lab.ts';
import { runSipp, type SippOptions, type SippResult, SippRun } from './sipp.ts';
import { CALL_HOLD_MS } from './with-lab.ts';

/** Where the phones send SIP: straight to the provider (no proxy) or through sipmasq on the router. */
export type Via = 'direct' | 'sipmasq';

export const SIP_PORT = 5060;
export const MEDIA_PORT = 6000;
/** sipmasq's LAN side, the phones' outbound proxy. */
export const OUTBOUND_PROXY = `${IP.routerLan}:${SIP_PORT}`;
export const PROVIDER = `${IP.provider}:${SIP_PORT}`;
/** How phones dial the remote party: a user of the provider's domain that it routes to 203.0.113.20. */
export const REMOTE_URI = `sip:${REMOTE_USER}@${DOMAIN}`;

export function aorUri(user: User): string {
  return `sip:${user}@${DOMAIN}`;
}

function proxyArgs(via: Via): Pick<SippOptions, 'rsa'> {
  return via === 'sipmasq' ? { rsa: OUTBOUND_PROXY } : {};
}

export interface RegisterOptions {
  readonly via: Via;
  readonly expires?: number;
  /** Same Call-ID and a higher CSeq than before make a refresh of the same registration. */
  readonly callId?: string;
  readonly baseCseq?: number;
  readonly timeoutS?: number;
  /** Wrong password, to see the challenge fail. */
  readonly password?: string;
}

/** REGISTER (with digest auth) `user` from `phone`; Expires 0 unregisters. */
export function register(lab: Lab, phone: PhoneKey, user: User, o: RegisterOptions): Promise<SippResult> {
  return runSipp(lab, {
    ns: phone,
    scenario: 'register.xml',
    name: `register-${user}-${phone}`,
    localIp: IP[phone],
    localPort: SIP_PORT,
    remote: PROVIDER,
    ...proxyArgs(o.via),
    authUser: user,
    authPass: o.password ?? ACCOUNTS[user],
    keys: { user, expires: o.expires ?? 300 },
    ...(o.callId ? { callId: o.callId } : {}),
    ...(o.baseCseq !== undefined ? { baseCseq: o.baseCseq } : {}),
    timeoutS: o.timeoutS ?? 10,
  });
}

export interface UasOptions {
  readonly scenario: string;
  /** Contact user of the answering party. */
  readonly user: string;
  readonly keys?: Readonly<Record<string, string | number>>;
  readonly timeoutS?: number;
  readonly mediaPort?: number;
  readonly holdMs?: number;
  /** Phones: the outbound proxy for requests they send in the dialog. */
  readonly via?: Via;
}

/** Start an answering sipp on a phone or the remote and wait until it listens on 5060. */
export async function startUas(lab: Lab, who: PhoneKey | 'remote', o: UasOptions): Promise<SippRun> {
  const ip = who === 'remote' ? IP.remote : IP[who];
  const run = SippRun.start(lab, {
    ns: who,
    scenario: o.scenario,
    name: `${o.scenario.replace(/\.xml$/, '')}-${who}`,
    localIp: ip,
    localPort: SIP_PORT,
    mediaPort: o.mediaPort ?? MEDIA_PORT,
    ...(who !== 'remote' && o.via ? proxyArgs(o.via) : {}),
    keys: { user: o.user, ...(o.keys ?? {}) },
    timeoutS: o.timeoutS ?? 30,
    extraArgs: ['-d', String(o.holdMs ?? CALL_HOLD_MS)],
  });
  try {
    await lab.waitUdpBound(who as NsKey, ip, SIP_PORT, 5000, () => run.proc.running);
  } catch (err) {
    await run.stop();
    throw new Error(`${run.proc.name} did not start: ${(err as Error).message}\n${run.proc.tail(20)}`);
  }
  return run;
}

export interface UacOptions {
  readonly scenario: string;
  readonly keys?: Readonly<Record<string, string | number>>;
  readonly timeoutS?: number;
  readonly mediaPort?: number;
  readonly holdMs?: number;
}

/** A phone calls (or sends a request to) `toUri` as `user`, with credentials for the 407. */
export function startPhoneUac(
  lab: Lab,
  phone: PhoneKey,
  user: User,
  via: Via,
  toUri: string,
  o: UacOptions,
): SippRun {
  return SippRun.start(lab, {
    ns: phone,
    scenario: o.scenario,
    name: `${o.scenario.replace(/\.xml$/, '')}-${phone}`,
    localIp: IP[phone],
    localPort: SIP_PORT,
    remote: PROVIDER,
    ...proxyArgs(via),
    mediaPort: o.mediaPort ?? MEDIA_PORT,
    authUser: user,
    authPass: ACCOUNTS[user],
    keys: { to_uri: toUri, from_user: user, from_domain: DOMAIN, ...(o.keys ?? {}) },
    timeoutS: o.timeoutS ?? 30,
    extraArgs: ['-d', String(o.holdMs ?? CALL_HOLD_MS)],
  });
}

/** The remote party calls (or sends a request to) `toUri` through the provider, unauthenticated. */
export function startRemoteUac(lab: Lab, toUri: string, o: UacOptions): SippRun {
  return SippRun.start(lab, {
    ns: 'remote',
    scenario: o.scenario,
    name: `${o.scenario.replace(/\.xml$/, '')}-remote`,
    localIp: IP.remote,
    localPort: SIP_PORT,
    remote: PROVIDER,
    mediaPort: o.mediaPort ?? MEDIA_PORT,
    keys: { to_uri: toUri, from_user: REMOTE_USER, from_domain: IP.remote, ...(o.keys ?? {}) },
    timeoutS: o.timeoutS ?? 30,
    extraArgs: ['-d', String(o.holdMs ?? CALL_HOLD_MS)],
  });
}
