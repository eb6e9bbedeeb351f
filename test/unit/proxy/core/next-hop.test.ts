import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../../../common/clock.ts';
import { isSipmasqError } from '../../../../common/errors.ts';
import { type DnsBackend, DnsNextHop } from '../../../../proxy/core/next-hop.ts';
import { T0 } from './fixtures.ts';

type Srv = { name: string; port: number; priority: number; weight: number };

class FakeDns implements DnsBackend {
  readonly queries: string[] = [];
  srv: Record<string, Srv[]> = {};
  a: Record<string, Array<{ address: string; ttl: number }>> = {};
  async resolveSrv(name: string): Promise<Srv[]> {
    this.queries.push(`SRV ${name}`);
    const r = this.srv[name];
    if (!r) throw Object.assign(new Error(`querySrv ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
    return r;
  }
  async resolve4(name: string): Promise<Array<{ address: string; ttl: number }>> {
    this.queries.push(`A ${name}`);
    const r = this.a[name];
    if (!r) throw Object.assign(new Error(`queryA ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
    return r;
  }
}

function setup() {
  const clock = new ManualClock(T0);
  const dns = new FakeDns();
  return { clock, dns, hop: new DnsNextHop(clock, dns) };
}

describe('DnsNextHop', () => {
  it('uses an IP literal as is, with its port or 5060, without asking DNS', async () => {
    const { hop, dns } = setup();
    assert.deepEqual(await hop.resolve('198.51.100.77', undefined), [
      { address: '198.51.100.77', port: 5060 },
    ]);
    assert.deepEqual(await hop.resolve('198.51.100.77', 5080), [{ address: '198.51.100.77', port: 5080 }]);
    assert.deepEqual(await hop.resolve('[2001:db8::1]', 5061), [{ address: '2001:db8::1', port: 5061 }]);
    assert.deepEqual(dns.queries, []);
  });

  it('orders SRV targets by priority, then by weight, each with its own port (RFC 3263, RFC 2782)', async () => {
    const { hop, dns } = setup();
    dns.srv['_sip._udp.voip.example'] = [
      { name: 'c.voip.example', port: 5062, priority: 20, weight: 100 },
      { name: 'b.voip.example', port: 5061, priority: 10, weight: 10 },
      { name: 'a.voip.example', port: 5060, priority: 10, weight: 60 },
    ];
    dns.a['a.voip.example'] = [{ address: '198.51.100.1', ttl: 300 }];
    dns.a['b.voip.example'] = [
      { address: '198.51.100.2', ttl: 300 },
      { address: '198.51.100.3', ttl: 300 },
    ];
    dns.a['c.voip.example'] = [{ address: '198.51.100.4', ttl: 300 }];
    assert.deepEqual(await hop.resolve('voip.example', undefined), [
      { address: '198.51.100.1', port: 5060 },
      { address: '198.51.100.2', port: 5061 },
      { address: '198.51.100.3', port: 5061 },
      { address: '198.51.100.4', port: 5062 },
    ]);
  });

  it('skips SRV targets whose name does not resolve', async () => {
    const { hop, dns } = setup();
    dns.srv['_sip._udp.voip.example'] = [
      { name: 'gone.voip.example', port: 5060, priority: 1, weight: 0 },
      { name: 'b.voip.example', port: 5070, priority: 2, weight: 0 },
    ];
    dns.a['b.voip.example'] = [{ address: '198.51.100.2', ttl: 300 }];
    assert.deepEqual(await hop.resolve('voip.example', undefined), [{ address: '198.51.100.2', port: 5070 }]);
  });

  it('falls back to A records on port 5060 when there is no SRV record', async () => {
    const { hop, dns } = setup();
    dns.a['voip.example'] = [{ address: '198.51.100.9', ttl: 60 }];
    assert.deepEqual(await hop.resolve('voip.example', undefined), [{ address: '198.51.100.9', port: 5060 }]);
    assert.deepEqual(dns.queries, ['SRV _sip._udp.voip.example', 'A voip.example']);
  });

  it('does not look up SRV when the URI names a port', async () => {
    const { hop, dns } = setup();
    dns.a['voip.example'] = [{ address: '198.51.100.9', ttl: 60 }];
    assert.deepEqual(await hop.resolve('voip.example', 5080), [{ address: '198.51.100.9', port: 5080 }]);
    assert.deepEqual(dns.queries, ['A voip.example']);
  });

  it('caches an A answer for its TTL, case-insensitively, and asks again after', async () => {
    const { hop, dns, clock } = setup();
    dns.a['voip.example'] = [
      { address: '198.51.100.9', ttl: 60 },
      { address: '198.51.100.10', ttl: 30 },
    ];
    await hop.resolve('voip.example', 5060);
    await hop.resolve('VOIP.example', 5060);
    assert.equal(dns.queries.length, 1);
    clock.advance(29_999);
    await hop.resolve('voip.example', 5060);
    assert.equal(dns.queries.length, 1, 'within the shortest TTL');
    clock.advance(1);
    dns.a['voip.example'] = [{ address: '198.51.100.11', ttl: 60 }];
    assert.deepEqual(await hop.resolve('voip.example', 5060), [{ address: '198.51.100.11', port: 5060 }]);
    assert.equal(dns.queries.length, 2);
  });

  it('keeps a zero-TTL answer for at least 5 s', async () => {
    const { hop, dns, clock } = setup();
    dns.a['voip.example'] = [{ address: '198.51.100.9', ttl: 0 }];
    await hop.resolve('voip.example', 5060);
    clock.advance(4_999);
    await hop.resolve('voip.example', 5060);
    assert.equal(dns.queries.length, 1);
    clock.advance(1);
    await hop.resolve('voip.example', 5060);
    assert.equal(dns.queries.length, 2);
  });

  it('caches SRV results for 60 s, keyed apart from lookups with a port', async () => {
    const { hop, dns, clock } = setup();
    dns.srv['_sip._udp.voip.example'] = [{ name: 'a.voip.example', port: 5090, priority: 1, weight: 1 }];
    dns.a['a.voip.example'] = [{ address: '198.51.100.1', ttl: 1 }];
    dns.a['voip.example'] = [{ address: '198.51.100.9', ttl: 300 }];
    await hop.resolve('voip.example', undefined);
    const n = dns.queries.length;
    clock.advance(59_999);
    assert.deepEqual(await hop.resolve('voip.example', undefined), [{ address: '198.51.100.1', port: 5090 }]);
    assert.equal(dns.queries.length, n);
    assert.deepEqual(await hop.resolve('voip.example', 5060), [{ address: '198.51.100.9', port: 5060 }]);
    clock.advance(1);
    await hop.resolve('voip.example', undefined);
    assert.ok(dns.queries.length > n + 1);
  });

  it('fails with SMQ_ERR_DNS naming the host when nothing resolves', async () => {
    const { hop } = setup();
    await assert.rejects(hop.resolve('nowhere.example', undefined), (err: unknown) => {
      assert.ok(isSipmasqError(err, 'SMQ_ERR_DNS'));
      assert.equal(err.details.host, 'nowhere.example');
      assert.ok(err.message.includes('nowhere.example'));
      return true;
    });
  });

  it('fails with SMQ_ERR_DNS on an empty answer, every time, and finds the name once it has an address', async () => {
    const { hop, dns, clock } = setup();
    dns.a['empty.example'] = [];
    for (let i = 0; i < 2; i++)
      await assert.rejects(hop.resolve('empty.example', 5060), (err: unknown) =>
        isSipmasqError(err, 'SMQ_ERR_DNS'),
      );
    dns.a['empty.example'] = [{ address: '198.51.100.5', ttl: 60 }];
    clock.advance(60_000);
    assert.deepEqual(await hop.resolve('empty.example', 5060), [{ address: '198.51.100.5', port: 5060 }]);
  });
});
