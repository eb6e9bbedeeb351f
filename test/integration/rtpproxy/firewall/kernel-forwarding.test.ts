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

/** The router's media side: the lab's addresses and devices, the kernel path where it can. */
function routerOptions(portMin: number, portMax: number) {
  return {
    lanAddress: '10.77.1.1',
    wanAddress: WAN,
    lanDevice: 'lan0',
    wanDevice: 'wan0',
    sipPort: 5060,
    portMin,
    portMax,
    idleTimeoutMs: 60_000,
    holdTimeoutMs: 600_000,
    mediaPath: 'auto',
    firewall: 'auto',
  } as const;
}

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
        opts: routerOptions(30000, 30099),
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

  it('with fw4 flow offloading on, media is not offloaded: its counters keep counting (and other flows are)', async (t) => {
    // Needs flowtables in the running kernel (CONFIG_NF_FLOW_TABLE); the development VM has none, so this
    // runs only where a router-like kernel does (the unit tests cover the jump's placement).
    try {
      inNs(
        routerNs,
        'nft',
        ['-f', '-'],
        [
          'add table inet smqprobe',
          'add flowtable inet smqprobe ft { hook ingress priority filter; devices = { lan0 }; }',
          'delete table inet smqprobe',
          '',
        ].join('\n'),
      );
    } catch {
      t.skip('this kernel has no flowtable support (CONFIG_NF_FLOW_TABLE)');
      return;
    }
    // fw4 with software offloading: a flowtable, and `flow offload` at the top of its forward chain;
    // masquerade for plain LAN traffic (the control flow).
    inNs(routerNs, 'nft', ['-f', '-'], FW4_RULESET);
    inNs(
      routerNs,
      'nft',
      ['-f', '-'],
      [
        'add flowtable inet fw4 ft { hook ingress priority filter; devices = { lan0, wan0 }; counter; }',
        'insert rule inet fw4 forward meta l4proto { tcp, udp } flow offload @ft',
        'add rule inet fw4 forward iifname "lan0" oifname "wan0" accept',
        'add rule inet fw4 srcnat oifname "wan0" masquerade',
        '',
      ].join('\n'),
    );
    const phone = ChildSide.start(
      [
        { address: PHONE, port: 4100 },
        { address: PHONE, port: 4200 },
      ],
      phoneNs,
      UDP,
    );
    const far = ChildSide.start([{ address: FAR, port: 7100 }], farNs, UDP);
    children.push(phone, far);
    const router = ChildSide.start(
      {
        opts: routerOptions(30100, 30199),
        public: WAN,
        updates: [
          request('lan', [stream(0, endpoint(PHONE, 4100))], 'off'),
          request('wan', [stream(0, endpoint(FAR, 7100))], 'off'),
        ],
      },
      routerNs,
    );
    children.push(router);
    await Promise.all([phone.next('ready'), far.next('ready')]);
    const ready = await router.next('ready');
    const x = (ready['grants'] as { port: number }[][])[0]?.[0]?.port ?? 0;
    const counts = async () => {
      router.send('status');
      const st = (
        (await router.next('status'))['media'] as {
          streams: { lanToWan: { packets: number }; wanToLan: { packets: number } }[];
        }[]
      )[0]?.streams[0];
      return { out: st?.lanToWan.packets ?? 0, in: st?.wanToLan.packets ?? 0 };
    };
    // Both flows established both ways: the media one through sipmasq, the control one plainly NATed.
    const exchange = async (n: number, tag: string) => {
      for (let i = 0; i < n; i++) {
        phone.send(`send 0 ${FAR} 7100 m-${tag}-${i}`);
        far.send(`send 0 ${WAN} ${x} r-${tag}-${i}`);
        phone.send(`send 1 ${FAR} 7100 c-${tag}-${i}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      await phone.next('recv', 5000, (e) => e['text'] === `r-${tag}-${n - 1}`);
    };
    await exchange(5, 'a');
    const control = phone.seen('recv').length;
    // The far side answers the control flow so that it is established (offload needs both ways).
    const ctrl = far.seen('recv').find((e) => String(e['text']).startsWith('c-a-'));
    assert.ok(ctrl, 'the control flow reached the far side');
    for (let i = 0; i < 5; i++) far.send(`send 0 ${WAN} ${ctrl['port']} back-${i}`);
    await phone.next('recv', 5000, (e) => e['text'] === 'back-4');
    assert.ok(phone.seen('recv').length > control);
    const before = await counts();
    await exchange(20, 'b');
    const after = await counts();
    assert.ok(after.out >= before.out + 20, `phone -> far counted: ${JSON.stringify({ before, after })}`);
    assert.ok(after.in >= before.in + 20, `far -> phone counted: ${JSON.stringify({ before, after })}`);
    const table = inNs(routerNs, 'conntrack', ['-L', '-p', 'udp']);
    const media = table.split('\n').filter((l) => l.includes('sport=4100 '));
    const plain = table.split('\n').filter((l) => l.includes('sport=4200 '));
    assert.ok(media.length === 1 && !media[0]!.includes('OFFLOAD'), `media flow not offloaded:\n${table}`);
    assert.ok(plain.length === 1 && plain[0]!.includes('OFFLOAD'), `control flow offloaded:\n${table}`);
    router.send('close');
    await router.next('closed');
  });
});
