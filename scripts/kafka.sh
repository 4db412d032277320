#!/usr/bin/env bash
# Single-node Apache Kafka (KRaft, combined broker+controller) from Maven Central jars.
#   scripts/kafka.sh start   -> prints KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:PORT when the broker answers
#   scripts/kafka.sh stop    -> SIGTERM (controlled shutdown) and wait
#   scripts/kafka.sh status  -> exit 0 and the bootstrap line when running, exit 3 when not
#   scripts/kafka.sh restart -> stop and start the running broker again: same port, same data (a fault test)
# Env: CBEC_KAFKA_PORT (default 19092; the next free port is used when taken), CBEC_STACK_DIR,
#      CBEC_KAFKA_HEAP (default "-Xms128m -Xmx512m"), CBEC_KAFKA_START_TIMEOUT (seconds, default 120).
# CBEC_KAFKA_SECURE=1 (or scripts/kafka-secure.sh): a second, independent broker (its own dirs, default
#   port 19192) with one SASL_PLAINTEXT listener (SCRAM-SHA-512), the StandardAuthorizer and
#   allow.everyone.if.no.acl.found=false. SCRAM users are added at format time: the super user
#   CBEC_KAFKA_ADMIN_USER (default admin; password CBEC_KAFKA_ADMIN_PASSWORD, else drawn at random) and
#   CBEC_KAFKA_SCRAM_USERS ("name=password,name=password"). It prints CBEC_SECURE_KAFKA_BOOTSTRAP,
#   CBEC_SECURE_KAFKA_ADMIN_USER and CBEC_SECURE_KAFKA_ADMIN_PASSWORD (test credentials: the file is 0600).
#   The controller listener takes SASL PLAIN with the super user only.
set -euo pipefail
# shellcheck source=scripts/_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"

KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$CBEC_ROOT/scripts/kafka/pom.xml")"
LIBS_DIR="$CBEC_ROOT/.kafka/libs"
SECURE="${CBEC_KAFKA_SECURE:-0}"
if [ "$SECURE" = 1 ]; then
    RUN_DIR="$CBEC_STACK_DIR/kafka-secure"
    DATA_DIR="$CBEC_STACK_DIR/kafka-secure-data"
    DEFAULT_PORT=19192
    ADMIN_USER="${CBEC_KAFKA_ADMIN_USER:-admin}"
    ADMIN_PASSWORD="${CBEC_KAFKA_ADMIN_PASSWORD:-}"
else
    RUN_DIR="$CBEC_STACK_DIR/kafka"
    DATA_DIR="$CBEC_STACK_DIR/kafka-data"
    DEFAULT_PORT=19092
fi
PID_FILE="$RUN_DIR/kafka.pid"
ENV_FILE="$RUN_DIR/kafka.env"
LOG_FILE="$RUN_DIR/kafka.out"

running_pid() {
    local pid
    [ -f "$PID_FILE" ] || return 1
    pid="$(cat "$PID_FILE")"
    pid_alive "$pid" && grep -q "kafka.Kafka" "/proc/$pid/cmdline" 2>/dev/null && echo "$pid"
}

ensure_java() {
    if ! command -v java >/dev/null 2>&1; then apt_ensure openjdk-17-jre-headless || die "java not found"; fi
    if ! command -v mvn >/dev/null 2>&1 && [ ! -f "$LIBS_DIR/kafka_2.13-$KAFKA_VERSION.jar" ]; then
        apt_ensure maven || die "mvn not found"
    fi
}

fetch_jars() {
    [ -f "$LIBS_DIR/kafka_2.13-$KAFKA_VERSION.jar" ] && return 0
    mkdir -p "$CBEC_ROOT/.kafka"
    # Brokers start in parallel (plain and secure): one fetch at a time, the others wait and reuse it.
    exec 9> "$CBEC_ROOT/.kafka/fetch.lock"
    flock 9
    if [ -f "$LIBS_DIR/kafka_2.13-$KAFKA_VERSION.jar" ]; then flock -u 9; return 0; fi
    log "fetching Kafka $KAFKA_VERSION jars with Maven (cached in ~/.m2)"
    rm -rf "$LIBS_DIR.tmp"
    mvn -B -q -f "$CBEC_ROOT/scripts/kafka/pom.xml" \
        org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$LIBS_DIR.tmp" > "$CBEC_ROOT/.kafka/mvn.log" 2>&1 \
        || { tail -n 40 "$CBEC_ROOT/.kafka/mvn.log" >&2; die "Maven could not fetch the Kafka jars"; }
    rm -rf "$LIBS_DIR"
    mv "$LIBS_DIR.tmp" "$LIBS_DIR"
    flock -u 9
}

listener_config() {  # listener_config PORT CONTROLLER_PORT
    if [ "$SECURE" != 1 ]; then
        cat <<PROPS
listeners=PLAINTEXT://127.0.0.1:$1,CONTROLLER://127.0.0.1:$2
advertised.listeners=PLAINTEXT://127.0.0.1:$1
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
PROPS
        return
    fi
    cat <<PROPS
listeners=SASL_PLAINTEXT://127.0.0.1:$1,CONTROLLER://127.0.0.1:$2
advertised.listeners=SASL_PLAINTEXT://127.0.0.1:$1
inter.broker.listener.name=SASL_PLAINTEXT
listener.security.protocol.map=CONTROLLER:SASL_PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$ADMIN_USER" password="$ADMIN_PASSWORD";
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="$ADMIN_USER" password="$ADMIN_PASSWORD" user_$ADMIN_USER="$ADMIN_PASSWORD";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:$ADMIN_USER
PROPS
}

# --add-scram arguments of the storage format: the super user and CBEC_KAFKA_SCRAM_USERS.
scram_args() {
    local entry name
    printf '%s\n' --add-scram "SCRAM-SHA-512=[name=$ADMIN_USER,password=$ADMIN_PASSWORD]"
    IFS=',' read -ra entries <<< "${CBEC_KAFKA_SCRAM_USERS:-}"
    for entry in "${entries[@]}"; do
        [ -n "$entry" ] || continue
        name="${entry%%=*}"
        [ "$name" != "$entry" ] || die "CBEC_KAFKA_SCRAM_USERS: '$name' has no =password"
        printf '%s\n' --add-scram "SCRAM-SHA-512=[name=$name,password=${entry#*=}]"
    done
}

write_config() {  # write_config PORT CONTROLLER_PORT
    if [ "$SECURE" = 1 ]; then umask 077; fi  # the file holds the super user's password
    cat > "$RUN_DIR/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$2
$(listener_config "$1" "$2")
controller.listener.names=CONTROLLER
log.dirs=$DATA_DIR
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
PROPS
    cat > "$RUN_DIR/log4j.properties" <<'L4J'
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
L4J
}

# Ready when an admin client lists topics; without kafka-python, when the log says so.
# Returns 1 when the broker exits or the timeout passes.
wait_ready() {  # wait_ready PID PORT
    local pid="$1" port="$2" deadline=$((SECONDS + ${CBEC_KAFKA_START_TIMEOUT:-120})) py
    py="$(helper_python)"
    while [ "$SECONDS" -lt "$deadline" ]; do
        pid_alive "$pid" || { log "Kafka exited during start"; return 1; }
        if grep -q "Kafka Server started" "$LOG_FILE" 2>/dev/null; then
            if ! "$py" -c 'import kafka' 2>/dev/null; then return 0; fi
            if "$py" - "127.0.0.1:$port" "$SECURE" "${ADMIN_USER:-}" <<'PY' 2>/dev/null
import os, sys
from kafka.admin import KafkaAdminClient
sasl = {}
if sys.argv[2] == "1":
    sasl = {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_plain_username": sys.argv[3], "sasl_plain_password": os.environ["CBEC_KAFKA_ADMIN_PASSWORD"]}
admin = KafkaAdminClient(bootstrap_servers=sys.argv[1], request_timeout_ms=5000, **sasl)
admin.list_topics()
admin.close()
PY
            then return 0; fi
        fi
        sleep 0.5
    done
    log "Kafka did not become ready within ${CBEC_KAFKA_START_TIMEOUT:-120}s"
    return 1
}

launch() {  # starts the broker on the written config; prints its pid
    local pid
    # shellcheck disable=SC2086  # the heap options are meant to split
    nohup setsid java ${CBEC_KAFKA_HEAP:--Xms128m -Xmx512m} -XX:+UseG1GC -Djava.awt.headless=true \
        -cp "$LIBS_DIR/*" -Dlog4j.configuration="file:$RUN_DIR/log4j.properties" \
        kafka.Kafka "$RUN_DIR/server.properties" >> "$LOG_FILE" 2>&1 < /dev/null &
    pid=$!
    echo "$pid" > "$PID_FILE"
    echo "$pid"
}

start() {
    local pid port cport cid attempt
    if pid="$(running_pid)"; then
        log "already running (pid $pid)"
        cat "$ENV_FILE"
        return 0
    fi
    ensure_java
    fetch_jars
    mkdir -p "$RUN_DIR"
    port="${CBEC_KAFKA_PORT:-$DEFAULT_PORT}"
    scram=()
    if [ "$SECURE" = 1 ]; then
        [ -n "$ADMIN_PASSWORD" ] || ADMIN_PASSWORD="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
        export CBEC_KAFKA_ADMIN_PASSWORD="$ADMIN_PASSWORD"
        mapfile -t scram < <(scram_args)
    fi
    # A port found free can be taken by a parallel run before the broker binds it: then try further up.
    for attempt in 1 2 3; do
        rm -rf "$DATA_DIR"
        port="$(free_port "$port")"
        cport="$(free_port $((port + 1)) "$port")"
        write_config "$port" "$cport"
        # A cluster id starting with "-" (1 in 64) would read as an option: draw again, as Kafka does.
        cid="-"
        while [[ "$cid" == -* ]]; do
            cid="$("$(helper_python)" -c 'import base64,uuid;print(base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode())')"
        done
        java -cp "$LIBS_DIR/*" -Dlog4j.configuration="file:$RUN_DIR/log4j.properties" \
            kafka.tools.StorageTool format -t "$cid" -c "$RUN_DIR/server.properties" --ignore-formatted "${scram[@]}" \
            > "$RUN_DIR/format.out" 2>&1 || { cat "$RUN_DIR/format.out" >&2; die "storage format failed"; }
        : > "$LOG_FILE"
        pid="$(launch)"
        log "Kafka $KAFKA_VERSION starting on 127.0.0.1:$port (pid $pid, log $LOG_FILE)"
        if wait_ready "$pid" "$port"; then
            if [ "$SECURE" = 1 ]; then
                printf '%s\n' "CBEC_SECURE_KAFKA_BOOTSTRAP=127.0.0.1:$port" "CBEC_SECURE_KAFKA_ADMIN_USER=$ADMIN_USER" \
                    "CBEC_SECURE_KAFKA_ADMIN_PASSWORD=$ADMIN_PASSWORD" > "$ENV_FILE"
            else
                echo "KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$port" > "$ENV_FILE"
            fi
            log "Kafka ready"
            cat "$ENV_FILE"
            return 0
        fi
        stop_pid "$pid" Kafka 20
        grep -q "Address already in use" "$LOG_FILE" || break
        log "port taken meanwhile (attempt $attempt): retrying on another port"
        port=$((cport + 1))
    done
    tail -n 40 "$LOG_FILE" >&2
    die "Kafka did not start (log: $LOG_FILE)"
}

stop() {
    local pid
    if pid="$(running_pid)"; then stop_pid "$pid" Kafka 60; else log "not running"; fi
    rm -f "$PID_FILE" "$ENV_FILE"
}

# The same broker again (port and data kept): for fault tests that restart Kafka under load.
restart() {
    local pid port
    pid="$(running_pid)" || die "not running: nothing to restart"
    [ -f "$ENV_FILE" ] || die "no $ENV_FILE: cannot tell the port"
    port="$(sed -n 's/.*=127.0.0.1:\([0-9]*\)$/\1/p' "$ENV_FILE" | head -n 1)"
    stop_pid "$pid" Kafka 60
    echo "--- restart $(date -u +%FT%TZ)" >> "$LOG_FILE"
    pid="$(launch)"
    log "Kafka restarting on 127.0.0.1:$port (pid $pid)"
    # the readiness check looks for the start line of this run only
    if ! wait_ready_after_restart "$pid" "$port"; then
        tail -n 40 "$LOG_FILE" >&2
        die "Kafka did not come back (log: $LOG_FILE)"
    fi
    log "Kafka ready again"
    cat "$ENV_FILE"
}

wait_ready_after_restart() {  # like wait_ready, but counts only the start lines after the restart mark
    local pid="$1" port="$2" deadline=$((SECONDS + ${CBEC_KAFKA_START_TIMEOUT:-120}))
    while [ "$SECONDS" -lt "$deadline" ]; do
        pid_alive "$pid" || { log "Kafka exited during restart"; return 1; }
        # one pass over the whole file (no early-exiting pipe: under pipefail its SIGPIPE would read as "no")
        if awk '/^--- restart/ {up = 0} /Kafka Server started/ {up = 1} END {exit !up}' "$LOG_FILE"; then
            wait_ready "$pid" "$port"
            return $?
        fi
        sleep 0.5
    done
    return 1
}

case "${1:-}" in
    restart) restart ;;
    *) server_main "$@" ;;
esac
