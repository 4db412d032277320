#!/usr/bin/env bash
# THE demo command: sets up .venv if needed, then runs `cbec demo` on the embedded default (no servers).
#   bash scripts/demo.sh                      # 20 generated orders
#   bash scripts/demo.sh --orders 50 --out out
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh >&2
exec .venv/bin/cbec demo "$@"
