# Sourced by the test script: starts a PgBouncer in transaction pooling
# mode in front of the server DATABASE_URL names (trusting its user, as the
# throwaway server does), and exports MQ_PGBOUNCER_URL (the same server and
# user, through PgBouncer; the database name is the caller's to choose),
# and MQ_PGBOUNCER_TLS_CA (the CA of the certificate it offers clients
# that ask for TLS), unless MQ_PGBOUNCER_URL is set already. PgBouncer is installed with
# apt-get when missing and this runs as root; it is stopped when the
# calling script exits.
#
#   source scripts/pgbouncer.sh; start_pgbouncer
#
# Every database is served (`* =`), so the tests' fresh databases need no
# configuration. The pool is smaller than the clients that use it, so that
# clients really do share server connections between transactions.

find_pgbouncer() {
    command -v pgbouncer 2>/dev/null || { [ -x /usr/sbin/pgbouncer ] && echo /usr/sbin/pgbouncer; }
}

start_pgbouncer() {
    if [ -n "${MQ_PGBOUNCER_URL:-}" ]; then
        echo "Using the PgBouncer at MQ_PGBOUNCER_URL." >&2
        return 0
    fi
    local bin
    bin=$(find_pgbouncer || true)
    if [ -z "$bin" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "PgBouncer is not installed; installing it with apt-get..." >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q pgbouncer >&2 ||
            { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q pgbouncer >&2; }
        bin=$(find_pgbouncer || true)
    fi
    if [ -z "$bin" ]; then
        echo "error: PgBouncer is not installed and could not be installed; install pgbouncer" >&2
        return 1
    fi
    # The server's host (or socket directory), port and user.
    local host port_pg user
    read -r host port_pg user < <(python3 - "$DATABASE_URL" <<'PY'
import sys, urllib.parse
url = urllib.parse.urlsplit(sys.argv[1])
query = urllib.parse.parse_qs(url.query)
host = query.get("host", [url.hostname or "localhost"])[0]
port = query.get("port", [str(url.port or 5432)])[0]
print(host, port, urllib.parse.unquote(url.username or "postgres"))
PY
)
    PGBOUNCER_TMP=$(mktemp -d "${TMPDIR:-/tmp}/mq-pgbouncer.XXXXXX")
    chmod 755 "$PGBOUNCER_TMP"
    local as_pg=()
    if [ "$(id -u)" = 0 ]; then
        # PgBouncer refuses to run as root.
        chown postgres "$PGBOUNCER_TMP"
        as_pg=(runuser -u postgres --)
    fi
    # TLS for clients that ask (sslmode=require and up), with a certificate
    # for 127.0.0.1 signed by a throwaway CA: the CLI's TLS test makes a
    # real handshake here and verifies it (MQ_PGBOUNCER_TLS_CA).
    if ! command -v openssl >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q openssl >&2 ||
            { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q openssl >&2; }
    fi
    (
        cd "$PGBOUNCER_TMP" &&
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=mq test CA" \
            -keyout ca.key -out ca.crt &&
        openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout server.key -out server.csr &&
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' >server.ext &&
        openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
            -extfile server.ext -out server.crt
    ) >"$PGBOUNCER_TMP/openssl.log" 2>&1 ||
        { cat "$PGBOUNCER_TMP/openssl.log" >&2; echo "error: could not make a TLS certificate with openssl" >&2; return 1; }
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    cat >"$PGBOUNCER_TMP/pgbouncer.ini" <<INI
[databases]
* = host=$host port=$port_pg

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $PGBOUNCER_TMP/users.txt
pool_mode = transaction
default_pool_size = 8
max_client_conn = 1000
max_db_connections = 0
; sqlx sends extra_float_digits at start-up; PgBouncer passes on only
; what it knows.
ignore_startup_parameters = extra_float_digits
client_tls_sslmode = allow
client_tls_key_file = $PGBOUNCER_TMP/server.key
client_tls_cert_file = $PGBOUNCER_TMP/server.crt
logfile = $PGBOUNCER_TMP/pgbouncer.log
pidfile = $PGBOUNCER_TMP/pgbouncer.pid
INI
    echo "\"$user\" \"\"" >"$PGBOUNCER_TMP/users.txt"
    chown -R "$(stat -c %U "$PGBOUNCER_TMP")" "$PGBOUNCER_TMP"
    "${as_pg[@]}" "$bin" -d "$PGBOUNCER_TMP/pgbouncer.ini" >&2 ||
        { cat "$PGBOUNCER_TMP/pgbouncer.log" >&2; return 1; }
    local tries=0
    until pg_isready -q -h 127.0.0.1 -p "$port" -d postgres; do
        tries=$((tries + 1))
        if [ $tries -gt 50 ]; then
            echo "error: PgBouncer did not start:" >&2
            cat "$PGBOUNCER_TMP/pgbouncer.log" >&2
            return 1
        fi
        sleep 0.1
    done
    PGBOUNCER_STOP=("${as_pg[@]}" kill)
    export MQ_PGBOUNCER_URL="postgres://$user@127.0.0.1:$port/postgres"
    export MQ_PGBOUNCER_TLS_CA="$PGBOUNCER_TMP/ca.crt"
    echo "Started PgBouncer ($("$bin" --version | head -1)) in transaction pooling mode at 127.0.0.1:$port." >&2
}

stop_pgbouncer() {
    if [ -n "${PGBOUNCER_TMP:-}" ]; then
        [ -f "$PGBOUNCER_TMP/pgbouncer.pid" ] &&
            "${PGBOUNCER_STOP[@]}" "$(cat "$PGBOUNCER_TMP/pgbouncer.pid")" 2>/dev/null || true
        rm -rf "$PGBOUNCER_TMP"
        PGBOUNCER_TMP=
    fi
}
