import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../../../common/clock.ts';
import { isSipmasqError } from '../../../../common/errors.ts';
import type { NextHopResolver } from '../../../../proxy/core/next-hop.ts';
import { ResolverNextHop } from '../../../../proxy/dns/resolver-next-hop.ts';
import { FakeDnsClient, rr } from './fake-dns-client.ts';

function setup() {
  const clock = new ManualClock();
  const dns = new FakeDnsClient();
  const hop: NextHopResolver = new ResolverNextHop(clock, { client: dns, random: () => 0 });
  return { clock, dns, hop };
}

describe('ResolverNextHop (the proxy seam, UDP only)', () => {
  it('uses an IP literal as is, with its port or 5060', async () => {
    const { hop, dns } = setup();
    assert.deepEqual(await hop.resolve('198.51.100.77', undefined), [
      { address: '198.51.100.77', port: 5060 },
    ]);
    assert.deepEqual(await hop.resolve('[2001:db8::1]', 5061), [{ address: '2001:db8::1', port: 5061 }]);
    assert.deepEqual(dns.log, []);
  });

  it('follows only UDP NAPTR and SRV records, and returns address and port only', async () => {
    const { hop, dns } = setup();
    dns.add(
      rr.naptr('voip.example', 10, 10, 'SIP+D2T', '_sip._tcp.voip.example'),
      rr.naptr('voip.example', 10, 20, 'SIP+D2U', '_sip._udp.edge.voip.example'),
      rr.srv('_sip._tcp.voip.example', 1, 0, 5060, 't.voip.example'),
      rr.srv('_sip._udp.edge.voip.example', 1, 0, 5080, 'u.voip.example'),
      rr.a('t.voip.example', '192.0.2.2'),
      rr.a('u.voip.example', '192.0.2.1'),
    );
    assert.deepEqual(await hop.resolve('voip.example', undefined), [{ address: '192.0.2.1', port: 5080 }]);
    assert.ok(!dns.log.includes('SRV _sip._tcp.voip.example'));
  });

  it('falls back to SRV _sip._udp, then to A on 5060', async () => {
    const { hop, dns } = setup();
    dns.add(rr.a('voip.example', '192.0.2.9'));
    assert.deepEqual(await hop.resolve('voip.example', undefined), [{ address: '192.0.2.9', port: 5060 }]);
    assert.deepEqual(dns.log, ['NAPTR voip.example', 'SRV _sip._udp.voip.example', 'A voip.example']);
  });

  it('fails with SMQ_ERR_DNS naming the host when nothing resolves', async () => {
    const { hop } = setup();
    await assert.rejects(hop.resolve('nowhere.example', undefined), (err: unknown) => {
      assert.ok(isSipmasqError(err, 'SMQ_ERR_DNS'));
      assert.equal(err.details.host, 'nowhere.example');
      return true;
    });
  });

  it('reports the resolver statistics', async () => {
    const clock = new ManualClock();
    const dns = new FakeDnsClient().add(rr.a('voip.example', '192.0.2.9'));
    const hop = new ResolverNextHop(clock, { client: dns });
    await hop.resolve('voip.example', 5060);
    await hop.resolve('voip.example', 5060);
    const s = hop.stats();
    assert.equal(s.resolves, 2);
    assert.equal(s.cache.hits, 1);
    hop.close();
    hop.close();
  });
});
