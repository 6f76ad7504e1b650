#!/usr/bin/env bash
# The reliability suite: worker crashes (SIGKILL), database restarts (fast
# and immediate), terminated LISTEN connections, pool exhaustion, ordered
# channels under crashes, bad input, concurrent migrations, a soak, and a
# one-second schedule whose leader is killed again and again (periodic
# jobs) and channel limits, on real worker processes and a real PostgreSQL; each scenario ends
# with a verdict (issue 6).
#
#   scripts/reliability.sh                    # the full run, about 50 minutes; writes RELIABILITY.md
#   scripts/reliability.sh --short            # the short variant of each scenario, a few minutes (CI)
#   scripts/reliability.sh --scenarios crash,restart --soak-minutes 5
#   scripts/reliability.sh --help
#
# It starts a throwaway PostgreSQL with PostgreSQL's default durable
# settings unless DATABASE_URL is set (then the
# restart scenario needs MQ_PG_CTL: the pg_ctl command line, with -D and
# -l, that controls that server; without it the scenario is skipped). The
# report goes to stdout, and for full runs to RELIABILITY.md (to
# $RELIABILITY_OUTPUT instead if set). The exit status is non-zero if any
# scenario fails.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/throwaway-pg.sh

short=
for arg in "$@"; do
    [ "$arg" = --short ] && short=1
done
output=${RELIABILITY_OUTPUT:-}
[ -z "$output" ] && [ -z "$short" ] && output=RELIABILITY.md

profile=()
[ -z "$short" ] && profile=(--release)
cargo build "${profile[@]}" -p mq-reliability >&2
bin="${CARGO_TARGET_DIR:-target}/$([ -z "$short" ] && echo release || echo debug)/mq-reliability"
case "${1:-}" in -h | --help | -V | --version) exec "$bin" "$@" ;; esac

# Durable settings (PostgreSQL's defaults): with synchronous_commit off, a
# server crash loses the last commits it acknowledged, spawns included, and
# the restart scenario would measure PostgreSQL's trade-off instead of mq.
start_throwaway_pg durable
args=("$@")
[ -n "$output" ] && args+=(--output "$output")
"$bin" --command-line "scripts/reliability.sh $*" "${args[@]}"
