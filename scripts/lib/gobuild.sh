# A Go tool built once from the Go module proxy at a pinned version (no binary download) and cached in
# .stack/bin, for scripts/helm.sh and scripts/compose.sh (sourced, not run).
# shellcheck shell=bash
#   gobuild_once SCRIPT TOOL VERSION LABEL STEP
# SCRIPT names the caller in messages (helm.sh), TOOL is the binary in .stack/bin (helm), VERSION the
# pinned version, LABEL what the messages call the tool (helm, docker compose). STEP is the caller's
# function that builds it: called as `STEP OUT` (the path to write the binary to), with the Go
# toolchain present. The binary counts as built when it is there with a stamp of VERSION; one build at
# a time (.ci/run starts the builds early in the background; a test may ask meanwhile).

GOBUILD_BIN_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.stack/bin"

gobuild_built() {  # gobuild_built TOOL VERSION
    local bin="$GOBUILD_BIN_DIR/$1"
    [[ -x "$bin" && -f "$bin.version" && "$(cat "$bin.version")" == "$2" ]]
}

gobuild_once() {  # gobuild_once SCRIPT TOOL VERSION LABEL STEP
    local script="$1" tool="$2" version="$3" label="$4" step="$5"
    gobuild_built "$tool" "$version" && return 0
    mkdir -p "$GOBUILD_BIN_DIR"
    exec 9>"$GOBUILD_BIN_DIR/$tool.lock"
    flock 9
    gobuild_built "$tool" "$version" && return 0
    command -v go >/dev/null || { echo "$script: the Go toolchain is needed to build $label $version" >&2; exit 3; }
    echo "$script: building $label $version from the Go module proxy (once)" >&2
    "$step" "$GOBUILD_BIN_DIR/$tool"
    echo "$version" > "$GOBUILD_BIN_DIR/$tool.version"
}
