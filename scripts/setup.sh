#!/usr/bin/env bash
# Installs what diego-rs needs on a fresh Debian machine. Idempotent: it
# installs only what is missing, so running it again is cheap.
set -euo pipefail

# Debian packages: protoc for the gRPC code generation, runc + busybox for
# containers, the CNI plugins and iptables for container networking, curl
# for the demo.
PKGS=(protobuf-compiler runc busybox-static containernetworking-plugins iptables iproute2 curl)

missing=()
for p in "${PKGS[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found; install Rust with rustup first" >&2
  exit 1
fi
echo "setup: ok"
