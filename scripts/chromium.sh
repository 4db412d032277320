#!/usr/bin/env bash
# Debian's chromium for the console's browser tests (tests/browser): installs it when missing and fails
# loudly when it cannot, so CI fails instead of skipping. Prints the binary's path on its last line.
set -euo pipefail
bin="${CBEC_CHROMIUM:-/usr/bin/chromium}"
if ! [ -x "$bin" ]; then
  if ! command -v apt-get >/dev/null; then
    echo "scripts/chromium.sh: $bin is missing and apt-get is not available to install Debian's chromium" >&2
    exit 1
  fi
  sudo_cmd=""
  if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi
  echo "scripts/chromium.sh: installing Debian's chromium" >&2
  $sudo_cmd apt-get update -qq >&2 || { echo "scripts/chromium.sh: apt-get update failed" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk >&2 \
    || { echo "scripts/chromium.sh: apt-get install chromium failed" >&2; exit 1; }
fi
if ! "$bin" --headless=new --no-sandbox --disable-gpu --version >/dev/null 2>&1; then
  echo "scripts/chromium.sh: $bin is installed but does not start" >&2
  exit 1
fi
echo "$bin"
