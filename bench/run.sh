#!/usr/bin/env bash
# Container engine benchmark (not part of CI). In one run:
#   1. `run --rm --network none IMAGE true` with skiff, podman and docker
#      (hyperfine; medians and the ratios skiff/peer, target <= 0.1), and in
#      the same hyperfine run `skiff run --rm IMAGE true` on the default
#      bridge and `skiff-runtime run` of a bundle of the same busybox running
#      /bin/true (what the engine adds: skiff / skiff-runtime, target <= 2;
#      the bridge's cost, target <= 1 ms);
#   2. 100 detached containers (`run -d ... sleep 600`) started in a row,
#      total time, skiff vs docker;
#   3. the supervisor's RSS and PSS per idle container vs conmon's (podman's
#      monitor) and docker's containerd-shim's, over 100 idle containers each
#      (target: below conmon's in both);
#   4. IDLE (default 1000; 0 skips it) idle skiff containers started in a
#      row: the total time, and the memory per container (supervisor RSS and
#      PSS, and the drop of the machine's MemAvailable, which also counts the
#      container's process, cgroup, mounts and namespaces).
# The image is busybox, made offline: a rootfs tarball imported into skiff,
# `skiff save`d and loaded into podman and docker, so all three run the same
# layers. Each tool has its own stores under a temporary directory; dockerd
# is started with its own data root unless one runs (then `docker` is used as
# is). Podman runs with runc (crun fails on this host's hybrid cgroups). The
# whole run is in a network namespace of its own (bench/in-netns.sh).
#
# Usage (as root): bench/run.sh [RUNS]     RUNS default 30, IDLE default 1000
# Installs what it lacks with apt-get; removes all it made on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-${RUNS:-30}}
idle=${IDLE:-1000}
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/skiff-target}
export DEBIAN_FRONTEND=noninteractive
log() { printf '== %s\n' "$*" >&2; }

missing=()
for p in hyperfine:hyperfine podman:podman runc:runc dockerd:docker.io busybox:busybox-static; do
  command -v "${p%%:*}" >/dev/null || missing+=("${p#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  apt-get update -q >/dev/null
  apt-get install -y -q "${missing[@]}" >/dev/null
fi
# The rest in a network namespace of its own (what it installs needs the
# host's network; what it starts must not touch it).
. bench/in-netns.sh
. bench/cleanup.sh
docker_bin=/usr/bin/docker
[ -x "$docker_bin" ] || docker_bin=$(command -v docker)

log "cargo build --release -p skiff"
cargo build --release -q -p skiff

work=$(mktemp -d /var/tmp/skiff-bench-run.XXXXXX)
. bench/installed.sh
installed "$work/bin"
dockerd_pid=
cleanup() {
  set +e
  "${skiff[@]}" ps -aq 2>/dev/null | xargs -r "${skiff[@]}" rm -f >/dev/null 2>&1
  "${podman[@]}" rm -af -t 0 >/dev/null 2>&1
  [ -n "${docker[*]:-}" ] && "${docker[@]}" ps -aq --filter label=skiff-bench |
    xargs -r "${docker[@]}" rm -f >/dev/null 2>&1
  stop_dockerd "$dockerd_pid"
  remove_work "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

skiff=("$skiff_bin" --root "$work/skiff" --runroot "$work/skiff-run")
podman=(podman --root "$work/podman" --runroot "$work/podman-run" --runtime runc
  --cgroup-manager cgroupfs --events-backend none --storage-driver overlay)

# --- the image -----------------------------------------------------------
bash scripts/busybox-tar.sh "$work/rootfs" "$work/rootfs.tar"
"${skiff[@]}" import "$work/rootfs.tar" bench/busybox:1 >/dev/null
"${skiff[@]}" save -o "$work/image.tar" bench/busybox:1
"${podman[@]}" load -q -i "$work/image.tar" >/dev/null
image=bench/busybox:1

if "$docker_bin" info >/dev/null 2>&1; then
  docker=("$docker_bin")
  shim_pattern="containerd-shim-runc-v2 -namespace moby"
  log "using the running dockerd"
else
  log "starting dockerd (data root $work/docker)"
  dockerd --data-root "$work/docker" --exec-root "$work/de" --pidfile "$work/dockerd.pid" \
    -H "unix://$work/docker.sock" \
    >"$work/dockerd.log" 2>&1 &
  dockerd_pid=$!
  docker=("$docker_bin" -H "unix://$work/docker.sock")
  shim_pattern="containerd-shim-runc-v2 .*$work/de/"
  for _ in $(seq 120); do
    "${docker[@]}" info >/dev/null 2>&1 && break
    kill -0 "$dockerd_pid" 2>/dev/null || { tail -20 "$work/dockerd.log"; exit 1; }
    sleep 0.5
  done
fi
"${docker[@]}" load -q -i "$work/image.tar" >/dev/null

# `run` as each is timed. Podman as root asks for NOFILE and NPROC limits
# above this host's hard limits (no CAP_SYS_RESOURCE): pass the host's.
nproc=$(ulimit -Hu); pid_max=$(cat /proc/sys/kernel/pid_max)
[ "$nproc" = unlimited ] || [ "$nproc" -gt "$pid_max" ] && nproc=$pid_max
skiff_run=("${skiff[@]}" run)
podman_run=("${podman[@]}" run --ulimit "nofile=$(ulimit -Sn):$(ulimit -Hn)" --ulimit "nproc=$nproc:$nproc")
docker_run=("${docker[@]}" run)
# Each must work before it is timed.
for t in skiff_run podman_run docker_run; do
  declare -n tool=$t
  out=$("${tool[@]}" --rm --network none "$image" echo ok 2>&1) ||
    { log "$t run failed: $out"; exit 1; }
  [ "$out" = ok ] || { log "$t printed: $out"; exit 1; }
done

q() { printf '%q ' "$@"; }
SKIFF_RUNTIME=$runtime_bin bash scripts/mkbundle.sh "$work/bundle" /bin/true >/dev/null
"$runtime_bin" --root "$work/rt" run --bundle "$work/bundle" check
out=$("${skiff_run[@]}" --rm "$image" echo ok 2>&1) || { log "skiff run on the bridge failed: $out"; exit 1; }
log "1. run --rm --network none $image true ($runs runs each); load: $(cut -d' ' -f1-3 /proc/loadavg)"
hyperfine -N --warmup 5 --runs "$runs" --export-json "$work/run.json" \
  -n skiff "$(q "${skiff_run[@]}" --rm --network none "$image" true)" \
  -n podman "$(q "${podman_run[@]}" --rm --network none "$image" true)" \
  -n docker "$(q "${docker_run[@]}" --rm --network none "$image" true)" \
  -n skiff-bridge "$(q "${skiff_run[@]}" --rm "$image" true)" \
  -n skiff-runtime "$(q "$runtime_bin" --root "$work/rt" run --bundle "$work/bundle" bench)"

log "2. 100 detached containers in a row"
t0=$(date +%s.%N)
for i in $(seq 100); do "${skiff_run[@]}" -d --network none "$image" sleep 600 >/dev/null; done
t1=$(date +%s.%N)
for i in $(seq 100); do
  "${docker_run[@]}" -d --label skiff-bench --network none "$image" sleep 600 >/dev/null
done
t2=$(date +%s.%N)
for i in $(seq 100); do "${podman_run[@]}" -d --network none "$image" sleep 600 >/dev/null; done

log "3. monitor memory (idle containers)"
# RSS and PSS (kB) summed over the processes whose command line matches.
mem() {
  local rss=0 pss=0 n=0 pid
  for pid in $(pgrep -f "$1"); do
    local r p
    r=$(awk '/^Rss:/{print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null) || continue
    p=$(awk '/^Pss:/{print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null) || continue
    rss=$((rss + r)) pss=$((pss + p)) n=$((n + 1))
  done
  echo "$n $rss $pss"
}
read -r sn srss spss < <(mem "__supervise $work/skiff ")
read -r cn crss cpss < <(mem "conmon .*$work/podman")
read -r dn drss dpss < <(mem "$shim_pattern")

# MemAvailable in kB.
avail() { awk '/^MemAvailable:/{print $2}' /proc/meminfo; }
t3=0 t4=0 in=0 irss=0 ipss=0 a0=0 a1=0
if [ "$idle" -gt 0 ]; then
  log "4. $idle idle skiff containers in a row"
  "${skiff[@]}" ps -aq | xargs -r "${skiff[@]}" rm -f >/dev/null
  sync
  sleep 2
  a0=$(avail)
  t3=$(date +%s.%N)
  for i in $(seq "$idle"); do "${skiff_run[@]}" -d --network none "$image" sleep 3600 >/dev/null; done
  t4=$(date +%s.%N)
  sleep 3 # each supervisor trims its memory once idle
  a1=$(avail)
  read -r in irss ipss < <(mem "__supervise $work/skiff ")
fi

python3 - "$work/run.json" "$t0" "$t1" "$t2" "$sn" "$srss" "$spss" "$cn" "$crss" "$cpss" \
  "$dn" "$drss" "$dpss" "$t3" "$t4" "$in" "$irss" "$ipss" "$a0" "$a1" <<'PY'
import json, sys
d = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
t0, t1, t2 = map(float, sys.argv[2:5])
sn, srss, spss, cn, crss, cpss, dn, drss, dpss = map(int, sys.argv[5:14])
t3, t4 = map(float, sys.argv[14:16])
idle, irss, ipss, a0, a1 = map(int, sys.argv[16:21])
med = {k: v["median"] * 1000 for k, v in d.items()}
print()
for k in ("skiff", "podman", "docker"):
    r = d[k]
    print(f"{k:7} run --rm: median {med[k]:7.1f} ms  mean {r['mean']*1000:7.1f} ms  min {r['min']*1000:6.1f} ms")
print(f"skiff / podman = {med['skiff']/med['podman']:.3f}  (target <= 0.1)")
print(f"skiff / docker = {med['skiff']/med['docker']:.3f}  (target <= 0.1)")
print(f"skiff-runtime run: median {med['skiff-runtime']:5.2f} ms; skiff run --rm / skiff-runtime run = "
      f"{med['skiff']/med['skiff-runtime']:.2f}  (target <= 2)")
print(f"skiff run --rm on the bridge: median {med['skiff-bridge']:5.2f} ms, "
      f"{med['skiff-bridge']-med['skiff']:+.2f} ms over --network none  (target <= +1 ms)")
print(f"100 detached: skiff {t1-t0:.2f} s, docker {t2-t1:.2f} s  (skiff/docker = {(t1-t0)/(t2-t1):.3f})")
def mib(kb, n):
    return f"RSS {kb[0]/n/1024:.2f} MiB, PSS {kb[1]/n/1024:.2f} MiB ({n})"
if sn and cn:
    print(f"per idle container: skiff supervisor {mib((srss, spss), sn)}; conmon {mib((crss, cpss), cn)}")
    print(f"  supervisor / conmon: RSS {srss/sn/(crss/cn):.2f}, PSS {spss/sn/(cpss/cn):.2f}  (target < 1 in both)")
if dn:
    print(f"  docker's containerd-shim-runc-v2: {mib((drss, dpss), dn)}")
if idle:
    print(f"{idle} idle skiff containers in a row: {t4-t3:.1f} s ({(t4-t3)/idle*1000:.1f} ms each); "
          f"supervisor {mib((irss, ipss), idle)}; MemAvailable down {(a0-a1)/idle/1024:.2f} MiB per container")
PY
