#!/usr/bin/env bash
# A busybox root filesystem made offline, as a tar: busybox and its applets
# (from the busybox-static package), /etc/passwd and /etc/group with root.
# Usage: scripts/busybox-tar.sh DIR TAR   (DIR: where the tree is made)
set -euo pipefail
dir=$1 tar=$2
mkdir -p "$dir/bin" "$dir/etc" "$dir/tmp"
cp "$(command -v busybox)" "$dir/bin/busybox"
for a in $("$dir/bin/busybox" --list); do
  [ "$a" = busybox ] || ln -sf busybox "$dir/bin/$a"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$dir/etc/passwd"
echo 'root:x:0:' >"$dir/etc/group"
tar -C "$dir" -cf "$tar" .
