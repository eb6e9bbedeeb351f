/**
 * The daemon on loopback with real sockets: a "phone" on a LAN address, a "provider" on a WAN address.
 * Proves registration masquerading, incoming routing by token, the open-relay refusals and bad input
 * answers, without namespaces (the namespace lab proves the same behind a real NAT).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { systemClock } from '../../../common/clock.ts';
import { Logger, MemorySink } from '../../../common/logger.ts';
import { nodeSocketFactory } from '../../../common/socket-factory.ts';
import { validateConfig } from '../../../proxy/config.ts';
import { Daemon } from '../../../proxy/daemon.ts';
import { controlRequest } from '../../../proxy/status/control-server.ts';
import type { StatusReport } from '../../../proxy/status/status-report.ts';
import { allHeaders, bodyOf, header, responseTo, sip, startLine, UdpPeer } from '../../helpers/udp-peer.ts';

const LAN = '127.0.0.1';
const WAN = '127.0.0.2';
const PHONE = '127.0.0.3';
const PROVIDER = '127.0.0.100';
const SIP_PORT = 20000 + (process.pid % 5000) * 2;

const SDP = (addr: string, port: number) =>
  [
    'v=0',
    `o=- 1 1 IN IP4 ${addr}`,
    's=-',
    `c=IN IP4 ${addr}`,
    't=0 0',
    `m=audio ${port} RTP/AVP 0 8`,
    'a=rtpmap:0 PCMU/8000',
    'a=sendrecv',
    '',
  ].join('\r\n');

describe('outbound proxy on loopback', () => {
  let dir: string;
  let daemon: Daemon;
  let phone: UdpPeer;
  let provider: UdpPeer;
  const sink = new MemorySink();
  /** What the interfaces say the public address is (a hotplug event changes it). */
  let publicAddress = WAN;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'smq-it-'));
    const config = validateConfig({
      lanAddress: LAN,
      wanAddress: WAN,
      lanNetworks: ['127.0.0.0/30'],
      sipPort: SIP_PORT,
      rtpPortMin: SIP_PORT + 2,
      rtpPortMax: SIP_PORT + 41,
      storePath: '',
      controlSocket: join(dir, 'ctl.sock'),
      keepaliveInterval: 0,
      firewall: 'none',
      logLevel: 'debug',
    });
    daemon = new Daemon(config, {
      version: 'test',
      clock: systemClock,
      sockets: nodeSocketFactory,
      logger: new Logger('sipmasq', { level: 'debug', sink }),
      detect: () => ({
        lanAddress: LAN,
        wanAddress: WAN,
        publicAddress,
        lanNetworks: ['127.0.0.0/30'],
        sipPort: SIP_PORT,
        lanDevice: 'lo',
        wanDevice: 'lo',
      }),
      loadConfig: () => config,
    });
    await daemon.start();
    phone = await UdpPeer.bind(PHONE);
    provider = await UdpPeer.bind(PROVIDER);
  });

  after(async () => {
    await phone?.close();
    await provider?.close();
    await daemon?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const register = (expires: number, cseq: number) =>
    sip(`REGISTER sip:${PROVIDER}:${provider.port} SIP/2.0`, [
      `Via: SIP/2.0/UDP ${PHONE}:${phone.port};branch=z9hG4bKreg${cseq};rport`,
      'Max-Forwards: 70',
      `From: <sip:alice@${PROVIDER}>;tag=ph1`,
      `To: <sip:alice@${PROVIDER}>`,
      'Call-ID: reg-1@phone',
      `CSeq: ${cseq} REGISTER`,
      `Contact: <sip:alice@${PHONE}:${phone.port}>;expires=${expires}`,
    ]);

  let masqContact = '';

  it('masquerades the Contact of a REGISTER and gives the phone its own Contact back', async () => {
    phone.send(register(300, 1), LAN, SIP_PORT);
    const req = await provider.next((r) => startLine(r.text).startsWith('REGISTER'));
    const contact = header(req.text, 'Contact') ?? '';
    assert.match(
      contact,
      new RegExp(`<sip:alice-smq[a-z2-7]{12}@${WAN.replace(/\./g, '\\.')}:${SIP_PORT}>;expires=300`),
    );
    assert.ok(!req.text.includes(`${PHONE}:${phone.port}>`), 'no private contact leaks to the WAN');
    const vias = allHeaders(req.text, 'Via');
    assert.match(
      vias[0]!,
      new RegExp(`^SIP/2.0/UDP ${WAN.replace(/\./g, '\\.')}:${SIP_PORT};branch=z9hG4bKsmq`),
    );
    assert.match(vias[1]!, /received=127\.0\.0\.3/);
    assert.equal(header(req.text, 'Max-Forwards'), '69');
    masqContact = /<([^>]+)>/.exec(contact)![1]!;
    provider.send(
      responseTo(req.text, '200 OK', [`Contact: <${masqContact}>;expires=300`]),
      req.address,
      req.port,
    );
    const resp = await phone.next((r) => startLine(r.text).startsWith('SIP/2.0 200'));
    assert.equal(header(resp.text, 'Contact'), `<sip:alice@${PHONE}:${phone.port}>;expires=300`);
    assert.equal(allHeaders(resp.text, 'Via').length, 1);
    const status = (await controlRequest(join(dir, 'ctl.sock'), 'status')) as StatusReport;
    assert.equal(status.registrations.length, 1);
    assert.equal(status.registrations[0]!.aor, `sip:alice@${PROVIDER}`);
  });

  it('routes an INVITE from the provider to the registered phone with SDP rewritten to the relay', async () => {
    const invite = sip(
      `INVITE ${masqContact} SIP/2.0`,
      [
        `Via: SIP/2.0/UDP ${PROVIDER}:${provider.port};branch=z9hG4bKinv1`,
        'Max-Forwards: 70',
        `From: <sip:bob@${PROVIDER}>;tag=bob1`,
        `To: <sip:alice@${PROVIDER}>`,
        'Call-ID: call-in-1@provider',
        'CSeq: 1 INVITE',
        `Contact: <sip:bob@${PROVIDER}:${provider.port}>`,
        'Content-Type: application/sdp',
      ],
      SDP(PROVIDER, 40000),
    );
    provider.send(invite, WAN, SIP_PORT);
    const got = await phone.next((r) => startLine(r.text).startsWith('INVITE'));
    assert.equal(startLine(got.text), `INVITE sip:alice@${PHONE}:${phone.port} SIP/2.0`);
    assert.match(bodyOf(got.text), new RegExp(`c=IN IP4 ${LAN.replace(/\./g, '\\.')}`));
    const rr = allHeaders(got.text, 'Record-Route');
    assert.equal(rr[0], `<sip:${LAN}:${SIP_PORT};lr>`);
    assert.equal(rr[1], `<sip:${WAN}:${SIP_PORT};lr>`);
    // The phone answers: its Contact is masqueraded, its SDP points at our public side.
    phone.send(
      responseTo(
        got.text,
        '200 OK',
        [`Contact: <sip:alice@${PHONE}:${phone.port}>`, 'Content-Type: application/sdp'],
        SDP(PHONE, 30000),
        'alice1',
      ),
      got.address,
      got.port,
    );
    const ok = await provider.next((r) => startLine(r.text).startsWith('SIP/2.0 200'));
    assert.match(header(ok.text, 'Contact')!, /<sip:alice-smq[a-z2-7]{12}@127\.0\.0\.2:/);
    assert.match(bodyOf(ok.text), /c=IN IP4 127\.0\.0\.2/);
    assert.equal(allHeaders(ok.text, 'Via').length, 1);
    const status = (await controlRequest(join(dir, 'ctl.sock'), 'status')) as StatusReport;
    assert.equal(status.calls.length, 1);
    assert.equal(status.calls[0]!.streams[0]!.path, 'relay');
  });

  it('refuses a WAN request for an unknown user with 404 and a foreign target with 403', async () => {
    const base = (uri: string, branch: string) =>
      sip(`INVITE ${uri} SIP/2.0`, [
        `Via: SIP/2.0/UDP ${PROVIDER}:${provider.port};branch=${branch}`,
        'Max-Forwards: 70',
        `From: <sip:eve@${PROVIDER}>;tag=e1`,
        `To: <sip:nobody@${WAN}>`,
        `Call-ID: ${branch}@eve`,
        'CSeq: 1 INVITE',
      ]);
    provider.send(base(`sip:nobody@${WAN}:${SIP_PORT}`, 'z9hG4bKe1'), WAN, SIP_PORT);
    assert.match(startLine((await provider.next((r) => r.text.includes('z9hG4bKe1'))).text), /^SIP\/2.0 404/);
    provider.send(base('sip:victim@192.0.2.99', 'z9hG4bKe2'), WAN, SIP_PORT);
    assert.match(startLine((await provider.next((r) => r.text.includes('z9hG4bKe2'))).text), /^SIP\/2.0 403/);
    assert.ok(await phone.silent((r) => r.text.includes('eve@'), 300), 'nothing reaches the phone');
  });

  it('answers malformed requests with 400 and keeps its registrations', async () => {
    const bad = sip('INVITE sip:x@127.0.0.2 SIP/2.0', [
      `Via: SIP/2.0/UDP ${PHONE}:${phone.port};branch=z9hG4bKbad1`,
      `From: <sip:alice@${PROVIDER}>;tag=x`,
      `To: <sip:bob@${PROVIDER}>`,
      'Call-ID: bad-1',
      'CSeq: 1 REGISTER',
    ]);
    phone.send(bad, LAN, SIP_PORT);
    assert.match(startLine((await phone.next((r) => r.text.includes('z9hG4bKbad1'))).text), /^SIP\/2.0 400/);
    phone.send(Buffer.from([0xff, 0x00, 0x13, 0x37]), LAN, SIP_PORT);
    phone.send('INVITE sip:x SIP/2.0\r\nContent-Length: -5\r\n\r\n', LAN, SIP_PORT);
    phone.send(Buffer.alloc(70_000, 0x41), LAN, SIP_PORT);
    const status = (await controlRequest(join(dir, 'ctl.sock'), 'status')) as StatusReport;
    assert.equal(status.registrations.length, 1);
    assert.ok(status.sip.parseErrors! >= 3);
  });

  it('un-registers on Expires 0', async () => {
    phone.send(register(0, 2), LAN, SIP_PORT);
    const req = await provider.next((r) => startLine(r.text).startsWith('REGISTER'));
    provider.send(responseTo(req.text, '200 OK'), req.address, req.port);
    await phone.next((r) => startLine(r.text).startsWith('SIP/2.0 200'));
    const status = (await controlRequest(join(dir, 'ctl.sock'), 'status')) as StatusReport;
    assert.equal(status.registrations.length, 0);
  });

  it('uses a new public address at once after a reload (SIGHUP / hotplug), without a restart', async () => {
    publicAddress = '192.0.2.55';
    const result = await daemon.reload();
    assert.deepEqual(result.changed, ['addresses']);
    phone.send(register(300, 3), LAN, SIP_PORT);
    const req = await provider.next((r) => startLine(r.text).startsWith('REGISTER'));
    assert.match(header(req.text, 'Contact') ?? '', /@192\.0\.2\.55:/);
    assert.match(allHeaders(req.text, 'Via')[0]!, /^SIP\/2.0\/UDP 192\.0\.2\.55:/);
    provider.send(responseTo(req.text, '200 OK'), req.address, req.port);
    await phone.next((r) => startLine(r.text).startsWith('SIP/2.0 200'));
  });
});
