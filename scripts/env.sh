# Sourced by the scripts: one cargo target dir outside the clone, reused
# between runs (so a fresh clone in CI rebuilds only what changed).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/diego-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# No incremental cache for the scripted builds: each clone path gets its own
# (gigabytes per clone), and a CI clone is built once, not edited.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
