#!/usr/bin/env bash
# Installs what diego-rs needs on a fresh Debian machine. Idempotent: it
# installs only what is missing, so running it again is cheap.
set -euo pipefail

# Debian packages: protoc for the gRPC code generation, runc + busybox for
# containers, the CNI plugins and iptables for container networking, curl
# for the demo, etcd-server for the etcd store backend's tests, nftables for
# the portmap plugin's nftables backend (ADR 0019), crun as the faster OCI
# runtime cells prefer to runc (ADR 0025).
PKGS=(protobuf-compiler etcd-server runc crun busybox-static containernetworking-plugins iptables nftables iproute2 curl)

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

missing=()
for p in "${PKGS[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# crun refuses hybrid cgroup hosts (v1 hierarchies plus a cgroup2 mount) whose
# cgroup2 holds a controller, often hugetlb when no v1 hierarchy has it. Giving
# each such controller its own v1 hierarchy, as the others have, empties the
# cgroup2 list; a controller in use there cannot move, and cells then keep runc
# (the backend checks the same file, ADR 0025).
if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = tmpfs ] \
  && [ -n "$(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null)" ]; then
  for c in $(cat /sys/fs/cgroup/unified/cgroup.controllers); do
    { $SUDO mkdir -p "/sys/fs/cgroup/$c" && $SUDO mount -t cgroup -o "$c" cgroup "/sys/fs/cgroup/$c"; } 2>/dev/null \
      || echo "setup: note: cannot mount the $c cgroup v1 hierarchy; cells use runc instead of crun" >&2
  done
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
# Upstream CNI plugins the OCI backend prefers to Debian's (ADR 0019): portmap
# >= v1.5 has an nftables backend (one nft transaction per container instead of
# ~40 iptables runs). Built from the Go module proxy into a diego-owned dir that
# the backend searches before /usr/lib/cni; the VERSION file tells it which
# release it finds there. Without Go, or if the build fails, containers keep
# Debian's portmap with its iptables backend.
CNI_PLUGINS_VERSION=v1.6.2
CNI_PLUGINS_BUILT=(meta/portmap)
DIEGO_CNI_DIR="${DIEGO_CNI_DIR:-/usr/local/lib/diego/cni}"
cni_built() {
  [ "$(cat "$DIEGO_CNI_DIR/VERSION" 2>/dev/null)" = "$CNI_PLUGINS_VERSION" ] || return 1
  for p in "${CNI_PLUGINS_BUILT[@]}"; do [ -x "$DIEGO_CNI_DIR/${p##*/}" ] || return 1; done
}
GO=$(command -v go 2>/dev/null || true)
[ -n "$GO" ] || { [ -x /usr/local/go/bin/go ] && GO=/usr/local/go/bin/go; } || true
if cni_built; then
  :
elif [ -z "$GO" ]; then
  echo "setup: note: go not found; containers use debian's cni portmap (iptables backend)" >&2
else
  gobin=$(mktemp -d)
  ok=1
  for p in "${CNI_PLUGINS_BUILT[@]}"; do
    (cd / && GOBIN="$gobin" "$GO" install "github.com/containernetworking/plugins/plugins/$p@$CNI_PLUGINS_VERSION") >/dev/null 2>&1 || ok=0
  done
  # VERSION goes last: the backend trusts a plugin only once it names the release.
  if [ "$ok" = 1 ] && $SUDO mkdir -p "$DIEGO_CNI_DIR" \
    && $SUDO rm -f "$DIEGO_CNI_DIR/VERSION" \
    && $SUDO install -m 0755 "$gobin"/* "$DIEGO_CNI_DIR/" \
    && echo "$CNI_PLUGINS_VERSION" | $SUDO tee "$DIEGO_CNI_DIR/VERSION" >/dev/null; then
    echo "setup: built cni ${CNI_PLUGINS_BUILT[*]##*/} $CNI_PLUGINS_VERSION into $DIEGO_CNI_DIR"
  else
    echo "setup: note: could not build cni plugins $CNI_PLUGINS_VERSION; containers use debian's cni portmap (iptables backend)" >&2
  fi
  rm -rf "$gobin"
fi
echo "setup: ok"
