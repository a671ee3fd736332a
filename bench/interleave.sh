#!/usr/bin/env bash
# Runs commands in turns and prints each one's median (see bench/interleave.c):
# for comparing two builds, or a command and its floor, on a machine whose
# speed drifts. Not part of CI.
# Usage: bench/interleave.sh N CMD1... [-- CMD2...]...   (absolute paths;
#        GAP_MS=k sleeps k ms before each run)
# Example, two builds of skiff-runtime against the floor:
#   bench/interleave.sh 1000 /old/skiff-runtime --root /tmp/a run --bundle B x \
#     -- /new/skiff-runtime --root /tmp/b run --bundle B x \
#     -- /usr/bin/unshare --fork --pid --mount --uts --ipc --net /bin/true
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${CARGO_TARGET_DIR:-/var/tmp/skiff-target}/interleave
command -v cc >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q gcc >/dev/null
if [ ! -x "$bin" ] || [ "$here/interleave.c" -nt "$bin" ]; then
  mkdir -p "$(dirname "$bin")"
  cc -O2 -Wall -o "$bin" "$here/interleave.c"
fi
exec "$bin" "$@"
