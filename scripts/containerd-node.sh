#!/usr/bin/env bash
# A private containerd whose CRI plugin runs pods on skiff-runtime: the
# `skiff` runtime handler (and `runc` beside it, to compare), its own socket,
# root, state, CNI configuration and a sandbox ("pause") image made offline
# from busybox. It touches nothing of the host's containerd.
#
# Usage:
#   scripts/containerd-node.sh up DIR      start it; prints the CRI socket
#   scripts/containerd-node.sh down DIR    stop it and remove DIR
#
# Environment (all optional):
#   SKIFF_RUNTIME   skiff-runtime to use (default: the one on PATH)
#   SKIFF           skiff, to make the sandbox image (default: the one on PATH)
#   SYSTEMD_CGROUP  true|false, the handlers' SystemdCgroup (default false)
#   NETNS           a network namespace (`ip netns add NAME`) to run
#                   containerd in: the pods' bridge and the streaming server
#                   (on 127.0.0.1) are then that namespace's
#   REGISTRY        HOST:PORT of a registry served over plain HTTP
#   SUBNET          the pods' subnet (default 10.88.0.0/16)
#   EXTRA_HANDLERS  more handlers, "NAME=RUNTIME_BINARY ..."
#
# Then, e.g.: crictl --runtime-endpoint unix://DIR/containerd.sock runp --runtime skiff pod.json
set -euo pipefail
cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
  sed -n '2,23p' "$0" >&2
  exit 2
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
sock=$dir/containerd.sock

down() {
  if [ -f "$dir/containerd.pid" ]; then
    pid=$(cat "$dir/containerd.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  # Shims outlive containerd by design: end those of this containerd
  # (their command line names its socket).
  for p in $(pgrep -f "containerd-shim-runc-v2 .*-address $sock" || true); do
    kill -9 "$p" 2>/dev/null || true
  done
  # And so do containers: those a stop never reached (each handler's
  # runtime deletes them, cgroups too), with the network namespaces
  # containerd made for their pods.
  for bin_file in "$dir"/runtime-state/*.bin; do
    [ -f "$bin_file" ] || continue
    bin=$(cat "$bin_file")
    root=${bin_file%.bin}/k8s.io
    for state in "$root"/*/state.json; do
      [ -f "$state" ] || continue
      id=$(basename "$(dirname "$state")")
      netns=$(grep -o '/var/run/netns/cni-[0-9a-f-]*' "$state" | head -1 || true)
      "$bin" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
      [ -n "$netns" ] && ip netns del "$(basename "$netns")" 2>/dev/null || true
    done
  done
  # Whatever containerd mounted below DIR (snapshots, sandbox files).
  { grep -F " $dir/" /proc/self/mounts || true; } | awk '{print $2}' | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$dir"
}

if [ "$cmd" = down ]; then down; exit 0; fi
if [ "$cmd" != up ]; then echo "unknown command $cmd (up|down)" >&2; exit 2; fi

runtime=${SKIFF_RUNTIME:-$(command -v skiff-runtime || true)}
skiff=${SKIFF:-$(command -v skiff || true)}
[ -x "$runtime" ] || { echo "skiff-runtime not found: set SKIFF_RUNTIME" >&2; exit 1; }
[ -x "$skiff" ] || { echo "skiff not found: set SKIFF" >&2; exit 1; }
command -v containerd >/dev/null || { echo "containerd is not installed (apt-get install containerd)" >&2; exit 1; }
cni_bin=/usr/lib/cni
[ -x "$cni_bin/bridge" ] || cni_bin=/opt/cni/bin
[ -x "$cni_bin/bridge" ] || { echo "CNI plugins not found (apt-get install containernetworking-plugins)" >&2; exit 1; }
systemd=${SYSTEMD_CGROUP:-false}
subnet=${SUBNET:-10.88.0.0/16}
pause=skiff.local/pause:1
# A bridge name of this node's own (at most 15 bytes).
bridge=cri$(echo "$dir" | sha256sum | cut -c1-8)

mkdir -p "$dir/root" "$dir/state" "$dir/net.d" "$dir/certs.d" "$dir/opt" "$dir/runtime-state"
cat >"$dir/net.d/10-skiff-cri.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "skiff-cri",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$bridge",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {"type": "host-local", "ranges": [[{"subnet": "$subnet"}]], "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$dir/ipam"}
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
if [ -n "${REGISTRY:-}" ]; then
  mkdir -p "$dir/certs.d/$REGISTRY"
  cat >"$dir/certs.d/$REGISTRY/hosts.toml" <<EOF
server = "http://$REGISTRY"
[host."http://$REGISTRY"]
  capabilities = ["pull", "resolve"]
EOF
fi

handler() { # name, binary
  echo "$2" >"$dir/runtime-state/$1.bin"
  cat <<EOF
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.$1]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.$1.options]
        BinaryName = "$2"
        Root = "$dir/runtime-state/$1"
        SystemdCgroup = $systemd
EOF
}

# Pods ask for an OOM score below the runtime's own (-998 for a sandbox),
# which needs CAP_SYS_RESOURCE: where root lacks it (a host that is itself
# a container), containerd is told to keep scores at or above its own, or
# every runtime (runc too) fails to start a pod.
restrict_oom=false
caps=$(awk '/^CapEff/ {print $2}' /proc/self/status)
(( (0x$caps >> 24) & 1 )) || restrict_oom=true

{
  cat <<EOF
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$sock"
[ttrpc]
  address = "$sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$pause"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  restrict_oom_score_adj = $restrict_oom
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$cni_bin"
    conf_dir = "$dir/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$dir/certs.d"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "skiff"
EOF
  handler skiff "$runtime"
  handler runc "$(command -v runc || echo /usr/sbin/runc)"
  for h in ${EXTRA_HANDLERS:-}; do handler "${h%%=*}" "${h#*=}"; done
} >"$dir/config.toml"

launch=(containerd --config "$dir/config.toml")
[ -n "${NETNS:-}" ] && launch=(nsenter "--net=/run/netns/$NETNS" -- "${launch[@]}")
setsid "${launch[@]}" >"$dir/containerd.log" 2>&1 </dev/null &
echo $! >"$dir/containerd.pid"
for _ in $(seq 100); do
  [ -S "$sock" ] && ctr -a "$sock" version >/dev/null 2>&1 && break
  sleep 0.1
done
ctr -a "$sock" version >/dev/null 2>&1 || { echo "containerd did not start; see $dir/containerd.log" >&2; tail -5 "$dir/containerd.log" >&2; exit 1; }

# The sandbox image, made offline: busybox sleeping as the pod's first
# process, called by its own name (`busybox`, not `sleep`: a pod's
# containers that look for their own `sleep` must not find the sandbox's).
work=$(mktemp -d "$dir/pause.XXXXXX")
bash "$(dirname "$0")/busybox-tar.sh" "$work/rootfs" "$work/rootfs.tar" >/dev/null
"$skiff" --root "$work/store" --runroot "$work/run" import \
  -c 'ENTRYPOINT ["/bin/busybox", "sleep", "2147483647"]' "$work/rootfs.tar" "$pause" >/dev/null
"$skiff" --root "$work/store" --runroot "$work/run" save -o "$work/pause.tar" "$pause"
ctr -a "$sock" -n k8s.io images import "$work/pause.tar" >/dev/null
rm -rf "$work"
echo "$sock"
