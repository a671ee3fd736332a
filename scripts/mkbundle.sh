#!/usr/bin/env bash
# Make an OCI bundle offline: a busybox rootfs plus a config.json running ARGS.
# Usage: scripts/mkbundle.sh DIR ARGS...
set -euo pipefail
dir=$1; shift
bb=$(command -v busybox || echo /bin/busybox)
mkdir -p "$dir/rootfs"/{bin,dev,etc,proc,sys,tmp,root,run,var}
cp "$bb" "$dir/rootfs/bin/busybox"
for a in $("$bb" --list); do [ -e "$dir/rootfs/bin/$a" ] || ln -s busybox "$dir/rootfs/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$dir/rootfs/etc/passwd"
printf 'root:x:0:\n' > "$dir/rootfs/etc/group"
args=$(printf '%s\n' "$@" | python3 -c 'import json,sys; print(json.dumps([l.rstrip("\n") for l in sys.stdin]))')
here=$(dirname "$0")
"${SKIFF_RUNTIME:-${CARGO_TARGET_DIR:-/var/tmp/skiff-target}/x86_64-unknown-linux-gnu/release/skiff-runtime}" spec --bundle "$dir"
python3 - "$dir/config.json" "$args" <<'PY'
import json, sys
p, args = sys.argv[1], json.loads(sys.argv[2])
c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = args
json.dump(c, open(p, "w"), indent=2)
PY
