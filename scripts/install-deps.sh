#!/usr/bin/env bash
# System packages the demo and the tests use (Debian/Ubuntu). Run as root (or it uses sudo).
# Node.js 20+ is installed from Debian only when no node is on the PATH.
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
pkgs=(sip-tester kamailio baresip iptables nftables iproute2 conntrack tcpdump tshark dnsmasq shellcheck busybox sqlite3 procps psmisc)
command -v node >/dev/null 2>&1 || pkgs+=(nodejs npm)
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${pkgs[@]}" >/dev/null
# Debian may start these services on install; the lab runs its own instances in namespaces.
for svc in kamailio dnsmasq; do $SUDO service "$svc" stop >/dev/null 2>&1 || true; done
echo "system packages installed"
