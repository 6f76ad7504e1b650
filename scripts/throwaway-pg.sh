# Sourced by the scripts here: starts a throwaway PostgreSQL unless
# DATABASE_URL is already set, exports DATABASE_URL (and MQ_PG_CTL, the
# pg_ctl command line that restarts it), and stops and deletes
# the server when the calling script exits.
#
#   source scripts/throwaway-pg.sh; start_throwaway_pg [durable]
#
# The server listens on a Unix socket only, in a fresh directory. Pass
# "durable" to keep PostgreSQL's default fsync/synchronous_commit settings
# (the benchmark does); tests turn them off for speed.

find_pg_bin() {
    if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
        pg_config --bindir
        return
    fi
    local dir
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        [ -x "$dir/initdb" ] && { echo "$dir"; return; }
    done
    command -v initdb >/dev/null 2>&1 && dirname "$(command -v initdb)"
}

install_pg() {
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "PostgreSQL is not installed; installing it with apt-get..." >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2 ||
            { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2; }
    elif [ "$(id -u)" = 0 ] && command -v dnf >/dev/null 2>&1; then
        dnf install -y postgresql-server >&2
    fi
}

start_throwaway_pg() {
    if [ -n "${DATABASE_URL:-}" ]; then
        echo "Using the PostgreSQL server at DATABASE_URL." >&2
        return 0
    fi
    local bin
    bin=$(find_pg_bin)
    if [ -z "$bin" ]; then
        install_pg
        bin=$(find_pg_bin)
    fi
    if [ -z "$bin" ]; then
        echo "error: PostgreSQL (initdb, pg_ctl) is not installed and could not be installed." >&2
        echo "Install PostgreSQL 13 or newer with your package manager, or set DATABASE_URL" >&2
        echo "to a server where this user may create databases." >&2
        return 1
    fi

    PG_TMP=$(mktemp -d "${TMPDIR:-/tmp}/mq-pg.XXXXXX")
    chmod 755 "$PG_TMP"
    local as_pg=()
    if [ "$(id -u)" = 0 ]; then
        # PostgreSQL refuses to run as root: run it as the postgres user.
        id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
        chown postgres "$PG_TMP"
        as_pg=(runuser -u postgres --)
    fi
    local settings="-c listen_addresses='' -c unix_socket_directories=$PG_TMP -c max_connections=400"
    if [ "${1:-}" != durable ]; then
        settings="$settings -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    fi
    "${as_pg[@]}" "$bin/initdb" -D "$PG_TMP/data" -A trust -U postgres -E UTF8 --no-locale >"$PG_TMP/initdb.log" 2>&1 ||
        { cat "$PG_TMP/initdb.log" >&2; return 1; }
    "${as_pg[@]}" "$bin/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/server.log" -w -t 60 -o "$settings" start >/dev/null ||
        { cat "$PG_TMP/server.log" >&2; return 1; }
    PG_STOP=("${as_pg[@]}" "$bin/pg_ctl" -D "$PG_TMP/data" -m immediate stop)
    # How the reliability suite restarts this server.
    export MQ_PG_CTL="${as_pg[*]} $bin/pg_ctl -D $PG_TMP/data -l $PG_TMP/server.log"
    trap stop_throwaway_pg EXIT
    export DATABASE_URL="postgres://postgres@localhost/postgres?host=$PG_TMP"
    echo "Started a throwaway PostgreSQL ($("$bin/postgres" --version)) in $PG_TMP." >&2
}

stop_throwaway_pg() {
    if [ -n "${PG_TMP:-}" ]; then
        "${PG_STOP[@]}" >/dev/null 2>&1 || true
        rm -rf "$PG_TMP"
        PG_TMP=
    fi
}
