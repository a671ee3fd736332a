#!/usr/bin/env bash
# Pod start through containerd's CRI (not part of CI): RunPodSandbox +
# CreateContainer + StartContainer until the container runs, with the
# `skiff` runtime handler (skiff-runtime under containerd's runc v2 shim)
# and with runc, alternating in one run; medians of RUNS and the ratio
# skiff/runc (target <= 0.7). Then the same through a timing wrapper around
# each runtime: the part spent in the runtime binary, and the rest, what
# containerd and the shim cost whatever the runtime (the floor).
#
# A private containerd (scripts/containerd-node.sh) in a network namespace
# of its own; the image is the sandbox image made offline (busybox).
# Usage (as root): bench/cri.sh [RUNS]     RUNS default 20
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/skiff-target}
bash scripts/deps.sh test
cargo build --release -q -p skiff -p skiff-cri-check
bin=$CARGO_TARGET_DIR/release
[ -x "$bin/cri-bench" ] || bin=$(dirname "$(find "$CARGO_TARGET_DIR" -path '*/release/cri-bench' | head -1)")
echo "containerd $(containerd --version | awk '{print $3}'), $(runc --version | head -1), skiff-runtime from this tree"
"$bin/cri-bench" "$runs"
