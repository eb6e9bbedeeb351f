import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../../../common/clock.ts';
import { isSipmasqError } from '../../../../common/errors.ts';
import {
  Rfc3263Resolver,
  type Rfc3263ResolverOptions,
  type SipTarget,
} from '../../../../proxy/dns/sip-resolver.ts';
import { seededRandom } from './dns-wire.ts';
import { FakeDnsClient, rr } from './fake-dns-client.ts';

function setup(opts: Rfc3263ResolverOptions = {}) {
  const clock = new ManualClock();
  const dns = new FakeDnsClient();
  const resolver = new Rfc3263Resolver(dns, { clock, random: () => 0, ...opts });
  return { clock, dns, resolver };
}

const short = (targets: SipTarget[]) => targets.map((t) => `${t.transport} ${t.address}:${t.port}`);

describe('Rfc3263Resolver: numeric hosts and explicit ports (RFC 3263 §4.1, §4.2)', () => {
  it('uses an IP literal as is, with its port or the transport default, without asking DNS', async () => {
    const { resolver, dns } = setup();
    assert.deepEqual(short(await resolver.resolve({ host: '198.51.100.7' })), ['udp 198.51.100.7:5060']);
    assert.deepEqual(short(await resolver.resolve({ host: '198.51.100.7', port: 5080 })), [
      'udp 198.51.100.7:5080',
    ]);
    assert.deepEqual(short(await resolver.resolve({ host: '[2001:db8::1]', transport: 'tcp' })), [
      'tcp 2001:db8::1:5060',
    ]);
    const tls = setup({ transports: ['udp', 'tcp', 'tls'] }).resolver;
    assert.deepEqual(short(await tls.resolve({ host: '198.51.100.7', secure: true })), [
      'tls 198.51.100.7:5061',
    ]);
    assert.deepEqual(short(await tls.resolve({ host: '198.51.100.7', secure: true, transport: 'tcp' })), [
      'tls 198.51.100.7:5061',
    ]);
    assert.deepEqual(dns.log, []);
  });

  it('looks up only A records when the URI names a port', async () => {
    const { resolver, dns } = setup();
    dns.add(rr.a('voip.example', '198.51.100.9'), rr.a('voip.example', '198.51.100.10'));
    assert.deepEqual(short(await resolver.resolve({ host: 'voip.example', port: 5070 })), [
      'udp 198.51.100.9:5070',
      'udp 198.51.100.10:5070',
    ]);
    assert.deepEqual(dns.log, ['A voip.example']);
  });

  it('returns nothing for what it cannot use: SIPS over UDP, an unsupported transport, a bad name', async () => {
    const { resolver, dns } = setup();
    assert.deepEqual(await resolver.resolve({ host: 'voip.example', secure: true, transport: 'udp' }), []);
    assert.deepEqual(await resolver.resolve({ host: 'voip.example', transport: 'tls' }), []);
    assert.deepEqual(await resolver.resolve({ host: 'voip.example', secure: true }), [], 'no TLS support');
    assert.deepEqual(await resolver.resolve({ host: 'bad name.example' }), []);
    assert.deepEqual(dns.log, []);
    await assert.rejects(resolver.resolve({ host: 'voip.example', port: 0 }), TypeError);
  });
});

describe('Rfc3263Resolver: NAPTR, then SRV, then A', () => {
  it('follows NAPTR by order, then preference, to the SRV records and their addresses', async () => {
    const { resolver, dns } = setup();
    dns.add(
      rr.naptr('voip.example', 20, 10, 'SIP+D2U', '_sip._udp.late.example'),
      rr.naptr('voip.example', 10, 50, 'SIP+D2U', '_sip._udp.voip.example'),
      rr.naptr('voip.example', 10, 10, 'SIP+D2T', '_sip._tcp.voip.example'),
      rr.srv('_sip._udp.voip.example', 10, 0, 5060, 'u.voip.example'),
      rr.srv('_sip._tcp.voip.example', 10, 0, 5062, 't.voip.example'),
      rr.srv('_sip._udp.late.example', 10, 0, 5060, 'late.example'),
      rr.a('u.voip.example', '192.0.2.1'),
      rr.a('t.voip.example', '192.0.2.2'),
      rr.a('late.example', '192.0.2.3'),
    );
    assert.deepEqual(short(await resolver.resolve({ host: 'voip.example' })), [
      'tcp 192.0.2.2:5062',
      'udp 192.0.2.1:5060',
    ]);
    assert.ok(!dns.log.includes('SRV _sip._udp.late.example'), 'a higher ORDER is not considered');
  });

  it('keeps only the NAPTR services it supports, and only SIPS ones for a SIPS URI', async () => {
    const zone = (dns: FakeDnsClient) =>
      dns.add(
        rr.naptr('voip.example', 10, 5, 'SIP+D2S', '_sip._sctp.voip.example'),
        rr.naptr('voip.example', 10, 6, 'E2U+sip', 'x.voip.example'),
        rr.naptr('voip.example', 10, 7, 'SIPS+D2T', '_sips._tcp.voip.example'),
        rr.naptr('voip.example', 10, 8, 'sip+d2u', '_sip._udp.voip.example'),
        rr.srv('_sips._tcp.voip.example', 1, 0, 5061, 's.voip.example'),
        rr.srv('_sip._udp.voip.example', 1, 0, 5060, 'u.voip.example'),
        rr.a('s.voip.example', '192.0.2.5'),
        rr.a('u.voip.example', '192.0.2.6'),
      );
    const plain = setup();
    zone(plain.dns);
    assert.deepEqual(short(await plain.resolver.resolve({ host: 'voip.example' })), ['udp 192.0.2.6:5060']);
    const withTls = setup({ transports: ['udp', 'tcp', 'tls'] });
    zone(withTls.dns);
    assert.deepEqual(short(await withTls.resolver.resolve({ host: 'voip.example' })), [
      'tls 192.0.2.5:5061',
      'udp 192.0.2.6:5060',
    ]);
    assert.deepEqual(short(await withTls.resolver.resolve({ host: 'voip.example', secure: true })), [
      'tls 192.0.2.5:5061',
    ]);
  });

  it('ignores NAPTR records that are not terminal "S" rules (regexp, other flags, no replacement)', async () => {
    const { resolver, dns } = setup();
    dns.add(
      {
        name: 'voip.example',
        ttl: 60,
        class: 1,
        type: 'NAPTR',
        order: 1,
        preference: 1,
        flags: 'U',
        services: 'SIP+D2U',
        regexp: '!^.*$!sip:x@y!',
        replacement: '.',
      },
      {
        name: 'voip.example',
        ttl: 60,
        class: 1,
        type: 'NAPTR',
        order: 1,
        preference: 2,
        flags: 'S',
        services: 'SIP+D2U',
        regexp: '',
        replacement: '.',
      },
      rr.srv('_sip._udp.voip.example', 1, 0, 5070, 'u.voip.example'),
      rr.a('u.voip.example', '192.0.2.6'),
    );
    assert.deepEqual(short(await resolver.resolve({ host: 'voip.example' })), ['udp 192.0.2.6:5070']);
  });

  it('without NAPTR asks SRV for each supported transport, ours in our order of preference', async () => {
    const { resolver, dns } = setup();
    dns.add(
      rr.a('voip.example', '192.0.2.99'),
      rr.srv('_sip._tcp.voip.example', 1, 0, 5060, 't.voip.example'),
      rr.srv('_sip._udp.voip.example', 5, 0, 5060, 'u.voip.example'),
      rr.a('t.voip.example', '192.0.2.2'),
      rr.a('u.voip.example', '192.0.2.1'),
    );
    assert.deepEqual(short(await resolver.resolve({ host: 'voip.example' })), [
      'udp 192.0.2.1:5060',
      'tcp 192.0.2.2:5060',
    ]);
    assert.deepEqual(dns.log, [
      'NAPTR voip.example',
      'SRV _sip._udp.voip.example',
      'SRV _sip._tcp.voip.example',
      'A u.voip.example',
      'A t.voip.example',
    ]);
    const tcpFirst = setup({ transports: ['tcp', 'udp'] });
    tcpFirst.dns.add(...dns.zone);
    assert.deepEqual(short(await tcpFirst.resolver.resolve({ host: 'voip.example' })), [
      'tcp 192.0.2.2:5060',
      'udp 192.0.2.1:5060',
    ]);
  });

  it('with a transport named in the URI asks only that SRV, then A on its default port', async () => {
    const { resolver, dns } = setup();
    dns.add(rr.a('voip.example', '192.0.2.9'), rr.srv('_sip._udp.voip.example', 1, 0, 5090, 'voip.example'));
    assert.deepEqual(short(await resolver.resolve({ host: 'voip.example', transport: 'tcp' })), [
      'tcp 192.0.2.9:5060',
    ]);
    assert.deepEqual(dns.log, ['SRV _sip._tcp.voip.example', 'A voip.example']);
  });

  it('falls back to A records on 5060 (UDP) when there is no NAPTR and no SRV', async () => {
    const { resolver, dns } = setup();
    dns.add(rr.a('voip.example', '192.0.2.9'));
    assert.deepEqual(short(await resolver.resolve({ host: 'voip.example' })), ['udp 192.0.2.9:5060']);
    const tls = setup({ transports: ['udp', 'tcp', 'tls'] });
    tls.dns.add(rr.a('voip.example', '192.0.2.9'));
    assert.deepEqual(short(await tls.resolver.resolve({ host: 'voip.example', secure: true })), [
      'tls 192.0.2.9:5061',
    ]);
    assert.deepEqual(tls.dns.log, ['NAPTR voip.example', 'SRV _sips._tcp.voip.example', 'A voip.example']);
  });

  it('falls back to A with the NAPTR transport when the NAPTR-named SRV has no records', async () => {
    const { resolver, dns } = setup();
    dns.add(
      rr.naptr('voip.example', 1, 1, 'SIP+D2T', '_sip._tcp.voip.example'),
      rr.a('voip.example', '192.0.2.9'),
    );
    assert.deepEqual(short(await resolver.resolve({ host: 'voip.example' })), ['tcp 192.0.2.9:5060']);
  });

  it('treats an SRV target of "." as "not available here": no fallback to A', async () => {
    const { resolver, dns } = setup({ transports: ['udp'] });
    dns.add(rr.srv('_sip._udp.voip.example', 0, 0, 0, '.'), rr.a('voip.example', '192.0.2.9'));
    assert.deepEqual(await resolver.resolve({ host: 'voip.example' }), []);
  });

  it('returns an empty list for a name that does not exist', async () => {
    const { resolver } = setup();
    assert.deepEqual(await resolver.resolve({ host: 'nowhere.example' }), []);
    assert.equal(resolver.stats().empty, 1);
  });
});

describe('Rfc3263Resolver: SRV ordering (RFC 2782)', () => {
  const zone = (dns: FakeDnsClient) =>
    dns.add(
      rr.srv('_sip._udp.voip.example', 20, 100, 5062, 'c.voip.example'),
      rr.srv('_sip._udp.voip.example', 10, 10, 5061, 'b.voip.example'),
      rr.srv('_sip._udp.voip.example', 10, 60, 5060, 'a.voip.example'),
      rr.srv('_sip._udp.voip.example', 10, 0, 5063, 'z.voip.example'),
      rr.a('a.voip.example', '192.0.2.1'),
      rr.a('b.voip.example', '192.0.2.2'),
      rr.a('b.voip.example', '192.0.2.3'),
      rr.a('c.voip.example', '192.0.2.4'),
      rr.a('z.voip.example', '192.0.2.5'),
    );

  it('tries lower priorities first and picks within a priority by the running sum of weights', async () => {
    // Weight 0 first, then in the order received: z (0), b (10), a (60); sum 70.
    const picks = [0.5, 0.0, 0.99];
    // 0.5 -> floor(0.5 * 71) = 35 -> a (running 0, 10, 70); then z, b sum 10: 0 -> z; then b.
    const { resolver, dns } = setup({ transports: ['udp'], random: () => picks.shift() ?? 0 });
    zone(dns);
    assert.deepEqual(short(await resolver.resolve({ host: 'voip.example' })), [
      'udp 192.0.2.1:5060',
      'udp 192.0.2.5:5063',
      'udp 192.0.2.2:5061',
      'udp 192.0.2.3:5061',
      'udp 192.0.2.4:5062',
    ]);
  });

  it('chooses each target first in proportion to its weight (seeded random)', async () => {
    const random = seededRandom(42);
    const first = new Map<string, number>();
    const runs = 3000;
    for (let i = 0; i < runs; i++) {
      const { resolver, dns } = setup({ transports: ['udp'], random });
      dns.add(
        rr.srv('_sip._udp.w.example', 1, 60, 1, 'a.w.example'),
        rr.srv('_sip._udp.w.example', 1, 30, 2, 'b.w.example'),
        rr.srv('_sip._udp.w.example', 1, 10, 3, 'c.w.example'),
        rr.a('a.w.example', '192.0.2.1'),
        rr.a('b.w.example', '192.0.2.2'),
        rr.a('c.w.example', '192.0.2.3'),
      );
      const [top] = await resolver.resolve({ host: 'w.example' });
      first.set(top!.address, (first.get(top!.address) ?? 0) + 1);
    }
    const share = (addr: string) => (first.get(addr) ?? 0) / runs;
    assert.ok(Math.abs(share('192.0.2.1') - 0.6) < 0.04, `a ${share('192.0.2.1')}`);
    assert.ok(Math.abs(share('192.0.2.2') - 0.3) < 0.04, `b ${share('192.0.2.2')}`);
    assert.ok(Math.abs(share('192.0.2.3') - 0.1) < 0.03, `c ${share('192.0.2.3')}`);
  });

  it('skips SRV targets whose name does not resolve, and lists a shared address once', async () => {
    const { resolver, dns } = setup({ transports: ['udp'] });
    dns.add(
      rr.srv('_sip._udp.voip.example', 1, 0, 5060, 'gone.voip.example'),
      rr.srv('_sip._udp.voip.example', 2, 0, 5070, 'b.voip.example'),
      rr.srv('_sip._udp.voip.example', 3, 0, 5070, 'b2.voip.example'),
      rr.a('b.voip.example', '192.0.2.2'),
      rr.a('b2.voip.example', '192.0.2.2'),
    );
    assert.deepEqual(short(await resolver.resolve({ host: 'voip.example' })), ['udp 192.0.2.2:5070']);
  });

  it('expands targets to AAAA too when asked, IPv4 first unless told otherwise', async () => {
    const zone6 = (dns: FakeDnsClient) =>
      dns.add(
        rr.srv('_sip._udp.voip.example', 1, 0, 5060, 'a.voip.example'),
        rr.a('a.voip.example', '192.0.2.1'),
        rr.aaaa('a.voip.example', '2001:db8::1'),
      );
    const v4only = setup({ transports: ['udp'] });
    zone6(v4only.dns);
    assert.deepEqual(short(await v4only.resolver.resolve({ host: 'voip.example' })), ['udp 192.0.2.1:5060']);
    const both = setup({ transports: ['udp'], ipv6: true });
    zone6(both.dns);
    assert.deepEqual(short(await both.resolver.resolve({ host: 'voip.example' })), [
      'udp 192.0.2.1:5060',
      'udp 2001:db8::1:5060',
    ]);
    const v6first = setup({ transports: ['udp'], ipv6: true, preferIPv4: false });
    zone6(v6first.dns);
    assert.deepEqual(short(await v6first.resolver.resolve({ host: 'voip.example' })), [
      'udp 2001:db8::1:5060',
      'udp 192.0.2.1:5060',
    ]);
  });
});

describe('Rfc3263Resolver: CNAME', () => {
  it('follows a CNAME chain in one answer to the addresses', async () => {
    const { resolver, dns } = setup();
    dns.add(
      rr.cname('sip.example', 'edge.example'),
      rr.cname('edge.example', 'host.cdn.example'),
      rr.a('host.cdn.example', '192.0.2.40'),
    );
    assert.deepEqual(short(await resolver.resolve({ host: 'sip.example', port: 5060 })), [
      'udp 192.0.2.40:5060',
    ]);
    assert.deepEqual(dns.log, ['A sip.example']);
  });

  it('asks for the rest of a chain the server stopped part way', async () => {
    const { resolver, dns } = setup();
    dns.chainInOneAnswer = false;
    dns.add(
      rr.cname('sip.example', 'edge.example'),
      rr.cname('edge.example', 'host.example'),
      rr.a('host.example', '192.0.2.41'),
    );
    assert.deepEqual(short(await resolver.resolve({ host: 'sip.example', port: 5060 })), [
      'udp 192.0.2.41:5060',
    ]);
    assert.deepEqual(dns.log, ['A sip.example', 'A edge.example', 'A host.example']);
  });

  it('stops on a CNAME loop, in one answer or across queries, with nothing found', async () => {
    const { resolver, dns } = setup();
    dns.add(rr.cname('x.example', 'y.example'), rr.cname('y.example', 'x.example'));
    assert.deepEqual(await resolver.resolve({ host: 'x.example', port: 5060 }), []);
    const split = setup();
    split.dns.chainInOneAnswer = false;
    split.dns.add(rr.cname('x.example', 'y.example'), rr.cname('y.example', 'x.example'));
    assert.deepEqual(await split.resolver.resolve({ host: 'x.example', port: 5060 }), []);
    assert.ok(split.dns.log.length <= 10, `${split.dns.log.length} queries`);
  });
});

describe('Rfc3263Resolver: cache', () => {
  it('keeps an answer for its TTL (the shortest of a chain), case-insensitively, then asks again', async () => {
    const { resolver, dns, clock } = setup();
    dns.add(
      rr.cname('sip.example', 'host.example', 60),
      rr.a('host.example', '192.0.2.1', 300),
      rr.a('host.example', '192.0.2.2', 120),
    );
    await resolver.resolve({ host: 'sip.example', port: 5060 });
    await resolver.resolve({ host: 'SIP.Example', port: 5060 });
    assert.equal(dns.log.length, 1);
    clock.advance(59_999);
    await resolver.resolve({ host: 'sip.example', port: 5060 });
    assert.equal(dns.log.length, 1, 'within the CNAME TTL');
    clock.advance(1);
    dns.set('host.example', 'A', rr.a('host.example', '192.0.2.3', 300));
    assert.deepEqual(short(await resolver.resolve({ host: 'sip.example', port: 5060 })), [
      'udp 192.0.2.3:5060',
    ]);
    assert.equal(dns.log.length, 2);
  });

  it('keeps a zero-TTL answer for the minimum (5 s by default)', async () => {
    const { resolver, dns, clock } = setup();
    dns.add(rr.a('voip.example', '192.0.2.1', 0));
    await resolver.resolve({ host: 'voip.example', port: 5060 });
    clock.advance(4_999);
    await resolver.resolve({ host: 'voip.example', port: 5060 });
    assert.equal(dns.log.length, 1);
    clock.advance(1);
    await resolver.resolve({ host: 'voip.example', port: 5060 });
    assert.equal(dns.log.length, 2);
  });

  it('caches each step of NAPTR -> SRV -> A for its own TTL', async () => {
    const { resolver, dns, clock } = setup({ transports: ['udp'] });
    dns.add(
      rr.naptr('voip.example', 1, 1, 'SIP+D2U', '_sip._udp.voip.example', 3600),
      rr.srv('_sip._udp.voip.example', 1, 0, 5060, 'a.voip.example', 600),
      rr.a('a.voip.example', '192.0.2.1', 30),
    );
    await resolver.resolve({ host: 'voip.example' });
    assert.equal(dns.log.length, 3);
    clock.advance(30_000);
    await resolver.resolve({ host: 'voip.example' });
    assert.deepEqual(dns.log.slice(3), ['A a.voip.example']);
    clock.advance(600_000);
    await resolver.resolve({ host: 'voip.example' });
    assert.deepEqual(dns.log.slice(4), ['SRV _sip._udp.voip.example', 'A a.voip.example']);
  });

  it('keeps negative answers (NXDOMAIN, no data) for 30 s', async () => {
    const { resolver, dns, clock } = setup();
    await resolver.resolve({ host: 'new.example', port: 5060 });
    dns.add(rr.a('new.example', '192.0.2.7'));
    clock.advance(29_999);
    assert.deepEqual(await resolver.resolve({ host: 'new.example', port: 5060 }), []);
    assert.equal(dns.log.length, 1);
    clock.advance(1);
    assert.deepEqual(short(await resolver.resolve({ host: 'new.example', port: 5060 })), [
      'udp 192.0.2.7:5060',
    ]);
    const s = resolver.stats();
    assert.equal(s.queries, 2);
    assert.equal(s.cache.hits, 1);
    assert.equal(s.cache.entries, 1);
    assert.equal(s.cache.negative, 0);
  });

  it('shares one query between lookups in flight', async () => {
    const { resolver, dns } = setup();
    let open = () => {};
    dns.gate = new Promise((r) => {
      open = r;
    });
    dns.add(rr.a('voip.example', '192.0.2.1'));
    const both = Promise.all([
      resolver.resolve({ host: 'voip.example', port: 5060 }),
      resolver.resolve({ host: 'voip.example', port: 5070 }),
    ]);
    open();
    const [x, y] = await both;
    assert.deepEqual(short(x), ['udp 192.0.2.1:5060']);
    assert.deepEqual(short(y), ['udp 192.0.2.1:5070']);
    assert.deepEqual(dns.log, ['A voip.example']);
  });
});

describe('Rfc3263Resolver: servers that do not answer', () => {
  it('goes on without NAPTR when the NAPTR query gets no answer, and remembers that for 30 s', async () => {
    const { resolver, dns, clock } = setup({ transports: ['udp'] });
    dns.timeouts.add('NAPTR voip.example');
    dns.add(
      rr.srv('_sip._udp.voip.example', 1, 0, 5060, 'a.voip.example'),
      rr.a('a.voip.example', '192.0.2.1', 3600),
    );
    assert.deepEqual(short(await resolver.resolve({ host: 'voip.example' })), ['udp 192.0.2.1:5060']);
    clock.advance(29_000);
    await resolver.resolve({ host: 'voip.example' });
    assert.equal(dns.log.filter((l) => l.startsWith('NAPTR')).length, 1);
  });

  it('fails with SMQ_ERR_DNS when the address query gets no answer, and does not cache the failure', async () => {
    const { resolver, dns } = setup();
    dns.timeouts.add('* voip.example');
    for (let i = 0; i < 2; i++)
      await assert.rejects(resolver.resolve({ host: 'voip.example', port: 5060 }), (err: unknown) =>
        isSipmasqError(err, 'SMQ_ERR_DNS'),
      );
    assert.equal(dns.log.length, 2);
    const s = resolver.stats();
    assert.equal(s.failures, 2);
    assert.equal(s.errors, 2);
  });

  it('uses the SRV targets that resolved when another target times out', async () => {
    const { resolver, dns } = setup({ transports: ['udp'] });
    dns.timeouts.add('A slow.voip.example');
    dns.add(
      rr.srv('_sip._udp.voip.example', 1, 0, 5060, 'slow.voip.example'),
      rr.srv('_sip._udp.voip.example', 2, 0, 5060, 'ok.voip.example'),
      rr.a('ok.voip.example', '192.0.2.2'),
    );
    assert.deepEqual(short(await resolver.resolve({ host: 'voip.example' })), ['udp 192.0.2.2:5060']);
  });
});
