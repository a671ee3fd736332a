#!/usr/bin/env bash
# Container start benchmark (not part of CI): one hyperfine run comparing
#   skiff-runtime run   (create, start, wait, delete of a busybox bundle running /bin/true)
#   runc run            (the same bundle)
#   unshare --fork --pid --mount --uts --ipc --net /bin/true   (the floor)
# and the peak RSS of each runtime process. Prints medians and ratios.
# Usage: bench/runtime-start.sh [RUNS]     (as root; needs hyperfine and runc)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-200}
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/skiff-target}
command -v hyperfine >/dev/null && command -v runc >/dev/null || {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q hyperfine runc >/dev/null; }
[ -x /usr/bin/time ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -q time >/dev/null
cargo build --release -q -p skiff
work=$(mktemp -d /tmp/skiff-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
. bench/installed.sh
installed "$work/bin"
skiff=$runtime_bin
SKIFF_RUNTIME=$skiff bash scripts/mkbundle.sh "$work/bundle" /bin/true >/dev/null
cd "$work/bundle"
hyperfine -N --warmup 20 --runs "$runs" --export-json "$work/hf.json" \
  -n skiff-runtime "$skiff --root $work/s run --bundle $work/bundle bench-skiff" \
  -n runc "runc --root $work/r run --bundle $work/bundle bench-runc" \
  -n floor "unshare --fork --pid --mount --uts --ipc --net /bin/true"
python3 - "$work/hf.json" "$skiff" "$work" <<'PY'
import json, sys
d = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
med = {k: v["median"] * 1000 for k, v in d.items()}
print()
for k in ("skiff-runtime", "runc", "floor"):
    print(f"{k:14} median {med[k]:7.2f} ms  mean {d[k]['mean']*1000:7.2f} ms  min {d[k]['min']*1000:6.2f} ms")
print(f"skiff-runtime / runc  = {med['skiff-runtime']/med['runc']:.3f}  (target <= 0.333)")
print(f"skiff-runtime / floor = {med['skiff-runtime']/med['floor']:.2f}   (target <= 1.5)")
PY
# Peak RSS of the runtime process itself (GNU time's maximum resident set size).
s=$(/usr/bin/time -f %M "$skiff" --root "$work/s" run --bundle "$work/bundle" rss-skiff 2>&1 >/dev/null | tail -1)
r=$(/usr/bin/time -f %M runc --root "$work/r" run --bundle "$work/bundle" rss-runc 2>&1 >/dev/null | tail -1)
echo "peak RSS: skiff-runtime $((s / 1024)).$(( (s % 1024) * 10 / 1024 )) MiB, runc $((r / 1024)).$(( (r % 1024) * 10 / 1024 )) MiB"
