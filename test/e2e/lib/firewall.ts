/**
 * The router's firewall, written twice: as an nftables ruleset shaped like OpenWrt's fw4 (one
 * `table inet fw4` with per-zone chains) and as an iptables-restore ruleset shaped like fw3 (zone
 * chains in the filter and nat tables). Both say the same:
 *
 *   INPUT:   lo, established/related, and everything from the LAN accepted; the rest (from wan0) dropped
 *   FORWARD: LAN -> WAN and established/related accepted; the rest dropped
 *   NAT:     masquerade out of wan0
 *
 * No conntrack helper is attached anywhere (no `ct helper` rules, no CT target), so nf_conntrack_sip
 * never rewrites SIP in the lab - unless `sipHelper` asks for the router's stock helper assignment, as
 * OpenWrt writes it when the module is loaded: fw4's `ct helper sip` object and `udp dport 5060 ct
 * helper set "sip"` in chain helper_lan (jumped to from chain prerouting, type filter, priority
 * filter), fw3's `-j CT --helper sip` in raw zone_lan_helper (from raw PREROUTING).
 */

export type FirewallBackend = 'nftables' | 'iptables';

export interface FirewallSpec {
  readonly lan: string;
  readonly wan: string;
  /** Attach the kernel SIP helper to LAN UDP 5060 as OpenWrt does (default false: no helper). */
  readonly sipHelper?: boolean;
}

function nftHelperRules(lan: string): string {
  return `  ct helper sip {
    type "sip" protocol udp
    l3proto inet
  }
  chain prerouting {
    type filter hook prerouting priority filter; policy accept;
    iifname "${lan}" jump helper_lan comment "!fw4: Handle lan IPv4/IPv6 helper assignment"
  }
  chain helper_lan {
    udp dport 5060 ct helper set "sip" comment "!fw4: SIP VoIP connection tracking"
  }
`;
}

function iptablesHelperRules(lan: string): string {
  return `*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:zone_lan_helper - [0:0]
-A PREROUTING -i ${lan} -m comment --comment "!fw3: lan CT helper assignment" -j zone_lan_helper
-A zone_lan_helper -p udp -m udp --dport 5060 -m comment --comment "!fw3: SIP VoIP connection tracking" -j CT --helper sip
COMMIT
`;
}

export function nftRuleset({ lan, wan, sipHelper }: FirewallSpec): string {
  return `flush ruleset
table inet fw4 {
  chain input {
    type filter hook input priority filter; policy drop;
    iifname "lo" accept comment "!fw4: Accept traffic from loopback"
    ct state vmap { established : accept, related : accept, invalid : drop }
    iifname "${lan}" jump input_lan comment "!fw4: Handle lan IPv4/IPv6 input traffic"
    iifname "${wan}" jump input_wan comment "!fw4: Handle wan IPv4/IPv6 input traffic"
  }
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state vmap { established : accept, related : accept, invalid : drop }
    iifname "${lan}" jump forward_lan
    iifname "${wan}" jump forward_wan
  }
  chain output {
    type filter hook output priority filter; policy accept;
    oifname "lo" accept
    ct state vmap { established : accept, related : accept }
  }
  chain input_lan {
    jump accept_from_lan
  }
  chain forward_lan {
    jump accept_to_wan comment "!fw4: Accept lan to wan forwarding"
    jump accept_to_lan
  }
  chain input_wan {
    jump drop_from_wan
  }
  chain forward_wan {
    jump drop_to_wan
  }
  chain accept_from_lan {
    iifname "${lan}" counter accept
  }
  chain accept_to_lan {
    oifname "${lan}" counter accept
  }
  chain accept_to_wan {
    oifname "${wan}" counter accept
  }
  chain drop_from_wan {
    iifname "${wan}" counter drop
  }
  chain drop_to_wan {
    counter drop
  }
  chain dstnat {
    type nat hook prerouting priority dstnat; policy accept;
  }
  chain srcnat {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "${wan}" jump srcnat_wan
  }
  chain srcnat_wan {
    meta nfproto ipv4 masquerade comment "!fw4: Masquerade IPv4 wan traffic"
  }
${sipHelper ? nftHelperRules(lan) : ''}}
`;
}

export function iptablesRuleset({ lan, wan, sipHelper }: FirewallSpec): string {
  return `*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:zone_lan_input - [0:0]
:zone_lan_forward - [0:0]
:zone_wan_input - [0:0]
:zone_wan_forward - [0:0]
:zone_lan_dest_ACCEPT - [0:0]
:zone_lan_src_ACCEPT - [0:0]
:zone_wan_dest_ACCEPT - [0:0]
:zone_wan_src_DROP - [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -m conntrack --ctstate INVALID -j DROP
-A INPUT -i ${lan} -j zone_lan_input
-A INPUT -i ${wan} -j zone_wan_input
-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -m conntrack --ctstate INVALID -j DROP
-A FORWARD -i ${lan} -j zone_lan_forward
-A FORWARD -i ${wan} -j zone_wan_forward
-A OUTPUT -o lo -j ACCEPT
-A zone_lan_input -j zone_lan_src_ACCEPT
-A zone_lan_forward -j zone_wan_dest_ACCEPT
-A zone_lan_forward -j zone_lan_dest_ACCEPT
-A zone_wan_input -j zone_wan_src_DROP
-A zone_wan_forward -j DROP
-A zone_lan_src_ACCEPT -i ${lan} -j ACCEPT
-A zone_lan_dest_ACCEPT -o ${lan} -j ACCEPT
-A zone_wan_dest_ACCEPT -o ${wan} -j ACCEPT
-A zone_wan_src_DROP -i ${wan} -j DROP
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:zone_wan_postrouting - [0:0]
-A POSTROUTING -o ${wan} -j zone_wan_postrouting
-A zone_wan_postrouting -j MASQUERADE
COMMIT
${sipHelper ? iptablesHelperRules(lan) : ''}`;
}
