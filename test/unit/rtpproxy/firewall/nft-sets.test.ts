import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../../../common/clock.ts';
import { Logger, MemorySink } from '../../../../common/logger.ts';
import { Firewall } from '../../../../rtpproxy/firewall/firewall.ts';
import type { FirewallBackend, InspectDetail } from '../../../../rtpproxy/firewall/firewall-backend.ts';
import { DEFAULT_CHAINS, type FwRule, type RuleCounter } from '../../../../rtpproxy/firewall/fw-rule.ts';
import { isOurDeletion, NftBackend } from '../../../../rtpproxy/firewall/nft-backend.ts';
import { nftDeltaScript } from '../../../../rtpproxy/firewall/nft-render.ts';
import { elementsOf, setNames, splitRules } from '../../../../rtpproxy/firewall/nft-sets.ts';
import { kernelRules } from '../../../../rtpproxy/kernel/kernel-rules.ts';
import { FakeBackend, fail, ok, RecordingRunner } from './fake-backend.ts';

const ctx = { wanDevice: 'wan', lanDevice: 'br-lan', wanAddress: '198.51.100.2' };
const stream = (n: number, peer: string | null = '203.0.113.7'): FwRule[] =>
  kernelRules(
    `s${n}`,
    0,
    { x: 30000 + 2 * n, phone: '192.168.1.10', phoneRtp: 4000 + 2 * n, phoneRtcp: 4001 + 2 * n, peer },
    ctx,
  );
const names = new NftBackend({ runner: new RecordingRunner() }).names;

describe('nftables sets: per-stream rules as elements', () => {
  it('turns each per-stream rule into elements and leaves the rest as rules', () => {
    const [dnat, snat, fwdIn, fwdOut] = stream(1);
    assert.deepEqual(elementsOf(dnat!), [
      {
        set: 'dnat-peer',
        key: '"wan" . 198.51.100.2 . 30002 . 203.0.113.7',
        data: '192.168.1.10 . 4002',
        comment: dnat!.comment,
      },
    ]);
    assert.equal(elementsOf(snat!)?.[0]?.data, '198.51.100.2 . 30002');
    assert.equal(elementsOf(fwdIn!)?.[0]?.set, 'fwd-in-peer');
    assert.equal(elementsOf(fwdOut!)?.[0]?.key, '"br-lan" . "wan" . 192.168.1.10 . 4002');
    const open = stream(2, null);
    assert.equal(elementsOf(open[0]!)?.[0]?.set, 'dnat-any');
    assert.equal(elementsOf(open[2]!)?.[0]?.set, 'fwd-in-any');
    const pin: FwRule = {
      kind: 'accept-in',
      comment: 'smq:p:0:pin',
      dev: 'wan',
      daddr: '198.51.100.2',
      proto: 'udp',
      ports: [30010, 30011],
      saddr: null,
    };
    assert.deepEqual(
      elementsOf(pin)?.map((e) => e.key),
      ['"wan" . 198.51.100.2 . udp . 30010', '"wan" . 198.51.100.2 . udp . 30011'],
    );
    assert.equal(elementsOf({ ...pin, ports: [30000, 30099] }), null, 'a wide range stays a rule');
    assert.equal(elementsOf({ ...pin, daddr: '2001:db8::1' }), null, 'IPv6 stays a rule');
    assert.equal(elementsOf({ kind: 'marker', chain: 'input', comment: 'smq:@marker:input' }), null);
  });

  it('two rules with the same key are one element: the first comment', () => {
    const a = stream(1);
    const b = a.map((r) => ({ ...r, comment: r.comment.replace('smq:s1:', 'smq:s9:') }));
    const split = splitRules([...a, ...b]);
    assert.equal(split.elements.size, 8);
    assert.ok([...split.elements.values()].every((e) => e.comment.startsWith('smq:s1:')));
  });

  it('the delta deletes what went (by key), adds what came, and replaces what changed', () => {
    const before = splitRules([...stream(1), ...stream(2)]).elements;
    const moved = stream(2, '203.0.113.99'); // the answer named another peer
    const after = splitRules([...moved, ...stream(3)]).elements;
    const counters = new Map<string, RuleCounter>([[stream(3)[3]!.comment, { packets: 4, bytes: 8 }]]);
    const script = nftDeltaScript(names, before, after, counters);
    const lines = script.trim().split('\n');
    assert.ok(
      lines.every((l) => /^(delete|add) element inet fw4 sipmasq_/.test(l)),
      script,
    );
    const deletes = lines.filter((l) => l.startsWith('delete'));
    const adds = lines.filter((l) => l.startsWith('add'));
    assert.ok(lines.indexOf(deletes.at(-1)!) < lines.indexOf(adds[0]!), 'deletions first');
    assert.match(
      script,
      /delete element inet fw4 sipmasq_dstnat_peer \{ "wan" \. 198\.51\.100\.2 \. 30002 \. 203\.0\.113\.7, /,
    );
    assert.doesNotMatch(deletes.join('\n'), /comment/, 'deleted by key only');
    assert.match(
      script,
      /add element inet fw4 sipmasq_forward_peer \{[^}]*192\.168\.1\.10 \. 4004 \. 203\.0\.113\.99/,
    );
    assert.match(script, /192\.168\.1\.10 \. 4006 counter packets 4 bytes 8 comment "smq:s3:0:k:out-rtp:/);
    // Stream 2's SNAT element has the same key and data, but its comment carries the whole mapping
    // (crash reconcile reads it back): it is replaced too.
    assert.match(
      script,
      /4004 comment "smq:s2:0:k:snat-rtp:30004:192\.168\.1\.10:4004:4005:203\.0\.113\.99"/,
    );
    assert.equal(nftDeltaScript(names, after, after, new Map()), '');
  });
});

/** A listing of fw4 with our chains, hooks, markers and sets (what a healthy state looks like). */
function healthyListing(elements: unknown[] = []): string {
  const roles = ['input', 'forward', 'dstnat', 'srcnat'] as const;
  const items: unknown[] = [];
  for (const r of roles) items.push({ chain: { name: r } }, { chain: { name: `sipmasq_${r}` } });
  for (const n of Object.values(setNames(DEFAULT_CHAINS)))
    items.push({ set: { name: n, table: 'fw4', elem: n === 'sipmasq_forward_peer' ? elements : undefined } });
  let h = 1;
  for (const r of roles) {
    items.push({ rule: { chain: r, handle: h++, expr: [{ jump: { target: `sipmasq_${r}` } }] } });
    items.push({
      rule: {
        chain: `sipmasq_${r}`,
        handle: h++,
        comment: `smq:@marker:${r}`,
        expr: [{ counter: { packets: 1, bytes: 2 } }],
      },
    });
  }
  return JSON.stringify({ nftables: items });
}

describe('nftables backend: incremental changes and cheap looks', () => {
  const markers: FwRule[] = (['input', 'forward', 'dstnat', 'srcnat'] as const).map((chain) => ({
    kind: 'marker',
    chain,
    comment: `smq:@marker:${chain}`,
  }));

  it('after the first full apply, a change of streams is only element lines', async () => {
    const r = new RecordingRunner().on(
      (c) => c.cmd === 'nft' && c.args.includes('list'),
      () => ok(healthyListing()),
    );
    const b = new NftBackend({ runner: r });
    const one = [...markers, ...stream(1)];
    await b.apply(one, new Map(), null);
    const two = [...markers, ...stream(1), ...stream(2)];
    await b.apply(two, new Map(), one);
    await b.apply([...markers, ...stream(2)], new Map(), two);
    const scripts = r
      .commands('nft')
      .filter((c) => c.args[0] === '-f')
      .map((c) => c.stdin ?? '');
    assert.equal(scripts.length, 3);
    assert.match(scripts[0]!, /flush chain inet fw4 sipmasq_forward/);
    for (const s of scripts.slice(1)) {
      assert.doesNotMatch(s, /flush|add rule|add chain/, s);
      assert.match(s, /element inet fw4 sipmasq_/);
    }
    assert.ok(scripts[2]!.split('\n').every((l) => l === '' || l.startsWith('delete element')));
  });

  it('a delta the kernel refuses (elements gone under us) falls back to the full apply', async () => {
    const r = new RecordingRunner()
      .on(
        (c) => c.cmd === 'nft' && c.args.includes('list'),
        () => ok(healthyListing()),
      )
      .on(
        (c) => c.cmd === 'nft' && (c.stdin ?? '').startsWith('delete element'),
        () => fail('Error: Could not process rule: No such file or directory'),
      );
    const b = new NftBackend({ runner: r });
    const one = [...markers, ...stream(1)];
    await b.apply(one, new Map(), null);
    await b.apply(markers, new Map(), one);
    const scripts = r
      .commands('nft')
      .filter((c) => c.args[0] === '-f')
      .map((c) => c.stdin ?? '');
    assert.equal(scripts.length, 3);
    assert.match(scripts[2]!, /flush set inet fw4 sipmasq_forward_out/);
  });

  it('a rule change (a redirect) or an unknown applied state means a full apply', async () => {
    const r = new RecordingRunner().on(
      (c) => c.cmd === 'nft' && c.args.includes('list'),
      () => ok(healthyListing()),
    );
    const b = new NftBackend({ runner: r });
    await b.apply(markers, new Map(), null);
    const redirect: FwRule = {
      kind: 'redirect',
      comment: 'smq:@redirect:udp:5060',
      dev: 'br-lan',
      proto: 'udp',
      dport: 5060,
      toPort: 5069,
    };
    await b.apply([...markers, redirect], new Map(), markers);
    await b.apply([...markers, redirect], new Map(), null);
    const scripts = r
      .commands('nft')
      .filter((c) => c.args[0] === '-f')
      .map((c) => c.stdin ?? '');
    assert.ok(scripts.every((s) => s.includes('flush chain inet fw4 sipmasq_dstnat')));
  });

  it('looks: hooks lists tersely, counters and all list everything; element counts add up by comment', async () => {
    const c = stream(1)[2]!.comment;
    const elems = [
      {
        elem: {
          val: { concat: ['wan', 'br-lan', '192.168.1.10', 4002, '203.0.113.7'] },
          comment: c,
          counter: { packets: 5, bytes: 50 },
        },
      },
      {
        elem: {
          val: { concat: ['wan', 'br-lan', '192.168.1.10', 4003, '203.0.113.7'] },
          comment: c,
          counter: { packets: 2, bytes: 20 },
        },
      },
      { elem: { val: 'not ours' } },
    ];
    const r = new RecordingRunner().on(
      (x) => x.cmd === 'nft' && x.args.includes('list'),
      () => ok(healthyListing(elems)),
    );
    const b = new NftBackend({ runner: r });
    const cheap = await b.inspect('hooks');
    assert.deepEqual(r.calls.at(-1)?.args, ['-j', '-t', 'list', 'table', 'inet', 'fw4']);
    assert.equal(cheap.hooked, true);
    assert.equal(cheap.marked, true);
    const counted = await b.inspect('counters');
    assert.deepEqual(r.calls.at(-1)?.args, ['-j', 'list', 'table', 'inet', 'fw4']);
    assert.deepEqual(counted.rules.get(c), { packets: 7, bytes: 70 });
    const full = await b.inspect('all');
    assert.deepEqual(r.calls.at(-1)?.args, ['-j', 'list', 'table', 'inet', 'fw4']);
    assert.deepEqual(full.rules.get(c), { packets: 7, bytes: 70 });
  });

  it('a missing set counts as not marked: the watchdog restores in full', async () => {
    const doc = JSON.parse(healthyListing()) as { nftables: { set?: { name: string } }[] };
    doc.nftables = doc.nftables.filter((i) => i.set?.name !== 'sipmasq_srcnat_map');
    const r = new RecordingRunner().on(
      (x) => x.cmd === 'nft' && x.args.includes('list'),
      () => ok(JSON.stringify(doc)),
    );
    const seen = await new NftBackend({ runner: r }).inspect('hooks');
    assert.equal(seen.marked, false);
    assert.match(seen.details.join(';'), /set sipmasq_srcnat_map missing/);
  });
});

/** A FakeBackend that records how much each look asked for. */
function lookingBackend(): { backend: FakeBackend; looks: string[] } {
  const backend = new FakeBackend();
  const looks: string[] = [];
  const inspect = backend.inspect.bind(backend);
  backend.inspect = (detail?: InspectDetail) => {
    looks.push(detail ?? 'all');
    return inspect();
  };
  return { backend, looks };
}

describe('Firewall: counters on their own period, what was applied handed on', () => {
  it('reads counters every counterMs; the looks between are cheap; a restore passes no applied state', async () => {
    const { backend, looks } = lookingBackend();
    const applied: (readonly FwRule[] | null | undefined)[] = [];
    const apply = backend.apply.bind(backend);
    backend.apply = (rules: readonly FwRule[], _c: unknown, prev?: readonly FwRule[] | null) => {
      applied.push(prev);
      return apply(rules);
    };
    const clock = new ManualClock();
    const fw = new Firewall({
      backend,
      reason: 'test',
      clock,
      logger: Logger.root('debug', new MemorySink()),
      watchdogMs: 1000,
      counterMs: 5000,
    });
    fw.set('a', stream(1));
    await fw.start();
    for (let i = 0; i < 10; i++) {
      clock.advance(1000);
      for (let j = 0; j < 5; j++) await new Promise((res) => setImmediate(res));
    }
    assert.deepEqual(looks, ['counters', ...Array(4).fill('hooks'), 'counters', ...Array(4).fill('hooks')]);
    fw.set('b', stream(2));
    await fw.commit();
    assert.equal(applied[0], null, 'the first apply knows nothing');
    assert.equal(applied[1]?.length, 4 + 8, 'the second gets what the first installed');
    backend.marked = false;
    clock.advance(1000);
    for (let j = 0; j < 5; j++) await new Promise((res) => setImmediate(res));
    assert.equal(applied.length, 3);
    assert.equal(applied[2], null, 'a restore applies everything');
    await fw.close();
  });
});

describe('nftables backend: the forward jump stays ahead of fw4 flow offloading', () => {
  it('a jump found behind `flow offload` counts as missing: the apply inserts one on top and deletes it', async () => {
    const doc = JSON.parse(healthyListing()) as { nftables: Record<string, unknown>[] };
    // fw4 with offloading on, after a reload: `flow offload` first, the package include's jump after it.
    const forwardJump = doc.nftables.findIndex(
      (i) => (i['rule'] as { chain?: string } | undefined)?.chain === 'forward',
    );
    doc.nftables.splice(forwardJump, 0, {
      rule: {
        chain: 'forward',
        handle: 90,
        expr: [
          { match: { op: '==', left: { meta: { key: 'l4proto' } }, right: { set: ['tcp', 'udp'] } } },
          { flow: { op: 'add', flowtable: '@ft' } },
        ],
      },
    });
    const r = new RecordingRunner().on(
      (c) => c.cmd === 'nft' && c.args.includes('list'),
      () => ok(JSON.stringify(doc)),
    );
    const b = new NftBackend({ runner: r });
    const seen = await b.inspect('hooks');
    assert.equal(seen.hooked, false);
    assert.match(seen.details.join(';'), /hook forward -> sipmasq_forward behind flow offload/);
    await b.apply(
      (['input', 'forward', 'dstnat', 'srcnat'] as const).map((chain) => ({
        kind: 'marker',
        chain,
        comment: `smq:@marker:${chain}`,
      })),
      new Map(),
      null,
    );
    const script = r.commands('nft').find((c) => c.args[0] === '-f')?.stdin ?? '';
    assert.match(script, /^delete rule inet fw4 forward handle 3$/m, 'the jump behind the offload goes');
    assert.match(script, /^insert rule inet fw4 forward jump sipmasq_forward comment "smq:@hook"$/m);
    assert.doesNotMatch(script, /insert rule inet fw4 input jump/, 'the other hooks are in place');
  });
});

describe('watching the firewall instead of polling it', () => {
  it('nft monitor lines: only rule deletions in our table are changes', () => {
    const del = (family: string, table: string) =>
      JSON.stringify({ delete: { rule: { family, table, chain: 'input', handle: 4, expr: [] } } });
    assert.equal(isOurDeletion(del('inet', 'fw4'), 'inet', 'fw4'), true);
    assert.equal(isOurDeletion(del('inet', 'other'), 'inet', 'fw4'), false);
    assert.equal(isOurDeletion(del('ip', 'fw4'), 'inet', 'fw4'), false);
    assert.equal(
      isOurDeletion(JSON.stringify({ add: { rule: { family: 'inet', table: 'fw4' } } }), 'inet', 'fw4'),
      false,
    );
    assert.equal(isOurDeletion('# new generation 5 by process 77 (nft)', 'inet', 'fw4'), false);
    assert.equal(isOurDeletion('{not json', 'inet', 'fw4'), false);
  });

  it('while watched, the watchdog looks only when told of a change or when counters are due; a lost watch polls', async () => {
    const { backend, looks } = lookingBackend();
    let change: () => void = () => undefined;
    let lost: (why: string) => void = () => undefined;
    let watches = 0;
    let stopped = 0;
    (backend as FirewallBackend).watch = (onChange, onLost) => {
      watches++;
      change = onChange;
      lost = onLost;
      return { stop: () => stopped++ };
    };
    const clock = new ManualClock();
    const sink = new MemorySink();
    const fw = new Firewall({
      backend,
      reason: 'test',
      clock,
      logger: Logger.root('debug', sink),
      watchdogMs: 1000,
      counterMs: 10_000,
    });
    const tick = async (ms: number) => {
      clock.advance(ms);
      for (let j = 0; j < 5; j++) await new Promise((res) => setImmediate(res));
    };
    await fw.start();
    assert.equal(fw.watching, true);
    await tick(100); // the look right after the monitor started
    assert.deepEqual(looks, ['counters']);
    for (let i = 0; i < 8; i++) await tick(1000);
    assert.deepEqual(looks, ['counters'], 'nothing changed, counters not due: no look');
    backend.marked = false; // a firewall reload...
    change(); // ...that the monitor saw
    change();
    await tick(100);
    assert.deepEqual(looks, ['counters', 'hooks'], 'one look for both events');
    assert.equal(fw.status().restored, 1);
    await tick(3000);
    assert.deepEqual(looks.slice(2), ['counters'], 'counters due 10 s after the last read');
    lost('nft ended (1)');
    assert.equal(fw.watching, false);
    assert.ok(sink.lines.some((l) => /firewall monitor stopped/.test(l)));
    const before = looks.length;
    await tick(1000);
    await tick(1000);
    assert.equal(looks.length, before + 2, 'polling again');
    await tick(30_000);
    assert.equal(watches, 2, 'watching again after 30 s');
    await fw.close();
    assert.equal(stopped, 1);
  });
});
