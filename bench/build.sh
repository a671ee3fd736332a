#!/usr/bin/env bash
# Build benchmark (not part of CI).
#
# Builds one two-stage Dockerfile over a context of 4,000 source files
# (32 MB) whose first stage does real work in RUN steps (a checksum of every
# file; a tar and gzip of the sources), with
#   skiff build                 (its own --root)
#   docker build, BuildKit      (DOCKER_BUILDKIT=1, its own dockerd)
#   docker build, legacy        (DOCKER_BUILDKIT=0, the same dockerd)
#   podman build                (its own --root, --layers)
#   buildah bud                 (BUILDAH_LAYERS=true, its own --root)
# in three hyperfine runs, each tool in the same run:
#   cold:      no usable cache; the base image is removed too and pulled from
#              a registry on 127.0.0.1;
#   unchanged: the same build again, nothing changed;
#   changed:   one source file changed before each build;
# and the floor: the same RUN commands run directly in a shell on the host
# (with the same busybox, on the context's sources).
# It prints the medians, the ratio of skiff to the fastest peer for each
# figure (targets: cold <= 0.6, unchanged <= 0.1, changed <= 0.7) and of skiff
# to the floor (cold and changed <= 1.3).
#
# Usage (as root):  bench/build.sh [RUNS]
#   RUNS (default 3), WARMUP (default 1), CARGO_TARGET_DIR, WORK_DIR (default
#   /var/tmp, the machine's root file system), RESULT_JSON (default
#   /var/tmp/skiff-bench-build, prefix of the hyperfine JSON files),
#   PEERS (default "buildkit legacy podman buildah"; a subset, or empty for
#   skiff and the floor alone)
# Installs what it lacks with apt-get; removes everything it made on exit.
# The whole run is in a network namespace of its own (bench/in-netns.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-${RUNS:-3}}
warmup=${WARMUP:-1}
result_json=${RESULT_JSON:-/var/tmp/skiff-bench-build}
peers=${PEERS-buildkit legacy podman buildah}
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/skiff-target}
export DEBIAN_FRONTEND=noninteractive
log() { printf '== %s\n' "$*" >&2; }

missing=()
for p in dockerd:docker.io podman:podman buildah:buildah docker-registry:docker-registry \
  hyperfine:hyperfine busybox:busybox-static runc:runc curl:curl python3:python3; do
  command -v "${p%%:*}" >/dev/null || missing+=("${p#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  apt-get update -q >/dev/null
  apt-get install -y -q "${missing[@]}" >/dev/null
fi
docker_bin=/usr/bin/docker
[ -x "$docker_bin" ] || docker_bin=$(command -v docker)
log "cargo build --release -p skiff"
cargo build --release -q -p skiff
skiff_bin=$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release/skiff

. bench/in-netns.sh
. bench/cleanup.sh

work=$(mktemp -d "${WORK_DIR:-/var/tmp}/skiff-bench-build.XXXXXX")
registry_pid= dockerd_pid=
cleanup() {
  set +e
  [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null && wait "$registry_pid" 2>/dev/null
  stop_dockerd "$dockerd_pid"
  remove_work "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
q() { printf '%q ' "$@"; }

# --- the context: 4,000 files, 32 MB, made the same way each time -----------
log "making the context (4,000 files, 32 MB)"
mkdir -p "$work/ctx"
python3 - "$work/ctx/src" <<'PY'
import os, random, sys, base64
r = random.Random(20261206)
root = sys.argv[1]
for i in range(4000):
    d = os.path.join(root, f"pkg{i % 40:02d}", f"mod{i % 7}")
    os.makedirs(d, exist_ok=True)
    # source-like text: base64 of random bytes, about 8 KB a file
    body = base64.b64encode(r.randbytes(6000)).decode()
    lines = "\n".join(body[j:j + 76] for j in range(0, len(body), 76))
    with open(os.path.join(d, f"file{i:04d}.c"), "w") as f:
        f.write(f"/* file {i} */\n{lines}\n")
PY
du -sh "$work/ctx/src" >&2

# --- registry with the base image (busybox, made offline) -------------------
bash scripts/busybox-tar.sh "$work/rootfs" "$work/rootfs.tar"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$work/registry.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: 127.0.0.1:$port
EOF
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break
  sleep 0.1
done
base=127.0.0.1:$port/bench/busybox:1
seed=("$skiff_bin" --root "$work/seed" --runroot "$work/seed-run")
"${seed[@]}" import "$work/rootfs.tar" "$base" >/dev/null
"${seed[@]}" push "$base" >/dev/null

cat >"$work/ctx/Dockerfile" <<EOF
FROM $base AS build
WORKDIR /src
COPY src/ /src/
RUN find /src -type f | sort | xargs sha256sum > /sums.txt
RUN tar -C /src -cf - . | gzip -6 > /src.tar.gz

FROM $base
COPY --from=build /sums.txt /src.tar.gz /out/
CMD ["ls", "-l", "/out"]
EOF

# --- the tools ---------------------------------------------------------------
log "starting dockerd"
dockerd --data-root "$work/docker" --exec-root "$work/de" --pidfile "$work/dockerd.pid" \
  -H "unix://$work/docker.sock" >"$work/dockerd.log" 2>&1 &
dockerd_pid=$!
for _ in $(seq 120); do
  "$docker_bin" -H "unix://$work/docker.sock" info >/dev/null 2>&1 && break
  sleep 0.5
done
skiff="$(q "$skiff_bin" --root "$work/skiff" --runroot "$work/skiff-run")"
docker="$(q "$docker_bin" -H "unix://$work/docker.sock")"
podman="$(q podman --root "$work/podman" --runroot "$work/podman-run" --runtime runc \
  --cgroup-manager cgroupfs --events-backend none --storage-driver overlay)"
buildah="$(q env BUILDAH_LAYERS=true buildah --root "$work/buildah" --runroot "$work/buildah-run" \
  --storage-driver overlay)"
ctx=$(q "$work/ctx")
declare -A build clean
build[skiff]="$skiff build -q -t bench/out $ctx"
clean[skiff]="$skiff builder prune -af >/dev/null; $skiff rmi -f bench/out $base >/dev/null 2>&1; $skiff image prune -af >/dev/null"
build[buildkit]="DOCKER_BUILDKIT=1 $docker build -q -t bench/out $ctx"
clean[buildkit]="$docker rmi -f bench/out $base >/dev/null 2>&1; $docker builder prune -af >/dev/null; $docker image prune -af >/dev/null"
build[legacy]="DOCKER_BUILDKIT=0 $docker build -q -t bench/out $ctx"
clean[legacy]=${clean[buildkit]}
build[podman]="$podman build -q --layers --tls-verify=false -t bench/out $ctx"
clean[podman]="$podman rmi -a -f >/dev/null 2>&1; true"
build[buildah]="$buildah bud -q --layers --tls-verify=false --runtime runc --isolation oci -t bench/out $ctx"
clean[buildah]="$buildah rmi -a -f >/dev/null 2>&1; true"
tools=(skiff $peers)
# Each tool works once, so a failure shows here and not inside hyperfine.
for t in "${tools[@]}"; do
  log "checking $t"
  bash -c "${build[$t]}" >/dev/null
done

# The floor: the RUN commands on the host, with the same busybox.
mkdir -p "$work/floor/bin"
for a in find sort xargs sha256sum tar gzip sh; do ln -sf "$(command -v busybox)" "$work/floor/bin/$a"; done
cat >"$work/floor.sh" <<EOF
set -e
export PATH=$(q "$work/floor/bin")
cd $(q "$work/ctx")
find src -type f | sort | xargs sha256sum > $(q "$work/floor/sums.txt")
tar -C src -cf - . | gzip -6 > $(q "$work/floor/src.tar.gz")
EOF
floor="bash $(q "$work/floor.sh")"
# One file changed, differently each time.
change="date +%s%N >> $(q "$work/ctx/src/pkg00/mod0/file0000.c")"

run_mode() { # MODE: one hyperfine run of every tool (and the floor)
  local mode=$1 args=()
  for t in "${tools[@]}"; do
    case $mode in
      cold) args+=(-n "$t" --prepare "${clean[$t]}; sync" "${build[$t]}") ;;
      unchanged) args+=(-n "$t" --prepare "true" "${build[$t]}") ;;
      changed) args+=(-n "$t" --prepare "$change" "${build[$t]}") ;;
    esac
  done
  [ "$mode" = unchanged ] || args+=(-n floor --prepare "sync" "$floor")
  log "$mode"
  hyperfine --style basic --runs "$runs" --warmup "$warmup" \
    --export-json "$result_json-$mode.json" "${args[@]}" >&2
}
for m in cold unchanged changed; do run_mode "$m"; done

python3 - "$result_json" <<'PY'
import json, sys, statistics
prefix = sys.argv[1]
targets = {"cold": 0.6, "unchanged": 0.1, "changed": 0.7}
print(f"{'':10} " + " ".join(f"{m:>10}" for m in targets))
med = {}
for m in targets:
    for r in json.load(open(f"{prefix}-{m}.json"))["results"]:
        med.setdefault(r["command"], {})[m] = statistics.median(r["times"])
for tool, v in med.items():
    print(f"{tool:10} " + " ".join(f"{v[m]:>9.3f}s" if m in v else f"{'-':>10}" for m in targets))
for m, t in targets.items():
    peers = {k: v[m] for k, v in med.items() if k not in ("skiff", "floor") and m in v}
    if not peers:
        continue
    best = min(peers, key=peers.get)
    r = med["skiff"][m] / peers[best]
    print(f"{m}: skiff / {best} (the fastest peer) = {r:.3f}  (target <= {t})")
for m in ("cold", "changed"):
    if "floor" in med and m in med["floor"]:
        print(f"{m}: skiff / floor = {med['skiff'][m] / med['floor'][m]:.3f}  (target <= 1.3)")
PY
