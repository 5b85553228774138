#!/usr/bin/env bash
# Sets up the machine and runs every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
. scripts/env.sh
# the TiKV store backend is behind a feature (own gRPC stack): build and lint it here
cargo clippy -p diego-store-tikv --features tikv --all-targets --no-deps -- -D warnings
cargo test --workspace --no-fail-fast 2>&1 | tee /tmp/diego-test.log
