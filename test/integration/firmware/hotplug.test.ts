/**
 * /etc/hotplug.d/iface/40-sipmasq, sourced as hotplug-call does, with a recording stub for
 * /etc/init.d/sipmasq: it reloads sipmasq on ifup/ifupdate of the configured WAN or LAN network only,
 * and only when the service is enabled.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { callsTo, makeRoot, runHotplug, SHIPPED_UCI, shells } from './harness/driver.ts';

for (const shell of shells()) {
  describe(`hotplug script under ${shell.name}`, () => {
    for (const [ACTION, INTERFACE] of [
      ['ifup', 'wan'],
      ['ifupdate', 'wan'],
      ['ifup', 'lan'],
    ] as const) {
      it(`reloads sipmasq on ${ACTION} of ${INTERFACE}, with a log line`, () => {
        const r = runHotplug(
          makeRoot({ initStubEnabled: true }),
          { ACTION, INTERFACE, DEVICE: 'eth1' },
          shell,
        );
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(callsTo(r, 'init.d/sipmasq'), [['enabled'], ['reload']]);
        const log = callsTo(r, 'logger')[0];
        assert.deepEqual(log?.slice(0, 4), ['-t', 'sipmasq', '-p', 'daemon.info']);
        assert.match(
          log?.[4] ?? '',
          new RegExp(`^${ACTION} of network '${INTERFACE}' \\(eth1\\): reloading$`),
        );
      });
    }

    it('ignores other networks', () => {
      const r = runHotplug(
        makeRoot({ initStubEnabled: true }),
        { ACTION: 'ifup', INTERFACE: 'guest' },
        shell,
      );
      assert.equal(r.status, 0);
      assert.deepEqual(callsTo(r, 'init.d/sipmasq'), [['enabled']]);
      assert.deepEqual(callsTo(r, 'logger'), []);
    });

    it('ignores ifdown and other actions without touching the service', () => {
      for (const ACTION of ['ifdown', 'free', 'iflink']) {
        const r = runHotplug(makeRoot({ initStubEnabled: true }), { ACTION, INTERFACE: 'wan' }, shell);
        assert.equal(r.status, 0);
        assert.deepEqual(r.calls, [], ACTION);
      }
    });

    it('does nothing while the service is disabled', () => {
      const r = runHotplug(makeRoot({ initStubEnabled: false }), { ACTION: 'ifup', INTERFACE: 'wan' }, shell);
      assert.deepEqual(callsTo(r, 'init.d/sipmasq'), [['enabled']]);
    });

    it('follows the network names set in UCI', () => {
      const uci = SHIPPED_UCI.replace("option wan 'wan'", "option wan 'wwan'");
      const up = runHotplug(
        makeRoot({ uci, initStubEnabled: true }),
        { ACTION: 'ifup', INTERFACE: 'wwan' },
        shell,
      );
      assert.deepEqual(callsTo(up, 'init.d/sipmasq'), [['enabled'], ['reload']]);
      const old = runHotplug(
        makeRoot({ uci, initStubEnabled: true }),
        { ACTION: 'ifup', INTERFACE: 'wan' },
        shell,
      );
      assert.deepEqual(callsTo(old, 'init.d/sipmasq'), [['enabled']]);
    });
  });
}
