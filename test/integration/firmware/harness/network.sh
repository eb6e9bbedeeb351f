# shellcheck shell=sh
# Test stand-in for OpenWrt's /lib/functions/network.sh. netifd's state comes from $HARNESS_NET, one
# network a line: <name> <l3 device> <ipv4 address> <ipv4 subnet>, '-' for none. A network that is
# not listed is down.
# SC3043: 'local' as on busybox ash.
# shellcheck disable=SC3043

__harness_net() { # <var> <network> <column 2..4>
	local line='' name dev ip subnet value=''
	while read -r name dev ip subnet; do
		[ "$name" = "$2" ] || continue
		case "$3" in 2) value=$dev ;; 3) value=$ip ;; 4) value=$subnet ;; esac
		line=1
	done <"$HARNESS_NET"
	[ "$value" = - ] && value=''
	eval "$1=\$value"
	[ -n "$line" ] && [ -n "$value" ]
}

network_get_device() { __harness_net "$1" "$2" 2; }
network_get_ipaddr() { __harness_net "$1" "$2" 3; }
network_get_subnet() { __harness_net "$1" "$2" 4; }
network_is_up() { __harness_net __harness_up "$1" 2; }
network_flush_cache() { :; }
