#!/usr/bin/env bash
# Installs what diego-rs needs on a fresh Debian machine. Idempotent: it
# installs only what is missing, so running it again is cheap.
set -euo pipefail

# Debian packages: protoc for the gRPC code generation, runc + busybox for
# containers, the CNI plugins and iptables for container networking, curl
# for the demo, etcd-server for the etcd store backend's tests.
PKGS=(protobuf-compiler etcd-server runc busybox-static containernetworking-plugins iptables iproute2 curl)

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
# WASM guests (lifecycles-wasm/guests, plugins/) build for wasm32-wasip2; the
# host crate's tests build them, so the target must be installed.
if command -v rustup >/dev/null 2>&1; then
  rustup target list --installed | grep -qx wasm32-wasip2 \
    || rustup target add wasm32-wasip2
fi
# The Go compatibility tests import the real BBS client; fetch it ahead of
# time when Go is installed (a failure is reported, not fatal: the Rust test
# that runs them says why it skipped).
if command -v go >/dev/null 2>&1; then
  (cd "$(dirname "$0")/../tests/compat-go" && GOFLAGS=-mod=mod go mod download 2>/dev/null) \
    || echo "setup: note: the go module proxy does not serve code.cloudfoundry.org/bbs here; the go compatibility test will be skipped" >&2
fi
echo "setup: ok"
