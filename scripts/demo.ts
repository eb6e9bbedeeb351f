/**
 * `npm run demo`: sipmasq doing its job on a machine that is not a router. Builds the namespace lab
 * (a LAN phone, a router with a stateful firewall, masquerade and fw4-shaped nftables, an internet with
 * a kamailio provider and a remote party), runs sipmasq in the router on its embedded defaults (only
 * its state files go to the lab's temp dir), registers a phone, calls out and gets called, and prints
 * what happened: the Contact the provider stored, each call's RTP per direction, and `sipmasq status`.
 * Everything is removed at the end (SMQ_KEEP_LAB=1 keeps it). Needs root and scripts/install-deps.sh.
 */
import { execFileSync } from 'node:child_process';
import { type CallSpec, mediaCall } from '../test/e2e/lib/calls.ts';
import { IP, NS } from '../test/e2e/lib/lab.ts';
import { aorUri, REMOTE_URI, register, startPhoneUac, startRemoteUac } from '../test/e2e/lib/parties.ts';
import { formatCounts } from '../test/e2e/lib/rtp.ts';
import { BUNDLE, ensureBuilt, Sipmasq } from '../test/e2e/lib/sipmasq.ts';
import { withLab } from '../test/e2e/lib/with-lab.ts';

function say(text: string): void {
  process.stdout.write(`${text}\n`);
}

async function call(
  title: string,
  lab: Parameters<typeof mediaCall>[0],
  spec: CallSpec,
  smq: Sipmasq,
): Promise<boolean> {
  say(`\n== ${title}`);
  let status = '';
  const o = await mediaCall(lab, {
    ...spec,
    whileUp: async () => {
      await new Promise((r) => setTimeout(r, 1500));
      status = execFileSync(
        'ip',
        [
          'netns',
          'exec',
          NS.router,
          process.execPath,
          BUNDLE,
          'status',
          '--control-socket',
          smq.controlSocket,
        ],
        {
          encoding: 'utf8',
          timeout: 8000,
        },
      );
    },
  });
  say(`   signalling: caller ${o.caller.ok ? 'ok' : 'FAILED'}, callee ${o.callee.ok ? 'ok' : 'FAILED'}`);
  say(formatCounts(`   ${spec.caller} (caller)`, o.rtp.caller));
  say(formatCounts(`   ${spec.callee} (callee)`, o.rtp.callee));
  if (status) say(`   sipmasq status during the call:\n${status.replace(/^/gm, '     ')}`);
  const twoWay =
    o.rtp.caller.received > 0.9 * o.rtp.callee.sent && o.rtp.callee.received > 0.9 * o.rtp.caller.sent;
  say(`   => ${o.caller.ok && o.callee.ok && twoWay ? 'two-way audio' : 'PROBLEM'}`);
  return o.caller.ok && o.callee.ok && twoWay;
}

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    say('the demo builds network namespaces: run it as root (sudo npm run demo)');
    return 2;
  }
  await ensureBuilt();
  return withLab({ name: 'demo', firewall: 'nftables' }, async ({ lab, kamailio }) => {
    say(
      `lab up: phone ${IP.phone1} -- router LAN ${IP.routerLan} / WAN ${IP.routerWan} -- provider ${IP.provider}, remote ${IP.remote}`,
    );
    const smq = new Sipmasq(lab, {
      storePath: lab.path('sipmasq.db'),
      controlSocket: lab.path('sipmasq.sock'),
    });
    await smq.start();
    say(`sipmasq running in the router on its defaults (LAN br-lan, WAN = default route device)`);

    say('\n== phone1 registers alice (outbound proxy = the router)');
    const reg = await register(lab, 'phone1', 'alice', { via: 'sipmasq' });
    say(`   REGISTER: ${reg.ok ? '200 OK after the 401 challenge' : 'FAILED'}`);
    const stored = await kamailio.contactsOf('alice').catch(() => []);
    for (const c of stored)
      say(`   the provider stored Contact ${c.address}  (the phone is ${IP.phone1}: private)`);

    const out = await call(
      'phone1 calls the remote party',
      lab,
      {
        caller: 'phone1',
        callee: 'remote',
        answer: { scenario: 'uas-answer.xml', user: 'remote' },
        dial: () =>
          startPhoneUac(lab, 'phone1', 'alice', 'sipmasq', REMOTE_URI, { scenario: 'uac-call.xml' }),
      },
      smq,
    );
    const inc = await call(
      'the remote party calls alice',
      lab,
      {
        caller: 'remote',
        callee: 'phone1',
        answer: { scenario: 'uas-answer.xml', user: 'alice' },
        dial: () => startRemoteUac(lab, aorUri('alice'), { scenario: 'uac-call.xml' }),
      },
      smq,
    );
    await smq.stop();
    say(
      `\n${reg.ok && stored.length && out && inc ? 'demo OK' : 'demo FAILED'}: lab logs in ${lab.dir} (removed unless SMQ_KEEP_LAB=1)`,
    );
    return reg.ok && out && inc ? 0 : 1;
  });
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
