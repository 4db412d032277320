#!/usr/bin/env bash
# Idempotent developer/CI setup: .venv (Python 3.11) with the hashed locks and the repo installed editable.
# requirements.lock holds the runtime dependencies only (what the production image installs);
# requirements-dev.lock holds the same pins plus the dev tools (pytest, mypy, hypothesis, testcontainers …).
# Regenerate both after a change to pyproject.toml (the existing pins are kept as preferences):
#   .venv/bin/uv pip compile pyproject.toml --generate-hashes --python-version 3.11 -o requirements.lock
#   .venv/bin/uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 \
#       -o requirements-dev.lock
# Fast when nothing changed: a stamp holds the hash of both locks + pyproject.toml.
set -euo pipefail
# shellcheck source=scripts/_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"
cd "$CBEC_ROOT"

UV_VERSION="0.13.9"
# Machines behind a TLS-inspecting proxy trust it through the system bundle: let uv use it too.
if [ -z "${SSL_CERT_FILE:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    export SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
fi
VENV="$CBEC_ROOT/.venv"
STAMP="$VENV/.cbec-installed"

find_python311() {
    local candidate
    for candidate in python3.11 "$HOME"/.pyenv/versions/3.11*/bin/python3.11 /usr/local/bin/python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
            command -v "$candidate"; return 0
        fi
    done
    return 1
}

if [ ! -x "$VENV/bin/python" ]; then
    py="$(find_python311)" || { apt_ensure python3 python3-venv >/dev/null; py="$(find_python311)"; } \
        || die "Python 3.11 not found"
    log "creating .venv with $py"
    "$py" -m venv "$VENV" || { apt_ensure python3-venv && "$py" -m venv "$VENV"; } || die "venv creation failed"
fi

if [ ! -x "$VENV/bin/uv" ]; then
    log "installing uv $UV_VERSION into .venv"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "uv==$UV_VERSION" >&2
fi

want="$(cat requirements.lock requirements-dev.lock pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && "$VENV/bin/python" -c 'import cbec, cbec_cli' 2>/dev/null; then
    log ".venv up to date"
    exit 0
fi

log "installing requirements.lock + requirements-dev.lock (hashes required) and the repo (editable)"
"$VENV/bin/uv" pip install -q --python "$VENV/bin/python" --require-hashes -r requirements.lock \
    -r requirements-dev.lock >&2
"$VENV/bin/uv" pip install -q --python "$VENV/bin/python" --no-deps -e . >&2
echo "$want" > "$STAMP"
log ".venv ready"
