/**
 * The resolver against a real name server: dnsmasq on 127.0.0.1 at a free port, serving a NAPTR, SRV
 * and host records from its command line (nothing forwarded: --no-resolv, --local for the test domain).
 * Skipped when dnsmasq is not installed, unless CI=true, where its absence fails the test.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { UdpDnsClient } from '../../../../proxy/dns/dns-client.ts';
import { Rcode } from '../../../../proxy/dns/dns-record.ts';
import { Rfc3263Resolver } from '../../../../proxy/dns/sip-resolver.ts';

function findDnsmasq(): string | null {
  for (const p of ['/usr/sbin/dnsmasq', '/usr/bin/dnsmasq', '/sbin/dnsmasq']) {
    const r = spawnSync(p, ['--version'], { stdio: 'ignore', timeout: 5000 });
    if (r.status === 0) return p;
  }
  const which = spawnSync('sh', ['-c', 'command -v dnsmasq'], { encoding: 'utf8', timeout: 5000 });
  return which.status === 0 && which.stdout.trim() ? which.stdout.trim() : null;
}

/** A port free for both UDP and TCP on 127.0.0.1 right now. */
async function freePort(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', () => resolve()));
    const port = udp.address().port;
    const tcp = net.createServer();
    const ok = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false));
      tcp.listen(port, '127.0.0.1', () => resolve(true));
    });
    udp.close();
    if (ok) {
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
      return port;
    }
  }
  throw new Error('no free port on 127.0.0.1');
}

const DNSMASQ = findDnsmasq();
const CI = process.env.CI === 'true';
const skip = !DNSMASQ && !CI ? 'dnsmasq is not installed (apt-get install dnsmasq)' : false;

describe('Rfc3263Resolver against dnsmasq on loopback', { skip }, () => {
  let proc: ChildProcess | null = null;
  let port = 0;
  let dir = '';
  let stderr = '';
  let client: UdpDnsClient;

  before(async () => {
    assert.ok(DNSMASQ, 'CI=true and dnsmasq is missing: install it (scripts/install-deps.sh does)');
    port = await freePort();
    dir = mkdtempSync(join(tmpdir(), 'sipmasq-dnsmasq-'));
    const args = [
      '--keep-in-foreground',
      '--conf-file=/dev/null',
      '--no-resolv',
      '--no-hosts',
      `--port=${port}`,
      '--listen-address=127.0.0.1',
      '--bind-interfaces',
      '--pid-file=',
      `--user=${userInfo().username}`,
      '--local=/sipmasq.test/',
      '--log-facility=-',
      '--naptr-record=voip.sipmasq.test,10,20,S,SIP+D2U,,_sip._udp.voip.sipmasq.test',
      '--naptr-record=voip.sipmasq.test,10,10,S,SIP+D2T,,_sip._tcp.voip.sipmasq.test',
      '--naptr-record=voip.sipmasq.test,20,10,S,SIP+D2U,,_sip._udp.late.sipmasq.test',
      '--srv-host=_sip._udp.voip.sipmasq.test,edge1.sipmasq.test,5070,10,0',
      '--srv-host=_sip._udp.voip.sipmasq.test,edge2.sipmasq.test,5072,20,0',
      '--srv-host=_sip._tcp.voip.sipmasq.test,edge1.sipmasq.test,5071,10,0',
      '--srv-host=_sip._udp.plain.sipmasq.test,edge2.sipmasq.test,5090,1,0',
      '--host-record=edge1.sipmasq.test,192.0.2.21',
      '--host-record=edge2.sipmasq.test,192.0.2.22',
      '--host-record=only-a.sipmasq.test,192.0.2.23',
      '--cname=alias.sipmasq.test,edge1.sipmasq.test',
      // 40 addresses: the answer does not fit in 512 bytes, so dnsmasq sets TC and we ask over TCP.
      ...Array.from({ length: 40 }, (_, i) => `--host-record=big.sipmasq.test,198.51.100.${i + 1}`),
    ];
    proc = spawn(DNSMASQ!, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const conf = join(dir, 'resolv.conf');
    writeFileSync(conf, 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n');
    client = new UdpDnsClient({ resolvConfPath: conf, port, timeoutMs: 500, attempts: 1 });
    // Wait (at most 5 s) until dnsmasq answers.
    const deadline = Date.now() + 5000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`dnsmasq exited ${proc.exitCode}: ${stderr}`);
      const ok = await client.query('edge1.sipmasq.test', 'A').then(
        (r) => r.answers.length > 0,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`dnsmasq did not answer within 5 s: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  after(async () => {
    client?.close();
    if (proc && proc.exitCode === null) {
      const exited = new Promise<void>((resolve) => proc?.once('exit', () => resolve()));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc?.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('follows NAPTR (lowest order, by preference) to SRV (by priority) to A', async () => {
    const raw = await client.query('voip.sipmasq.test', 'NAPTR');
    assert.deepEqual(
      raw.answers
        .map((r) =>
          r.type === 'NAPTR'
            ? `${r.order} ${r.preference} ${r.flags} ${r.services} ${r.regexp}|${r.replacement}`
            : r.type,
        )
        .sort(),
      [
        '10 10 S SIP+D2T |_sip._tcp.voip.sipmasq.test',
        '10 20 S SIP+D2U |_sip._udp.voip.sipmasq.test',
        '20 10 S SIP+D2U |_sip._udp.late.sipmasq.test',
      ],
    );
    const resolver = new Rfc3263Resolver(client, { random: () => 0 });
    assert.deepEqual(await resolver.resolve({ host: 'voip.sipmasq.test' }), [
      { address: '192.0.2.21', port: 5071, transport: 'tcp' },
      { address: '192.0.2.21', port: 5070, transport: 'udp' },
      { address: '192.0.2.22', port: 5072, transport: 'udp' },
    ]);
    const udpOnly = new Rfc3263Resolver(client, { transports: ['udp'] });
    assert.deepEqual(
      (await udpOnly.resolve({ host: 'voip.sipmasq.test' })).map((t) => t.port),
      [5070, 5072],
    );
  });

  it('goes to SRV without NAPTR, and to A on 5060 without SRV', async () => {
    const resolver = new Rfc3263Resolver(client);
    assert.deepEqual(await resolver.resolve({ host: 'plain.sipmasq.test' }), [
      { address: '192.0.2.22', port: 5090, transport: 'udp' },
    ]);
    assert.deepEqual(await resolver.resolve({ host: 'only-a.sipmasq.test' }), [
      { address: '192.0.2.23', port: 5060, transport: 'udp' },
    ]);
  });

  it('follows a CNAME, and returns nothing for a name that does not exist', async () => {
    const resolver = new Rfc3263Resolver(client);
    assert.deepEqual(await resolver.resolve({ host: 'alias.sipmasq.test', port: 5080 }), [
      { address: '192.0.2.21', port: 5080, transport: 'udp' },
    ]);
    const nx = await client.query('nope.sipmasq.test', 'A');
    assert.equal(nx.rcode, Rcode.NXDOMAIN);
    assert.deepEqual(await resolver.resolve({ host: 'nope.sipmasq.test' }), []);
  });

  it('reads a truncated answer again over TCP', async () => {
    const res = await client.query('big.sipmasq.test', 'A');
    assert.equal(res.transport, 'tcp', 'dnsmasq set TC on the 512-byte UDP answer');
    assert.equal(res.answers.length, 40);
  });
});
