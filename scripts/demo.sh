#!/usr/bin/env bash
# Set everything up and run skiff's main job: a container from an image made
# offline (a busybox root filesystem), started by skiff-runtime.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/skiff-target}
bash scripts/deps.sh build
cargo build --release -q
bin="$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release/skiff-runtime"
work=$(mktemp -d /tmp/skiff-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
bash scripts/mkbundle.sh "$work/bundle" sh -c 'echo "hello from a skiff container: $(hostname), pid $$, $(id)"; ls /'
"$bin" --root "$work/state" run --bundle "$work/bundle" "demo-$$"
