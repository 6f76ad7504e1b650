#!/usr/bin/env bash
# The whole test suite: formatting, lints, the dependency rule, and every
# test against a real PostgreSQL (a throwaway one unless DATABASE_URL is set).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/throwaway-pg.sh
source scripts/pgbouncer.sh
source scripts/browser.sh
# One build of each combination, no incremental caches: CI builds from
# scratch, and incremental data would double the disk it needs.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}
# The reliability suite gets the server the caller gave, or starts its own
# durable one (the tests' server runs with fsync off, for speed).
callers_database_url=${DATABASE_URL:-}

step() { printf '\n== %s\n' "$*" >&2; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "clippy, every feature combination CI builds"
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy -p mq --all-targets --no-default-features -- -D warnings
cargo clippy -p mq --all-targets --no-default-features --features driver-tokio-postgres,runtime-tokio,macros -- -D warnings
cargo clippy -p mq --all-targets --no-default-features --features driver-sqlx,runtime-async-std,macros -- -D warnings
cargo clippy -p mq --all-targets --no-default-features --features driver-tokio-postgres,runtime-async-std,macros -- -D warnings
# --all-features includes otel (its test, tests/otel.rs, needs it).
cargo clippy -p mq --all-targets --all-features -- -D warnings

step "docs: no rustdoc warning (broken or private links...) in any feature combination CI builds"
RUSTDOCFLAGS="-D warnings" cargo doc -p mq --no-deps
RUSTDOCFLAGS="-D warnings" cargo doc -p mq --no-deps --no-default-features
RUSTDOCFLAGS="-D warnings" cargo doc -p mq --no-deps --no-default-features --features driver-tokio-postgres,runtime-tokio,macros
RUSTDOCFLAGS="-D warnings" cargo doc -p mq --no-deps --no-default-features --features driver-sqlx,runtime-async-std,macros
RUSTDOCFLAGS="-D warnings" cargo doc -p mq --no-deps --no-default-features --features driver-tokio-postgres,runtime-async-std,macros
RUSTDOCFLAGS="-D warnings" cargo doc -p mq --no-deps --all-features
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features

step "mq-core depends on no runtime and no database crate (with and without its otel feature)"
for features in "" "--features otel"; do
    # shellcheck disable=SC2086 # no features is no argument
    deps=$(cargo tree -p mq-core $features -e normal --prefix none --format '{p}' | cut -d' ' -f1 | sort -u)
    # Runtimes (tokio and its crates; async-std and the executors, reactor and
    # task crates under it; smol), database clients, and mq's own drivers and
    # runtimes.
    bad=$(echo "$deps" | grep -E '^(tokio.*|async-std|async-global-executor|async-executor|async-io|async-task|blocking|smol|sqlx.*|postgres.*|deadpool.*|mq-(sqlx|tokio-postgres|runtime-.*))$' || true)
    if [ -n "$bad" ]; then
        echo "error: mq-core ${features:-without features} depends on: $bad" >&2
        exit 1
    fi
    echo "ok: mq-core ${features:-without features}: $(echo "$deps" | wc -l) crates, none of them a runtime or a database driver"
done

step "the drivers depend on no mq runtime: the mq crate pairs a driver with one"
for driver in mq-sqlx mq-tokio-postgres; do
    runtimes=$(cargo tree -p "$driver" --all-features -e normal --prefix none --format '{p}' \
        | cut -d' ' -f1 | grep -E '^mq-runtime-' | sort -u || true)
    if [ -n "$runtimes" ]; then
        echo "error: $driver depends on: $runtimes" >&2
        exit 1
    fi
done
echo "ok: mq-sqlx and mq-tokio-postgres depend on no mq-runtime crate"

# The dashboard's browser tests drive headless Chromium.
find_or_install_chromedriver
start_throwaway_pg
# The end-to-end and CLI tests run again through PgBouncer in transaction
# pooling mode.
start_pgbouncer
trap 'stop_pgbouncer; stop_throwaway_pg' EXIT

step "tests (unit, conformance, end to end (also through PgBouncer), doctests)"
cargo test --workspace --all-features --no-fail-fast

step "benchmark smoke test: every scenario and system at tiny sizes (fails only on a lost, duplicated or misordered job, or an error)"
cargo run -p mq-bench -- --quick --yes --database-url "$DATABASE_URL"

step "reliability suite, short variant: crashes, restarts, lost notifications, pool exhaustion, ordering, bad input, migrations, a 1-minute soak"
if [ -n "$callers_database_url" ]; then
    DATABASE_URL=$callers_database_url scripts/reliability.sh --short
else
    env -u DATABASE_URL -u MQ_PG_CTL scripts/reliability.sh --short
fi

step "examples: every one built; those that need no database run (their tests, and the README's, ran with the tests above)"
cargo build --examples --all-features
cargo run --quiet --example testing_jobs --all-features
cargo run --quiet --example counting_backend --all-features
