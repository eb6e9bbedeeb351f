/**
 * Real packets through the kernel path: a "phone" namespace behind a "router" namespace (fw4-shaped
 * ruleset, sipmasq's media side running inside it) and a "far" namespace on the WAN side that also
 * holds a second, stranger address (the sprayer).
 *
 *   phone 10.77.1.2 --- lan0 10.77.1.1 [router] wan0 203.0.113.1 --- far 203.0.113.7 / sprayer .66
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { endpoint, request, stream } from '../relay-fixture.ts';
import { ChildSide } from './child-side.ts';
import { canUseNamespaces, FW4_RULESET, inNs, Namespaces, run } from './netns.ts';

const UDP = fileURLToPath(new URL('./udp-child.ts', import.meta.url));
const PHONE = '10.77.1.2';
const FAR = '203.0.113.7';
const SPRAYER = '203.0.113.66';
const WAN = '203.0.113.1';

describe('kernel media path with real forwarding', { skip: canUseNamespaces() ?? false }, () => {
  const spaces = new Namespaces();
  let phoneNs = '';
  let routerNs = '';
  let farNs = '';
  const children: ChildSide[] = [];

  before(() => {
    phoneNs = spaces.add('ph');
    routerNs = spaces.add('rt');
    farNs = spaces.add('far');
    const s = spaces.suffix;
    run('ip', [
      'link',
      'add',
      `smqfl${s}`.slice(0, 15),
      'netns',
      routerNs,
      'type',
      'veth',
      'peer',
      'name',
      'eth0',
      'netns',
      phoneNs,
    ]);
    run('ip', [
      'link',
      'add',
      `smqfw${s}`.slice(0, 15),
      'netns',
      routerNs,
      'type',
      'veth',
      'peer',
      'name',
      'eth0',
      'netns',
      farNs,
    ]);
    inNs(routerNs, 'ip', ['link', 'set', `smqfl${s}`.slice(0, 15), 'name', 'lan0']);
    inNs(routerNs, 'ip', ['link', 'set', `smqfw${s}`.slice(0, 15), 'name', 'wan0']);
    for (const [ns, dev, addr] of [
      [routerNs, 'lan0', '10.77.1.1/24'],
      [routerNs, 'wan0', `${WAN}/24`],
      [phoneNs, 'eth0', `${PHONE}/24`],
      [farNs, 'eth0', `${FAR}/24`],
      [farNs, 'eth0', `${SPRAYER}/24`],
    ] as const) {
      inNs(ns, 'ip', ['addr', 'add', addr, 'dev', dev]);
      inNs(ns, 'ip', ['link', 'set', dev, 'up']);
    }
    inNs(phoneNs, 'ip', ['route', 'add', 'default', 'via', '10.77.1.1']);
    inNs(routerNs, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    inNs(routerNs, 'nft', ['-f', '-'], FW4_RULESET);
  });

  after(async () => {
    for (const c of children) await c.kill9();
    spaces.cleanup();
  });

  it('maps WAN:X to the phone both ways, only for the far side, and stops at release', async () => {
    const phone = ChildSide.start([{ address: PHONE, port: 4000 }], phoneNs, UDP);
    const far = ChildSide.start(
      [
        { address: FAR, port: 7000 },
        { address: SPRAYER, port: 7000 },
      ],
      farNs,
      UDP,
    );
    children.push(phone, far);
    const router = ChildSide.start(
      {
        opts: {
          lanAddress: '10.77.1.1',
          wanAddress: WAN,
          lanDevice: 'lan0',
          wanDevice: 'wan0',
          sipPort: 5060,
          portMin: 30000,
          portMax: 30099,
          idleTimeoutMs: 60_000,
          holdTimeoutMs: 600_000,
          mediaPath: 'auto',
          firewall: 'auto',
        },
        public: WAN,
        updates: [
          request('lan', [stream(0, endpoint(PHONE, 4000))], 'call'),
          request('wan', [stream(0, endpoint(FAR, 7000))], 'call'),
        ],
      },
      routerNs,
    );
    children.push(router);
    await Promise.all([phone.next('ready'), far.next('ready')]);
    const ready = await router.next('ready');
    const grants = ready['grants'] as { port: number; path: string }[][];
    const x = grants[0]?.[0]?.port ?? 0;
    assert.equal(grants[1]?.[0]?.path, 'kernel');

    // Far side -> WAN:X reaches the phone, from the far side's own address.
    far.send(`send 0 ${WAN} ${x} hello-phone`);
    const atPhone = await phone.next('recv', 5000, (e) => e['text'] === 'hello-phone');
    assert.deepEqual([atPhone['from'], atPhone['port']], [FAR, 7000]);
    // Phone -> far side leaves from WAN:X (SNAT to the fixed port).
    phone.send(`send 0 ${FAR} 7000 hello-far`);
    const atFar = await far.next('recv', 5000, (e) => e['text'] === 'hello-far');
    assert.deepEqual([atFar['from'], atFar['port']], [WAN, x]);
    // The sprayer gets nothing through X to the phone.
    far.send(`send 1 ${WAN} ${x} spray`);
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(phone.seen('recv').filter((e) => e['text'] === 'spray').length, 0);

    // Counters: the kernel path counts what it forwarded.
    await new Promise((r) => setTimeout(r, 700));
    router.send('status');
    const status = await router.next('status');
    const st = (
      status['media'] as {
        streams: { path: string; lanToWan: { packets: number }; wanToLan: { packets: number } }[];
      }[]
    )[0]?.streams[0];
    assert.equal(st?.path, 'kernel');
    assert.ok((st?.wanToLan.packets ?? 0) >= 1 && (st?.lanToWan.packets ?? 0) >= 1, JSON.stringify(st));

    // BYE: rules and conntrack entries go, the far side's media no longer reaches the phone.
    router.send('release call');
    await router.next('released');
    far.send(`send 0 ${WAN} ${x} after-bye`);
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(phone.seen('recv').filter((e) => e['text'] === 'after-bye').length, 0);

    router.send('close');
    await router.next('closed');
    assert.ok(!inNs(routerNs, 'nft', ['list', 'ruleset']).includes('sipmasq'));
  });
});
