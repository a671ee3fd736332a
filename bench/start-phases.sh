#!/usr/bin/env bash
# Where a container start's time goes (not part of CI): runs
#   skiff run --rm --network none IMAGE true   (and, with BRIDGE=1, on the
#   default bridge)
# RUNS times (default 50, after 5 warm-up runs) with SKIFF_TIMING set, and
# prints for each step of the CLI, the supervisor and the runtime the median
# time at which it was reached (from the CLI's main) and the median time
# since the step before. The image is busybox, made offline.
# Usage (as root): bench/start-phases.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-${RUNS:-50}}
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/skiff-target}
command -v busybox >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q busybox-static >/dev/null
. bench/in-netns.sh
cargo build --release -q -p skiff
work=$(mktemp -d /var/tmp/skiff-bench-phases.XXXXXX)
. bench/installed.sh
installed "$work/bin"
skiff=("$skiff_bin" --root "$work/root" --runroot "$work/run")
cleanup() {
  "${skiff[@]}" ps -aq 2>/dev/null | xargs -r "${skiff[@]}" rm -f >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
bash scripts/busybox-tar.sh "$work/rootfs" "$work/rootfs.tar"
"${skiff[@]}" import "$work/rootfs.tar" bench/busybox:1 >/dev/null

modes=(none)
[ "${BRIDGE:-1}" = 1 ] && modes+=(bridge)
for mode in "${modes[@]}"; do
  net=(--network none)
  [ "$mode" = bridge ] && net=()
  for i in $(seq 5); do "${skiff[@]}" run --rm "${net[@]}" bench/busybox:1 true; done
  for i in $(seq "$runs"); do
    SKIFF_TIMING="$work/t-$mode-$i" "${skiff[@]}" run --rm "${net[@]}" bench/busybox:1 true
  done
  echo "== skiff run --rm --network $mode busybox true: $runs runs"
  python3 - "$work" "$mode" "$runs" <<'PY'
import re, statistics, sys
work, mode, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
at, order = {}, []
for i in range(1, runs + 1):
    rows = []
    for line in open(f"{work}/t-{mode}-{i}"):
        m = re.match(r"\[\s*[\d.]+ ms\s+([\d.]+) pid \d+\] (.*)", line)
        rows.append((float(m.group(1)), m.group(2)))
    rows.sort()
    t0 = rows[0][0]
    for w, step in rows:
        if step not in at:
            at[step] = []
            order.append(step)
        at[step].append((w - t0) * 1000)
order.sort(key=lambda s: statistics.median(at[s]))
prev = 0.0
print(f"{'step':40} {'at (ms)':>8} {'since the step before':>22}")
for s in order:
    m = statistics.median(at[s])
    print(f"{s:40} {m:8.3f} {m - prev:+22.3f}")
    prev = m
PY
done
