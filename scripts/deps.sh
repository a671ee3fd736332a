#!/usr/bin/env bash
# Install what building and testing skiff needs on Debian 12, as root.
# Usage: scripts/deps.sh [build|test]
set -euo pipefail
want=${1:-build}
pkgs=(build-essential pkg-config libseccomp-dev libssl-dev busybox-static iproute2 nftables curl python3)
if [ "$want" = test ]; then
  # Peers for the drop-in tests: podman (with conmon and runc), containerd (ctr).
  pkgs+=(runc podman containerd uidmap docker-registry apache2-utils skopeo docker.io docker-compose python3-docker python3-websocket)
  # The CRI tier: containerd's CRI plugin with CNI plugins; protoc builds its gRPC client.
  pkgs+=(containernetworking-plugins protobuf-compiler)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q "${missing[@]}" >/dev/null
fi
if ! command -v cargo >/dev/null; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then export PATH="$HOME/.cargo/bin:$PATH"; else
    echo "cargo is not installed: install a Rust toolchain (rustup) first" >&2; exit 1; fi
fi
if [ "$want" = test ]; then
  rustup component add rustfmt clippy >/dev/null 2>&1 || true
fi
