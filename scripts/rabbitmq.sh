#!/usr/bin/env bash
# A throw-away RabbitMQ node (Debian's rabbitmq-server) for local runs and tests: AMQP on loopback only,
# its own data dir, node name, Erlang cookie and epmd port, so it never meets the system's node (if any)
# or a parallel run's.
#   scripts/rabbitmq.sh start   -> prints CBEC_TEST_AMQP_URL=amqp://guest:guest@127.0.0.1:PORT/%2F
#   scripts/rabbitmq.sh stop    -> graceful stop (SIGTERM) and wait; its epmd is stopped too
#   scripts/rabbitmq.sh status  -> exit 0 and the URL when running, exit 3 when not
#   scripts/rabbitmq.sh restart -> stop and start again: same port, same data (durable queues survive)
# Env: CBEC_AMQP_PORT (default 16672; the next free ports are used for it, the Erlang distribution and epmd
#      when taken), CBEC_STACK_DIR, CBEC_RABBITMQ_START_TIMEOUT (seconds, default 90).
# The node runs as the calling user (the real script under /usr/lib/rabbitmq/bin, not the Debian wrapper
# that insists on root or the rabbitmq user); `guest` may connect because it connects from loopback.
set -euo pipefail
# shellcheck source=scripts/_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"

RUN_DIR="$CBEC_STACK_DIR/rabbitmq"
ENV_FILE="$RUN_DIR/rabbitmq.env"
PORTS_FILE="$RUN_DIR/ports"
LOG_FILE="$RUN_DIR/rabbitmq.out"
RMQ_BIN=/usr/lib/rabbitmq/bin
NODE="cbec-$(printf '%s' "$CBEC_STACK_DIR" | cksum | cut -d' ' -f1)@localhost"

ensure_rabbitmq() {
    [ -x "$RMQ_BIN/rabbitmq-server" ] && return 0
    apt_ensure rabbitmq-server || die "rabbitmq-server is not installed and cannot be installed"
    [ -x "$RMQ_BIN/rabbitmq-server" ] || die "rabbitmq-server installed but $RMQ_BIN/rabbitmq-server is missing"
}

node_env() {  # node_env AMQP_PORT DIST_PORT EPMD_PORT: the environment the server and its CLI tools share
    export HOME="$RUN_DIR/home"  # the Erlang cookie lives in $HOME/.erlang.cookie
    export RABBITMQ_NODENAME="$NODE" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$1"
    export RABBITMQ_DIST_PORT="$2" ERL_EPMD_PORT="$3" ERL_EPMD_ADDRESS=127.0.0.1
    export RABBITMQ_MNESIA_BASE="$RUN_DIR/mnesia" RABBITMQ_LOG_BASE="$RUN_DIR/log"
    export RABBITMQ_CONFIG_FILE="$RUN_DIR/rabbitmq" RABBITMQ_ADVANCED_CONFIG_FILE="$RUN_DIR/advanced.config"
    export RABBITMQ_ENABLED_PLUGINS_FILE="$RUN_DIR/enabled_plugins" RABBITMQ_PID_FILE="$RUN_DIR/rabbitmq.pid"
    export RABBITMQ_CONF_ENV_FILE="$RUN_DIR/rabbitmq-env.conf" RABBITMQ_USE_LONGNAME=false
}

running_pid() {
    local pid
    [ -f "$RUN_DIR/rabbitmq.pid" ] || return 1
    pid="$(cat "$RUN_DIR/rabbitmq.pid" 2>/dev/null)"
    pid_alive "$pid" && grep -q "beam" "/proc/$pid/cmdline" 2>/dev/null && echo "$pid"
}

write_config() {  # write_config AMQP_PORT
    mkdir -p "$RUN_DIR/home" "$RUN_DIR/log" "$RUN_DIR/mnesia"
    if [ ! -f "$RUN_DIR/home/.erlang.cookie" ]; then
        (umask 077; od -An -N20 -tx1 /dev/urandom | tr -d ' \n' | tr 'a-f' 'A-F' > "$RUN_DIR/home/.erlang.cookie")
    fi
    chmod 400 "$RUN_DIR/home/.erlang.cookie"
    cat > "$RUN_DIR/rabbitmq.conf" <<CONF
listeners.tcp.1 = 127.0.0.1:$1
loopback_users.guest = true
disk_free_limit.absolute = 50MB
vm_memory_high_watermark.relative = 0.2
log.console = false
log.file.level = info
CONF
    echo "[]." > "$RUN_DIR/advanced.config"
    echo "[]." > "$RUN_DIR/enabled_plugins"
    : > "$RUN_DIR/rabbitmq-env.conf"
}

launch() {  # starts the node on the environment set by node_env
    : >> "$LOG_FILE"
    rm -f "$RUN_DIR/rabbitmq.pid"
    cd "$RUN_DIR"  # no subshell around the launch: it would live as long as the node, holding our stdout
    nohup setsid "$RMQ_BIN/rabbitmq-server" >> "$LOG_FILE" 2>&1 < /dev/null &
}

# Ready when an AMQP client completes a handshake on the port (pika from the venv), else when
# `rabbitmqctl await_startup` says so. Returns 1 on timeout.
wait_ready() {  # wait_ready PORT
    local port="$1" deadline=$((SECONDS + ${CBEC_RABBITMQ_START_TIMEOUT:-90})) py
    py="$(helper_python)"
    while [ "$SECONDS" -lt "$deadline" ]; do
        if grep -q "BOOT FAILED\|ERROR: could not bind\|eaddrinuse" "$LOG_FILE" "$RUN_DIR"/log/*.log 2>/dev/null; then
            log "RabbitMQ failed to boot"
            return 1
        fi
        if running_pid > /dev/null; then
            if "$py" -c 'import pika' 2>/dev/null; then
                if "$py" - "$port" <<'PY' 2>/dev/null
import sys, pika
params = pika.URLParameters(f"amqp://guest:guest@127.0.0.1:{sys.argv[1]}/%2F?connection_attempts=1&socket_timeout=3")
pika.BlockingConnection(params).close()
PY
                then return 0; fi
            elif "$RMQ_BIN/rabbitmqctl" -n "$NODE" -q await_startup --timeout 5 >/dev/null 2>&1; then
                return 0
            fi
        fi
        sleep 0.5
    done
    log "RabbitMQ did not become ready within ${CBEC_RABBITMQ_START_TIMEOUT:-90}s"
    return 1
}

start() {
    local pid port dist epmd attempt
    if pid="$(running_pid)"; then
        log "already running (pid $pid)"
        cat "$ENV_FILE"
        return 0
    fi
    ensure_rabbitmq
    rm -rf "$RUN_DIR/mnesia" "$RUN_DIR/log"
    mkdir -p "$RUN_DIR"
    port="${CBEC_AMQP_PORT:-16672}"
    for attempt in 1 2 3; do
        port="$(free_port "$port")"
        dist="$(free_port $((port + 1)) "$port")"
        epmd="$(free_port $((dist + 1)) "$port" "$dist")"
        write_config "$port"
        echo "$port $dist $epmd" > "$PORTS_FILE"
        node_env "$port" "$dist" "$epmd"
        : > "$LOG_FILE"
        launch
        log "RabbitMQ node $NODE starting on 127.0.0.1:$port (log $LOG_FILE, data $RUN_DIR/mnesia)"
        if wait_ready "$port"; then
            echo "CBEC_TEST_AMQP_URL=amqp://guest:guest@127.0.0.1:$port/%2F" > "$ENV_FILE"
            log "RabbitMQ ready"
            cat "$ENV_FILE"
            return 0
        fi
        halt_node 30
        grep -qi "eaddrinuse\|could not bind\|already in use" "$LOG_FILE" "$RUN_DIR"/log/*.log 2>/dev/null || break
        log "port taken meanwhile (attempt $attempt): retrying on another port"
        port=$((epmd + 1))
    done
    tail -n 40 "$LOG_FILE" >&2 || true
    tail -n 40 "$RUN_DIR"/log/*.log >&2 2>/dev/null || true
    die "RabbitMQ did not start (logs: $LOG_FILE, $RUN_DIR/log)"
}

halt_node() {  # halt_node SECONDS: SIGTERM the VM (RabbitMQ stops gracefully on it), then its epmd
    local pid ports
    if pid="$(running_pid)"; then stop_pid "$pid" RabbitMQ "$1"; fi
    if [ -f "$PORTS_FILE" ]; then
        read -r -a ports < "$PORTS_FILE"
        ERL_EPMD_PORT="${ports[2]}" epmd -kill >/dev/null 2>&1 || true
    fi
}

stop() {
    if running_pid > /dev/null; then halt_node 60; else log "not running"; halt_node 5; fi
    rm -f "$ENV_FILE"
}

# The same node again (ports and data kept): for tests that restart the broker under load.
restart() {
    local ports
    running_pid > /dev/null || die "not running: nothing to restart"
    read -r -a ports < "$PORTS_FILE"
    halt_node 60
    node_env "${ports[0]}" "${ports[1]}" "${ports[2]}"
    echo "--- restart $(date -u +%FT%TZ)" >> "$LOG_FILE"
    launch
    wait_ready "${ports[0]}" || { tail -n 40 "$LOG_FILE" >&2 || true; die "RabbitMQ did not come back"; }
    log "RabbitMQ ready again"
    cat "$ENV_FILE"
}

case "${1:-}" in
    restart) restart ;;
    *) server_main "$@" ;;
esac
