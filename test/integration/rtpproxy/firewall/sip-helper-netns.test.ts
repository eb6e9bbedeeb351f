/**
 * The kernel SIP helper against real rulesets: fw4 (nftables) and fw3 (iptables, nft and legacy)
 * attach nf_conntrack_sip to LAN UDP 5060 the way OpenWrt does. With sipHelper 'warn' the router's
 * conntrack entries of the phone's SIP flows (to the router, and redirected) carry `helper=sip`; with
 * 'disable' they carry none, also after a firewall reload, and again do once sipmasq has stopped.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { MediaSide } from '../../../../rtpproxy/control.ts';
import { ChildSide } from './child-side.ts';
import {
  flavours,
  LAN,
  openSide,
  PHONE,
  PROVIDER,
  sipHelperUnavailable,
  TransparentLab,
} from './transparent-lab.ts';

const UDP = fileURLToPath(new URL('./udp-child.ts', import.meta.url));
const PORTS = [5070, 5071, 5072, 5073, 5074, 5075, 5076];
const missing = sipHelperUnavailable();
// Outside CI a kernel without the module is a skip (said why); in CI it must fail loudly.
const helperSkip = missing !== null && !process.env['CI'] ? missing : false;
const hooked = /jump sipmasq_helper|-A PREROUTING -j sipmasq_helper/;

for (const { flavour, skip } of flavours()) {
  describe(`kernel SIP helper policy (${flavour})`, { skip: skip || helperSkip }, () => {
    const lab = new TransparentLab(flavour);
    let phone: ChildSide | null = null;
    let router: ChildSide | null = null;
    before(() => {
      assert.equal(missing, null, `CI: ${missing}`);
      lab.up();
    });
    after(async () => {
      await phone?.kill9();
      await router?.kill9();
      lab.cleanup();
    });

    /** Phone socket i sends to `to`:5060; waits until the router's socket has it. */
    const sip = async (i: number, to: string): Promise<number> => {
      const port = PORTS[i]!;
      phone!.send(`send ${i} ${to} 5060 msg-${i}`);
      const got = await router!.next('recv', 5000, (e) => e['text'] === `msg-${i}`);
      assert.deepEqual([got['from'], got['port']], [PHONE, port]);
      return port;
    };
    const helperOn = (port: number): boolean => {
      const flows = lab.flowsFrom(port);
      assert.equal(flows.length, 1, `one flow from ${port}: ${flows.join(' | ')}`);
      return / helper=sip /.test(`${flows[0]} `);
    };

    it('warn leaves helper=sip on sipmasq flows; disable keeps it off them, also after a reload', async () => {
      phone = ChildSide.start(
        PORTS.map((port) => ({ address: PHONE, port })),
        lab.phoneNs,
        UDP,
      );
      router = ChildSide.start([{ address: LAN, port: 5060 }], lab.routerNs, UDP);
      await Promise.all([phone.next('ready'), router.next('ready')]);
      const redirect = [{ proto: 'udp', port: 5060, toPort: 5060 }] as const;

      let side: MediaSide = await openSide(lab, 'warn');
      try {
        await side.network.setRedirects(redirect);
        const st = side.network.status();
        assert.deepEqual([st.sipHelper.loaded, st.sipHelper.attached], [true, true]);
        assert.match(st.sipHelper.action, /^warned/);
        assert.ok(
          st.warnings.includes(
            "nf_conntrack_sip is active: it rewrites SIP behind sipmasq; set sipHelper 'disable' or unload it",
          ),
        );
        assert.equal(helperOn(await sip(0, LAN)), true, 'to the router: the helper is attached');
        assert.equal(helperOn(await sip(1, PROVIDER)), true, 'redirected: the helper is attached');
      } finally {
        await side.close();
      }

      lab.flushConntrack();
      side = await openSide(lab, 'disable');
      try {
        await side.network.setRedirects(redirect);
        const st = side.network.status();
        assert.deepEqual([st.sipHelper.loaded, st.sipHelper.attached], [true, true]);
        assert.match(st.sipHelper.action, /^disabled/);
        assert.deepEqual(
          st.warnings.filter((w) => w.includes('nf_conntrack_sip')),
          [],
          'every attachment is covered',
        );
        assert.equal(helperOn(await sip(2, LAN)), false, 'to the router: no helper');
        assert.equal(helperOn(await sip(3, PROVIDER)), false, 'redirected: no helper');

        // The router's firewall is reloaded: the watchdog puts sipmasq's helper chain back.
        lab.load();
        const end = Date.now() + 5000;
        const back = () => /smq:@nohelper:redirect/.test(lab.listing()) && hooked.test(lab.listing());
        while (!back() && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
        assert.ok(back(), 'helper chain and its hook restored');
        assert.equal(helperOn(await sip(4, PROVIDER)), false, 'after the reload: no helper');
      } finally {
        await side.close();
      }
      const left = lab.listing();
      assert.ok(!left.includes('sipmasq') && !left.includes('smq:'), left);
      // sipmasq gone: the router's rules attach the helper again (it was sipmasq that kept it off).
      assert.equal(helperOn(await sip(5, LAN)), true);
    });
  });
}
