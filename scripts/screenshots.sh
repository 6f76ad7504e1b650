#!/usr/bin/env bash
# Takes the README's screenshots of the dashboard: runs its browser test
# (headless Chromium against a throwaway PostgreSQL, unless DATABASE_URL is
# set) with each page saved to docs/screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/throwaway-pg.sh
source scripts/browser.sh
find_or_install_chromedriver
start_throwaway_pg
trap stop_throwaway_pg EXIT
mkdir -p docs/screenshots
MQ_SCREENSHOTS_DIR=$PWD/docs/screenshots cargo test -p mq-dashboard --test browser
ls -l docs/screenshots
