import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../../../common/clock.ts';
import { isSipmasqError, SipmasqError } from '../../../../common/errors.ts';
import { Logger, MemorySink } from '../../../../common/logger.ts';
import { detectBackend } from '../../../../rtpproxy/firewall/backend-detect.ts';
import { Firewall } from '../../../../rtpproxy/firewall/firewall.ts';
import { IptablesBackend } from '../../../../rtpproxy/firewall/iptables-backend.ts';
import { NftBackend } from '../../../../rtpproxy/firewall/nft-backend.ts';
import { FakeBackend, fail, ok, RecordingRunner } from './fake-backend.ts';

const nftListOk = (c: { cmd: string; args: readonly string[] }) => c.cmd === 'nft' && c.args.includes('list');
const iptOk = (c: { cmd: string }) => c.cmd === 'iptables';

describe('firewall backend detection', () => {
  it('auto picks nftables when nft lists table inet fw4', async () => {
    const r = new RecordingRunner().on(nftListOk, () => ok('table inet fw4 {}'));
    const d = await detectBackend('auto', { runner: r });
    assert.equal(d.backend.name, 'nftables');
    assert.deepEqual(r.calls[0]?.args, ['list', 'table', 'inet', 'fw4']);
  });

  it('auto falls back to iptables when fw4 is absent, and to none when neither works', async () => {
    const r = new RecordingRunner()
      .on(nftListOk, () => fail('Error: No such file or directory'))
      .on(iptOk, () => ok());
    assert.equal((await detectBackend('auto', { runner: r })).backend.name, 'iptables');
    const missing = new SipmasqError('SMQ_ERR_FIREWALL', 'cannot run', { errno: 'ENOENT' });
    const none = new RecordingRunner().on(
      () => true,
      () => missing,
    );
    const d = await detectBackend('auto', { runner: none });
    assert.equal(d.backend.name, 'none');
    assert.match(d.reason, /unavailable/);
  });

  it('a forced backend that does not work fails start with SMQ_ERR_FIREWALL', async () => {
    const r = new RecordingRunner().on(
      () => true,
      () => fail('permission denied'),
    );
    await assert.rejects(detectBackend('nftables', { runner: r }), (e) =>
      isSipmasqError(e, 'SMQ_ERR_FIREWALL'),
    );
    await assert.rejects(detectBackend('iptables', { runner: r }), (e) =>
      isSipmasqError(e, 'SMQ_ERR_FIREWALL'),
    );
    assert.equal((await detectBackend('none', { runner: r })).backend.name, 'none');
    assert.equal(r.calls.length, 2);
  });
});

function makeFirewall(backend = new FakeBackend()) {
  const clock = new ManualClock();
  const sink = new MemorySink();
  const fw = new Firewall({ backend, reason: 'test', clock, logger: Logger.root('debug', sink) });
  return { fw, backend, clock, sink };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('Firewall', () => {
  it('stages nothing when a rule is refused, and skips applying an unchanged state', async () => {
    const { fw, backend } = makeFirewall();
    assert.throws(
      () =>
        fw.set('x', [
          {
            kind: 'snat',
            comment: 'smq:x:0:k',
            dev: 'wan',
            saddr: '10.0.0.1',
            sport: 99999,
            to: '1.2.3.4',
            toPort: 5,
          },
        ]),
      (e) => isSipmasqError(e, 'SMQ_ERR_FIREWALL'),
    );
    assert.equal(fw.get('x'), undefined);
    await fw.start();
    await fw.commit();
    assert.equal(backend.applies.length, 1, 'the second commit changed nothing');
    assert.deepEqual(
      backend.current.map((r) => r.comment),
      ['smq:@marker:input', 'smq:@marker:forward', 'smq:@marker:dstnat', 'smq:@marker:srcnat'],
    );
    await fw.close();
  });

  it('a failed apply rejects with the backend error (never success)', async () => {
    const { fw, backend } = makeFirewall();
    backend.failNext = new SipmasqError('SMQ_ERR_FIREWALL', 'nft said no');
    await assert.rejects(fw.start(), (e) => isSipmasqError(e, 'SMQ_ERR_FIREWALL'));
  });

  it('the watchdog restores rules a firewall reload removed, counts and logs it', async () => {
    const { fw, backend, clock, sink } = makeFirewall();
    fw.set('@sip', [
      {
        kind: 'accept-in',
        comment: 'smq:@sip:udp:5060',
        dev: 'wan',
        daddr: '198.51.100.2',
        proto: 'udp',
        ports: [5060, 5060],
        saddr: null,
      },
    ]);
    await fw.start();
    clock.advance(2000);
    await flush();
    assert.equal(fw.status().restored, 0);
    assert.equal(backend.applies.length, 1);
    backend.hooked = false; // fw4 reload: table rebuilt without our chains
    backend.marked = false;
    clock.advance(2000);
    for (let i = 0; i < 5; i++) await flush();
    assert.equal(backend.applies.length, 2);
    assert.equal(fw.status().restored, 1);
    assert.equal(fw.status().healthy, true);
    assert.ok(backend.current.some((r) => r.comment === 'smq:@sip:udp:5060'));
    assert.ok(sink.lines.some((l) => /rules missing/.test(l)));
    await fw.close();
    assert.equal(backend.removed, 1);
    clock.advance(10_000);
    await flush();
    assert.equal(backend.applies.length, 3, 'nothing after close but the removal');
  });

  it('keeps counters across re-applies and reports inspect failures as unhealthy', async () => {
    const backend = new FakeBackend();
    const { fw, clock } = makeFirewall(backend);
    const rule = { kind: 'marker', chain: 'input', comment: 'smq:t:0:pin' } as const;
    fw.set('a', [rule]);
    await fw.start();
    backend.counters.set('smq:t:0:pin', { packets: 5, bytes: 500 });
    await fw.check();
    assert.deepEqual(fw.counter('smq:t:0:pin'), { packets: 5, bytes: 500 });
    backend.counters.set('smq:t:0:pin', { packets: 2, bytes: 200 }); // replaced by someone: restarts at 0
    await fw.check();
    assert.deepEqual(fw.counter('smq:t:0:pin'), { packets: 7, bytes: 700 });
    backend.inspect = async () => {
      throw new SipmasqError('SMQ_ERR_FIREWALL', 'nft gone');
    };
    clock.advance(2000);
    for (let i = 0; i < 5; i++) await flush();
    assert.equal(fw.status().healthy, false);
    await fw.close();
  });

  it('the helper chain gets its marker only while it has rules', async () => {
    const { fw, backend } = makeFirewall();
    const noHelper = {
      kind: 'no-helper',
      comment: 'smq:@nohelper:udp:5060',
      proto: 'udp',
      dport: 5060,
      dev: null,
      toPort: null,
    } as const;
    fw.set('@nohelper', [noHelper]);
    await fw.start();
    assert.deepEqual(
      backend.current.map((r) => r.comment),
      [
        'smq:@marker:input',
        'smq:@marker:forward',
        'smq:@marker:dstnat',
        'smq:@marker:srcnat',
        'smq:@marker:helper',
        'smq:@nohelper:udp:5060',
      ],
    );
    fw.set('@nohelper', []);
    await fw.commit();
    assert.ok(!backend.current.some((r) => r.comment === 'smq:@marker:helper'));
    await fw.close();
  });

  it('the nft backend removes a helper chain an earlier run left when it is no longer wanted', async () => {
    const listing = {
      nftables: [
        { chain: { name: 'prerouting' } },
        { chain: { name: 'sipmasq_helper' } },
        { rule: { chain: 'prerouting', handle: 9, expr: [{ jump: { target: 'sipmasq_helper' } }] } },
      ],
    };
    const r = new RecordingRunner().on(nftListOk, () => ok(JSON.stringify(listing)));
    const b = new NftBackend({ runner: r });
    await b.apply([], new Map());
    const scripts = r.commands('nft').filter((c) => c.args[0] === '-f');
    assert.equal(
      scripts[0]?.stdin,
      'delete rule inet fw4 prerouting handle 9\nflush chain inet fw4 sipmasq_helper\ndelete chain inet fw4 sipmasq_helper\n',
    );
    assert.doesNotMatch(scripts[1]?.stdin ?? '', /sipmasq_helper/);
  });

  it('the iptables backend hooks the helper chain into raw PREROUTING once, and only when it has rules', async () => {
    const r = new RecordingRunner().on(
      (c) => c.cmd === 'iptables' && c.args.includes('-C'),
      () => fail('No chain/target/match by that name.'),
    );
    const b = new IptablesBackend({ runner: r });
    await b.apply([], new Map());
    assert.ok(
      !r.calls.some((c) => c.args.includes('raw') && c.args.includes('-C')),
      'no helper rules: no raw hook',
    );
    assert.doesNotMatch(r.commands('iptables-restore')[0]?.stdin ?? '', /\*raw/);
    await b.apply(
      [
        { kind: 'marker', chain: 'helper', comment: 'smq:@marker:helper' },
        {
          kind: 'no-helper',
          comment: 'smq:@nohelper:udp:5060',
          proto: 'udp',
          dport: 5060,
          dev: null,
          toPort: null,
        },
      ],
      new Map(),
    );
    const check = r.calls.find((c) => c.args.includes('raw') && c.args.includes('-C'));
    assert.deepEqual(check?.args, ['-w', '-t', 'raw', '-C', 'PREROUTING', '-j', 'sipmasq_helper']);
    const input = r.commands('iptables-restore').at(-1)?.stdin ?? '';
    assert.match(input, /^\*raw\n:sipmasq_helper - \[0:0\]\n-F sipmasq_helper\n/);
    assert.match(input, /-I PREROUTING 1 -j sipmasq_helper\nCOMMIT\n\*filter/);
  });

  it('the iptables backend checks every hook again once a look found anything missing', async () => {
    const saved = (t: string) =>
      t === 'filter'
        ? '*filter\n:INPUT ACCEPT [0:0]\n:sipmasq_input - [0:0]\n-A INPUT -j sipmasq_input\nCOMMIT\n'
        : `*${t}\nCOMMIT\n`;
    const r = new RecordingRunner()
      .on(
        (c) => c.cmd === 'iptables-save',
        (c) => ok(saved(c.args.at(-1) ?? '')),
      )
      .on(
        (c) => c.cmd === 'iptables' && c.args.includes('-C'),
        (c) => (c.args.includes('INPUT') ? ok() : fail('No chain/target/match by that name.')),
      );
    const b = new IptablesBackend({ runner: r });
    await b.apply([], new Map());
    const seen = await b.inspect();
    assert.equal(seen.hooked, false);
    const before = r.calls.length;
    await b.apply([], new Map());
    const checks = r.calls.slice(before).filter((c) => c.args.includes('-C'));
    assert.deepEqual(
      checks.map((c) => c.args[4]),
      ['INPUT', 'FORWARD', 'PREROUTING', 'POSTROUTING'],
      'INPUT looked hooked, and is checked all the same',
    );
    assert.doesNotMatch(r.commands('iptables-restore').at(-1)?.stdin ?? '', /-I INPUT/);
  });

  it('the nft backend inserts only the hooks its look found missing', async () => {
    const listing = {
      nftables: [
        { chain: { name: 'input' } },
        { chain: { name: 'sipmasq_input' } },
        { rule: { chain: 'input', handle: 5, expr: [{ jump: { target: 'sipmasq_input' } }] } },
      ],
    };
    const r = new RecordingRunner().on(nftListOk, () => ok(JSON.stringify(listing)));
    const b = new NftBackend({ runner: r });
    const seen = await b.inspect();
    assert.equal(seen.hooked, false);
    await b.apply([], new Map());
    const script = r.commands('nft').find((c) => c.args[0] === '-f')?.stdin ?? '';
    assert.doesNotMatch(script, /insert rule inet fw4 input jump/);
    assert.match(script, /insert rule inet fw4 forward jump sipmasq_forward/);
    await b.remove();
    const removal = r.commands('nft').filter((c) => c.args[0] === '-f')[1]?.stdin ?? '';
    assert.match(
      removal,
      /delete rule inet fw4 input handle 5\nflush chain inet fw4 sipmasq_input\ndelete chain inet fw4 sipmasq_input/,
    );
  });
});
