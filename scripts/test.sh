#!/usr/bin/env bash
# Sets up the machine and runs every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
. scripts/env.sh
cargo test --workspace --no-fail-fast 2>&1 | tee /tmp/diego-test.log
