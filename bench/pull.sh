#!/usr/bin/env bash
# Image pull benchmark (not part of CI).
#
# Measures the wall time of pulling one 5-layer image from a local registry
# (docker-registry on 127.0.0.1) into an empty store with
#   skiff  pull   (its own --root, removed before each run)
#   docker pull   (its own dockerd; image removed and
#                  pruned before each run, so every layer is downloaded again)
#   podman pull   (its own --root/--runroot; `rmi -a -f` before each run)
# in one hyperfine run, and prints the medians, the ratios skiff/docker
# (target <= 1/3) and skiff/podman, and the image's compressed and unpacked
# sizes.
#
# The image is made offline once and kept in $IMAGE_CACHE (an OCI layout):
#   1. debootstrap --variant=minbase bookworm (needs Debian's mirror, ~30 s)
#   2-4. three layers of 20 MB of /dev/urandom data each
#   5. one layer with a ~90 MB generated text file (log-like lines)
# Every layer is a gzip'd tar with numeric owners.
#
# All stores (skiff's root, dockerd's data root, podman's root and temp dir)
# live on a fresh ext4 (with a journal, as mkfs.ext4 makes it) on a loop
# device, made and removed by this script. Why: this VM's root fs is ext4
# *without* a journal, and there ext4's inode allocator skips every inode
# freed in the last 60 s (360 s once its inode-table block is dirty again;
# fs/ext4/ialloc.c, recently_deleted()), rescanning them on each create. Right
# after a store of ~7000 files is removed, the next pull of any tool spends
# seconds of system time in find_inode_bit; how much depends on which block
# groups hold the freed inodes (docs/image.md). Set ON_ROOT_FS=1 to measure on
# the root fs anyway.
# Usage (as root):  bench/pull.sh [RUNS]
#   RUNS (default 5), WARMUP (default 1), IMAGE_CACHE (default
#   /var/tmp/skiff-bench-image), CARGO_TARGET_DIR (default
#   /var/tmp/skiff-target), RESULT_JSON (default /var/tmp/skiff-bench-pull.json),
#   ON_ROOT_FS (default 0, see above)
# Installs what it lacks with apt-get; cleans up everything it started (the
# registry, dockerd, all stores) on exit, also on failure. The whole run is in
# a network namespace of its own (bench/in-netns.sh): the registry is on its
# 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-${RUNS:-5}}
warmup=${WARMUP:-1}
cache=${IMAGE_CACHE:-/var/tmp/skiff-bench-image}
result_json=${RESULT_JSON:-/var/tmp/skiff-bench-pull.json}
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/skiff-target}
export DEBIAN_FRONTEND=noninteractive
log() { printf '== %s\n' "$*" >&2; }

# --- 1. Tools and the skiff binary ------------------------------------------
missing=()
for p in debootstrap:debootstrap dockerd:docker.io podman:podman skopeo:skopeo \
  docker-registry:docker-registry hyperfine:hyperfine curl:curl; do
  command -v "${p%%:*}" >/dev/null || missing+=("${p#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  apt-get update -q >/dev/null
  apt-get install -y -q "${missing[@]}" >/dev/null
fi
# Debian's docker CLI matches Debian's dockerd; prefer it over any other.
docker_bin=/usr/bin/docker
[ -x "$docker_bin" ] || docker_bin=$(command -v docker)

log "cargo build --release -p skiff"
cargo build --release -q -p skiff
skiff=$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release/skiff

# --- 2. The image, made offline once ----------------------------------------
# Writes one layer: tar of directory $1 (numeric owners, sorted, fixed mtime
# for files the tar itself adds), gzip'd, into the layout's blobs; appends
# "diff_id digest size tar_size" to $cache/work/layers.
add_layer() {
  local dir=$1 tmp=$cache/work/layer.tar
  # Left out as Debian's own images leave them out: device nodes, the .debs
  # debootstrap downloaded, apt's package lists.
  (cd "$dir" && tar --numeric-owner --sort=name -cf "$tmp" \
    --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
    --exclude='./run/*' --exclude='./tmp/*' \
    --exclude='./var/cache/apt/archives/*.deb' --exclude='./var/lib/apt/lists/*' .)
  local diff_id size_tar digest size
  diff_id=$(sha256sum "$tmp" | cut -d' ' -f1)
  size_tar=$(stat -c %s "$tmp")
  gzip -n -6 -c "$tmp" >"$tmp.gz"
  digest=$(sha256sum "$tmp.gz" | cut -d' ' -f1)
  size=$(stat -c %s "$tmp.gz")
  mv "$tmp.gz" "$cache/oci/blobs/sha256/$digest"
  rm -f "$tmp"
  echo "$diff_id $digest $size $size_tar" >>"$cache/work/layers"
}

make_image() {
  log "making the image in $cache (once)"
  rm -rf "$cache/oci" "$cache/work"
  mkdir -p "$cache/oci/blobs/sha256" "$cache/work"
  if [ ! -e "$cache/rootfs.done" ]; then
    rm -rf "$cache/rootfs"
    log "debootstrap --variant=minbase bookworm"
    debootstrap --variant=minbase bookworm "$cache/rootfs" >"$cache/debootstrap.log" 2>&1 ||
      { tail -20 "$cache/debootstrap.log"; return 1; }
    touch "$cache/rootfs.done"
  fi
  for i in 1 2 3; do
    mkdir -p "$cache/work/rand$i/opt/bench"
    head -c 20M /dev/urandom >"$cache/work/rand$i/opt/bench/random$i.bin"
  done
  mkdir -p "$cache/work/text/opt/bench"
  # ~90 MB of log-like text, deterministic (seeded), about 3.4:1 under gzip.
  python3 - "$cache/work/text/opt/bench/access.log" <<'PY'
import random, sys
r = random.Random(20240501)
words = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike "
         "november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu").split()
verbs = ["GET", "GET", "GET", "POST", "PUT", "DELETE", "HEAD"]
codes = [200, 200, 200, 200, 201, 204, 301, 304, 400, 404, 500]
with open(sys.argv[1], "w") as f:
    n, target, buf = 0, 90 * 1000 * 1000, []
    while n < target:
        line = (f"2024-05-{r.randint(1, 31):02d}T{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:"
                f"{r.randint(0, 59):02d}.{r.randint(0, 999):03d}Z web-{r.randint(1, 40)} "
                f"{r.choice(verbs)} /{r.choice(words)}/{r.choice(words)}/{r.getrandbits(32):08x} "
                f"status={r.choice(codes)} bytes={r.randint(0, 99999)} took={r.randint(1, 2000)}ms "
                f"user={r.choice(words)}{r.randint(1, 999)}\n")
        buf.append(line)
        n += len(line)
        if len(buf) == 10000:
            f.write("".join(buf)); buf = []
    f.write("".join(buf))
PY
  add_layer "$cache/rootfs"
  for i in 1 2 3; do add_layer "$cache/work/rand$i"; done
  add_layer "$cache/work/text"
  # Config, manifest, index.json, oci-layout.
  python3 - "$cache" <<'PY'
import hashlib, json, os, sys
cache = sys.argv[1]
oci = os.path.join(cache, "oci")
layers = [l.split() for l in open(os.path.join(cache, "work", "layers"))]
def blob(data):
    d = hashlib.sha256(data).hexdigest()
    open(os.path.join(oci, "blobs", "sha256", d), "wb").write(data)
    return {"digest": "sha256:" + d, "size": len(data)}
created = "2024-05-01T00:00:00Z"
config = {
    "created": created,
    "architecture": "amd64",
    "os": "linux",
    "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
               "Cmd": ["/bin/bash"]},
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + l[0] for l in layers]},
    "history": [{"created": created, "created_by": c} for c in
                ("debootstrap --variant=minbase bookworm", "random 1", "random 2", "random 3", "text")],
}
cfg = blob(json.dumps(config, separators=(",", ":")).encode())
manifest = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **cfg},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": "sha256:" + l[1], "size": int(l[2])} for l in layers],
}
man = blob(json.dumps(manifest, separators=(",", ":")).encode())
index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
         "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", **man,
                        "annotations": {"org.opencontainers.image.ref.name": "bench"}}]}
json.dump(index, open(os.path.join(oci, "index.json"), "w"))
json.dump({"imageLayoutVersion": "1.0.0"}, open(os.path.join(oci, "oci-layout"), "w"))
json.dump({"compressed": sum(int(l[2]) for l in layers),
           "unpacked": sum(int(l[3]) for l in layers),
           "layers": [{"compressed": int(l[2]), "tar": int(l[3])} for l in layers]},
          open(os.path.join(cache, "sizes.json"), "w"))
PY
  rm -rf "$cache/work"
  echo "$image_recipe" >"$cache/oci.done"
}
image_recipe=2 # bump when the recipe above changes, to remake the image
[ "$(cat "$cache/oci.done" 2>/dev/null)" = "$image_recipe" ] || make_image

# The rest in a network namespace of its own (installing tools and making
# the image need the host's network; what it starts must not touch it).
. bench/in-netns.sh

# --- Everything below lives in $work and is removed on exit -----------------
work=$(mktemp -d /var/tmp/skiff-bench-pull.XXXXXX)
registry_pid= dockerd_pid= loopdev=
cleanup() {
  set +e
  [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null && wait "$registry_pid" 2>/dev/null
  if [ -n "$dockerd_pid" ]; then
    kill "$dockerd_pid" 2>/dev/null
    for _ in $(seq 60); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$dockerd_pid" 2>/dev/null
    wait "$dockerd_pid" 2>/dev/null
  fi
  # Anything still mounted under $work (deepest first), then the files.
  for m in $(findmnt -rn -o TARGET | grep "^$work/" | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m"
  done
  [ -n "$loopdev" ] && losetup -d "$loopdev"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The stores' file system (see the top of this file).
stores=$work/fs
mkdir -p "$stores"
if [ "${ON_ROOT_FS:-0}" != 1 ]; then
  truncate -s 8G "$work/fs.img"
  mkfs.ext4 -q -F "$work/fs.img"
  loopdev=$(losetup -f --show --direct-io=on "$work/fs.img")
  mount "$loopdev" "$stores"
fi

# --- 3. Registry on 127.0.0.1, with the image pushed -------------------------
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
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
EOF
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break
  kill -0 "$registry_pid" 2>/dev/null || { cat "$work/registry.log"; exit 1; }
  sleep 0.1
done
ref=127.0.0.1:$port/bench/five:latest
log "skopeo copy to $ref"
skopeo copy -q --dest-tls-verify=false "oci:$cache/oci:bench" "docker://$ref" >/dev/null

# --- 4. dockerd (always ours: a running one cannot reach this namespace's
# registry) and podman ------------------------------------------------------
log "starting dockerd (data root $stores/docker)"
dockerd --data-root "$stores/docker" --exec-root "$work/de" --pidfile "$work/dockerd.pid" \
  -H "unix://$work/docker.sock" >"$work/dockerd.log" 2>&1 &
dockerd_pid=$!
docker=("$docker_bin" -H "unix://$work/docker.sock")
for _ in $(seq 120); do
  "${docker[@]}" info >/dev/null 2>&1 && break
  kill -0 "$dockerd_pid" 2>/dev/null || { tail -20 "$work/dockerd.log"; exit 1; }
  sleep 0.5
done
"${docker[@]}" info >/dev/null
# TMPDIR: where podman keeps a blob while it copies it (else /var/tmp).
mkdir -p "$stores/podman-tmp"
podman=(env TMPDIR="$stores/podman-tmp" podman --root "$stores/podman"
  --runroot "$stores/podman-run" --tmpdir "$stores/podman-libpod"
  --storage-driver overlay --events-backend none --cgroup-manager cgroupfs)

q() { printf '%q ' "$@"; } # a command line hyperfine's shell runs as given
skiff_pull="$(q "$skiff" --root "$stores/skiff" pull "$ref")"
skiff_prep="rm -rf $(q "$stores/skiff"); sync"
docker_pull="$(q "${docker[@]}" pull "$ref")"
docker_prep="$(q "${docker[@]}" rmi -f "$ref") >/dev/null 2>&1; $(q "${docker[@]}" image prune -a -f) >/dev/null; sync"
podman_pull="$(q "${podman[@]}" pull --tls-verify=false "$ref")"
podman_prep="$(q "${podman[@]}" rmi -a -f) >/dev/null 2>&1; sync"

# One pull each with its output shown on failure, so a broken tool is named
# before hyperfine runs; docker's second pull must download all 5 layers.
for t in skiff docker podman; do
  prep=${t}_prep pull=${t}_pull
  bash -c "${!prep}"
  bash -c "${!pull}" >"$work/check-$t.log" 2>&1 ||
    { log "$t pull failed:"; cat "$work/check-$t.log"; exit 1; }
done
bash -c "$docker_prep"
n=$(bash -c "$docker_pull" | grep -c 'Pull complete' || true)
[ "$n" = 5 ] || { log "docker pulled $n of 5 layers after its prepare"; exit 1; }

# --- 5. The benchmark --------------------------------------------------------
log "stores on $(findmnt -n -o SOURCE,FSTYPE --target "$stores"); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
hyperfine --warmup "$warmup" --runs "$runs" --export-json "$result_json" \
  -n skiff --prepare "$skiff_prep" "$skiff_pull" \
  -n docker --prepare "$docker_prep" "$docker_pull" \
  -n podman --prepare "$podman_prep" "$podman_pull"

python3 - "$result_json" "$cache/sizes.json" <<'PY'
import json, sys
d = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
s = json.load(open(sys.argv[2]))
med = {k: v["median"] for k, v in d.items()}
print()
print(f"image: 5 layers, {s['compressed'] / 1e6:.1f} MB compressed, {s['unpacked'] / 1e6:.1f} MB unpacked (tar)")
for k in ("skiff", "docker", "podman"):
    r = d[k]
    print(f"{k:7} median {med[k]:6.3f} s  mean {r['mean']:6.3f} s  min {r['min']:6.3f} s  max {r['max']:6.3f} s")
print(f"skiff / docker = {med['skiff'] / med['docker']:.3f}  (target <= 0.333)")
print(f"skiff / podman = {med['skiff'] / med['podman']:.3f}")
print(f"results: {sys.argv[1]}")
PY
