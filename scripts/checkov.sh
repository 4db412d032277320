#!/usr/bin/env bash
# checkov (static analysis of Dockerfiles and Kubernetes manifests) in a virtualenv of its own under
# .stack/checkov, installed once from scripts/checkov.lock (exact versions, every file checked against
# its hash) with the project's uv; its dependencies never meet the product's or the dev lock.
#   scripts/checkov.sh --version                 # installs on first use
#   scripts/checkov.sh -d k8s --framework kubernetes
#   scripts/checkov.sh path                      # the checkov executable's path
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCK="$ROOT/scripts/checkov.lock"
VENV="$ROOT/.stack/checkov"
STAMP="$VENV/lock.sha256"
UV="$ROOT/.venv/bin/uv"

want() { sha256sum "$LOCK" | cut -d' ' -f1; }
installed() { [[ -x "$VENV/bin/checkov" && -f "$STAMP" && "$(cat "$STAMP")" == "$(want)" ]]; }

install() {
    installed && return 0
    mkdir -p "$ROOT/.stack"
    # One install at a time (a test may ask while another runs).
    exec 9>"$ROOT/.stack/checkov-install.lock"
    flock 9
    installed && return 0
    [ -x "$UV" ] || { echo "checkov.sh: $UV missing: run scripts/bootstrap.sh first" >&2; exit 3; }
    echo "checkov.sh: installing checkov from scripts/checkov.lock into .stack/checkov (once)" >&2
    rm -rf "$VENV"
    "$UV" venv --quiet --python "$ROOT/.venv/bin/python" "$VENV" >&2
    "$UV" pip install --quiet --python "$VENV/bin/python" --require-hashes --no-deps -r "$LOCK" >&2
    want > "$STAMP"
}

install
case "${1:-}" in
    path) echo "$VENV/bin/checkov" ;;
    *) exec "$VENV/bin/checkov" "$@" ;;
esac
