# Helpers shared by the stack scripts (sourced, not run).
# shellcheck shell=bash
# Convention: human messages go to stderr; KEY=VALUE lines for the caller go to stdout.

# runuser, useradd and friends live in the sbin folders, which a minimal CI environment may leave off PATH.
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH="$PATH:/usr/sbin:/sbin" ;; esac
export PATH

CBEC_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CBEC_STACK_DIR="${CBEC_STACK_DIR:-$CBEC_ROOT/.stack}"
case "$CBEC_STACK_DIR" in /*) ;; *) CBEC_STACK_DIR="$PWD/$CBEC_STACK_DIR" ;; esac

log() { printf '[%s] %s\n' "$(basename "$0" .sh)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# A python for small helpers: the project's venv when present, else the system's.
helper_python() {
    if [ -x "$CBEC_ROOT/.venv/bin/python" ]; then echo "$CBEC_ROOT/.venv/bin/python"
    elif command -v python3 >/dev/null 2>&1; then command -v python3
    else die "no python3 found"; fi
}

# Installs Debian packages when running as root and any of them is missing.
APT_UPDATED=""
apt_ensure() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    is_root || { log "missing packages (${missing[*]}) and not root: cannot install them"; return 1; }
    command -v apt-get >/dev/null 2>&1 || { log "missing packages (${missing[*]}) and no apt-get"; return 1; }
    log "installing ${missing[*]} with apt-get"
    if [ -z "$APT_UPDATED" ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || return 1
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

port_in_use() {  # port_in_use PORT -> 0 when something listens on 127.0.0.1:PORT
    "$(helper_python)" - "$1" <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(0)
sys.exit(1)
PY
}

# free_port PREFERRED [EXCLUDED...]: PREFERRED when free, else the next free port above it.
free_port() {
    local port="$1" tries=0 ex taken; shift
    while :; do
        taken=""
        for ex in "$@"; do [ "$ex" = "$port" ] && taken=1; done
        if [ -z "$taken" ] && ! port_in_use "$port"; then echo "$port"; return 0; fi
        port=$((port + 1)); tries=$((tries + 1))
        [ "$tries" -lt 200 ] || die "no free port near $1"
    done
}

# Alive and not a zombie (an exited child of this shell stays a zombie until reaped).
pid_alive() {
    [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null || return 1
    [ -r "/proc/$1/stat" ] || return 0
    local rest
    rest="$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null)" || return 1
    [ "${rest%% *}" != Z ]
}

# stop_pid PID NAME [SECONDS]: SIGTERM, wait, then SIGKILL as a last resort.
stop_pid() {
    local pid="$1" name="$2" wait_s="${3:-30}" i
    pid_alive "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < wait_s * 10; i++)); do
        pid_alive "$pid" || { log "$name stopped (pid $pid)"; return 0; }
        sleep 0.1
    done
    log "$name did not stop within ${wait_s}s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
}

# The start|stop|status entry of a server script. The script defines start, stop, running_pid and ENV_FILE.
server_status() {  # prints the running server's KEY=VALUE lines; returns 3 when it is not running
    local pid
    if pid="$(running_pid)"; then log "running (pid $pid)"; cat "$ENV_FILE" 2>/dev/null; return 0; fi
    log "not running"
    return 3
}

server_main() {
    case "${1:-}" in
        start) start ;;
        stop) stop ;;
        status) server_status ;;
        *) echo "usage: $0 {start|stop|status}" >&2; exit 2 ;;
    esac
}
