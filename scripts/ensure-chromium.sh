#!/usr/bin/env bash
# The browser test drives the distribution's Chromium headless; install it when missing.
set -euo pipefail
for b in chromium chromium-browser; do
    if command -v "$b" >/dev/null 2>&1; then exit 0; fi
done
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@";
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo "$@";
    else return 1; fi
}
echo "ensure-chromium: installing Debian's chromium for the browser test" >&2
if command -v apt-get >/dev/null 2>&1 && apt-cache policy chromium 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >&2 && exit 0
fi
if as_root apt-get update -q >&2 && apt-cache policy chromium | grep -q 'Candidate: [0-9]'; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >&2 && exit 0
fi
# Ubuntu ships chromium only as a snap; Playwright's own build is the fallback there.
.venv/bin/python -m playwright install --with-deps chromium >&2 \
    || { echo "ensure-chromium: ERROR: no Chromium; install it (apt-get install chromium) and retry" >&2; exit 1; }
