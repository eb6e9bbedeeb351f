/**
 * The kernel SIP helper (nf_conntrack_sip / nf_nat_sip) and sipmasq's `sipHelper` policy. The router's
 * firewall here attaches the helper to LAN UDP 5060 as stock OpenWrt does (fw4 `ct helper set "sip"`
 * from chain prerouting, or fw3 `-j CT --helper sip` in raw PREROUTING; lib/firewall.ts).
 *
 *   warn     status says the helper is active (firewall.warnings, firewall.sipHelper) - and the router
 *            really attaches it to the phones' SIP flows (`helper=sip` in conntrack -L): the negative
 *            control that shows the check below can see a helper at all.
 *   disable  none of sipmasq's flows (outbound-proxy SIP to the router's 5060, intercepted SIP
 *            redirected to 5069) carries the helper; the helper rules go away with sipmasq.
 *
 * The helper is per kernel, not per namespace: when nf_conntrack_sip is neither loaded nor built in,
 * this file tries `modprobe nf_conntrack_sip` and unloads it again at the end; without the module the
 * tests are skipped with the reason (there is nothing the helper could do then).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { after, describe, it, type TestContext } from 'node:test';
import type { FirewallBackend } from './lib/firewall.ts';
import { IP, type Lab } from './lib/lab.ts';
import { register } from './lib/parties.ts';
import { type MediaStatus, mediaStatus } from './lib/router-state.ts';
import { type Sipmasq, startSipmasq } from './lib/sipmasq.ts';
import { describeRun } from './lib/sipp.ts';
import { labSkip, which } from './lib/tools.ts';
import {
  INTERCEPT_PORT,
  registerDomain,
  transparentOverrides,
  useTransparentLab,
} from './lib/transparent.ts';
import { guard } from './lib/with-lab.ts';

interface HelperModule {
  readonly present: boolean;
  /** We loaded it (and unload it at the end). */
  readonly loadedHere: boolean;
  readonly how: string;
}

function helperLoaded(): string | null {
  if (existsSync('/proc/modules') && /^nf_conntrack_sip /m.test(readFileSync('/proc/modules', 'utf8')))
    return 'loaded module (/proc/modules)';
  if (existsSync('/sys/module/nf_conntrack_sip')) return 'in the kernel (/sys/module/nf_conntrack_sip)';
  return null;
}

function findHelperModule(): HelperModule {
  const found = helperLoaded();
  if (found) return { present: true, loadedHere: false, how: found };
  const modprobe = which('modprobe');
  if (!modprobe)
    return { present: false, loadedHere: false, how: 'nf_conntrack_sip not loaded, no modprobe' };
  const r = spawnSync(modprobe, ['nf_conntrack_sip'], { timeout: 10_000, encoding: 'utf8' });
  if (r.status === 0 && helperLoaded())
    return { present: true, loadedHere: true, how: 'modprobe nf_conntrack_sip' };
  return {
    present: false,
    loadedHere: false,
    how: `modprobe nf_conntrack_sip failed: ${(r.stderr || r.error?.message || '').trim()}`,
  };
}

function backends(): FirewallBackend[] {
  const env = process.env.SMQ_LAB_FIREWALL;
  if (env === 'nftables' || env === 'iptables') return [env];
  return ['nftables', 'iptables'];
}

const LAB_SKIP = labSkip(['sipp', 'kamailio', 'kamcmd', 'conntrack']);
const MODULE: HelperModule =
  LAB_SKIP === false ? findHelperModule() : { present: false, loadedHere: false, how: '' };
const SKIP: false | string =
  LAB_SKIP !== false
    ? LAB_SKIP
    : MODULE.present
      ? false
      : `the kernel has no SIP helper to keep off (${MODULE.how})`;

after(() => {
  if (!MODULE.loadedHere) return;
  const modprobe = which('modprobe');
  if (modprobe) spawnSync(modprobe, ['-r', 'nf_nat_sip', 'nf_conntrack_sip'], { timeout: 10_000 });
});

/** UDP conntrack lines of the router that carry SIP (port 5060 or the intercept port). */
async function sipFlows(lab: Lab): Promise<string[]> {
  const text = await lab.conntrack(['-L', '-p', 'udp']);
  return text
    .split('\n')
    .filter((l) => l.includes('udp') && new RegExp(`port=(5060|${INTERCEPT_PORT})\\b`).test(l));
}

/** Register bob through the outbound proxy (phone2) and alice by interception (phone1). */
async function registerBothWays(t: TestContext, lab: Lab, mustSucceed: boolean): Promise<void> {
  const viaProxy = await register(lab, 'phone2', 'bob', { via: 'sipmasq' });
  const intercepted = await registerDomain(lab, 'phone1', 'alice');
  t.diagnostic(`outbound REGISTER ok=${viaProxy.ok}, intercepted REGISTER ok=${intercepted.ok}`);
  if (mustSucceed) {
    assert.ok(viaProxy.ok, describeRun(viaProxy));
    assert.ok(intercepted.ok, describeRun(intercepted));
  }
}

/** `firewall.sipHelper` of status --json (rtpproxy/control.ts SipHelperStatus). */
interface HelperView {
  readonly loaded?: boolean;
  readonly attached?: boolean;
  readonly action?: string;
}

function helperView(status: MediaStatus): HelperView | undefined {
  return (status.firewall as { sipHelper?: HelperView }).sipHelper;
}

/** One UDP datagram from `fromIp`:5060 in the phone's namespace to `to` (a SIP-looking OPTIONS). */
async function sipDatagram(lab: Lab, phone: 'phone1' | 'phone2', to: string): Promise<void> {
  const [host, port] = to.split(':');
  const from = IP[phone];
  const msg = `OPTIONS sip:${host} SIP/2.0\r\nVia: SIP/2.0/UDP ${from}:5060;branch=z9hG4bKctl${phone}\r\nFrom: <sip:probe@${from}>;tag=1\r\nTo: <sip:${host}>\r\nCall-ID: control-${phone}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`;
  const script = `const s=require('dgram').createSocket('udp4');s.bind(5060,${JSON.stringify(from)},()=>s.send(${JSON.stringify(msg)},${Number(port)},${JSON.stringify(host)},()=>s.close()))`;
  await lab.exec(phone, process.execPath, ['-e', script], { timeoutMs: 5000 });
}

async function withSipmasq<T>(
  lab: Lab,
  policy: 'warn' | 'disable',
  fn: (smq: Sipmasq) => Promise<T>,
): Promise<T> {
  // Flows keep the helper they were created with: start from an empty table.
  await lab.conntrack(['-F']);
  const smq = await startSipmasq(
    lab,
    transparentOverrides({ modes: ['outbound', 'transparent'], sipHelper: policy }),
  );
  try {
    return await fn(smq);
  } finally {
    if (smq.running) await smq.stop().catch(() => smq.kill());
  }
}

for (const backend of backends()) {
  describe(`kernel SIP helper, router firewall ${backend} attaching it to LAN UDP 5060`, {
    skip: SKIP,
  }, () => {
    const env = useTransparentLab({
      name: `transparent-sip-helper-${backend}`,
      firewall: backend,
      sipHelperRules: true,
    });

    it(`the kernel's helper: ${MODULE.how || 'n/a'}`, () => {
      assert.ok(MODULE.present);
    });

    it('without sipmasq, the router attaches the helper to LAN UDP 5060 (the control)', (t) =>
      guard(env().lab, async () => {
        const { lab } = env();
        await lab.conntrack(['-F']);
        await sipDatagram(lab, 'phone2', `${IP.routerLan}:5060`);
        await sipDatagram(lab, 'phone1', '203.0.113.10:5060');
        const flows = await sipFlows(lab);
        for (const f of flows) t.diagnostic(`conntrack: ${f}`);
        assert.ok(
          flows.some((l) => l.includes(IP.phone2) && l.includes('helper=sip')),
          'LAN SIP to the router got helper=sip (without this, the disable test proves nothing)',
        );
        assert.ok(
          flows.some((l) => l.includes(IP.phone1) && l.includes('helper=sip')),
          'LAN SIP to the internet got helper=sip',
        );
      }));

    it("sipHelper 'warn': status warns, and the router attaches the helper to the phones' SIP (control)", (t) =>
      guard(env().lab, async () => {
        const { lab } = env();
        await withSipmasq(lab, 'warn', async (smq) => {
          const status: MediaStatus = await mediaStatus(smq);
          const helper = helperView(status);
          t.diagnostic(`status firewall.sipHelper: ${JSON.stringify(helper ?? null)}`);
          t.diagnostic(`status firewall.warnings: ${JSON.stringify(status.firewall.warnings)}`);
          await registerBothWays(t, lab, false);
          const flows = await sipFlows(lab);
          for (const f of flows) t.diagnostic(`conntrack: ${f}`);
          assert.equal(helper?.action?.startsWith('warned'), true, `status: warned, not ${helper?.action}`);
          assert.ok(
            flows.some((l) => l.includes(IP.phone2) && l.includes('helper=sip')),
            "with 'warn' sipmasq leaves the helper on (outbound-proxy SIP to the router carries helper=sip)",
          );
          assert.equal(helper?.loaded, true, 'status: the helper is loaded');
          assert.equal(helper?.attached, true, 'status: a rule attaches it');
          assert.ok(
            status.firewall.warnings.some((w) => /nf_conntrack_sip/.test(w)),
            `status warns about the helper: ${JSON.stringify(status.firewall.warnings)}`,
          );
        });
      }));

    it("sipHelper 'disable': no flow of sipmasq's carries helper=sip; the helper rules leave with sipmasq", (t) =>
      guard(env().lab, async () => {
        const { lab } = env();
        await withSipmasq(lab, 'disable', async (smq) => {
          const status = await mediaStatus(smq);
          const helper = helperView(status);
          t.diagnostic(`status firewall.sipHelper: ${JSON.stringify(helper ?? null)}`);
          t.diagnostic(`status firewall.warnings: ${JSON.stringify(status.firewall.warnings)}`);
          await registerBothWays(t, lab, true);
          const flows = await sipFlows(lab);
          for (const f of flows) t.diagnostic(`conntrack: ${f}`);
          assert.ok(
            flows.some((l) => l.includes(IP.phone1)) && flows.some((l) => l.includes(IP.phone2)),
            'both phones have SIP flows in conntrack',
          );
          const withHelper = flows.filter((l) => l.includes('helper=sip'));
          assert.deepEqual(withHelper, [], 'no SIP flow carries the helper');
          assert.match(helper?.action ?? '', /^disabled/, 'status says the helper is disabled');
        });
        const dump = await lab.firewallDump();
        const left = dump.split('\n').filter((l) => l.includes('smq:'));
        assert.deepEqual(left, [], 'sipmasq removed its rules (the helper chain too)');
        assert.ok(/ct helper set "sip"|--helper sip/.test(dump), "the router's own helper rule is untouched");
      }));
  });
}
