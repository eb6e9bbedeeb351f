#!/bin/sh
# shellcheck shell=sh
# /usr/share/sipmasq/firewall.sh: sipmasq's place in the router firewall. It opens nothing: the
# sipmasq_* chains start empty and only the daemon puts rules in them (SIP port, per-call pinholes and
# NAT), with `nft -f -` or `iptables-restore --noflush`.
#
#   (no argument)  run by fw3/fw4 as a firewall include after every firewall start/reload:
#                  fw3: create the sipmasq_* iptables chains and the jumps into them (idempotent);
#                  fw4: the chains and jumps come from /usr/share/nftables.d/ (fw4 includes them);
#                  both: a reload emptied sipmasq's chains, so SIGHUP the daemon to re-install its rules.
#   uci-add        add the firewall include to /etc/config/firewall (idempotent; uci-defaults)
#   uci-del        remove it (package removal)
#   remove         fw3: delete the jumps and chains (package removal)
#
# fw4 runs includes as `sh -c '. /usr/share/sipmasq/firewall.sh'`, so this file must work when sourced.

SIPMASQ_INCLUDE=/usr/share/sipmasq/firewall.sh

# <table> <builtin chain> <our chain>: the same names and places the daemon uses (rtpproxy/firewall/),
# jumped to from the top of the builtin chain, so the daemon finds its hooks in place.
SIPMASQ_CHAINS='filter INPUT sipmasq_input
filter FORWARD sipmasq_forward
nat PREROUTING sipmasq_dstnat
nat POSTROUTING sipmasq_srcnat'

# No 'local' here: fw3/fw4 source this file, and its variables are prefixed instead.
sipmasq_fw3_each() { # <function>: call it with <tool> <table> <parent> <chain> for iptables and ip6tables
	for sipmasq_tool in iptables ip6tables; do
		command -v "$sipmasq_tool" >/dev/null 2>&1 || continue
		echo "$SIPMASQ_CHAINS" | while read -r sipmasq_table sipmasq_parent sipmasq_chain; do
			# ip6tables has no nat table on every build: skip what the kernel does not offer
			"$sipmasq_tool" -w -t "$sipmasq_table" -n -L "$sipmasq_parent" >/dev/null 2>&1 || continue
			"$1" "$sipmasq_tool" "$sipmasq_table" "$sipmasq_parent" "$sipmasq_chain"
		done
	done
}

sipmasq_fw3_add() {
	"$1" -w -t "$2" -N "$4" 2>/dev/null
	"$1" -w -t "$2" -C "$3" -j "$4" 2>/dev/null || "$1" -w -t "$2" -I "$3" 1 -j "$4"
}

sipmasq_fw3_del() {
	while "$1" -w -t "$2" -D "$3" -j "$4" 2>/dev/null; do :; done
	"$1" -w -t "$2" -F "$4" 2>/dev/null
	"$1" -w -t "$2" -X "$4" 2>/dev/null
	return 0
}

sipmasq_is_fw4() {
	[ -x "${IPKG_INSTROOT}/sbin/fw4" ]
}

case "${1:-include}" in
include)
	sipmasq_is_fw4 || sipmasq_fw3_each sipmasq_fw3_add
	# procd delivers SIGHUP to a running sipmasq; nothing happens when it is not running.
	ubus call service signal '{"name":"sipmasq","signal":1}' >/dev/null 2>&1
	;;
remove)
	sipmasq_is_fw4 || sipmasq_fw3_each sipmasq_fw3_del
	;;
uci-add)
	uci -q batch <<-EOT
		set firewall.sipmasq=include
		set firewall.sipmasq.type='script'
		set firewall.sipmasq.path='$SIPMASQ_INCLUDE'
		set firewall.sipmasq.fw4_compatible='1'
		set firewall.sipmasq.reload='1'
		commit firewall
	EOT
	;;
uci-del)
	uci -q batch <<-EOT
		delete firewall.sipmasq
		commit firewall
	EOT
	;;
*)
	echo "usage: $0 [include|remove|uci-add|uci-del]" >&2
	false
	;;
esac
