/**
 * UdpDnsClient and Rfc3263Resolver on real sockets, against fake DNS servers on loopback addresses
 * (127.0.0.1 answers; 127.0.0.2 stays silent; 127.0.0.3 answers SERVFAIL; nothing listens on 127.0.0.4),
 * through a resolv.conf written to a temporary directory. No packet leaves the machine.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isSipmasqError } from '../../../../common/errors.ts';
import { UdpDnsClient, type UdpDnsClientOptions } from '../../../../proxy/dns/dns-client.ts';
import { Rcode } from '../../../../proxy/dns/dns-record.ts';
import { Rfc3263Resolver } from '../../../../proxy/dns/sip-resolver.ts';
import { a, aaaa, cname, naptr, srv, T } from '../../../unit/proxy/dns/dns-wire.ts';
import { FakeDnsServer } from './fake-dns-server.ts';

const ZONE = [
  a('sip.example.test', '192.0.2.10', 120),
  aaaa('sip.example.test', '2001:db8::10', 120),
  cname('alias.example.test', 'sip.example.test', 60),
  naptr('voip.example.test', 10, 10, 'S', 'SIP+D2U', '', '_sip._udp.voip.example.test', 300),
  naptr('voip.example.test', 10, 20, 'S', 'SIP+D2T', '', '_sip._tcp.voip.example.test', 300),
  srv('_sip._udp.voip.example.test', 10, 0, 5070, 'sip.example.test', 300),
  srv('_sip._tcp.voip.example.test', 10, 0, 5071, 'sip.example.test', 300),
  // 40 A records: 40 * 16 bytes of answer do not fit in 512 bytes.
  ...Array.from({ length: 40 }, (_, i) => a('big.example.test', `198.51.100.${i + 1}`, 300)),
];

describe('UdpDnsClient against fake servers on loopback', () => {
  let dir = '';
  let good: FakeDnsServer;
  let silent: FakeDnsServer;
  let failing: FakeDnsServer;
  const clients: UdpDnsClient[] = [];

  function client(nameservers: string[], opts: UdpDnsClientOptions = {}, extra = ''): UdpDnsClient {
    const path = join(dir, `resolv-${clients.length}.conf`);
    writeFileSync(path, `${nameservers.map((n) => `nameserver ${n}`).join('\n')}\n${extra}`);
    const c = new UdpDnsClient({ resolvConfPath: path, port: good.port, timeoutMs: 300, ...opts });
    clients.push(c);
    return c;
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sipmasq-dns-'));
    good = await FakeDnsServer.start('127.0.0.1');
    good.zone = ZONE;
    silent = await FakeDnsServer.start('127.0.0.2', good.port, false);
    silent.silent = true;
    failing = await FakeDnsServer.start('127.0.0.3', good.port, false);
    failing.rcode = Rcode.SERVFAIL;
  });

  after(async () => {
    for (const c of clients) c.close();
    await Promise.all([good?.close(), silent?.close(), failing?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers A and AAAA queries with their TTLs', async () => {
    const c = client(['127.0.0.1']);
    const four = await c.query('sip.example.test', 'A');
    assert.equal(four.rcode, Rcode.NOERROR);
    assert.equal(four.transport, 'udp');
    assert.equal(four.server, '127.0.0.1');
    assert.deepEqual(four.answers, [
      { name: 'sip.example.test', class: 1, ttl: 120, type: 'A', address: '192.0.2.10' },
    ]);
    const six = await c.query('sip.example.test', 'AAAA');
    assert.deepEqual(
      six.answers.map((r) => (r.type === 'AAAA' ? r.address : '')),
      ['2001:db8::10'],
    );
  });

  it('gives NXDOMAIN and NODATA as values', async () => {
    const c = client(['127.0.0.1']);
    const nx = await c.query('nope.example.test', 'A');
    assert.equal(nx.rcode, Rcode.NXDOMAIN);
    assert.deepEqual(nx.answers, []);
    const nodata = await c.query('sip.example.test', 'SRV');
    assert.equal(nodata.rcode, Rcode.NOERROR);
    assert.deepEqual(nodata.answers, []);
  });

  it('asks again over TCP, to the same server, when the UDP answer is truncated (TC=1)', async () => {
    const c = client(['127.0.0.1']);
    good.truncate.add('big.example.test');
    const before = good.seen.length;
    const res = await c.query('big.example.test', 'A');
    assert.equal(res.transport, 'tcp');
    assert.equal(res.answers.length, 40);
    assert.deepEqual(
      good.seen.slice(before).map((s) => s.via),
      ['udp', 'tcp'],
    );
    assert.equal(c.stats().tcpRetries, 1);
  });

  it('moves on to the next server after a timeout, and at once after an ICMP refusal', async () => {
    const c = client(['127.0.0.2', '127.0.0.4', '127.0.0.1']);
    const started = Date.now();
    const res = await c.query('sip.example.test', 'A');
    const took = Date.now() - started;
    assert.equal(res.server, '127.0.0.1');
    assert.equal(res.answers.length, 1);
    assert.ok(took >= 290 && took < 3000, `took ${took} ms`);
    assert.equal(c.stats().udpTimeouts, 1, 'the refused server did not cost a timeout');
  });

  it('moves on to the next server after a SERVFAIL', async () => {
    const c = client(['127.0.0.3', '127.0.0.1']);
    const res = await c.query('sip.example.test', 'A');
    assert.equal(res.server, '127.0.0.1');
    assert.equal(res.rcode, Rcode.NOERROR);
    assert.equal(c.stats().serverFailures, 1);
  });

  it('returns the SERVFAIL as a value when no server does better', async () => {
    const c = client(['127.0.0.3'], { attempts: 1 });
    const res = await c.query('sip.example.test', 'A');
    assert.equal(res.rcode, Rcode.SERVFAIL);
  });

  it('fails with SMQ_ERR_DNS after attempts x servers tries with no answer (resolv.conf options honoured)', async () => {
    const c = client(['127.0.0.2'], { timeoutMs: undefined }, 'options timeout:1 attempts:2\n');
    const before = silent.seen.length;
    const started = Date.now();
    await assert.rejects(c.query('sip.example.test', 'A'), (err: unknown) => {
      assert.ok(isSipmasqError(err, 'SMQ_ERR_DNS'));
      assert.match(err.message, /127\.0\.0\.2/);
      return true;
    });
    const took = Date.now() - started;
    assert.equal(silent.seen.length - before, 2);
    assert.ok(took >= 1900 && took < 4000, `took ${took} ms`);
  });

  it('ignores a reply with the wrong id and takes the right one that follows', async () => {
    const c = client(['127.0.0.1']);
    good.spoofFirst = true;
    try {
      const res = await c.query('sip.example.test', 'A');
      assert.equal(res.answers.length, 1);
    } finally {
      good.spoofFirst = false;
    }
  });

  it('uses a fresh random id for each query', async () => {
    const ids = new Set<number>();
    const c = client(['127.0.0.1'], {
      queryId: () => {
        const id = Math.floor(Math.random() * 0x10000);
        ids.add(id);
        return id;
      },
    });
    for (let i = 0; i < 5; i++) await c.query('sip.example.test', 'A');
    assert.ok(ids.size >= 4);
  });

  it('fails queries in flight when closed, and refuses new ones', async () => {
    const c = client(['127.0.0.2'], { timeoutMs: 5000 });
    const pending = c.query('sip.example.test', 'A');
    setTimeout(() => c.close(), 50);
    await assert.rejects(pending, (err: unknown) => isSipmasqError(err, 'SMQ_ERR_DNS'));
    await assert.rejects(c.query('sip.example.test', 'A'), (err: unknown) =>
      isSipmasqError(err, 'SMQ_ERR_DNS'),
    );
  });

  it('drives the RFC 3263 resolver: NAPTR -> SRV -> A, CNAME, and the cache', async () => {
    const c = client(['127.0.0.1']);
    const resolver = new Rfc3263Resolver(c, { random: () => 0 });
    const before = good.seen.length;
    assert.deepEqual(await resolver.resolve({ host: 'voip.example.test' }), [
      { address: '192.0.2.10', port: 5070, transport: 'udp' },
      { address: '192.0.2.10', port: 5071, transport: 'tcp' },
    ]);
    assert.deepEqual(
      good.seen.slice(before).map((s) => `${s.type} ${s.name}`),
      [
        `${T.NAPTR} voip.example.test`,
        `${T.SRV} _sip._udp.voip.example.test`,
        `${T.SRV} _sip._tcp.voip.example.test`,
        `${T.A} sip.example.test`,
      ],
    );
    const again = good.seen.length;
    await resolver.resolve({ host: 'voip.example.test' });
    assert.equal(good.seen.length, again, 'all from the cache');
    assert.deepEqual(await resolver.resolve({ host: 'alias.example.test', port: 5080 }), [
      { address: '192.0.2.10', port: 5080, transport: 'udp' },
    ]);
    assert.deepEqual(await resolver.resolve({ host: 'missing.example.test' }), []);
    assert.equal((await resolver.resolve({ host: 'big.example.test', port: 5060 })).length, 40);
  });
});
