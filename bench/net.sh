#!/usr/bin/env bash
# Networking benchmark (not part of CI), part 1 of the network issue's
# figures: what bridge networking adds to `skiff run --rm IMAGE true`
# (default bridge vs --network none, same run, hyperfine medians; target:
# at most 5 ms added). skiff runs in a network namespace of the
# benchmark's own, so the host's interfaces and rules are not touched.
#
# Throughput through a published port against Docker (wrk) is not measured
# yet: wrk is not in Debian 12's archive here and no substitute was chosen.
#
# Usage (as root): bench/net.sh [RUNS]     RUNS default 30
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-${RUNS:-30}}
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/skiff-target}
log() { printf '== %s\n' "$*" >&2; }
command -v hyperfine >/dev/null || { apt-get update -q >/dev/null; apt-get install -y -q hyperfine >/dev/null; }

log "cargo build --release -p skiff"
cargo build --release -q -p skiff
skiff_bin=$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release/skiff

work=$(mktemp -d /var/tmp/skiff-netbench.XXXXXX)
ns="skiff-netbench-$$"
cleanup() {
  ip netns del "$ns" 2>/dev/null || true
  umount -R "$work" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up

bb=$(command -v busybox)
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/tmp"
cp "$bb" "$work/rootfs/bin/busybox"
for a in $("$bb" --list); do [ "$a" = busybox ] || ln -sf busybox "$work/rootfs/bin/$a"; done
tar -C "$work/rootfs" -cf "$work/bb.tar" .
sk="nsenter --net=/run/netns/$ns $skiff_bin --root $work/root --runroot $work/run"
$sk import "$work/bb.tar" bb >/dev/null
# First use makes the bridge and the rules; warm both paths.
$sk run --rm bb true
$sk run --rm --network none bb true

hyperfine -N --warmup 5 --runs "$runs" --export-json "$work/h.json" \
  -n none "$sk run --rm --network none bb true" \
  -n bridge "$sk run --rm bb true" >&2
python3 - "$work/h.json" <<'PY'
import json, sys
r = {x["command"]: x["median"] * 1000 for x in json.load(open(sys.argv[1]))["results"]}
print(f"run --rm, --network none: {r['none']:.1f} ms (median)")
print(f"run --rm, default bridge: {r['bridge']:.1f} ms (median)")
print(f"bridge networking adds:   {r['bridge'] - r['none']:.1f} ms (target <= 5 ms)")
PY
