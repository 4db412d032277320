#!/usr/bin/env bash
# Debian's chromium for the console's browser tests (tests/browser, driven by Playwright): installs it
# (and CJK fonts, for the Chinese pages' screenshots) when missing, checks that it starts, and prints its
# path as the last line. Fails loudly when it cannot, so CI fails instead of skipping the browser tests.
set -euo pipefail
# shellcheck source=scripts/_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"

bin="${CBEC_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$bin" ] || ! dpkg-query -W -f='${Status}' fonts-noto-cjk 2>/dev/null | grep -q "install ok installed"; then
    apt_ensure chromium fonts-noto-cjk || die "Debian's chromium could not be installed (apt-get install chromium)"
fi
[ -x "$bin" ] || die "$bin is missing after installing Debian's chromium"
"$bin" --headless=new --no-sandbox --disable-gpu --version >/dev/null 2>&1 || die "$bin is installed but does not start"
echo "$bin"
