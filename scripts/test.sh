#!/usr/bin/env bash
# Run skiff's whole test suite on Debian 12 as root: installs what it needs,
# then checks formatting and lints and runs every test tier, printing each
# tier's time.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/skiff-target}
export CARGO_TERM_COLOR=never
if [ "$(id -u)" != 0 ]; then echo "the tests need root (namespaces, cgroups, mounts)" >&2; exit 1; fi

total_start=$(date +%s)
tier() { # name, command...
  local name=$1; shift
  local t0; t0=$(date +%s)
  echo "=== tier: $name"
  "$@"
  echo "=== tier: $name took $(( $(date +%s) - t0 ))s"
}

tier "install dependencies" bash scripts/deps.sh test
# What the machine looks like before any test: compared at the end.
host_before=$(mktemp /tmp/skiff-host-state.XXXXXX)
bash scripts/host-state.sh > "$host_before"
tier "format" cargo fmt --all -- --check
tier "lints" cargo clippy --workspace --all-targets -q -- -D warnings
tier "build" cargo build --workspace --all-targets -q
tier "unit tests" cargo test --workspace --lib --bins -q
tier "runtime and image integration tests" cargo test -p skiff -q --test lifecycle --test bad_input --test isolation --test namespaces --test cgroup_v2 --test images_cli --test pull_cli
tier "network tests (netlink, DNS, bridges, ports, names)" bash -c "cargo test -q -p skiff-net --tests && cargo test -q -p skiff --test network"
tier "engine facade tests (one Engine, many threads)" cargo test -p skiff-engine -q --test facade
tier "container engine tests" cargo test -p skiff -q --test containers --test containers_exec --test containers_files --test containers_supervisor --test containers_terminal --test containers_faults
tier "build tests (Dockerfiles, the build cache)" cargo test -p skiff -q --test build --test build_bad_input --test build_cache_io --test build_mounts
tier "build parity (the same Dockerfiles built by Docker 20.10)" cargo test -p skiff -q --test build_parity
tier "docker parity scenarios (skiff vs Docker 20.10)" cargo test -p skiff -q --test docker_parity
tier "Docker Engine API (the docker CLI, docker-compose and docker-py against skiff serve)" cargo test -p skiff -q --test api_docker_cli --test api_images --test api_resources --test api_compose --test api_docker_py --test api_faults
tier "docker parity scenarios through the API (Docker's CLI against skiff serve)" env PARITY_VIA_API=1 cargo test -p skiff -q --test docker_parity
tier "Kubernetes (objects, pods, Deployments, Services under skiff serve)" cargo test -p skiff -q --test kube_objects --test kube_pods --test kube_workloads --test kube_services --test kube_grpc_probes --test kube_scenarios
tier "drop-in and interop tests (podman, containerd, docker)" cargo test -p skiff -q --test dropin --test docker_interop
tier "CRI (containerd's CRI plugin runs pods on skiff-runtime and on runc, as kubelet drives them)" cargo test -p skiff-cri-check -q --test cri
tier "the host is as the suite found it" bash scripts/host-state.sh --check "$host_before"
rm -f "$host_before"
echo "all tiers passed in $(( $(date +%s) - total_start ))s"
