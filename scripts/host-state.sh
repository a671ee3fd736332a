#!/usr/bin/env bash
# What the test suite must leave as it found it on the machine it runs on:
# the host network namespace's links, addresses, routes, nftables and
# iptables rules, network namespaces, mounts, skiff cgroups, forwarding
# settings, and processes of the kinds the tests start (skiff, its
# supervisors, dockerd, containerd, registries, podman's conmon).
#
#   scripts/host-state.sh > FILE        describe the host now
#   scripts/host-state.sh --check FILE  compare with FILE; exit 1 and show
#                                       the difference if anything changed
set -uo pipefail

describe() {
  echo "## links"
  ip -br link | awk '{print $1}' | sort
  echo "## addresses"
  ip -br addr | awk '{$2=""; print}' | sort
  echo "## routes"
  ip route show table all 2>/dev/null | grep -v '^local\|^broadcast' | sort
  echo "## nftables"
  nft -s list ruleset 2>/dev/null
  echo "## iptables (legacy)"
  if command -v iptables-legacy-save >/dev/null; then
    iptables-legacy-save 2>/dev/null | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//'
  fi
  echo "## network namespaces"
  ls /run/netns 2>/dev/null | sort
  echo "## mounts"
  awk '{print $5}' /proc/self/mountinfo | sort
  echo "## skiff cgroups"
  find /sys/fs/cgroup -mindepth 2 -maxdepth 4 -type d -path '*/skiff/*' 2>/dev/null | sort
  echo "## sysctls"
  for k in net/ipv4/ip_forward net/bridge/bridge-nf-call-iptables; do
    [ -e "/proc/sys/$k" ] && echo "$k $(cat "/proc/sys/$k")"
  done
  echo "## processes"
  ps -eo comm= | { grep -E '^(skiff|skiff-runtime|dockerd|containerd|containerd-shim|docker-proxy|docker-registry|registry|conmon|podman|aardvark-dns)' || true; } | sort | uniq -c
  return 0
}

if [ "${1:-}" = --check ]; then
  before=$2
  if ! diff -u "$before" <(describe) > /tmp/host-state.diff.$$; then
    echo "the test suite changed the host (- before, + after):" >&2
    cat /tmp/host-state.diff.$$ >&2
    rm -f /tmp/host-state.diff.$$
    exit 1
  fi
  rm -f /tmp/host-state.diff.$$
  echo "the host is as the suite found it"
else
  describe
  exit 0
fi
