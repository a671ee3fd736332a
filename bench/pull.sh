#!/usr/bin/env bash
# Image pull benchmark (not part of CI).
#
# Measures the wall time of pulling one 5-layer image from a local registry
# (docker-registry on 127.0.0.1) into an empty store with
#   skiff  pull   (its own --root)
#   docker pull   (its own dockerd)
#   podman pull   (its own --root/--runroot)
#   the floor:    curl of the 5 blobs in parallel, then `tar -xzf` of each
#                 into a fresh directory (5 tars in parallel)
# in two hyperfine runs, each tool in the same run:
#   removal: the store was removed just before (skiff: `rm -rf` of its root;
#            docker: `rmi` + `image prune -af` + `builder prune -af`; podman:
#            `rmi -a -f`), as `rmi`/`prune` and then `pull` leave a disk in
#            real use;
#   fresh:   a store at a path never used before (docker: a new dockerd on a
#            new data root for each pull), and the floor.
# It prints the medians and the ratios docker/skiff (target >= 3 in both) and
# skiff/floor (target <= 1.5).
#
# The image is made offline once and kept in $IMAGE_CACHE (an OCI layout):
#   1. debootstrap --variant=minbase bookworm (needs Debian's mirror, ~30 s)
#   2-4. three layers of 20 MB of /dev/urandom data each
#   5. one layer with a ~90 MB generated text file (log-like lines)
# Every layer is a gzip'd tar with numeric owners.
#
# The stores live where a user has them: on the file system of $WORK_DIR
# (default /var/tmp, the machine's root file system). ON_LOOP=1 puts them on a
# fresh journaled ext4 on a loop device instead, a special setup whose figure
# may be shown beside the root file system's, never instead of it (see
# docs/image.md: on an ext4 without a journal, inodes freed in the last minutes
# are skipped by the inode allocator, so what a removal leaves behind matters).
# Usage (as root):  bench/pull.sh [RUNS]
#   RUNS (default 5), WARMUP (default 1), IMAGE_CACHE (default
#   /var/tmp/skiff-bench-image), CARGO_TARGET_DIR (default
#   /var/tmp/skiff-target), RESULT_JSON (default /var/tmp/skiff-bench-pull,
#   prefix of the two hyperfine JSON files), WORK_DIR (default /var/tmp),
#   ON_LOOP (default 0), PODMAN (default 1; 0 leaves podman out)
# Installs what it lacks with apt-get; cleans up everything it started (the
# registry, dockerd, all stores) on exit, also on failure. The whole run is in
# a network namespace of its own (bench/in-netns.sh): the registry is on its
# 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-${RUNS:-5}}
warmup=${WARMUP:-1}
cache=${IMAGE_CACHE:-/var/tmp/skiff-bench-image}
result_json=${RESULT_JSON:-/var/tmp/skiff-bench-pull}
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
work=$(mktemp -d "${WORK_DIR:-/var/tmp}/skiff-bench-pull.XXXXXX")
registry_pid= dockerd_pid= loopdev=
stop_dockerd() {
  kill "$1" 2>/dev/null || return 0
  for _ in $(seq 60); do kill -0 "$1" 2>/dev/null || break; sleep 0.5; done
  kill -9 "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
cleanup() {
  set +e
  [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null && wait "$registry_pid" 2>/dev/null
  [ -n "$dockerd_pid" ] && stop_dockerd "$dockerd_pid"
  [ -f "$work/fresh-dockerd.pid" ] && stop_dockerd "$(cat "$work/fresh-dockerd.pid")"
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
if [ "${ON_LOOP:-0}" = 1 ]; then
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
podman_in() { # ROOT: podman's command line with its stores under ROOT
  printf '%q ' env TMPDIR="$stores/podman-tmp" podman --root "$1" --runroot "$1-run" \
    --tmpdir "$1-libpod" --storage-driver overlay --events-backend none --cgroup-manager cgroupfs
}
with_podman=${PODMAN:-1}

q() { printf '%q ' "$@"; } # a command line hyperfine's shell runs as given

# Each prepare of the fresh mode writes the next never-used path to
# $work/next-TOOL; the measured command reads it.
cat >"$work/next.sh" <<EOF
set -e
n=\$(cat "$work/count-\$1" 2>/dev/null || echo 0)
echo \$((n + 1)) >"$work/count-\$1"
echo "$stores/fresh-\$1-\$n" >"$work/next-\$1"
EOF
# A dockerd on a never-used data root, replacing the previous one.
cat >"$work/fresh-dockerd.sh" <<EOF
set -e
bash "$work/next.sh" docker
if [ -f "$work/fresh-dockerd.pid" ]; then
  pid=\$(cat "$work/fresh-dockerd.pid")
  kill "\$pid" 2>/dev/null || true
  while kill -0 "\$pid" 2>/dev/null; do sleep 0.1; done
fi
root=\$(cat "$work/next-docker")
setsid dockerd --data-root "\$root" --exec-root "\$root-exec" --pidfile "\$root.pid" \\
  -H "unix://$work/fresh.sock" </dev/null >"\$root.log" 2>&1 &
echo \$! >"$work/fresh-dockerd.pid"
for _ in \$(seq 240); do
  $(q "$docker_bin") -H "unix://$work/fresh.sock" info >/dev/null 2>&1 && exit 0
  sleep 0.25
done
echo "dockerd on \$root did not start" >&2
exit 1
EOF
# podman on a never-used root; its runroot (podman allows at most 50
# characters there) is numbered under $work.
cat >"$work/podman-fresh.sh" <<EOF
set -e
root=\$(cat "$work/next-podman")
run=$work/pr\$(cat "$work/count-podman")
env TMPDIR=$(q "$stores/podman-tmp") podman --root "\$root" --runroot "\$run" --tmpdir "\$root-libpod" \\
  --storage-driver overlay --events-backend none --cgroup-manager cgroupfs pull --tls-verify=false $(q "$ref")
EOF
# The floor: every blob with curl at once, then each layer untarred at once.
blobs=$(curl -fs -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
  "http://127.0.0.1:$port/v2/bench/five/manifests/latest" |
  python3 -c 'import json,sys; print(" ".join(l["digest"] for l in json.load(sys.stdin)["layers"]))')
cat >"$work/floor.sh" <<EOF
set -e
d=\$(cat "$work/next-floor")
mkdir -p "\$d"
for b in $blobs; do curl -fs -o "\$d/\$b.tgz" "http://127.0.0.1:$port/v2/bench/five/blobs/\$b" & done
wait
for b in $blobs; do mkdir "\$d/\$b"; tar -xzf "\$d/\$b.tgz" -C "\$d/\$b" & done
wait
EOF

skiff_pull="$(q "$skiff" --root "$stores/skiff" pull "$ref")"
skiff_prep="rm -rf $(q "$stores/skiff"); sync"
docker_pull="$(q "${docker[@]}" pull "$ref")"
docker_prep="$(q "${docker[@]}" rmi -f "$ref") >/dev/null 2>&1; $(q "${docker[@]}" image prune -a -f) >/dev/null; $(q "${docker[@]}" builder prune -a -f) >/dev/null; sync"
podman_pull="$(podman_in "$stores/podman") pull --tls-verify=false $(q "$ref")"
podman_prep="$(podman_in "$stores/podman") rmi -a -f >/dev/null 2>&1; sync"

# One pull each with its output shown on failure, so a broken tool is named
# before hyperfine runs; docker's second pull must download all 5 layers.
tools=(skiff docker)
[ "$with_podman" = 1 ] && tools+=(podman)
for t in "${tools[@]}"; do
  prep=${t}_prep pull=${t}_pull
  bash -c "${!prep}"
  bash -c "${!pull}" >"$work/check-$t.log" 2>&1 ||
    { log "$t pull failed:"; cat "$work/check-$t.log"; exit 1; }
done
bash -c "$docker_prep"
n=$(bash -c "$docker_pull" | grep -c 'Pull complete' || true)
[ "$n" = 5 ] || { log "docker pulled $n of 5 layers after its prepare"; exit 1; }

# --- 5. The benchmark --------------------------------------------------------
log "stores on $(findmnt -n -o SOURCE,FSTYPE,OPTIONS --target "$stores"); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
log "mode removal: each store removed just before its pull"
args=(-n skiff --prepare "$skiff_prep" "$skiff_pull"
  -n docker --prepare "$docker_prep" "$docker_pull")
[ "$with_podman" = 1 ] && args+=(-n podman --prepare "$podman_prep" "$podman_pull")
hyperfine --warmup "$warmup" --runs "$runs" --export-json "$result_json-removal.json" "${args[@]}"

log "mode fresh: each store at a path never used before"
# The removal mode's dockerd goes: a fresh one per pull takes its place.
stop_dockerd "$dockerd_pid"
dockerd_pid=
fresh() { printf '"$(cat %q)"' "$work/next-$1"; } # the never-used path, read at run time
args=(-n skiff --prepare "bash $(q "$work/next.sh") skiff"
  "$(q "$skiff") --root $(fresh skiff) pull $(q "$ref")"
  -n docker --prepare "bash $(q "$work/fresh-dockerd.sh")"
  "$(q "$docker_bin") -H unix://$work/fresh.sock pull $(q "$ref")"
  -n floor --prepare "bash $(q "$work/next.sh") floor" "bash $(q "$work/floor.sh")")
[ "$with_podman" = 1 ] && args+=(-n podman --prepare "bash $(q "$work/next.sh") podman"
  "bash $(q "$work/podman-fresh.sh")")
# Each fresh command once with its output shown on failure (as above).
for ((i = 0; i < ${#args[@]}; i += 5)); do
  bash -c "${args[i + 3]}"
  bash -c "${args[i + 4]}" >"$work/check-fresh-${args[i + 1]}.log" 2>&1 ||
    { log "${args[i + 1]} fresh pull failed:"; cat "$work/check-fresh-${args[i + 1]}.log"; exit 1; }
done
hyperfine --warmup "$warmup" --runs "$runs" --export-json "$result_json-fresh.json" "${args[@]}"

python3 - "$result_json" "$cache/sizes.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[2]))
print()
print(f"image: 5 layers, {s['compressed'] / 1e6:.1f} MB compressed, {s['unpacked'] / 1e6:.1f} MB unpacked (tar)")
for mode in ("removal", "fresh"):
    d = {r["command"]: r for r in json.load(open(f"{sys.argv[1]}-{mode}.json"))["results"]}
    print(f"-- {mode}")
    for k, r in d.items():
        print(f"{k:7} median {r['median']:6.3f} s  mean {r['mean']:6.3f} s  min {r['min']:6.3f} s  max {r['max']:6.3f} s")
    med = {k: v["median"] for k, v in d.items()}
    print(f"docker / skiff = {med['docker'] / med['skiff']:.2f}  (target >= 3)")
    if "podman" in med:
        print(f"podman / skiff = {med['podman'] / med['skiff']:.2f}")
    if "floor" in med:
        print(f"skiff / floor  = {med['skiff'] / med['floor']:.2f}  (target <= 1.5)")
print(f"results: {sys.argv[1]}-removal.json, {sys.argv[1]}-fresh.json")
PY
