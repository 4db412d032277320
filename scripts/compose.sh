#!/usr/bin/env bash
# The docker compose CLI, built once from the Go module proxy at a pinned version (no binary download)
# and cached in .stack/bin, like scripts/helm.sh builds helm. `config` needs no Docker engine: it
# parses, interpolates and validates docker-compose.yml against the Compose specification.
#   scripts/compose.sh version                           # builds on first use (Go toolchain needed)
#   scripts/compose.sh -f docker-compose.yml config      # any compose arguments
#   scripts/compose.sh path                              # the binary's path
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
COMPOSE_VERSION="${CBEC_COMPOSE_VERSION:-v2.40.3}"
MODULE="github.com/docker/compose/v2"
# shellcheck source=scripts/lib/gobuild.sh
source "$ROOT/scripts/lib/gobuild.sh"
COMPOSE="$GOBUILD_BIN_DIR/docker-compose"

build_compose() {  # build_compose OUT
    # `go install <module>/cmd@<version>` refuses: compose's go.mod has `exclude` directives, which only a
    # main module may have. So the module's source (checked against go.sum by `go mod download`) is
    # copied to a scratch folder and built there as the main module, with its own go.sum.
    local scratch dir
    scratch="$(mktemp -d "$GOBUILD_BIN_DIR/.compose-build.XXXXXX")"
    trap 'chmod -R u+w "$scratch" 2>/dev/null; rm -rf "$scratch"' EXIT
    dir="$(cd "$scratch" && GOFLAGS=-mod=mod go mod download -json "$MODULE@$COMPOSE_VERSION" \
        | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
    [ -n "$dir" ] && [ -d "$dir" ] || { echo "compose.sh: go mod download found no source for $MODULE@$COMPOSE_VERSION" >&2; exit 3; }
    cp -R "$dir" "$scratch/src"
    chmod -R u+w "$scratch/src"
    (cd "$scratch/src" && GOFLAGS="-trimpath -mod=readonly" CGO_ENABLED=0 \
        go build -ldflags "-s -w -X $MODULE/internal.Version=$COMPOSE_VERSION" -o "$scratch/docker-compose" ./cmd)
    mv "$scratch/docker-compose" "$1"
    # the EXIT trap does not run when the script ends in `exec`: clean up here too
    chmod -R u+w "$scratch" 2>/dev/null; rm -rf "$scratch"
    trap - EXIT
}

gobuild_once compose.sh docker-compose "$COMPOSE_VERSION" "docker compose" build_compose
case "${1:-}" in
    path) echo "$COMPOSE" ;;
    *) exec "$COMPOSE" "$@" ;;
esac
