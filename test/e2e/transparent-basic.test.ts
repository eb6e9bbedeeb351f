/**
 * Transparent interception (issue 4), with the router's firewall as nftables (fw4) and as iptables
 * (fw3): phones configured only with their provider's domain, no outbound proxy, send their SIP
 * straight to the provider's address; sipmasq (modes: transparent, firewall auto, mediaPath auto)
 * redirects LAN SIP on port 5060 to itself, routes each request by its Request-URI through RFC 3263
 * DNS (NAPTR -> SRV -> A, cached for the TTL), and the phones register, call out, get called (also
 * after the router's conntrack timeout) and hang up with two-way audio - every SIP message they get
 * seeming to come from the provider's address. Over TCP too. After SIGTERM the redirects are gone.
 *
 * SMQ_LAB_FIREWALL=nftables|iptables runs one backend only; by default both run, one lab each.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertSignalling, assertTwoWayAudio, mediaCall, received, reportCounts } from './lib/calls.ts';
import { sleep } from './lib/exec.ts';
import type { FirewallBackend } from './lib/firewall.ts';
import { CONNTRACK_UDP_TIMEOUT, IP } from './lib/lab.ts';
import { startRemoteUac } from './lib/parties.ts';
import { conntrackUdp, keepEvidence, type MediaStatus, mediaStatus } from './lib/router-state.ts';
import { useSipmasq } from './lib/sipmasq.ts';
import { describeRun, headers } from './lib/sipp.ts';
import { labSkip } from './lib/tools.ts';
import {
  captureSip,
  domainAor,
  INTERCEPT_PORT,
  P1,
  P2,
  phoneDestinations,
  REMOTE_DOMAIN_URI,
  redirectComments,
  redirectLines,
  registerDomain,
  requestSources,
  startDomainUac,
  TEST_DOMAIN,
  transparentOverrides,
  useTransparentLab,
} from './lib/transparent.ts';
import { guard } from './lib/with-lab.ts';

const PUBLIC_CONTACT = new RegExp(`^sip:[^@]+@${IP.routerWan.replaceAll('.', '\\.')}(:5060)?([;>]|$)`);
const PROVIDER_SIP = `${P1}:5060`;

function backends(): FirewallBackend[] {
  const env = process.env.SMQ_LAB_FIREWALL;
  if (env === 'nftables' || env === 'iptables') return [env];
  return ['nftables', 'iptables'];
}

/** The `dns` section of status --json (proxy/dns: DnsLookupStats and the resolver's counters). */
interface DnsStats {
  readonly cache?: { readonly hits?: number; readonly misses?: number; readonly entries?: number };
  readonly queries?: number;
  readonly resolves?: number;
}

for (const backend of backends()) {
  describe(`transparent interception, router firewall ${backend}`, {
    skip: labSkip(['sipp', 'kamailio', 'kamcmd', 'conntrack']),
  }, () => {
    const env = useTransparentLab({ name: `transparent-basic-${backend}`, firewall: backend });
    const smq = useSipmasq(() => env().lab, transparentOverrides());

    it('installs redirects of LAN SIP (UDP 5060) to its intercept port while it runs', (t) =>
      guard(env().lab, async () => {
        const { lab } = env();
        await lab.waitUdpBound('router', IP.routerLan, INTERCEPT_PORT, 5000);
        const dump = await lab.firewallDump();
        keepEvidence(lab, `ruleset-running-${backend}`, dump);
        const status = await mediaStatus(smq());
        t.diagnostic(`status firewall: ${JSON.stringify(status.firewall)}`);
        t.diagnostic(`redirect lines: ${JSON.stringify(redirectLines(dump))}`);
        assert.equal(status.firewall.backend, backend, 'sipmasq detected the router firewall');
        assert.ok(
          redirectComments(dump).includes('smq:@redirect:udp:5060'),
          `no UDP 5060 redirect in the ruleset:\n${redirectLines(dump).join('\n')}`,
        );
        assert.ok(
          redirectLines(dump).some(
            (l) => l.includes('smq:@redirect:udp:5060') && l.includes(String(INTERCEPT_PORT)),
          ),
          `the UDP redirect does not go to :${INTERCEPT_PORT}:\n${redirectLines(dump).join('\n')}`,
        );
      }));

    it('a REGISTER sent to the provider address is intercepted: p1 stores the public Contact, the 200 comes from the provider address', (t) =>
      guard(env().lab, async () => {
        const { lab, p1, p2, dns } = env();
        const cap = await captureSip(lab, 'phone1');
        const reg = await registerDomain(lab, 'phone1', 'alice');
        const packets = await cap.stop();
        assert.ok(reg.ok, describeRun(reg));
        assert.deepEqual(
          reg.messages.filter((m) => m.direction === 'received').map((m) => m.status),
          [401, 200],
          'the challenge reached the phone and its answer was accepted',
        );
        const contacts = await p1!.contactsOf('alice');
        t.diagnostic(`p1 location: ${JSON.stringify(contacts)}`);
        assert.equal(contacts.length, 1, JSON.stringify(contacts));
        assert.match(contacts[0]!.address, PUBLIC_CONTACT, 'Contact on the router public address');
        assert.equal((await p2.contactsOf('alice')).length, 0, 'p2 (SRV priority 20) was not used');

        const answers = packets.filter(
          (p) => p.dst === IP.phone1 && p.payload.toString('latin1').startsWith('SIP/2.0'),
        );
        const sources = [...new Set(answers.map((p) => `${p.src}:${p.sport}`))];
        t.diagnostic(`answers reached the phone from ${sources.join(', ')}`);
        for (const p of packets)
          t.diagnostic(
            `  captured ${p.src}:${p.sport} > ${p.dst}:${p.dport} ${p.payload.toString('latin1').split('\r\n')[0]}`,
          );
        assert.equal(answers.length >= 2, true, 'the phone captured the 401 and the 200');
        assert.deepEqual(sources, [PROVIDER_SIP], 'every answer seems to come from the provider');
        assert.deepEqual(
          [...new Set(phoneDestinations(packets, IP.phone1))],
          [PROVIDER_SIP],
          'the phone only ever talked to the provider address',
        );

        const naptr = dns.queries('NAPTR').filter((q) => q.name === TEST_DOMAIN);
        t.diagnostic(`dnsmasq queries: ${JSON.stringify(dns.queries())}`);
        assert.ok(naptr.length >= 1, 'the router looked the domain up itself (NAPTR)');
        assert.ok(
          naptr.every((q) => q.from === IP.routerWan),
          JSON.stringify(naptr),
        );

        const status = await mediaStatus(smq());
        t.diagnostic(`status registrations: ${JSON.stringify(status.registrations)}`);
        const mine = status.registrations.filter((r) => r.aor.includes('alice'));
        assert.equal(mine.length, 1, JSON.stringify(status.registrations));
        assert.match(mine[0]!.contact, /192\.168\.1\.10/);
      }));

    it('the phone calls the remote through the provider: two-way audio, the phone hangs up', (t) =>
      guard(env().lab, async () => {
        const { lab } = env();
        const spec = {
          caller: 'phone1',
          callee: 'remote',
          answer: { scenario: 'uas-answer.xml', user: 'remote' },
          dial: () => startDomainUac(lab, 'phone1', 'alice', REMOTE_DOMAIN_URI, { scenario: 'uac-call.xml' }),
        } as const;
        const o = await mediaCall(lab, spec);
        reportCounts(t, o, spec);
        assertSignalling(o);
        assertTwoWayAudio(o, spec);
        const invite = received(o.callee, 'INVITE')[0]!;
        const vias = headers(invite.text, 'Via', 'v').join(' | ');
        assert.ok(vias.includes(P1), `the INVITE came through p1: ${vias}`);
        assert.ok(!vias.includes(P2), `not through p2: ${vias}`);
        assert.equal(received(o.callee, 'BYE').length, 1, 'the phone hung up with BYE');
      }));

    it('the remote calls the AOR through p1: the INVITE reaches the phone from the provider address, two-way audio', (t) =>
      guard(env().lab, async () => {
        const { lab } = env();
        const cap = await captureSip(lab, 'phone1');
        const spec = {
          caller: 'remote',
          callee: 'phone1',
          answer: { scenario: 'uas-answer.xml', user: 'alice' },
          dial: () => startRemoteUac(lab, domainAor('alice'), { scenario: 'uac-call.xml' }),
        } as const;
        const o = await mediaCall(lab, spec);
        const packets = await cap.stop();
        reportCounts(t, o, spec);
        const sources = requestSources(packets, 'INVITE', IP.phone1);
        t.diagnostic(`INVITE reached the phone from ${sources.join(', ')}`);
        assertSignalling(o);
        assertTwoWayAudio(o, spec);
        assert.ok(sources.length >= 1, 'the capture saw the INVITE');
        assert.deepEqual([...new Set(sources)], [PROVIDER_SIP], 'the INVITE seems to come from the provider');
        const byeSources = requestSources(packets, 'BYE', IP.phone1);
        assert.deepEqual([...new Set(byeSources)], [PROVIDER_SIP], `BYE from ${byeSources.join(', ')}`);
      }));

    it('DNS answers are cached for their TTL: one NAPTR query for many requests', (t) =>
      guard(env().lab, async () => {
        const { dns } = env();
        const status = (await mediaStatus(smq())) as MediaStatus & { dns?: DnsStats };
        t.diagnostic(`status dns: ${JSON.stringify(status.dns)}`);
        const naptr = dns.queries('NAPTR').filter((q) => q.name === TEST_DOMAIN);
        const srv = dns.queries('SRV').filter((q) => q.name === `_sip._udp.${TEST_DOMAIN}`);
        t.diagnostic(`dnsmasq saw ${naptr.length} NAPTR and ${srv.length} SRV queries`);
        assert.equal(
          naptr.length,
          1,
          `the NAPTR answer (TTL 300) was asked for once: ${JSON.stringify(naptr)}`,
        );
        assert.equal(srv.length, 1, `the SRV answer (TTL 300) was asked for once: ${JSON.stringify(srv)}`);
        assert.ok(status.dns, 'status --json has a dns section');
        assert.ok((status.dns.cache?.hits ?? 0) > 0, `cache hits in status: ${JSON.stringify(status.dns)}`);
      }));

    it('over TCP too: REGISTER and a call out intercepted (tcp/5060 redirect)', (t) =>
      guard(env().lab, async () => {
        const { lab, p1 } = env();
        const dump = await lab.firewallDump();
        t.diagnostic(`redirects: ${JSON.stringify(redirectComments(dump))}`);
        assert.ok(
          redirectComments(dump).includes('smq:@redirect:tcp:5060'),
          `no TCP 5060 redirect in the ruleset:\n${redirectLines(dump).join('\n')}`,
        );
        const reg = await registerDomain(lab, 'phone2', 'bob', { transport: 'tcp' });
        assert.ok(reg.ok, describeRun(reg));
        const contacts = await p1!.contactsOf('bob');
        assert.equal(contacts.length, 1, JSON.stringify(contacts));
        assert.match(contacts[0]!.address, PUBLIC_CONTACT);
        const spec = {
          caller: 'phone2',
          callee: 'remote',
          answer: { scenario: 'uas-answer.xml', user: 'remote' },
          dial: () =>
            startDomainUac(lab, 'phone2', 'bob', REMOTE_DOMAIN_URI, {
              scenario: 'uac-call.xml',
              transport: 'tcp',
            }),
        } as const;
        const o = await mediaCall(lab, spec);
        reportCounts(t, o, spec);
        assertSignalling(o);
        assertTwoWayAudio(o, spec);
      }));

    it(`after more than ${CONNTRACK_UDP_TIMEOUT} s idle, a call to the AOR still reaches the phone from the provider address`, (t) =>
      guard(env().lab, async () => {
        const { lab, p1 } = env();
        const before = await p1!.contactsOf('alice');
        await sleep((CONNTRACK_UDP_TIMEOUT + 5) * 1000);
        const left = (await conntrackUdp(lab, IP.phone1)).filter((l) => /port=5060\b/.test(l));
        t.diagnostic(
          `conntrack entries of phone1 SIP after the idle time: ${left.length ? left.join('\n') : 'none'}`,
        );
        const cap = await captureSip(lab, 'phone1');
        const spec = {
          caller: 'remote',
          callee: 'phone1',
          answer: { scenario: 'uas-answer.xml', user: 'alice' },
          dial: () => startRemoteUac(lab, domainAor('alice'), { scenario: 'uac-call.xml' }),
        } as const;
        const o = await mediaCall(lab, spec);
        const packets = await cap.stop();
        reportCounts(t, o, spec);
        const sources = requestSources(packets, 'INVITE', IP.phone1);
        t.diagnostic(`INVITE reached the phone from ${sources.join(', ') || 'nowhere'}`);
        t.diagnostic(`phone answered to ${[...new Set(phoneDestinations(packets, IP.phone1))].join(', ')}`);
        assertSignalling(o);
        assertTwoWayAudio(o, spec);
        assert.deepEqual([...new Set(sources)], [PROVIDER_SIP], 'the INVITE seems to come from the provider');
        const after = await p1!.contactsOf('alice');
        assert.deepEqual(
          after.map((c) => [c.address, c.callId, c.cseq]),
          before.map((c) => [c.address, c.callId, c.cseq]),
          'the phone did not register again',
        );
      }));

    it('SIGTERM: sipmasq stops cleanly and its redirects are gone from the router', (t) =>
      guard(env().lab, async () => {
        const { lab } = env();
        const code = await smq().stop();
        assert.equal(code, 0, 'clean exit');
        const dump = await lab.firewallDump();
        keepEvidence(lab, `ruleset-stopped-${backend}`, dump);
        t.diagnostic(`redirect lines left: ${JSON.stringify(redirectLines(dump))}`);
        assert.deepEqual(redirectComments(dump), [], 'no smq redirect left');
        assert.deepEqual(redirectLines(dump), [], 'no REDIRECT rule at all');
        assert.ok(
          !/smq:/.test(dump),
          `sipmasq left rules behind:\n${dump
            .split('\n')
            .filter((l) => l.includes('smq:'))
            .join('\n')}`,
        );
      }));
  });
}
