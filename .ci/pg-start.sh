# shellcheck shell=bash
# Throwaway PostgreSQL cluster for the test suite (used by .ci/run).
#
# Developers can use it locally too, to run the PostgreSQL half of the suite:
#
#     source .ci/pg-start.sh && reviewops_pg_start   # exports REVIEWOPS_TEST_PG_URL
#     python -m pytest                               # sqlite + postgres params
#     reviewops_pg_stop                              # stops the server, deletes its files
#
# or, without sourcing, `bash .ci/pg-start.sh` starts a cluster, prints the
# `export REVIEWOPS_TEST_PG_URL=…` line and the command that stops it.
#
# What it does: initdb in a fresh temp dir (owned by the `postgres` user when run
# as root, because the server refuses to run as root), a server listening only on
# 127.0.0.1 on the first free port from $REVIEWOPS_PG_PORT (default 54329), its
# unix socket inside the temp dir, a login role with a random password and
# CREATEDB (tests/conftest.py creates one database per test), and one database.
# Durability is switched off (fsync=off …): this cluster is thrown away after the
# run, and the tests check the kit's locking, not PostgreSQL's disk writes.
#
# Needs PostgreSQL server binaries (Debian: apt-get install postgresql); the
# newest /usr/lib/postgresql/*/bin is used, or $REVIEWOPS_PG_BIN if set.

reviewops_pg_bin() {
    if [[ -n "${REVIEWOPS_PG_BIN:-}" ]]; then
        printf '%s\n' "$REVIEWOPS_PG_BIN"
        return 0
    fi
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [[ -z "$d" || ! -x "$d/initdb" ]]; then
        if command -v initdb >/dev/null 2>&1; then
            dirname "$(command -v initdb)"
            return 0
        fi
        return 1
    fi
    printf '%s\n' "$d"
}

# Run a command as the cluster owner: `postgres` when we are root, else ourselves.
_reviewops_pg_as_owner() {
    if [[ "$(id -u)" == 0 ]]; then
        if command -v runuser >/dev/null 2>&1; then
            runuser -u postgres -- "$@"
        else
            su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
        fi
    else
        "$@"
    fi
}

_reviewops_pg_free_port() {
    local py
    py=$(command -v python3 || command -v python) || { echo "pg-start: python not found" >&2; return 1; }
    "$py" - "$1" <<'PY'
import socket, sys
start = int(sys.argv[1])
for port in range(start, start + 200):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
    print(port)
    break
else:
    sys.exit("pg-start: no free TCP port on 127.0.0.1 from %d" % start)
PY
}

reviewops_pg_start() {
    local bin
    if ! bin=$(reviewops_pg_bin); then
        echo "pg-start: PostgreSQL server binaries not found (apt-get install postgresql, or set REVIEWOPS_PG_BIN)" >&2
        return 1
    fi
    if [[ "$(id -u)" == 0 ]] && ! id postgres >/dev/null 2>&1; then
        useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin postgres
    fi

    REVIEWOPS_PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/reviewops-pg.XXXXXX")
    export REVIEWOPS_PG_DIR REVIEWOPS_PG_BIN_DIR="$bin"
    mkdir -p "$REVIEWOPS_PG_DIR/sock"
    if [[ "$(id -u)" == 0 ]]; then
        chown -R postgres: "$REVIEWOPS_PG_DIR"
    fi
    chmod 700 "$REVIEWOPS_PG_DIR"

    local port user db pass
    port=$(_reviewops_pg_free_port "${REVIEWOPS_PG_PORT:-54329}") || return 1
    user=reviewops_ci
    db=reviewops_ci
    pass=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')

    if ! _reviewops_pg_as_owner "$bin/initdb" -D "$REVIEWOPS_PG_DIR/data" -U postgres \
            --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 --no-sync \
            >"$REVIEWOPS_PG_DIR/initdb.log" 2>&1; then
        cat "$REVIEWOPS_PG_DIR/initdb.log" >&2
        echo "pg-start: initdb failed" >&2
        return 1
    fi
    # Only loopback TCP and a private socket; fast and disposable.
    _reviewops_pg_as_owner tee -a "$REVIEWOPS_PG_DIR/data/postgresql.conf" >/dev/null <<CONF

# --- reviewops test cluster (.ci/pg-start.sh) ---
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$REVIEWOPS_PG_DIR/sock'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
timezone = 'UTC'
log_min_messages = warning
# autovacuum workers belong to the superuser: DROP DATABASE ... WITH (FORCE) by the
# test role cannot end them, and short-lived test databases never need vacuuming
autovacuum = off
CONF
    if ! _reviewops_pg_as_owner "$bin/pg_ctl" -D "$REVIEWOPS_PG_DIR/data" -l "$REVIEWOPS_PG_DIR/server.log" \
            -w -t 60 start >/dev/null; then
        cat "$REVIEWOPS_PG_DIR/server.log" >&2 || true
        echo "pg-start: the server did not start" >&2
        return 1
    fi
    if ! "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$REVIEWOPS_PG_DIR/sock" -p "$port" -U postgres -d postgres \
            -c "CREATE ROLE $user LOGIN CREATEDB PASSWORD '$pass'" \
            -c "CREATE DATABASE $db OWNER $user" >/dev/null; then
        echo "pg-start: could not create the test role/database" >&2
        reviewops_pg_stop
        return 1
    fi
    export REVIEWOPS_PG_PORT_USED="$port"
    export REVIEWOPS_TEST_PG_URL="postgresql+psycopg://$user:$pass@127.0.0.1:$port/$db"
    echo "pg-start: PostgreSQL $("$bin/pg_ctl" --version | awk '{print $3}') on 127.0.0.1:$port (data in $REVIEWOPS_PG_DIR)" >&2
}

reviewops_pg_stop() {
    local dir="${REVIEWOPS_PG_DIR:-}" bin="${REVIEWOPS_PG_BIN_DIR:-}"
    [[ -n "$dir" && -d "$dir" ]] || return 0
    if [[ -f "$dir/data/postmaster.pid" ]]; then
        _reviewops_pg_as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    unset REVIEWOPS_PG_DIR REVIEWOPS_TEST_PG_URL
}

# Executed rather than sourced: start a cluster and tell the caller how to use it.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -euo pipefail
    reviewops_pg_start
    echo "export REVIEWOPS_TEST_PG_URL='$REVIEWOPS_TEST_PG_URL'"
    echo "# stop with: REVIEWOPS_PG_DIR='$REVIEWOPS_PG_DIR' REVIEWOPS_PG_BIN_DIR='$REVIEWOPS_PG_BIN_DIR' bash -c 'source .ci/pg-start.sh && reviewops_pg_stop'"
fi
