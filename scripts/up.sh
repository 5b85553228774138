#!/usr/bin/env bash
# Sets up the machine, starts a local cluster (`diego up`: the control plane
# on the embedded store plus two cells running real runc containers) and
# runs a short demo on it. Ctrl-C stops everything and cleans up.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
. scripts/env.sh
cargo build --release -p diego
DIEGO="$CARGO_TARGET_DIR/release/diego"
# The wasm healthcheck guest: cells run LRP health checks through it on the host
# (ADR 0009); without it they fall back to native checks and say so in the log.
# The builder and launcher are what `diego push` stages and launches apps with.
if (cd lifecycles-wasm/guests && CARGO_TARGET_DIR="$CARGO_TARGET_DIR/wasm-guests" \
    cargo build --release --target wasm32-wasip2 -p diego-healthcheck -p diego-builder -p diego-launcher); then
  export DIEGO_HEALTHCHECK_WASM="$CARGO_TARGET_DIR/wasm-guests/wasm32-wasip2/release/diego_healthcheck.wasm"
fi
export DIEGO_API="http://127.0.0.1:8889"
DATA_DIR="${DIEGO_DATA_DIR:-$PWD/.data}"
[ "$(id -u)" -eq 0 ] || { echo "diego up runs containers with runc: run as root (sudo $0)" >&2; exit 1; }

"$DIEGO" up --data-dir "$DATA_DIR" --listen 127.0.0.1:8889 &
UP=$!
trap 'kill -INT $UP 2>/dev/null; wait $UP 2>/dev/null' EXIT INT TERM
for _ in $(seq 1 100); do "$DIEGO" ping >/dev/null 2>&1 && break; sleep 0.2; done

echo
echo "== demo 1: a one-off task (examples/task-echo.json)"
"$DIEGO" task delete hello-task >/dev/null 2>&1 || true
"$DIEGO" task create -f examples/task-echo.json --wait -o table || true
echo
echo "== demo 2: an LRP with 3 busybox httpd instances (examples/lrp-httpd.json)"
"$DIEGO" lrp delete hello-web >/dev/null 2>&1 || true
sleep 1
"$DIEGO" lrp create -f examples/lrp-httpd.json --wait -o table || true
echo
for addr in $("$DIEGO" actual list --process-guid hello-web -o json | sed -n 's/.*"address":"\([^"]*\)".*"host_port":\([0-9]*\).*/\1:\2/p'); do
  echo "curl http://$addr/ -> $(curl -s --max-time 2 "http://$addr/")"
done
cat <<'MSG'

Look around (in another terminal, with DIEGO_API=http://127.0.0.1:8889):
  diego lrp list            diego actual list         diego cells
  diego task list           diego events              diego why lrp hello-web 0
  diego lrp scale hello-web 5
MSG
echo "The binary is $DIEGO. Ctrl-C stops the cluster."
wait $UP
