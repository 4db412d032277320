#!/usr/bin/env bash
# A fresh SoftHSM2 (PKCS#11) token for local runs and tests.
#   scripts/softhsm.sh [init]  -> prints SOFTHSM2_CONF=..., CBEC_PKCS11_MODULE=..., CBEC_PKCS11_TOKEN_LABEL=...,
#                                 CBEC_PKCS11_PIN=...
# Env: CBEC_PKCS11_TOKEN_LABEL (default cbec-signer), CBEC_PKCS11_PIN / CBEC_PKCS11_SO_PIN (defaults are
#      TEST-ONLY values; a real deployment sets its own from a secret store), CBEC_STACK_DIR.
# Every run replaces the token directory, so no key survives between runs.
set -euo pipefail
# shellcheck source=scripts/_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"

LABEL="${CBEC_PKCS11_TOKEN_LABEL:-cbec-signer}"
PIN="${CBEC_PKCS11_PIN:-1234-test-pin}"
SO_PIN="${CBEC_PKCS11_SO_PIN:-5678-test-so-pin}"
HSM_DIR="$CBEC_STACK_DIR/softhsm"

module_path() {
    local candidate
    for candidate in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so \
        /usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so /usr/local/lib/softhsm/libsofthsm2.so; do
        [ -f "$candidate" ] && { echo "$candidate"; return 0; }
    done
    return 1
}

init() {
    local module
    if ! command -v softhsm2-util >/dev/null 2>&1 || ! module_path >/dev/null; then
        apt_ensure softhsm2 || die "SoftHSM2 not found and cannot be installed"
    fi
    module="$(module_path)" || die "libsofthsm2.so not found"
    rm -rf "$HSM_DIR"
    mkdir -p "$HSM_DIR/tokens"
    cat > "$HSM_DIR/softhsm2.conf" <<CONF
directories.tokendir = $HSM_DIR/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF
    export SOFTHSM2_CONF="$HSM_DIR/softhsm2.conf"
    softhsm2-util --init-token --free --label "$LABEL" --so-pin "$SO_PIN" --pin "$PIN" >&2 \
        || die "softhsm2-util could not initialise token $LABEL"
    log "token '$LABEL' ready ($SOFTHSM2_CONF)"
    {
        echo "SOFTHSM2_CONF=$SOFTHSM2_CONF"
        echo "CBEC_PKCS11_MODULE=$module"
        echo "CBEC_PKCS11_TOKEN_LABEL=$LABEL"
        echo "CBEC_PKCS11_PIN=$PIN"
    } | tee "$HSM_DIR/softhsm.env"
}

case "${1:-init}" in
    init | start) init ;;
    stop) rm -rf "$HSM_DIR"; log "token directory removed" ;;
    *) echo "usage: $0 [init|stop]" >&2; exit 2 ;;
esac
