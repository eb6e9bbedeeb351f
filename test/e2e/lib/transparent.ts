/**
 * The lab for transparent interception (issue 4): phones configured only with their provider's
 * domain, no outbound proxy. On top of the usual lab:
 *
 *   voip.example.test   served by dnsmasq on 203.0.113.53 (lib/dns-server.ts): NAPTR SIP+D2U ->
 *                       SRV _sip._udp -> p1 (priority 10, 203.0.113.10), p2 (priority 20, 203.0.113.11)
 *   p1 203.0.113.10     the lab's kamailio, also accepting voip.example.test as its own domain
 *   p2 203.0.113.11     a second kamailio (same accounts, same domain) on a second address of the
 *                       provider namespace
 *   router resolv.conf  /etc/netns/<router>/resolv.conf -> 203.0.113.53 (written before sipmasq starts)
 *
 * A phone sends its SIP straight to p1's address (as one that resolved the domain itself would), with
 * Request-URI, From and To at the domain; the router redirects it to sipmasq (interceptListenPort
 * 5069), which routes by the request, resolving the domain per RFC 3263 itself.
 */
import { after, before } from 'node:test';
import { ACCOUNTS, REMOTE_USER, type User } from './accounts.ts';
import { writePcmuRaw } from './audio.ts';
import { DnsServer, sipZone } from './dns-server.ts';
import { nsRun } from './exec.ts';
import { type Kamailio, type KamailioOptions, startKamailio } from './kamailio.ts';
import { HOST_IF, IP, keepLab, Lab, type LabOptions, NS, type PhoneKey } from './lab.ts';
import { MEDIA_PORT, SIP_PORT, type UacOptions } from './parties.ts';
import { UdpCapture, type UdpPacket } from './rtp.ts';
import { runSipp, type SippResult, SippRun } from './sipp.ts';
import { AUDIO_SECONDS, CALL_HOLD_MS } from './with-lab.ts';

export const TEST_DOMAIN = 'voip.example.test';
export const P1 = IP.provider;
export const P2 = '203.0.113.11';
export const INTERCEPT_PORT = 5069;
/** Where the phones send: the provider's first server, as their own DNS lookup would have told them. */
export const PHONE_TARGET = `${P1}:${SIP_PORT}`;
/** The remote party as the phones dial it: a user of the domain that the provider routes to 203.0.113.20. */
export const REMOTE_DOMAIN_URI = `sip:${REMOTE_USER}@${TEST_DOMAIN}`;

export function domainAor(user: User): string {
  return `sip:${user}@${TEST_DOMAIN}`;
}

export interface TransparentEnv {
  readonly lab: Lab;
  /** kamailio on p1; null when the lab was made with p1 down. */
  readonly p1: Kamailio | null;
  readonly p2: Kamailio;
  readonly dns: DnsServer;
}

export interface TransparentLabOptions extends LabOptions {
  /** p1's kamailio: started (default), not started (a server that is down), or answering 503. */
  readonly p1?: 'up' | 'down' | '503';
  readonly kamailio?: Pick<KamailioOptions, 'frTimer' | 'frInvTimer'>;
}

export async function setupTransparentEnv(opts: TransparentLabOptions = {}): Promise<TransparentEnv> {
  const lab = await Lab.create(opts);
  let dns: DnsServer | undefined;
  try {
    writePcmuRaw(lab.path('audio.pcmu'), AUDIO_SECONDS);
    await nsRun(NS.provider, 'ip', ['addr', 'add', `${P2}/24`, 'dev', HOST_IF]);
    dns = await DnsServer.start(lab, sipZone(TEST_DOMAIN, P1, P2));
    const p1State = opts.p1 ?? 'up';
    const p1 =
      p1State === 'down'
        ? null
        : await startKamailio(lab, {
            ...opts.kamailio,
            domain: TEST_DOMAIN,
            reply503: p1State === '503',
          });
    const p2 = await startKamailio(lab, {
      ...opts.kamailio,
      domain: TEST_DOMAIN,
      address: P2,
      name: 'kamailio-p2',
    });
    return { lab, p1, p2, dns };
  } catch (err) {
    await dns?.stop();
    await lab.teardown({ force: true });
    throw err;
  }
}

export async function teardownTransparentEnv(env: TransparentEnv): Promise<void> {
  // With SMQ_KEEP_LAB=1 the name server and the router's resolv.conf stay with the lab.
  if (!keepLab()) await env.dns.stop();
  await env.lab.teardown();
}

/** One transparent lab per describe() (before/after); the getter gives it inside tests. */
export function useTransparentLab(opts: TransparentLabOptions = {}): () => TransparentEnv {
  let env: TransparentEnv | undefined;
  before(async () => {
    env = await setupTransparentEnv(opts);
  });
  after(async () => {
    if (env) await teardownTransparentEnv(env);
  });
  return () => {
    if (!env) throw new Error('transparent lab not set up (before() failed?)');
    return env;
  };
}

/**
 * Overrides of lib/sipmasq.ts's test config for sipmasq intercepting (transparent mode), firewall
 * backend and media path chosen by itself (for useSipmasq / startSipmasq).
 */
export function transparentOverrides(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { modes: ['transparent'], firewall: 'auto', mediaPath: 'auto', ...extra };
}

export interface DomainRegisterOptions {
  readonly expires?: number;
  readonly transport?: 'udp' | 'tcp';
  /** Where the phone sends (default p1's address). */
  readonly sendTo?: string;
  readonly callId?: string;
  readonly baseCseq?: number;
  readonly timeoutS?: number;
}

/** REGISTER `user` at the domain from `phone`, sent straight to the provider's address (no proxy). */
export function registerDomain(
  lab: Lab,
  phone: PhoneKey,
  user: User,
  o: DomainRegisterOptions = {},
): Promise<SippResult> {
  const tcp = o.transport === 'tcp';
  return runSipp(lab, {
    ns: phone,
    scenario: 'register-domain.xml',
    name: `register-domain-${user}-${phone}${tcp ? '-tcp' : ''}`,
    localIp: IP[phone],
    localPort: SIP_PORT,
    remote: o.sendTo ?? PHONE_TARGET,
    transport: tcp ? 't1' : 'u1',
    authUser: user,
    authPass: ACCOUNTS[user],
    keys: {
      user,
      domain: TEST_DOMAIN,
      expires: o.expires ?? 300,
      contact_params: tcp ? ';transport=tcp' : '',
    },
    ...(o.callId ? { callId: o.callId } : {}),
    ...(o.baseCseq !== undefined ? { baseCseq: o.baseCseq } : {}),
    timeoutS: o.timeoutS ?? 20,
  });
}

/** A domain-only phone calls `toUri` as `user@domain`, sending straight to the provider's address. */
export function startDomainUac(
  lab: Lab,
  phone: PhoneKey,
  user: User,
  toUri: string,
  o: UacOptions & { readonly transport?: 'udp' | 'tcp'; readonly sendTo?: string },
): SippRun {
  const tcp = o.transport === 'tcp';
  return SippRun.start(lab, {
    ns: phone,
    scenario: o.scenario,
    name: `${o.scenario.replace(/\.xml$/, '')}-${phone}${tcp ? '-tcp' : ''}`,
    localIp: IP[phone],
    localPort: SIP_PORT,
    remote: o.sendTo ?? PHONE_TARGET,
    transport: tcp ? 't1' : 'u1',
    mediaPort: o.mediaPort ?? MEDIA_PORT,
    authUser: user,
    authPass: ACCOUNTS[user],
    keys: { to_uri: toUri, from_user: user, from_domain: TEST_DOMAIN, ...(o.keys ?? {}) },
    timeoutS: o.timeoutS ?? 40,
    extraArgs: ['-d', String(o.holdMs ?? CALL_HOLD_MS)],
  });
}

/** SIP over UDP on the phone's port 5060, captured in the phone's namespace. */
export function captureSip(lab: Lab, phone: PhoneKey): Promise<UdpCapture> {
  return UdpCapture.start(lab, phone, `udp and port ${SIP_PORT}`, `sip-${phone}`, { immediate: true });
}

/** `src:port` of every request of `method` that reached `phoneIp` in a capture, in order. */
export function requestSources(packets: readonly UdpPacket[], method: string, phoneIp: string): string[] {
  return packets
    .filter(
      (p) =>
        p.dst === phoneIp && p.payload.subarray(0, method.length + 1).toString('latin1') === `${method} `,
    )
    .map((p) => `${p.src}:${p.sport}`);
}

/** `dst:port` of every datagram the phone sent from its SIP port, in order (where its answers went). */
export function phoneDestinations(packets: readonly UdpPacket[], phoneIp: string): string[] {
  return packets.filter((p) => p.src === phoneIp && p.sport === SIP_PORT).map((p) => `${p.dst}:${p.dport}`);
}

/** The redirect comments (`smq:@redirect:<proto>:<port>`) in a ruleset dump. */
export function redirectComments(dump: string): string[] {
  return [...new Set([...dump.matchAll(/smq:@redirect:[a-z]+:\d+/g)].map((m) => m[0]))].sort();
}

/** Router ruleset lines that REDIRECT (iptables-save) or `redirect to` (nft), ours or not. */
export function redirectLines(dump: string): string[] {
  return dump.split('\n').filter((l) => /REDIRECT|redirect to/.test(l));
}
