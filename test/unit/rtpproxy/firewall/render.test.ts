import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSipmasqError } from '../../../../common/errors.ts';
import { checkRule, DEFAULT_CHAINS, type FwRule } from '../../../../rtpproxy/firewall/fw-rule.ts';
import { iptApplyInput, iptRemoveInput } from '../../../../rtpproxy/firewall/iptables-render.ts';
import { NftBackend } from '../../../../rtpproxy/firewall/nft-backend.ts';
import { nftApplyScript, nftRemoveScript } from '../../../../rtpproxy/firewall/nft-render.ts';
import { parseComment, sessionTag } from '../../../../rtpproxy/firewall/rule-comment.ts';
import { kernelRules } from '../../../../rtpproxy/kernel/kernel-rules.ts';
import { RecordingRunner } from './fake-backend.ts';

const ctx = { wanDevice: 'wan', lanDevice: 'br-lan', wanAddress: '198.51.100.2' };
const mapping = { x: 30000, phone: '192.168.1.10', phoneRtp: 4000, phoneRtcp: 4001, peer: '203.0.113.7' };
const state: FwRule[] = [
  { kind: 'marker', chain: 'input', comment: 'smq:@marker:input' },
  {
    kind: 'accept-in',
    comment: 'smq:@sip:udp:5060',
    dev: 'wan',
    daddr: '198.51.100.2',
    proto: 'udp',
    ports: [5060, 5060],
    saddr: null,
  },
  {
    kind: 'accept-in',
    comment: 'smq:abc:0:pin',
    dev: 'wan',
    daddr: '198.51.100.2',
    proto: 'udp',
    ports: [30002, 30003],
    saddr: '203.0.113.9',
  },
  ...kernelRules('sess1', 0, mapping, ctx).slice(0, 4),
  {
    kind: 'redirect',
    comment: 'smq:@redirect:udp:5060',
    dev: 'br-lan',
    proto: 'udp',
    dport: 5060,
    toPort: 5060,
  },
];
/** The nftables backend's own names with its defaults (inet fw4, sipmasq_* chains and sets). */
const NAMES = new NftBackend({ runner: new RecordingRunner() }).names;
const K = 'smq:sess1:0:k';
const M = '30000:192.168.1.10:4000:4001:203.0.113.7';

describe('firewall rule text', () => {
  it('renders the nftables script: chains, sets, missing hooks, flush, rules, elements with counters and comments', () => {
    const names = NAMES;
    const counters = new Map([[`${K}:in-rtp:${M}`, { packets: 7, bytes: 1120 }]]);
    const script = nftApplyScript(names, state, counters, new Set(['input', 'srcnat']));
    assert.equal(
      script,
      `add chain inet fw4 sipmasq_input
add chain inet fw4 sipmasq_forward
add chain inet fw4 sipmasq_dstnat
add chain inet fw4 sipmasq_srcnat
add set inet fw4 sipmasq_input_any { type ifname . ipv4_addr . inet_proto . inet_service; counter; }
add set inet fw4 sipmasq_input_peer { type ifname . ipv4_addr . inet_proto . inet_service . ipv4_addr; counter; }
add set inet fw4 sipmasq_forward_out { type ifname . ifname . ipv4_addr . inet_service; counter; }
add set inet fw4 sipmasq_forward_peer { type ifname . ifname . ipv4_addr . inet_service . ipv4_addr; counter; }
add set inet fw4 sipmasq_forward_any { type ifname . ifname . ipv4_addr . inet_service; counter; }
add map inet fw4 sipmasq_dstnat_peer { type ifname . ipv4_addr . inet_service . ipv4_addr : ipv4_addr . inet_service; counter; }
add map inet fw4 sipmasq_dstnat_any { type ifname . ipv4_addr . inet_service : ipv4_addr . inet_service; counter; }
add map inet fw4 sipmasq_srcnat_map { type ifname . ipv4_addr . inet_service : ipv4_addr . inet_service; counter; }
insert rule inet fw4 input jump sipmasq_input comment "smq:@hook"
insert rule inet fw4 srcnat jump sipmasq_srcnat comment "smq:@hook"
flush chain inet fw4 sipmasq_input
flush chain inet fw4 sipmasq_forward
flush chain inet fw4 sipmasq_dstnat
flush chain inet fw4 sipmasq_srcnat
flush set inet fw4 sipmasq_input_any
flush set inet fw4 sipmasq_input_peer
flush set inet fw4 sipmasq_forward_out
flush set inet fw4 sipmasq_forward_peer
flush set inet fw4 sipmasq_forward_any
flush map inet fw4 sipmasq_dstnat_peer
flush map inet fw4 sipmasq_dstnat_any
flush map inet fw4 sipmasq_srcnat_map
add rule inet fw4 sipmasq_input counter comment "smq:@marker:input"
add rule inet fw4 sipmasq_input iifname . ip daddr . meta l4proto . th dport @sipmasq_input_any accept
add rule inet fw4 sipmasq_input iifname . ip daddr . meta l4proto . th dport . ip saddr @sipmasq_input_peer accept
add rule inet fw4 sipmasq_forward iifname . oifname . ip saddr . udp sport @sipmasq_forward_out accept
add rule inet fw4 sipmasq_forward ct status dnat,snat iifname . oifname . ip daddr . udp dport . ip saddr @sipmasq_forward_peer accept
add rule inet fw4 sipmasq_forward ct status dnat,snat iifname . oifname . ip daddr . udp dport @sipmasq_forward_any accept
add rule inet fw4 sipmasq_dstnat dnat ip to iifname . ip daddr . udp dport . ip saddr map @sipmasq_dstnat_peer
add rule inet fw4 sipmasq_dstnat dnat ip to iifname . ip daddr . udp dport map @sipmasq_dstnat_any
add rule inet fw4 sipmasq_srcnat snat ip to oifname . ip saddr . udp sport map @sipmasq_srcnat_map
add rule inet fw4 sipmasq_dstnat iifname "br-lan" meta l4proto udp th dport 5060 fib daddr type != local counter redirect to :5060 comment "smq:@redirect:udp:5060"
add element inet fw4 sipmasq_input_any { "wan" . 198.51.100.2 . udp . 5060 comment "smq:@sip:udp:5060" }
add element inet fw4 sipmasq_input_peer { "wan" . 198.51.100.2 . udp . 30002 . 203.0.113.9 comment "smq:abc:0:pin", "wan" . 198.51.100.2 . udp . 30003 . 203.0.113.9 comment "smq:abc:0:pin" }
add element inet fw4 sipmasq_forward_out { "br-lan" . "wan" . 192.168.1.10 . 4000 comment "${K}:out-rtp:${M}" }
add element inet fw4 sipmasq_forward_peer { "wan" . "br-lan" . 192.168.1.10 . 4000 . 203.0.113.7 counter packets 7 bytes 1120 comment "${K}:in-rtp:${M}" }
add element inet fw4 sipmasq_dstnat_peer { "wan" . 198.51.100.2 . 30000 . 203.0.113.7 comment "${K}:dnat-rtp:${M}" : 192.168.1.10 . 4000 }
add element inet fw4 sipmasq_srcnat_map { "wan" . 192.168.1.10 . 4000 comment "${K}:snat-rtp:${M}" : 198.51.100.2 . 30000 }
`,
    );
    assert.equal(
      nftRemoveScript(names, [{ chain: 'input', handle: 12 }], ['sipmasq_input']),
      'delete rule inet fw4 input handle 12\nflush chain inet fw4 sipmasq_input\ndelete chain inet fw4 sipmasq_input\n',
    );
  });

  it('renders the iptables-restore input per table with -F of our chains and -I hooks', () => {
    const input = iptApplyInput(
      DEFAULT_CHAINS,
      state,
      new Map([['smq:@sip:udp:5060', { packets: 3, bytes: 90 }]]),
      new Set(['dstnat']),
    );
    assert.equal(
      input,
      `*filter
:sipmasq_input - [0:0]
:sipmasq_forward - [0:0]
-F sipmasq_input
-F sipmasq_forward
-A sipmasq_input -m comment --comment "smq:@marker:input"
[3:90] -A sipmasq_input -i wan -d 198.51.100.2/32 -p udp -m udp --dport 5060 -m comment --comment "smq:@sip:udp:5060" -j ACCEPT
-A sipmasq_input -i wan -s 203.0.113.9/32 -d 198.51.100.2/32 -p udp -m udp --dport 30002:30003 -m comment --comment "smq:abc:0:pin" -j ACCEPT
-A sipmasq_forward -i wan -o br-lan -s 203.0.113.7/32 -d 192.168.1.10/32 -p udp -m udp --dport 4000 -m conntrack --ctstate DNAT,SNAT -m comment --comment "${K}:in-rtp:${M}" -j ACCEPT
-A sipmasq_forward -i br-lan -o wan -s 192.168.1.10/32 -p udp -m udp --sport 4000 -m comment --comment "${K}:out-rtp:${M}" -j ACCEPT
COMMIT
*nat
:sipmasq_dstnat - [0:0]
:sipmasq_srcnat - [0:0]
-F sipmasq_dstnat
-F sipmasq_srcnat
-A sipmasq_dstnat -i wan -s 203.0.113.7/32 -d 198.51.100.2/32 -p udp -m udp --dport 30000 -m comment --comment "${K}:dnat-rtp:${M}" -j DNAT --to-destination 192.168.1.10:4000
-A sipmasq_srcnat -o wan -s 192.168.1.10/32 -p udp -m udp --sport 4000 -m comment --comment "${K}:snat-rtp:${M}" -j SNAT --to-source 198.51.100.2:30000
-A sipmasq_dstnat -i br-lan -p udp -m udp --dport 5060 -m addrtype ! --dst-type LOCAL -m comment --comment "smq:@redirect:udp:5060" -j REDIRECT --to-ports 5060
-I PREROUTING 1 -j sipmasq_dstnat
COMMIT
`,
    );
    assert.equal(
      iptRemoveInput(new Map([['filter', { jumps: ['INPUT -j sipmasq_input'], chains: ['sipmasq_input'] }]])),
      '*filter\n-D INPUT -j sipmasq_input\n-F sipmasq_input\n-X sipmasq_input\nCOMMIT\n',
    );
  });

  it('renders source mappings and the SIP helper chain for nftables (fw4 prerouting) and iptables (raw)', () => {
    const extra: FwRule[] = [
      { kind: 'marker', chain: 'helper', comment: 'smq:@marker:helper' },
      {
        kind: 'map-source',
        comment: 'smq:@srcmap:udp:192.168.1.10:5062',
        proto: 'udp',
        saddr: '192.168.1.1',
        sport: 5060,
        daddr: '192.168.1.10',
        dport: 5062,
        to: '203.0.113.10',
        toPort: 5060,
      },
      {
        kind: 'no-helper',
        comment: 'smq:@nohelper:udp:5060',
        proto: 'udp',
        dport: 5060,
        dev: null,
        toPort: null,
      },
      {
        kind: 'no-helper',
        comment: 'smq:@nohelper:redirect:tcp:5060',
        proto: 'tcp',
        dport: 5060,
        dev: 'br-lan',
        toPort: 5070,
      },
    ];
    const names = NAMES;
    const roles = new Set(['input', 'forward', 'dstnat', 'srcnat', 'helper'] as const);
    // The set declarations and lookups are the same as in the first case: left out here.
    const withoutSets = nftApplyScript(names, extra, new Map(), new Set(['helper']), roles)
      .split('\n')
      .filter((l) => !/@sipmasq_|(?:set|map) inet fw4 sipmasq_/.test(l))
      .join('\n');
    assert.equal(
      withoutSets,
      `add chain inet fw4 sipmasq_input
add chain inet fw4 sipmasq_forward
add chain inet fw4 sipmasq_dstnat
add chain inet fw4 sipmasq_srcnat
add chain inet fw4 sipmasq_helper
insert rule inet fw4 prerouting jump sipmasq_helper comment "smq:@hook"
flush chain inet fw4 sipmasq_input
flush chain inet fw4 sipmasq_forward
flush chain inet fw4 sipmasq_dstnat
flush chain inet fw4 sipmasq_srcnat
flush chain inet fw4 sipmasq_helper
add rule inet fw4 sipmasq_helper counter comment "smq:@marker:helper"
add rule inet fw4 sipmasq_srcnat ip saddr 192.168.1.1 udp sport 5060 ip daddr 192.168.1.10 udp dport 5062 counter snat ip to 203.0.113.10:5060 comment "smq:@srcmap:udp:192.168.1.10:5062"
add rule inet fw4 sipmasq_helper meta l4proto udp th dport 5060 fib daddr type local counter accept comment "smq:@nohelper:udp:5060"
add rule inet fw4 sipmasq_helper iifname "br-lan" meta l4proto tcp th dport 5070 ct original proto-dst 5060 fib daddr type local counter accept comment "smq:@nohelper:redirect:tcp:5060"
`,
    );
    assert.equal(
      iptApplyInput(DEFAULT_CHAINS, extra, new Map(), new Set(['helper']), roles),
      `*raw
:sipmasq_helper - [0:0]
-F sipmasq_helper
-A sipmasq_helper -m comment --comment "smq:@marker:helper"
-A sipmasq_helper -p udp -m udp --dport 5060 -m addrtype --dst-type LOCAL -m comment --comment "smq:@nohelper:udp:5060" -j CT
-A sipmasq_helper -i br-lan -p tcp -m tcp --dport 5060 -m addrtype ! --dst-type LOCAL -m comment --comment "smq:@nohelper:redirect:tcp:5060" -j CT
-I PREROUTING 1 -j sipmasq_helper
COMMIT
*filter
:sipmasq_input - [0:0]
:sipmasq_forward - [0:0]
-F sipmasq_input
-F sipmasq_forward
COMMIT
*nat
:sipmasq_dstnat - [0:0]
:sipmasq_srcnat - [0:0]
-F sipmasq_dstnat
-F sipmasq_srcnat
-A sipmasq_srcnat -s 192.168.1.1/32 -d 192.168.1.10/32 -p udp -m udp --sport 5060 --dport 5062 -m comment --comment "smq:@srcmap:udp:192.168.1.10:5062" -j SNAT --to-source 203.0.113.10:5060
COMMIT
`,
    );
    for (const r of extra) assert.deepEqual(checkRule(r), r);
    assert.deepEqual(parseComment('smq:@srcmap:udp:192.168.1.10:5062'), { type: 'srcmap' });
    assert.deepEqual(parseComment('smq:@nohelper:redirect:tcp:5060'), { type: 'nohelper' });
  });

  it('refuses bad source mappings and helper rules with SMQ_ERR_FIREWALL', () => {
    const map: Extract<FwRule, { kind: 'map-source' }> = {
      kind: 'map-source',
      comment: 'smq:@srcmap:udp:192.168.1.10:5062',
      proto: 'udp',
      saddr: '192.168.1.1',
      sport: 5060,
      daddr: '192.168.1.10',
      dport: 5062,
      to: '203.0.113.10',
      toPort: 5060,
    };
    const noHelper: Extract<FwRule, { kind: 'no-helper' }> = {
      kind: 'no-helper',
      comment: 'smq:@nohelper:udp:5060',
      proto: 'udp',
      dport: 5060,
      dev: null,
      toPort: null,
    };
    const bad: FwRule[] = [
      { ...map, daddr: '2001:db8::10' },
      { ...map, daddr: '0.0.0.0' },
      { ...map, daddr: '192.168.001.010' },
      { ...map, to: '203.0.113.10:5060' },
      { ...map, to: 'provider.example' },
      { ...map, saddr: '192.168.1.1 accept' },
      { ...map, dport: 0 },
      { ...map, toPort: 70000 },
      { ...map, sport: -1 },
      { ...map, proto: 'sctp' as 'udp' },
      { ...map, comment: 'smq:@srcmap:udp:"x"' },
      { ...noHelper, toPort: 5062 },
      { ...noHelper, dev: 'lan"; flush ruleset' },
      { ...noHelper, dport: 65536 },
      { ...noHelper, proto: 'icmp' as 'udp' },
      { kind: 'marker', chain: 'raw' as 'helper', comment: 'smq:@marker:raw' },
    ];
    for (const rule of bad)
      assert.throws(
        () => checkRule(rule),
        (e: unknown) => isSipmasqError(e, 'SMQ_ERR_FIREWALL'),
        JSON.stringify(rule),
      );
  });

  it('maps RTP and RTCP legs, and only RTP when the phone muxes RTCP on its RTP port', () => {
    assert.equal(kernelRules('s', 1, mapping, ctx).length, 8);
    assert.equal(kernelRules('s', 1, { ...mapping, phoneRtcp: 4000, peer: null }, ctx).length, 4);
    const dnat = kernelRules('s', 1, { ...mapping, peer: null }, ctx)[0];
    assert.equal(dnat?.kind === 'dnat' && dnat.saddr, null);
  });

  it('reads its comments back, and names long session ids by a hash', () => {
    const p = parseComment(`${K}:dnat-rtcp:${M}`);
    assert.deepEqual(p, { type: 'kernel', tag: 'sess1', index: 0, role: 'dnat-rtcp', mapping });
    assert.deepEqual(parseComment('smq:sess1:3:pin'), { type: 'pinhole', tag: 'sess1', index: 3 });
    assert.equal(parseComment('fw4: something else'), null);
    assert.equal(parseComment(`${K}:dnat-rtp:30000:192.168.1.10:4000:4001:not-an-ip`), null);
    const tag = sessionTag('a very long session id with spaces');
    assert.match(tag, /^h[A-Za-z0-9_-]{15}$/);
    assert.equal(sessionTag(tag), tag);
  });

  it('refuses bad addresses, ports, devices and comments with SMQ_ERR_FIREWALL and produces no rule', () => {
    const base = state[3] as Extract<FwRule, { kind: 'dnat' }>;
    const bad: FwRule[] = [
      { ...base, to: '192.168.1.10; drop' },
      { ...base, to: '0.0.0.0' },
      { ...base, saddr: '2001:db8::1' },
      { ...base, daddr: 'example.com' },
      { ...base, dport: 0 },
      { ...base, toPort: 65536 },
      { ...base, dport: 1.5 },
      { ...base, dev: 'wan" accept' },
      { ...base, dev: 'a-very-long-interface-name' },
      { ...base, comment: 'smq:x" ; flush ruleset' },
      { ...base, comment: 'not ours' },
      { ...(state[1] as Extract<FwRule, { kind: 'accept-in' }>), ports: [5061, 5060] },
      { ...(state[1] as Extract<FwRule, { kind: 'accept-in' }>), proto: 'icmp' as 'udp' },
    ];
    for (const rule of bad)
      assert.throws(
        () => checkRule(rule),
        (e: unknown) => isSipmasqError(e, 'SMQ_ERR_FIREWALL'),
        JSON.stringify(rule),
      );
    assert.deepEqual(checkRule(base), base);
  });
});
