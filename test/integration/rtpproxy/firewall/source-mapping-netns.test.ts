/**
 * Transparent mode with real forwarding: the phone talks to its provider's address (which exists
 * nowhere), the router REDIRECTs it to its own socket on LAN:5060 (setRedirects). Answers on the same
 * flow are de-NATed by the kernel; a request the router sends after the conntrack entry is gone comes
 * from the LAN address, unless a source mapping (setSourceMappings) makes it come from the provider's.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ChildSide } from './child-side.ts';
import { flavours, LAN, openSide, PHONE, PROVIDER, TransparentLab } from './transparent-lab.ts';

const UDP = fileURLToPath(new URL('./udp-child.ts', import.meta.url));
const PHONE_PORT = 5062;

for (const { flavour, skip } of flavours()) {
  describe(`source mappings with real forwarding (${flavour})`, { skip }, () => {
    const lab = new TransparentLab(flavour);
    const children: ChildSide[] = [];
    before(() => lab.up());
    after(async () => {
      for (const c of children) await c.kill9();
      lab.cleanup();
    });

    it('the phone sees answers and later requests from its provider address only with the mapping', async () => {
      const phone = ChildSide.start([{ address: PHONE, port: PHONE_PORT }], lab.phoneNs, UDP);
      const router = ChildSide.start([{ address: LAN, port: 5060 }], lab.routerNs, UDP);
      children.push(phone, router);
      await Promise.all([phone.next('ready'), router.next('ready')]);
      const side = await openSide(lab, 'disable');
      try {
        await side.network.setRedirects([{ proto: 'udp', port: 5060, toPort: 5060 }]);

        // REGISTER to the provider's address reaches the router's socket; the answer looks right.
        phone.send(`send 0 ${PROVIDER} 5060 register`);
        const req = await router.next('recv', 5000, (e) => e['text'] === 'register');
        assert.deepEqual([req['from'], req['port']], [PHONE, PHONE_PORT]);
        router.send(`send 0 ${PHONE} ${PHONE_PORT} ok-200`);
        const ans = await phone.next('recv', 5000, (e) => e['text'] === 'ok-200');
        assert.deepEqual([ans['from'], ans['port']], [PROVIDER, 5060], 'same flow: de-NATed by conntrack');

        // The flow expired: a new request from the router shows the LAN address...
        lab.flushConntrack();
        router.send(`send 0 ${PHONE} ${PHONE_PORT} invite-bare`);
        const bare = await phone.next('recv', 5000, (e) => e['text'] === 'invite-bare');
        assert.deepEqual([bare['from'], bare['port']], [LAN, 5060], 'without a mapping: the LAN address');

        // ...unless the source mapping is installed.
        lab.flushConntrack();
        await side.network.setSourceMappings([
          { phoneAddress: PHONE, phonePort: PHONE_PORT, proto: 'udp', asAddress: PROVIDER, asPort: 5060 },
        ]);
        assert.match(lab.listing(), /smq:@srcmap:udp:10\.79\.1\.2:5062/);
        router.send(`send 0 ${PHONE} ${PHONE_PORT} invite-mapped`);
        const mapped = await phone.next('recv', 5000, (e) => e['text'] === 'invite-mapped');
        assert.deepEqual([mapped['from'], mapped['port']], [PROVIDER, 5060], 'with the mapping');
        // The phone answers the provider's address; the answer reaches the router's socket.
        phone.send(`send 0 ${PROVIDER} 5060 ringing-180`);
        const back = await router.next('recv', 5000, (e) => e['text'] === 'ringing-180');
        assert.deepEqual([back['from'], back['port']], [PHONE, PHONE_PORT]);

        // A firewall reload wipes the mapping; the watchdog puts it back.
        lab.load();
        const end = Date.now() + 5000;
        const hooked = /jump sipmasq_srcnat|-A POSTROUTING -j sipmasq_srcnat/;
        const restored = () => lab.listing().includes('smq:@srcmap') && hooked.test(lab.listing());
        while (!restored() && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
        assert.ok(restored(), 'mapping and its hook restored after a reload');
        lab.flushConntrack();
        router.send(`send 0 ${PHONE} ${PHONE_PORT} invite-restored`);
        const again = await phone.next('recv', 5000, (e) => e['text'] === 'invite-restored');
        assert.deepEqual([again['from'], again['port']], [PROVIDER, 5060]);

        await side.network.setSourceMappings([]);
        assert.doesNotMatch(lab.listing(), /smq:@srcmap/);
      } finally {
        await side.close();
      }
      const left = lab.listing();
      assert.ok(!left.includes('sipmasq') && !left.includes('smq:'), left);
    });
  });
}
