#!/usr/bin/env bash
# Kubernetes on one machine, benchmarked (not part of CI): `skiff kube` and
# `skiff serve`'s controllers on a store of their own, in a network
# namespace of their own (bench/in-netns.sh). Figures and targets (issue 13):
#   rollout:     `kube apply` of a 3-replica Deployment with a readiness
#                probe until `kube rollout status` returns (median of RUNS;
#                target <= 0.5 s);
#   hundred:     100 replicas until all are Ready (target <= 10 s);
#   replace:     a replacement pod Running after a pod is deleted
#                (median of RUNS; target <= 0.3 s);
#   wrk:         wrk through a ClusterIP and a NodePort to 3 replicas
#                against wrk to one pod's IP directly (target >= 0.9 of
#                direct), and how requests spread over the pods (target:
#                each within +-20% of an even share). The NodePort is
#                measured on the node's address (an interface of the
#                bench's namespace, as a machine's eth0) and, beside it, on
#                127.0.0.1 (which pays a masquerade more);
#   rss:         skiff serve's RSS with 100 pods (target <= 30 MiB), and
#                its CPU keeping them (a probe each per second).
# Usage (as root):  bench/kube.sh [RUNS]   (default 5)
# Installs what it lacks with apt-get; removes everything it made on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-${RUNS:-5}}
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/skiff-target}
export DEBIAN_FRONTEND=noninteractive
log() { printf '== %s\n' "$*" >&2; }

missing=()
for p in wrk:wrk busybox:busybox-static python3:python3; do
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

. bench/in-netns.sh
. bench/cleanup.sh

work=$(mktemp -d "${WORK_DIR:-/var/tmp}/skiff-bench-kube.XXXXXX")
sk() { "$skiff_bin" --root "$work/root" --runroot "$work/run" "$@"; }
kube() { sk kube "$@"; }
cleanup() {
  set +e
  [ -f "$work/run/serve.pid" ] && kill -9 "$(cat "$work/run/serve.pid")" 2>/dev/null
  ids=$(sk ps -aq 2>/dev/null)
  [ -n "$ids" ] && sk rm -f $ids >/dev/null 2>&1
  sk network rm skiff-kube >/dev/null 2>&1
  remove_work "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$1" "$2"; }
median() { python3 -c "import sys, statistics; print(f'{statistics.median(map(float, sys.argv[1:])):.3f}')" "$@"; }

bash scripts/busybox-tar.sh "$work/rootfs" "$work/rootfs.tar" >/dev/null
sk import --change 'CMD ["sh"]' "$work/rootfs.tar" bench/bb:1 >/dev/null

deployment() { # NAME REPLICAS
  cat <<YML
apiVersion: apps/v1
kind: Deployment
metadata: {name: $1}
spec:
  replicas: $2
  selector: {matchLabels: {app: $1}}
  template:
    metadata: {labels: {app: $1}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: web
        image: bench/bb:1
        command: ["sh", "-c", "mkdir -p /srv; hostname > /srv/index.html; exec httpd -f -p 8080 -h /srv"]
        ports: [{name: http, containerPort: 8080}]
        readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
YML
}

log "rollout: apply of 3 replicas until rollout status returns ($runs runs)"
# The first apply starts serve and makes the pod network: not counted.
deployment warm 1 >"$work/warm.yaml"
kube apply -f "$work/warm.yaml" >/dev/null
kube rollout status deployment/warm --timeout 60s >/dev/null
kube delete -f "$work/warm.yaml" >/dev/null
rollouts=()
for i in $(seq "$runs"); do
  deployment "r$i" 3 >"$work/r.yaml"
  s=$(now)
  kube apply -f "$work/r.yaml" >/dev/null
  kube rollout status "deployment/r$i" --timeout 60s >/dev/null
  rollouts+=("$(elapsed "$s" "$(now)")")
  kube delete -f "$work/r.yaml" --grace-period=0 >/dev/null
done
rollout=$(median "${rollouts[@]}")

log "replace: a deleted pod's replacement Running ($runs runs)"
deployment keep 3 >"$work/keep.yaml"
kube apply -f "$work/keep.yaml" >/dev/null
kube rollout status deployment/keep --timeout 60s >/dev/null
replaces=()
for _ in $(seq "$runs"); do
  victim=$(kube get pods -l app=keep -o jsonpath='{.items[0].metadata.name}')
  s=$(now)
  kube delete pod "$victim" --wait=false >/dev/null
  while :; do
    n=$(kube get pods -l app=keep -o jsonpath='{range .items[*]}{.metadata.name}={.status.phase}{"\n"}{end}' |
      grep -v "^$victim=" | grep -c '=Running$' || true)
    [ "$n" -ge 3 ] && break
    sleep 0.01
  done
  replaces+=("$(elapsed "$s" "$(now)")")
  kube rollout status deployment/keep --timeout 60s >/dev/null
  sleep 1
done
replace=$(median "${replaces[@]}")

log "wrk: through a ClusterIP and a NodePort vs one pod directly"
# busybox's httpd closes every connection, so each request is a new one and
# the pods' TIME_WAIT sockets pile up: each measure gets fresh pods (a
# restarted rollout) so none inherits the last one's.
cat >"$work/svc.yaml" <<'YML'
apiVersion: v1
kind: Service
metadata: {name: keep}
spec:
  type: NodePort
  selector: {app: keep}
  ports: [{port: 80, targetPort: http, nodePort: 30080}]
YML
kube apply -f "$work/svc.yaml" >/dev/null
fresh() {
  kube rollout restart deployment/keep >/dev/null
  kube rollout status deployment/keep --timeout 60s >/dev/null
  while [ "$(kube get pods -l app=keep -o name | wc -l)" -gt 3 ]; do sleep 0.2; done
  sleep 2
}
# Every request is a new connection, and each leaves the client's port in
# TIME_WAIT for 60 s: a destination gets ~28,000 connections a minute
# before connect() runs out of ports (the loopback reuses them, other
# addresses do not, by default). So each wrk runs 4 s (under that at these
# rates), and a destination is measured again only a minute later.
# Connections conntrack could not set up (a clash on insert, a drop) in
# this namespace: each one is a SYN lost and resent a second later.
ct_fails() {
  python3 - <<'PY'
rows = [l.split() for l in open("/proc/net/stat/nf_conntrack")]
cols = [rows[0].index(c) for c in ("insert_failed", "drop")]
print(sum(int(r[c], 16) for r in rows[1:] for c in cols))
PY
}
# wrk's req/s; conntrack's failures during the run go to $work/ct.log.
wrk_at() { # URL [COMMAND PREFIX...]
  local url=$1 before after rps; shift
  before=$(ct_fails)
  rps=$("$@" wrk -t2 -c16 -d4s "$url" | awk '/Requests\/sec/ {print $2}')
  after=$(ct_fails)
  echo "$url:$((after - before))" >>"$work/ct.log"
  echo "$rps"
}
wrk_rps() { wrk_at "$1"; }
cip=$(kube get svc keep -o jsonpath='{.spec.clusterIP}')
# The node's own address, as a machine's eth0 has one.
ip link add node0 type veth peer name node0-peer
ip addr add 192.0.2.10/24 dev node0
ip link set node0-peer up
ip link set node0 up
# A client pod, for wrk as a pod runs it (in the pod's network namespace).
cat >"$work/client.yaml" <<'YML'
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  containers: [{name: c, image: bench/bb:1, command: ["sleep", "100000"]}]
YML
kube apply -f "$work/client.yaml" >/dev/null
while [ "$(kube get pod client -o jsonpath='{.status.phase}')" != Running ]; do sleep 0.2; done
cuid=$(kube get pod client -o jsonpath='{.metadata.uid}')
cpid=$(sk ps -q --filter "label=io.kubernetes.pod.uid=$cuid" --filter label=io.kubernetes.container.name=POD | head -1 | xargs -I{} "$skiff_bin" --root "$work/root" --runroot "$work/run" inspect -f '{{.State.Pid}}' {})
in_pod() { nsenter --net="/proc/$cpid/ns/net" -- "$@"; }
pod_wrk_rps() { wrk_at "$1" in_pod; }
# Each measure RUNS times, interleaved, the median taken.
directs=(); cips=(); nodes=(); loops=(); pdirects=(); pcips=()
fresh
for _ in $(seq "$runs"); do
  round=$(date +%s)
  pip=$(kube get pods -l app=keep -o jsonpath='{.items[0].status.podIP}')
  directs+=("$(wrk_rps "http://$pip:8080/index.html")")
  fresh
  cips+=("$(wrk_rps "http://$cip/index.html")")
  fresh
  nodes+=("$(wrk_rps "http://192.0.2.10:30080/index.html")")
  fresh
  loops+=("$(wrk_rps "http://127.0.0.1:30080/index.html")")
  fresh
  pip=$(kube get pods -l app=keep -o jsonpath='{.items[0].status.podIP}')
  pdirects+=("$(pod_wrk_rps "http://$pip:8080/index.html")")
  fresh
  pcips+=("$(pod_wrk_rps "http://$cip/index.html")")
  fresh
  while [ $(( $(date +%s) - round )) -lt 62 ]; do sleep 1; done
done
direct=$(median "${directs[@]}"); viacip=$(median "${cips[@]}")
vianode=$(median "${nodes[@]}"); vianp=$(median "${loops[@]}")
pdirect=$(median "${pdirects[@]}"); pcip=$(median "${pcips[@]}")
log "wrk req/s from a pod: direct ${pdirects[*]}; ClusterIP ${pcips[*]}"
log "wrk req/s: direct ${directs[*]}; ClusterIP ${cips[*]}; node address ${nodes[*]}; 127.0.0.1 ${loops[*]}"
log "conntrack insert failures and drops per wrk run: $(tr '\n' ' ' <"$work/ct.log")"
fresh
spread=$(python3 - "$cip" <<'PY'
import collections, sys, urllib.request
seen = collections.Counter()
for _ in range(600):
    seen[urllib.request.urlopen(f"http://{sys.argv[1]}/index.html", timeout=5).read().decode().strip()] += 1
even = 600 / len(seen)
print(" ".join(f"{n}" for n in seen.values()), f"(max deviation {max(abs(n - even) / even for n in seen.values()) * 100:.0f}%)")
PY
)

log "hundred: 100 replicas until all are Ready"
kube delete -f "$work/keep.yaml" -f "$work/svc.yaml" --grace-period=0 >/dev/null
deployment many 100 >"$work/many.yaml"
s=$(now)
kube apply -f "$work/many.yaml" >/dev/null
kube rollout status deployment/many --timeout 300s >/dev/null
hundred=$(elapsed "$s" "$(now)")
sleep 5
spid=$(cat "$work/run/serve.pid")
rss=$(awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$spid/status")
# What keeping them costs: serve's CPU over 20 s (each pod probed every
# second).
t0=$(awk '{print $14 + $15}' "/proc/$spid/stat")
sleep 20
t1=$(awk '{print $14 + $15}' "/proc/$spid/stat")
cpu=$(python3 -c "print(f'{($t1 - $t0) / $(getconf CLK_TCK) / 20 * 100:.1f}')")

ratio() { python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.3f}')" "$1" "$2"; }
echo
echo "| figure | skiff | target |"
echo "|---|---|---|"
echo "| apply 3 replicas with readiness until rollout status returns (median of $runs) | ${rollout} s | <= 0.5 s |"
echo "| 100 replicas until all Ready | ${hundred} s | <= 10 s |"
echo "| replacement pod Running after a delete (median of $runs) | ${replace} s | <= 0.3 s |"
echo "| wrk to one pod directly (median of $runs) | ${direct} req/s | |"
echo "| wrk through the ClusterIP (3 pods) | ${viacip} req/s ($(ratio "$viacip" "$direct") of direct) | >= 0.9 |"
echo "| wrk from a client pod to one pod directly (median of $runs) | ${pdirect} req/s | |"
echo "| wrk from a client pod through the ClusterIP (3 pods) | ${pcip} req/s ($(ratio "$pcip" "$pdirect") of direct) | >= 0.9 |"
echo "| wrk through the NodePort on the node's address (3 pods) | ${vianode} req/s ($(ratio "$vianode" "$direct") of direct) | >= 0.9 |"
echo "| wrk through the NodePort on 127.0.0.1 (3 pods) | ${vianp} req/s ($(ratio "$vianp" "$direct") of direct) | |"
echo "| 600 requests through the ClusterIP, per pod | ${spread} | each within 20% |"
echo "| skiff serve RSS with 100 pods | ${rss} MiB | <= 30 MiB |"
echo "| skiff serve CPU with 100 pods, each probed every second | ${cpu}% of a core | |"
