#!/usr/bin/env bash
# An isolated PostgreSQL cluster for local runs and tests (initdb + pg_ctl, TCP on loopback only).
#   scripts/postgres.sh start   -> prints DATABASE_URL=postgresql://postgres@127.0.0.1:PORT/cbec
#   scripts/postgres.sh stop    -> fast shutdown and wait
#   scripts/postgres.sh status  -> exit 0 and the URL when running, exit 3 when not
#   scripts/postgres.sh restart -> fast shutdown and start again: same port, same data (a fault test)
# Env: CBEC_PG_PORT (default 15432; the next free port is used when taken), CBEC_STACK_DIR,
#      CBEC_PG_KEEP_DATA=1 keeps an existing cluster (default: a fresh cluster per start),
#      CBEC_PG_DURABLE=1 keeps fsync on (default off: a throwaway test cluster).
# TLS mode (a production-like server; the plain mode above is unchanged when these are unset):
#      CBEC_PG_TLS_CERT / CBEC_PG_TLS_KEY: the server's certificate and key (PEM; copied into the data
#      directory, key mode 0600); the server then has ssl=on and pg_hba accepts TLS connections only
#      (hostssl, scram-sha-256; hostnossl rejected). CBEC_PG_PASSWORD (required in TLS mode) is the
#      postgres user's password. CBEC_PG_TLS_CA: the CA file clients check the server with; the URL then
#      says sslmode=verify-full&sslrootcert=<it> and names the host `localhost` (in the certificate).
# Postgres refuses to run as root, so under root the cluster runs as the `postgres` system user.
set -euo pipefail
# shellcheck source=scripts/_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"

RUN_DIR="$CBEC_STACK_DIR/postgres"
ENV_FILE="$RUN_DIR/postgres.env"
LOC_FILE="$RUN_DIR/pgdata.location"

pg_bin() {
    local dir
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    if [ -z "$dir" ] || [ ! -x "$dir/initdb" ]; then
        apt_ensure postgresql >/dev/null || die "PostgreSQL server binaries not found and cannot be installed"
        dir="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
    fi
    echo "$dir"
}

as_owner() {  # runs a command as the cluster owner
    if is_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

ensure_owner() {
    is_root || return 0
    id postgres >/dev/null 2>&1 && return 0
    log "creating the postgres system user"
    useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres
}

# The data directory: .stack/pgdata, unless the cluster owner cannot reach it (e.g. a clone under
# /root when running as root): then a directory under /tmp named after the stack dir.
data_dir() {
    local want="$CBEC_STACK_DIR/pgdata"
    if is_root && ! runuser -u postgres -- test -x "$CBEC_STACK_DIR"; then
        want="${TMPDIR:-/tmp}/cbec-pgdata-$(printf '%s' "$CBEC_STACK_DIR" | cksum | cut -d' ' -f1)"
    fi
    echo "$want"
}

running_pid() {
    local dir pid
    [ -f "$LOC_FILE" ] || return 1
    dir="$(cat "$LOC_FILE")"
    [ -f "$dir/postmaster.pid" ] || return 1
    pid="$(head -n 1 "$dir/postmaster.pid")"
    pid_alive "$pid" && echo "$pid"
}

tls_mode() { [ -n "${CBEC_PG_TLS_CERT:-}" ] || [ -n "${CBEC_PG_TLS_KEY:-}" ]; }

# TLS mode: the server's certificate and key in the data directory, ssl=on, TLS-only password logins.
setup_tls() {
    local dir="$1"
    install -m 0644 "$CBEC_PG_TLS_CERT" "$dir/server.crt"
    install -m 0600 "$CBEC_PG_TLS_KEY" "$dir/server.key"
    is_root && chown postgres: "$dir/server.crt" "$dir/server.key"
    cat > "$dir/pg_hba.conf" <<'HBA'
# TLS mode (scripts/postgres.sh): password logins over TLS only
hostnossl all all 0.0.0.0/0 reject
hostssl   all all 127.0.0.1/32 scram-sha-256
HBA
    is_root && chown postgres: "$dir/pg_hba.conf"
}

start() {
    local bin dir port pid url
    if pid="$(running_pid)"; then
        log "already running (pid $pid)"
        cat "$ENV_FILE"
        return 0
    fi
    bin="$(pg_bin)"
    ensure_owner
    mkdir -p "$RUN_DIR"
    dir="$(data_dir)"
    echo "$dir" > "$LOC_FILE"
    local auth=(--auth=trust) pwfile="" tls_opts=""
    if tls_mode; then  # checked before any cluster is made
        [ -r "${CBEC_PG_TLS_CERT:-}" ] && [ -r "${CBEC_PG_TLS_KEY:-}" ] \
            || die "TLS mode needs both CBEC_PG_TLS_CERT and CBEC_PG_TLS_KEY (readable PEM files)"
        [ -n "${CBEC_PG_PASSWORD:-}" ] || die "TLS mode needs CBEC_PG_PASSWORD (logins are password-only)"
    fi
    if [ "${CBEC_PG_KEEP_DATA:-0}" != 1 ] || [ ! -f "$dir/PG_VERSION" ]; then
        rm -rf "$dir"
        mkdir -p "$dir"
        is_root && chown postgres: "$dir"
        chmod 700 "$dir"
        if tls_mode; then
            pwfile="$(mktemp)"
            printf '%s\n' "${CBEC_PG_PASSWORD:?TLS mode needs CBEC_PG_PASSWORD}" > "$pwfile"
            is_root && chown postgres: "$pwfile"
            auth=(--auth=scram-sha-256 "--pwfile=$pwfile")
        fi
        as_owner "$bin/initdb" -D "$dir" -U postgres "${auth[@]}" --encoding=UTF8 --locale=C.UTF-8 \
            > "$RUN_DIR/initdb.log" 2>&1 || { rm -f "$pwfile"; cat "$RUN_DIR/initdb.log" >&2; die "initdb failed"; }
        rm -f "$pwfile"
    fi
    if tls_mode; then
        setup_tls "$dir"
        tls_opts="-c ssl=on -c ssl_min_protocol_version=TLSv1.2"
        export PGPASSWORD="$CBEC_PG_PASSWORD" PGSSLMODE=require
    fi
    local fsync=off attempt
    [ "${CBEC_PG_DURABLE:-0}" = 1 ] && fsync=on
    port="${CBEC_PG_PORT:-15432}"
    # A port found free can be taken by a parallel run before the server binds it: then try further up.
    for attempt in 1 2 3 4; do
        port="$(free_port "$port")"
        # TCP on loopback only; no unix socket (its path could exceed the 107-byte limit).
        if as_owner "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start -o \
            "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=200 \
             -c fsync=$fsync -c synchronous_commit=$fsync -c full_page_writes=$fsync $tls_opts" >&2; then
            break
        fi
        if [ "$attempt" -eq 4 ] || ! grep -q "could not bind\|Address already in use" "$dir/server.log"; then
            tail -n 30 "$dir/server.log" >&2 || true
            die "Postgres did not start"
        fi
        log "port $port taken meanwhile (attempt $attempt): retrying on another port"
        port=$((port + 1))
    done
    if ! "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc \
        "select 1 from pg_database where datname = 'cbec'" | grep -q 1; then
        "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qc "create database cbec" >&2 \
            || die "could not create database cbec"
    fi
    url="postgresql://postgres@127.0.0.1:$port/cbec"
    if tls_mode; then
        url="postgresql://postgres:$(url_quote "$CBEC_PG_PASSWORD")@localhost:$port/cbec?sslmode=require"
        [ -n "${CBEC_PG_TLS_CA:-}" ] \
            && url="${url%%\?*}?sslmode=verify-full&sslrootcert=$(url_quote "$CBEC_PG_TLS_CA" /)"
    fi
    echo "DATABASE_URL=$url" > "$ENV_FILE"
    log "Postgres ready on 127.0.0.1:$port (data $dir)"
    cat "$ENV_FILE"
}

url_quote() {  # url_quote VALUE [SAFE]: percent-encodes one URL component (SAFE characters kept)
    "$(helper_python)" -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=sys.argv[2]))' "$1" "${2:-}"
}

stop() {
    local dir
    if running_pid >/dev/null; then
        dir="$(cat "$LOC_FILE")"
        as_owner "$(pg_bin)/pg_ctl" -D "$dir" -m fast -w -t 60 stop >&2
    else
        log "not running"
    fi
    rm -f "$ENV_FILE"
}

# The same cluster again (port, options and data kept): pg_ctl restarts with the options it started with.
restart() {
    local dir
    running_pid >/dev/null || die "not running: nothing to restart"
    dir="$(cat "$LOC_FILE")"
    as_owner "$(pg_bin)/pg_ctl" -D "$dir" -l "$dir/server.log" -m fast -w -t 60 restart >&2 \
        || { tail -n 30 "$dir/server.log" >&2 || true; die "Postgres did not come back"; }
    log "Postgres ready again (data $dir)"
    cat "$ENV_FILE"
}

case "${1:-}" in
    restart) restart ;;
    *) server_main "$@" ;;
esac
