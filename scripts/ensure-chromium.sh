#!/usr/bin/env bash
# The browser test drives the distribution's Chromium headless; install it from the
# distribution's packages when missing. Nothing is ever downloaded from anywhere else:
# where the distribution has no installable chromium, say what to do instead.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
say() { printf 'ensure-chromium: %s\n' "$*" >&2; }

have_chromium() {
    local b
    for b in chromium chromium-browser; do
        # Ubuntu's chromium-browser is a stub that asks for a snap: only a real binary counts.
        if command -v "$b" >/dev/null 2>&1 && "$b" --version >/dev/null 2>&1; then return 0; fi
    done
    return 1
}
have_chromium && exit 0

say "installing the distribution's chromium for the browser test"
if apt_install_from_distribution chromium && have_chromium; then exit 0; fi
say "ERROR: no installable chromium package here (Ubuntu ships it only as a snap), or no root/sudo."
say "       Install a Chromium with a real /usr/bin/chromium (Debian's package, or 'snap install chromium'"
say "       and link it there), or run the suite without the browser test: make test PYTEST_ARGS='-m \"not browser\"'"
exit 1
