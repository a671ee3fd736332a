#!/usr/bin/env bash
# Networking benchmark (not part of CI): the network issue's figures, in one
# run.
#   1. What bridge networking adds to `skiff run --rm IMAGE true` (default
#      bridge vs --network none, alternating runs, medians; target: at most
#      5 ms).
#   2. Throughput through a published port, skiff vs Docker: the same
#      busybox httpd container published by each (`-p PORT:80`), loaded with
#      wrk from the host's own 127.0.0.1 and from a second host, for a small
#      page (requests/s) and a large file (MB/s); rounds alternate between
#      the two, medians are compared (target: skiff/docker >= 1).
# Everything runs in network namespaces of the benchmark's own (entered
# with nsenter --net: `ip netns exec` would remount /sys without the cgroup
# mounts dockerd needs): skiff and a
# dockerd of its own (default bridge, iptables, userland proxy: Docker's
# defaults) share one, which is "the host"; a second namespace wired to it
# by a veth (198.18.0.0/24) is "another host". The host's own interfaces and
# rules are not touched.
#
# Usage (as root): bench/net.sh [RUNS [SECONDS]]
#   RUNS    runs per variant in part 1 (default 30)
#   SECONDS length of each wrk load in part 2 (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-${RUNS:-30}}
secs=${2:-${SECONDS_EACH:-5}}
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/skiff-target}
log() { printf '== %s\n' "$*" >&2; }
export DEBIAN_FRONTEND=noninteractive
missing=()
for p in wrk:wrk dockerd:docker.io busybox:busybox-static curl:curl; do
  command -v "${p%%:*}" >/dev/null || missing+=("${p#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  apt-get update -q >/dev/null
  apt-get install -y -q "${missing[@]}" >/dev/null
fi

log "cargo build --release -p skiff"
cargo build --release -q -p skiff
skiff_bin=$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release/skiff

work=$(mktemp -d /var/tmp/skiff-netbench.XXXXXX)
ns="skiff-netbench-$$"
cns="$ns-client"
dockerd_pid=
cleanup() {
  set +e
  [ -S "$work/docker.sock" ] && docker -H "unix://$work/docker.sock" rm -f web >/dev/null 2>&1
  if [ -n "$dockerd_pid" ]; then
    kill "$dockerd_pid" 2>/dev/null
    for _ in $(seq 60); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$dockerd_pid" 2>/dev/null
  fi
  [ -n "${sk:-}" ] && $sk rm -f web >/dev/null 2>&1
  ip netns del "$cns" 2>/dev/null
  ip netns del "$ns" 2>/dev/null
  for m in $(findmnt -rn -o TARGET | grep "^$work/" | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m"
  done
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up

bb=$(command -v busybox)
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/tmp"
cp "$bb" "$work/rootfs/bin/busybox"
for a in $("$bb" --list); do [ "$a" = busybox ] || ln -sf busybox "$work/rootfs/bin/$a"; done
tar -C "$work/rootfs" -cf "$work/bb.tar" .
sk="nsenter --net=/run/netns/$ns $skiff_bin --root $work/root --runroot $work/run"
$sk import "$work/bb.tar" bb >/dev/null
# First use makes the bridge and the rules; warm both paths.
$sk run --rm bb true
$sk run --rm --network none bb true

# Alternating runs (none, bridge, none, ...): a drift of the machine's speed
# over the run (hyperfine times one command's runs, then the other's) would
# otherwise show up as a difference.
python3 - "$runs" $sk <<'PY'
import statistics, subprocess, sys, time
runs, sk = int(sys.argv[1]), sys.argv[2:]
times = {"none": [], "bridge": []}
for _ in range(5):
    for extra in (["--network", "none"], []):
        subprocess.run(sk + ["run", "--rm"] + extra + ["bb", "true"], check=True)
for _ in range(runs):
    for key, extra in (("none", ["--network", "none"]), ("bridge", [])):
        t = time.perf_counter()
        subprocess.run(sk + ["run", "--rm"] + extra + ["bb", "true"], check=True)
        times[key].append((time.perf_counter() - t) * 1000)
m = {k: statistics.median(v) for k, v in times.items()}
pairs = statistics.median(b - a for a, b in zip(times["none"], times["bridge"]))
print(f"run --rm, --network none: {m['none']:.1f} ms (median of {runs})")
print(f"run --rm, default bridge: {m['bridge']:.1f} ms (median of {runs})")
print(f"bridge networking adds:   {m['bridge'] - m['none']:.1f} ms "
      f"(median of paired differences {pairs:.1f} ms; target <= 5 ms)")
PY

# --- 2. throughput through a published port --------------------------------
log "another host: $cns, 198.18.0.2 -> 198.18.0.1"
ip netns add "$cns"
ip -n "$cns" link set lo up
ip -n "$ns" link add vhost0 type veth peer name vcli0 netns "$cns"
ip -n "$ns" addr add 198.18.0.1/24 dev vhost0
ip -n "$cns" addr add 198.18.0.2/24 dev vcli0
ip -n "$ns" link set vhost0 up
ip -n "$cns" link set vcli0 up

log "starting dockerd in $ns (data root $work/docker)"
nsenter --net="/run/netns/$ns" dockerd --data-root "$work/docker" --exec-root "$work/de" \
  --pidfile "$work/dockerd.pid" -H "unix://$work/docker.sock" >"$work/dockerd.log" 2>&1 &
dockerd_pid=$!
dk="docker -H unix://$work/docker.sock"
for _ in $(seq 120); do
  $dk info >/dev/null 2>&1 && break
  kill -0 "$dockerd_pid" 2>/dev/null || { tail -20 "$work/dockerd.log"; exit 1; }
  sleep 0.5
done
$sk save -o "$work/bb-image.tar" bb
$dk load -q -i "$work/bb-image.tar" >/dev/null

mkdir -p "$work/www"
head -c 1024 /dev/zero | tr '\0' x >"$work/www/small.html"
head -c $((8 << 20)) /dev/urandom >"$work/www/large.bin"
httpd=(-v "$work/www:/www:ro" bb httpd -f -p 80 -h /www)
$sk run -d --name web -p 8081:80 "${httpd[@]}" >/dev/null
$dk run -d --name web -p 8082:80 "${httpd[@]}" >/dev/null
in_ns() { nsenter --net="/run/netns/$1" "${@:2}"; }
for port in 8081 8082; do
  for where in "$ns 127.0.0.1" "$cns 198.18.0.1"; do
    set -- $where
    ok=
    for _ in $(seq 50); do
      in_ns "$1" curl -sf -o /dev/null "http://$2:$port/small.html" && { ok=1; break; }
      sleep 0.1
    done
    [ -n "$ok" ] || { log "port $port not answering at $2 (from $1)"; exit 1; }
  done
done

# One wrk load: prints "requests/s bytes/s".
load() {
  in_ns "$1" wrk -t2 -c16 -d"${secs}s" "$2" | python3 -c '
import re, sys
t = sys.stdin.read()
units = {"": 1, "K": 1e3, "M": 1e6, "G": 1e9, "KB": 1024, "MB": 1 << 20, "GB": 1 << 30, "B": 1}
rq = re.search(r"Requests/sec:\s*([\d.]+)", t).group(1)
m = re.search(r"Transfer/sec:\s*([\d.]+)([KMG]?B)", t)
print(rq, float(m.group(1)) * units[m.group(2)])'
}
log "2. wrk -t2 -c16 -d${secs}s, 3 rounds alternating skiff and docker"
: >"$work/wrk.txt"
for round in 1 2 3; do
  for who in skiff:8081 docker:8082; do
    for where in "local $ns 127.0.0.1" "remote $cns 198.18.0.1"; do
      set -- $where
      for f in small.html large.bin; do
        read -r rq bs < <(load "$2" "http://$3:${who#*:}/$f")
        echo "${who%%:*} $1 $f $rq $bs" >>"$work/wrk.txt"
      done
    done
  done
done
python3 - "$work/wrk.txt" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
med = {}
for who, where, f, rq, bs in rows:
    med.setdefault((who, where, f), []).append((float(rq), float(bs)))
print()
print("through a published port (busybox httpd; medians of 3 wrk loads):")
for where, label in (("local", "from 127.0.0.1"), ("remote", "from another host")):
    for f, what in (("small.html", "1 KiB page"), ("large.bin", "8 MiB file")):
        s = [statistics.median(x) for x in zip(*med[("skiff", where, f)])]
        d = [statistics.median(x) for x in zip(*med[("docker", where, f)])]
        i, unit, scale = (0, "req/s", 1) if f == "small.html" else (1, "MB/s", 1 << 20)
        print(f"  {label:18} {what}: skiff {s[i]/scale:9.1f} {unit}, docker {d[i]/scale:9.1f} {unit}"
              f"  skiff/docker = {s[i]/d[i]:.2f}  (target >= 1)")
PY
