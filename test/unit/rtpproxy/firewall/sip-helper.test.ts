import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Logger, MemorySink } from '../../../../common/logger.ts';
import {
  detectSipHelper,
  iptAttachments,
  modulesIn,
  nftAttachments,
  type SipHelperFinding,
} from '../../../../rtpproxy/firewall/sip-helper.ts';
import { HELPER_ACTIVE_WARNING, SipHelperGuard } from '../../../../rtpproxy/firewall/sip-helper-guard.ts';
import { fail, ok, RecordingRunner } from './fake-backend.ts';

const fixture = (name: string) =>
  readFile(fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url)), 'utf8');
const FW4 = { family: 'inet', table: 'fw4', chain: 'prerouting' };
const PROC_MODULES = `nf_nat_sip 16384 0 - Live 0x0000000000000000
nf_conntrack_sip 28672 1 nf_nat_sip, Live 0x0000000000000000
nf_conntrack_ftp 20480 0 - Live 0x0000000000000000
nf_sip_fake 1 0 - Live 0x0
`;

describe('kernel SIP helper detection', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'smqh-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads nf_conntrack_sip and nf_nat_sip from /proc/modules and nothing else', () => {
    assert.deepEqual(modulesIn(PROC_MODULES), ['nf_conntrack_sip', 'nf_nat_sip']);
    assert.deepEqual(modulesIn('nf_conntrack_ftp 20480 0 - Live 0x0\n'), []);
    assert.deepEqual(modulesIn(''), []);
  });

  it('finds fw4 sip helper assignments by helper type, covered only when reached from prerouting', async () => {
    const found = nftAttachments(await fixture('fw4-helpers.json'), FW4);
    assert.equal(found.parentExists, true);
    assert.deepEqual(found.attachments, [
      { where: 'inet fw4 helper_lan', covered: true },
      { where: 'inet fw4 helper_lo', covered: false },
      { where: 'ip custom pre', covered: false },
    ]);
    const noParent = nftAttachments(await fixture('fw4-helpers.json'), { ...FW4, chain: 'nope' });
    assert.equal(noParent.parentExists, false);
    assert.ok(noParent.attachments.every((a) => !a.covered));
    assert.deepEqual(nftAttachments('{"nftables":[{"metainfo":{}}]}', FW4), {
      attachments: [],
      parentExists: false,
    });
    assert.throws(() => nftAttachments('{"x":1}', FW4));
  });

  it('finds fw3 -j CT --helper sip in the raw table, covered only when reached from PREROUTING', async () => {
    assert.deepEqual(iptAttachments(await fixture('fw3-raw.txt')), [
      { where: 'raw OUTPUT', covered: false },
      { where: 'raw zone_lan_helper', covered: true },
    ]);
    assert.deepEqual(iptAttachments('*raw\n-A PREROUTING -p udp --dport 5060 -j CT\nCOMMIT\n'), []);
    assert.deepEqual(
      iptAttachments('*mangle\n-A PREROUTING -p udp --dport 5060 -j CT --helper sip\nCOMMIT\n'),
      [],
    );
  });

  it('detects loaded, built-in and auto-assigned helpers from injectable paths, and rules through the runner', async () => {
    const procModules = join(dir, 'modules');
    const sysModule = join(dir, 'sys');
    const autoAssign = join(dir, 'nf_conntrack_helper');
    await writeFile(procModules, 'nf_conntrack_ftp 1 0 - Live 0x0\n');
    await mkdir(join(sysModule, 'nf_conntrack_sip', 'parameters'), { recursive: true });
    await writeFile(autoAssign, '1\n');
    const json = await fixture('fw4-helpers.json');
    const runner = new RecordingRunner().on(
      (c) => c.cmd === 'nft',
      () => ok(json),
    );
    const f = await detectSipHelper({
      backend: 'nftables',
      runner,
      paths: { procModules, sysModule, autoAssign },
    });
    assert.deepEqual(f.modules, ['nf_conntrack_sip'], 'built in: only /sys/module knows it');
    assert.equal(f.autoAssign, true);
    assert.equal(f.hookable, true);
    assert.equal(f.attachments.length, 3);
    assert.deepEqual(runner.calls[0]?.args, ['-j', 'list', 'ruleset']);

    const gone = {
      procModules: join(dir, 'none'),
      sysModule: join(dir, 'none'),
      autoAssign: join(dir, 'none'),
    };
    const ipt = new RecordingRunner().on(
      () => true,
      () => fail('iptables-save: permission denied'),
    );
    const g = await detectSipHelper({ backend: 'iptables', runner: ipt, paths: gone });
    assert.deepEqual([g.modules, g.autoAssign, g.hookable], [[], false, false]);
    assert.match(g.problem ?? '', /permission denied/);
    assert.deepEqual(ipt.calls[0]?.args, ['-t', 'raw']);

    const none = new RecordingRunner();
    const n = await detectSipHelper({ backend: 'none', runner: none, paths: gone });
    assert.equal(none.calls.length, 0, 'no backend: no command');
    assert.match(n.problem ?? '', /no firewall backend/);
  });
});

const finding = (over: Partial<SipHelperFinding> = {}): SipHelperFinding => ({
  modules: ['nf_conntrack_sip', 'nf_nat_sip'],
  autoAssign: false,
  attachments: [{ where: 'inet fw4 helper_lan', covered: true }],
  hookable: true,
  problem: null,
  ...over,
});

function guard(over: Partial<ConstructorParameters<typeof SipHelperGuard>[0]> = {}) {
  const warnings: string[] = [];
  const g = new SipHelperGuard({
    policy: 'disable',
    backend: 'nftables',
    finding: finding(),
    hookedFrom: 'inet fw4 prerouting',
    sipPort: 5060,
    lanDevice: 'br-lan',
    autoAssignPath: '/nonexistent/nf_conntrack_helper',
    logger: Logger.root('debug', new MemorySink()),
    warn: (t) => warnings.push(t),
    ...over,
  });
  return { g, warnings };
}

describe('sipHelper policy', () => {
  it('disable keeps it off sipmasq port and every redirect, without warning when all is covered', () => {
    const { g, warnings } = guard();
    assert.equal(g.active, true);
    assert.deepEqual(warnings, []);
    assert.match(g.status().action, /^disabled: .*inet fw4 prerouting/);
    assert.deepEqual(
      { loaded: g.status().loaded, attached: g.status().attached },
      { loaded: true, attached: true },
    );
    const rules = g.rules([{ proto: 'udp', port: 5060, toPort: 5062 }]);
    assert.deepEqual(
      rules.map((r) => r.comment),
      ['smq:@nohelper:udp:5060', 'smq:@nohelper:tcp:5060', 'smq:@nohelper:redirect:udp:5060'],
    );
    assert.deepEqual(rules[2], {
      kind: 'no-helper',
      comment: 'smq:@nohelper:redirect:udp:5060',
      proto: 'udp',
      dport: 5060,
      dev: 'br-lan',
      toPort: 5062,
    });
  });

  it('disable warns about attachments its hook does not precede, and when there is no chain to hook', () => {
    const a = guard({
      finding: finding({
        attachments: [
          { where: 'inet fw4 helper_lan', covered: true },
          { where: 'ip custom pre', covered: false },
        ],
      }),
    });
    assert.equal(a.g.active, true);
    assert.match(a.warnings[0] ?? '', /attached in ip custom pre, which sipmasq cannot keep it off/);
    const b = guard({ finding: finding({ hookable: false }) });
    assert.equal(b.g.active, false);
    assert.deepEqual(b.g.rules([]), []);
    assert.match(b.warnings[0] ?? '', /^nf_conntrack_sip is active/);
    assert.match(b.g.status().action, /^not disabled/);
  });

  it('warn leaves it alone and says so clearly; nothing loaded means nothing to do', () => {
    const w = guard({ policy: 'warn' });
    assert.equal(w.g.active, false);
    assert.deepEqual(w.g.rules([{ proto: 'udp', port: 5060, toPort: 5060 }]), []);
    assert.deepEqual(w.warnings, [HELPER_ACTIVE_WARNING]);
    assert.equal(
      HELPER_ACTIVE_WARNING,
      "nf_conntrack_sip is active: it rewrites SIP behind sipmasq; set sipHelper 'disable' or unload it",
    );
    assert.match(w.g.status().action, /^warned/);
    const quiet = guard({ policy: 'warn', finding: finding({ attachments: [] }) });
    assert.deepEqual(quiet.warnings, []);
    assert.equal(quiet.g.status().attached, false);
    const absent = guard({ finding: finding({ modules: [], attachments: [] }) });
    assert.deepEqual(
      [absent.g.active, absent.g.status()],
      [false, { loaded: false, attached: false, action: 'none: not loaded' }],
    );
    const blind = guard({
      finding: finding({ problem: 'no firewall backend to read rules with', attachments: [] }),
    });
    assert.equal(blind.g.active, false);
    assert.match(blind.warnings[0] ?? '', /cannot see what attaches it/);
  });

  it('disable turns the old auto-assignment sysctl off while running and back on at close', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'smqh-'));
    try {
      const path = join(dir, 'nf_conntrack_helper');
      await writeFile(path, '1\n');
      const { g } = guard({ finding: finding({ autoAssign: true, attachments: [] }), autoAssignPath: path });
      assert.equal(g.status().attached, true, 'auto-assignment attaches it by port');
      await g.start();
      assert.equal((await readFile(path, 'utf8')).trim(), '0');
      assert.match(g.status().action, /auto-assignment turned off/);
      await g.close();
      await g.close();
      assert.equal((await readFile(path, 'utf8')).trim(), '1');
      const w = guard({ policy: 'warn', finding: finding({ autoAssign: true }), autoAssignPath: path });
      await w.g.start();
      assert.equal((await readFile(path, 'utf8')).trim(), '1', 'warn never writes');
      const bad = guard({ finding: finding({ autoAssign: true }), autoAssignPath: join(dir, 'no', 'such') });
      await bad.g.start();
      assert.match(bad.warnings[0] ?? '', /could not be set to 0/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
