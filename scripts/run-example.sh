#!/usr/bin/env bash
# Runs an example worker against a throwaway PostgreSQL (or DATABASE_URL):
#   scripts/run-example.sh [example]     (default: quickstart)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/throwaway-pg.sh
example="${1:-quickstart}"
shift || true
cargo build --quiet --example "$example" --all-features
start_throwaway_pg
cargo run --quiet --example "$example" --all-features -- "$@"
