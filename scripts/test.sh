#!/usr/bin/env bash
# THE test command: sets up .venv, starts real Kafka + Postgres + a SoftHSM2 token (unless external
# servers are given), runs pytest, stops what it started, and exits with pytest's code.
#   bash scripts/test.sh                 # the whole tests/ suite
#   bash scripts/test.sh tests/unit -q   # any pytest arguments
# External servers: set KAFKA_BOOTSTRAP_SERVERS and/or DATABASE_URL and nothing is started for them.
# A second broker with SASL/SCRAM and ACLs (scripts/kafka-secure.sh) is started in parallel for the Kafka
# identity tests (CBEC_SECURE_KAFKA_BOOTSTRAP and its super user's credentials), unless
# CBEC_SECURE_KAFKA_BOOTSTRAP is given. A throw-away RabbitMQ node (scripts/rabbitmq.sh) serves the AMQP
# transport's tests (CBEC_TEST_AMQP_URL), unless CBEC_TEST_AMQP_URL is given.
# Debian's chromium (scripts/chromium.sh) is installed for the console's browser tests (CBEC_CHROMIUM).
# CI=true (or CBEC_REQUIRE_INTEGRATION=1): a server that cannot start is a hard failure, and so is
# pytest collecting no test. CBEC_LINT=1 also runs ruff and mypy on shared/ cli/ services/ testkit/.
set -euo pipefail
# shellcheck source=scripts/_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"
cd "$CBEC_ROOT"

REQUIRE=0
if [ "${CI:-}" = true ] || [ "${CI:-}" = 1 ] || [ "${CBEC_REQUIRE_INTEGRATION:-0}" = 1 ]; then REQUIRE=1; fi
export CBEC_REQUIRE_INTEGRATION="$REQUIRE"

# Each run gets its own stack dir (and so its own ports and data): runs in parallel never share servers,
# and a developer's `cbec up` stack in .stack/ is left alone.
export CBEC_STACK_DIR="$CBEC_ROOT/.stack/test-run-$$"
STARTED=()
cleanup() {
    local i
    for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do
        bash "scripts/${STARTED[$i]}.sh" stop || log "could not stop ${STARTED[$i]}"
    done
    if [ "${CBEC_KEEP_TEST_STACK:-0}" != 1 ]; then
        if [ -f "$CBEC_STACK_DIR/postgres/pgdata.location" ]; then
            rm -rf "$(cat "$CBEC_STACK_DIR/postgres/pgdata.location")"
        fi
        rm -rf "$CBEC_STACK_DIR"
    fi
}
trap cleanup EXIT

# Test stacks left by runs that were killed (their test.sh pid is gone): stop their servers, and remove
# them unless they were kept for a look at the logs.
for stale in "$CBEC_ROOT"/.stack/test-run-*; do
    [ -d "$stale" ] && [ "$stale" != "$CBEC_STACK_DIR" ] || continue
    pid_alive "${stale##*-}" && continue
    CBEC_STACK_DIR="$stale" bash scripts/kafka.sh stop 2>/dev/null || true
    CBEC_STACK_DIR="$stale" bash scripts/kafka-secure.sh stop 2>/dev/null || true
    CBEC_STACK_DIR="$stale" bash scripts/postgres.sh stop 2>/dev/null || true
    CBEC_STACK_DIR="$stale" bash scripts/rabbitmq.sh stop 2>/dev/null || true
    if [ ! -f "$stale/kept" ]; then
        if [ -f "$stale/postgres/pgdata.location" ]; then rm -rf "$(cat "$stale/postgres/pgdata.location")"; fi
        rm -rf "$stale"
    fi
done
trap 'exit 130' INT
trap 'exit 143' TERM

step_start=$SECONDS
bash scripts/bootstrap.sh
log "bootstrap took $((SECONDS - step_start))s"

export_lines() {  # exports every KEY=VALUE line of a file
    local line
    while IFS= read -r line; do
        [[ "$line" =~ ^[A-Z_][A-Z0-9_]*= ]] && export "${line?}"
    done < "$1"
}

server_failed() {  # server_failed NAME LOGFILE
    tail -n 20 "$2" >&2 || true
    CBEC_KEEP_TEST_STACK=1  # keep the logs for a look
    touch "$CBEC_STACK_DIR/kept"
    log "logs kept in $CBEC_STACK_DIR"
    if [ "$REQUIRE" = 1 ]; then die "$1 could not be started: integration tests cannot run (CI requires them)"; fi
    log "WARNING: $1 could not be started; tests that need it will be skipped"
}

OUT="$CBEC_STACK_DIR/env"
mkdir -p "$OUT"
# Debian's chromium for the console's browser tests (tests/browser): installed when missing, before the
# servers start (apt-get runs one at a time); under CI a chromium that cannot start fails the run.
if CBEC_CHROMIUM="$(bash scripts/chromium.sh 2> "$OUT/chromium.log" | tail -n 1)" && [ -n "$CBEC_CHROMIUM" ]; then
    export CBEC_CHROMIUM
else
    server_failed chromium "$OUT/chromium.log"
fi
step_start=$SECONDS
pids=()
names=()
if [ -z "${KAFKA_BOOTSTRAP_SERVERS:-}" ]; then
    STARTED+=(kafka)
    bash scripts/kafka.sh start > "$OUT/kafka.env" 2> "$OUT/kafka.log" &
    pids+=($!); names+=(kafka)
else
    log "using external Kafka at $KAFKA_BOOTSTRAP_SERVERS"
fi
if [ -z "${CBEC_SECURE_KAFKA_BOOTSTRAP:-}" ]; then
    STARTED+=(kafka-secure)
    bash scripts/kafka-secure.sh start > "$OUT/kafka-secure.env" 2> "$OUT/kafka-secure.log" &
    pids+=($!); names+=(kafka-secure)
else
    log "using external secure Kafka at $CBEC_SECURE_KAFKA_BOOTSTRAP"
fi
if [ -z "${DATABASE_URL:-}" ]; then
    STARTED+=(postgres)
    bash scripts/postgres.sh start > "$OUT/postgres.env" 2> "$OUT/postgres.log" &
    pids+=($!); names+=(postgres)
else
    log "using external Postgres at ${DATABASE_URL##*@}"  # the part after any user:password@
fi
if [ -z "${CBEC_TEST_AMQP_URL:-}" ]; then
    STARTED+=(rabbitmq)
    bash scripts/rabbitmq.sh start > "$OUT/rabbitmq.env" 2> "$OUT/rabbitmq.log" &
    pids+=($!); names+=(rabbitmq)
else
    log "using external RabbitMQ at ${CBEC_TEST_AMQP_URL##*@}"
fi
if [ -z "${SOFTHSM2_CONF:-}" ]; then
    STARTED+=(softhsm)
    bash scripts/softhsm.sh init > "$OUT/softhsm.env" 2> "$OUT/softhsm.log" &
    pids+=($!); names+=(softhsm)
fi
# Wait for every start before judging any, so no start is still running when the cleanup begins.
codes=()
for i in "${!pids[@]}"; do
    code=0
    wait "${pids[$i]}" || code=$?
    codes+=("$code")
done
for i in "${!pids[@]}"; do
    if [ "${codes[$i]}" -eq 0 ]; then
        export_lines "$OUT/${names[$i]}.env"
    else
        server_failed "${names[$i]}" "$OUT/${names[$i]}.log"
    fi
done
if [ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ]; then
    export CBEC_KAFKA_BOOTSTRAP_SERVERS="${CBEC_KAFKA_BOOTSTRAP_SERVERS:-$KAFKA_BOOTSTRAP_SERVERS}"
fi
if [ -n "${DATABASE_URL:-}" ]; then export CBEC_DATABASE_URL="${CBEC_DATABASE_URL:-$DATABASE_URL}"; fi
log "servers ready in $((SECONDS - step_start))s: KAFKA_BOOTSTRAP_SERVERS=${KAFKA_BOOTSTRAP_SERVERS:-none}" \
    "CBEC_SECURE_KAFKA_BOOTSTRAP=${CBEC_SECURE_KAFKA_BOOTSTRAP:-none}" "CBEC_TEST_AMQP_URL=${CBEC_TEST_AMQP_URL:+set}"

lint_rc=0
if [ "${CBEC_LINT:-0}" = 1 ]; then
    log "lint: ruff check + mypy"
    .venv/bin/ruff check shared cli services testkit || lint_rc=1
    .venv/bin/mypy shared cli services testkit || lint_rc=1
fi

[ "$#" -gt 0 ] || set -- tests/
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
    log "pytest collected no test (exit 5): treated as a failure"
fi
if [ "$rc" -eq 0 ] && [ "$lint_rc" -ne 0 ]; then
    log "tests passed but lint failed"
    rc=1
fi
exit "$rc"
