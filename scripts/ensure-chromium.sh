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
# The tests drive Chromium through Playwright, whose driver is the Node.js binary inside its
# PyPI wheel; that binary needs libatomic.so.1, which a minimal Debian lacks (found by
# scripts/fresh-machine-check.sh: "Connection closed while reading from the driver").
driver=$(.venv/bin/python -c 'import pathlib, playwright; print(pathlib.Path(playwright.__file__).parent / "driver" / "node")' 2>/dev/null || true)
have_driver() { [ -z "$driver" ] || "$driver" --version >/dev/null 2>&1; }

if ! have_driver; then
    say "installing the distribution's libatomic1 for Playwright's driver"
    apt_install_from_distribution libatomic1 && have_driver \
        || { say "ERROR: Playwright's driver ($driver) does not run: apt-get install libatomic1"; exit 1; }
fi
have_chromium && exit 0

say "installing the distribution's chromium for the browser test"
if apt_install_from_distribution chromium && have_chromium; then exit 0; fi
say "ERROR: no installable chromium package here (Ubuntu ships it only as a snap), or no root/sudo."
say "       Install a Chromium with a real /usr/bin/chromium (Debian's package, or 'snap install chromium'"
say "       and link it there), or run the suite without the browser test: make test PYTEST_ARGS='-m \"not browser\"'"
exit 1
