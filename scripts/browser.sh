# Headless Chromium and its WebDriver server, for the dashboard's browser
# tests (mq-dashboard/tests/browser.rs): installs Debian's `chromium` and
# `chromium-driver` with apt-get when missing and this runs as root, and
# exports CHROMEDRIVER, the driver the tests start.
#
#   source scripts/browser.sh; find_or_install_chromedriver

find_chromedriver() {
    command -v chromedriver 2>/dev/null ||
        { [ -x /usr/bin/chromedriver ] && echo /usr/bin/chromedriver; }
}

find_or_install_chromedriver() {
    if [ -n "${CHROMEDRIVER:-}" ]; then
        echo "Using the chromedriver at CHROMEDRIVER." >&2
        return 0
    fi
    local bin
    bin=$(find_chromedriver || true)
    if { [ -z "$bin" ] || ! command -v chromium >/dev/null 2>&1; } &&
        [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "Chromium or its driver is not installed; installing them with apt-get..." >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >&2 ||
            { apt-get update -q >&2 &&
                DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >&2; }
        bin=$(find_chromedriver || true)
    fi
    if [ -z "$bin" ]; then
        echo "error: chromedriver is not installed and could not be installed; install chromium and chromium-driver" >&2
        return 1
    fi
    export CHROMEDRIVER=$bin
}
