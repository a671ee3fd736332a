#!/usr/bin/env bash
# Docker Engine API benchmark (not part of CI): the same clients against
# `skiff serve` and against dockerd (Debian's docker.io 20.10, its own
# --data-root), in one run:
#   run:     `docker run --rm --network none IMAGE true` through the docker
#            CLI (hyperfine; target: skiff <= 1/4 of dockerd's time);
#   cycles:  100 create+start+wait+remove cycles through docker-py
#            (target <= 1/5);
#   compose: `docker-compose up -d` then `down -t 0` of a two-service
#            project with a user network and a named volume (target <= 1/3),
#            also shown without what the client alone costs (two starts of
#            docker-compose, `docker-compose version`);
#   idle:    the idle server's RSS against dockerd's plus containerd's
#            (target <= 1/5).
# Usage (as root):  bench/api.sh [RUNS]   (default 20 for `run`)
# Installs what it lacks with apt-get; removes everything it made on exit.
# The whole run is in a network namespace of its own (bench/in-netns.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-${RUNS:-20}}
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/skiff-target}
export DEBIAN_FRONTEND=noninteractive
log() { printf '== %s\n' "$*" >&2; }

missing=()
for p in dockerd:docker.io docker-compose:docker-compose hyperfine:hyperfine busybox:busybox-static python3:python3; do
  command -v "${p%%:*}" >/dev/null || missing+=("${p#*:}")
done
python3 -c 'import docker' 2>/dev/null || missing+=(python3-docker)
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  apt-get update -q >/dev/null
  apt-get install -y -q "${missing[@]}" >/dev/null
fi
docker_bin=/usr/bin/docker
log "cargo build --release -p skiff"
cargo build --release -q -p skiff
skiff_bin=$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release/skiff

. bench/in-netns.sh
. bench/cleanup.sh

work=$(mktemp -d "${WORK_DIR:-/var/tmp}/skiff-bench-api.XXXXXX")
serve_pid= dockerd_pid=
cleanup() {
  set +e
  for h in "unix://$work/skiff.sock" "unix://$work/docker.sock"; do
    ids=$("$docker_bin" -H "$h" ps -aq 2>/dev/null)
    [ -n "$ids" ] && "$docker_bin" -H "$h" rm -f $ids >/dev/null 2>&1
  done
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
  stop_dockerd "$dockerd_pid"
  remove_work "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bash scripts/busybox-tar.sh "$work/rootfs" "$work/rootfs.tar" >/dev/null
log "starting skiff serve and dockerd"
"$skiff_bin" --root "$work/skiff" --runroot "$work/skiff-run" import "$work/rootfs.tar" bench/bb:1 >/dev/null
"$skiff_bin" --root "$work/skiff" --runroot "$work/skiff-run" serve -H "unix://$work/skiff.sock" \
  >"$work/serve.log" 2>&1 &
serve_pid=$!
dockerd --data-root "$work/docker" --exec-root "$work/de" --pidfile "$work/dockerd.pid" \
  -H "unix://$work/docker.sock" >"$work/dockerd.log" 2>&1 &
dockerd_pid=$!
for _ in $(seq 120); do
  "$docker_bin" -H "unix://$work/docker.sock" info >/dev/null 2>&1 &&
    "$docker_bin" -H "unix://$work/skiff.sock" info >/dev/null 2>&1 && break
  sleep 0.5
done
"$docker_bin" -H "unix://$work/docker.sock" import "$work/rootfs.tar" bench/bb:1 >/dev/null
declare -A host=([skiff]="unix://$work/skiff.sock" [dockerd]="unix://$work/docker.sock")

log "run"
hyperfine --style basic --runs "$runs" --warmup 3 --export-json "$work/run.json" \
  -n skiff "$docker_bin -H ${host[skiff]} run --rm --network none bench/bb:1 true" \
  -n dockerd "$docker_bin -H ${host[dockerd]} run --rm --network none bench/bb:1 true" >&2

log "cycles (docker-py, 100 create+start+wait+remove)"
cat >"$work/cycles.py" <<'PY'
import docker, sys, time
c = docker.APIClient(base_url=sys.argv[1])
t = time.monotonic()
for _ in range(100):
    i = c.create_container("bench/bb:1", ["true"], host_config=c.create_host_config(network_mode="none"))["Id"]
    c.start(i)
    c.wait(i)
    c.remove_container(i)
print(f"{time.monotonic() - t:.3f}")
PY
declare -A cycles
for t in skiff dockerd; do cycles[$t]=$(python3 "$work/cycles.py" "${host[$t]}"); done

log "compose (up -d, then down -t 0)"
mkdir -p "$work/proj"
cat >"$work/proj/docker-compose.yml" <<'YML'
services:
  a:
    image: bench/bb:1
    command: sleep 600
    volumes: [data:/data]
    networks: [back]
  b:
    image: bench/bb:1
    command: sleep 600
    networks: [back]
volumes:
  data:
networks:
  back:
YML
declare -A compose
for t in skiff dockerd; do
  total=0
  for _ in 1 2 3; do
    s=$(date +%s.%N)
    (cd "$work/proj" && DOCKER_HOST=${host[$t]} docker-compose up -d >/dev/null 2>&1 &&
      DOCKER_HOST=${host[$t]} docker-compose down -v -t 0 >/dev/null 2>&1)
    total=$(python3 -c "print($total + $(date +%s.%N) - $s)")
  done
  compose[$t]=$(python3 -c "print(f'{$total / 3:.3f}')")
done

# What the compose client costs by itself (Python's start, twice: up and
# down), measured the same way: shown, and taken off for the servers' share.
total=0
for _ in 1 2 3; do
  s=$(date +%s.%N)
  docker-compose version >/dev/null 2>&1; docker-compose version >/dev/null 2>&1
  total=$(python3 -c "print($total + $(date +%s.%N) - $s)")
done
compose_client=$(python3 -c "print(f'{$total / 3:.3f}')")

log "idle memory"
rss() { ps -o rss= -p "$1" | awk '{s+=$1} END {print s+0}'; }
skiff_rss=$(rss "$serve_pid")
containerd_pid=$(pgrep -f "containerd --config $work/de" | head -1 || true)
[ -n "$containerd_pid" ] || containerd_pid=$(pgrep -P "$dockerd_pid" containerd | head -1 || true)
docker_rss=$(( $(rss "$dockerd_pid") + $( [ -n "$containerd_pid" ] && rss "$containerd_pid" || echo 0) ))

python3 - "$work/run.json" "${cycles[skiff]}" "${cycles[dockerd]}" "${compose[skiff]}" "${compose[dockerd]}" "$skiff_rss" "$docker_rss" "$compose_client" <<'PY'
import json, sys, statistics
run = {r["command"]: statistics.median(r["times"]) for r in json.load(open(sys.argv[1]))["results"]}
cs, cd, ps_, pd, rs, rd, cc = map(float, sys.argv[2:9])
print(f"{'':34} {'skiff':>10} {'dockerd':>10} {'ratio':>7} target")
print(f"{'docker run --rm (median)':34} {run['skiff']*1000:>8.1f}ms {run['dockerd']*1000:>8.1f}ms {run['skiff']/run['dockerd']:>7.3f} <= 0.25")
print(f"{'100 cycles through docker-py':34} {cs:>9.2f}s {cd:>9.2f}s {cs/cd:>7.3f} <= 0.2")
print(f"{'compose up -d + down (mean of 3)':34} {ps_:>9.2f}s {pd:>9.2f}s {ps_/pd:>7.3f} <= 0.333")
print(f"{'  less the client alone (%.2fs)' % cc:34} {ps_-cc:>9.2f}s {pd-cc:>9.2f}s {(ps_-cc)/(pd-cc):>7.3f}")
print(f"{'idle RSS (dockerd + containerd)':34} {rs/1024:>7.1f}MiB {rd/1024:>7.1f}MiB {rs/rd:>7.3f} <= 0.2")
PY
