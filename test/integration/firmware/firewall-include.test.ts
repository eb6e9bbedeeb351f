/**
 * /usr/share/sipmasq/firewall.sh, the firewall include: under fw3 it creates the empty sipmasq_*
 * chains and the jumps into them, idempotently, and removes them; under fw4 it leaves the chains to
 * the nftables.d includes; after any firewall (re)load it asks procd to SIGHUP sipmasq so the daemon
 * re-installs its rules; it registers and removes its UCI include.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { callsTo, iptState, makeRoot, runFirewall, shells } from './harness/driver.ts';

const FW3_STATE = [
  'filter chain sipmasq_forward',
  'filter chain sipmasq_input',
  'filter jump FORWARD sipmasq_forward',
  'filter jump INPUT sipmasq_input',
  'nat chain sipmasq_dstnat',
  'nat chain sipmasq_srcnat',
  'nat jump POSTROUTING sipmasq_srcnat',
  'nat jump PREROUTING sipmasq_dstnat',
];
const HUP = ['call', 'service', 'signal', '{"name":"sipmasq","signal":1}'];

for (const shell of shells()) {
  describe(`firewall include under ${shell.name}`, () => {
    it('fw3: creates the empty chains and jumps once, however often the firewall reloads', () => {
      const root = makeRoot();
      for (let i = 0; i < 3; i++) {
        const r = runFirewall(root, null, shell);
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(callsTo(r, 'ubus'), [HUP], 'the daemon is told to re-install its rules');
      }
      assert.deepEqual(iptState(root, 'iptables'), FW3_STATE);
      assert.deepEqual(iptState(root, 'ip6tables'), FW3_STATE);
      const appends = (t: string) =>
        callsTo(runFirewall(root, null, shell), t).filter((c) => c.includes('-A') || c.includes('-I'));
      assert.deepEqual(appends('iptables'), [], 'no rule is added twice');
    });

    it('fw3: remove deletes the jumps and the chains', () => {
      const root = makeRoot();
      runFirewall(root, null, shell);
      const r = runFirewall(root, 'remove', shell);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(iptState(root, 'iptables'), []);
      assert.deepEqual(iptState(root, 'ip6tables'), []);
    });

    it('fw4: touches no iptables (the chains come from /usr/share/nftables.d) and still signals the daemon', () => {
      const root = makeRoot();
      const r = runFirewall(root, null, shell, { fw4: true });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(callsTo(r, 'iptables'), []);
      assert.deepEqual(callsTo(r, 'ubus'), [HUP]);
    });

    it('registers a script include that fw4 accepts and fw3 re-runs on reload, and removes it', () => {
      const root = makeRoot();
      const add = callsTo(runFirewall(root, 'uci-add', shell), 'uci');
      assert.equal(add.length, 1);
      const batch = add[0]?.at(-1) ?? '';
      for (const line of [
        'set firewall.sipmasq=include',
        "set firewall.sipmasq.type='script'",
        "set firewall.sipmasq.path='/usr/share/sipmasq/firewall.sh'",
        "set firewall.sipmasq.fw4_compatible='1'",
        "set firewall.sipmasq.reload='1'",
        'commit firewall',
      ])
        assert.ok(
          batch
            .split('\x1e')
            .map((l) => l.trim())
            .includes(line),
          line,
        );
      const del = callsTo(runFirewall(root, 'uci-del', shell), 'uci')[0]?.at(-1) ?? '';
      assert.deepEqual(
        del
          .split('\x1e')
          .map((l) => l.trim())
          .filter(Boolean),
        ['delete firewall.sipmasq', 'commit firewall'],
      );
    });

    it('refuses an unknown action', () => {
      const r = runFirewall(makeRoot(), 'open-everything', shell);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /usage/);
    });
  });
}
