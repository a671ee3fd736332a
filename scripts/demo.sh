#!/usr/bin/env bash
# Set everything up and run skiff's main job: a container from an image made
# offline. A busybox root filesystem becomes an image (`skiff import`), a
# two-stage Dockerfile builds on it (`skiff build` of examples/hello), and
# `skiff run` starts a container from the result, in a private --root/--runroot.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/skiff-target}
bash scripts/deps.sh build
cargo build --release -q
bin="$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release/skiff"
work=$(mktemp -d /tmp/skiff-demo.XXXXXX)
skiff=("$bin" --root "$work/root" --runroot "$work/run")
cleanup() {
  "${skiff[@]}" ps -aq 2>/dev/null | xargs -r "${skiff[@]}" rm -f >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
# The image: busybox and its applets, made offline.
bash scripts/busybox-tar.sh "$work/rootfs" "$work/rootfs.tar"
"${skiff[@]}" import "$work/rootfs.tar" demo/busybox:1 >/dev/null
# The main job: build, then run what was built.
"${skiff[@]}" build -t demo/hello:1 examples/hello
"${skiff[@]}" images
"${skiff[@]}" run --rm --name demo demo/hello:1
