#!/usr/bin/env bash
# The browser test drives the distribution's Chromium headless; install it from the
# distribution's packages when missing. Nothing is ever downloaded from anywhere else:
# where the distribution has no installable chromium, say what to do instead.
#
# No `cmd | grep -q` under pipefail here (grep -q exits at its first match, the writer dies
# of SIGPIPE and pipefail turns the match into a failure): outputs are captured first.
set -euo pipefail
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

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@";
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo "$@";
    else return 1; fi
}
candidate() {
    # Prints the candidate version of a package, or nothing when apt has none.
    local policy
    policy=$(apt-cache policy "$1" 2>/dev/null || true)
    awk '/Candidate:/ && $2 != "(none)" {print $2; exit}' <<<"$policy"
}

if ! command -v apt-get >/dev/null 2>&1; then
    say "ERROR: no Chromium and no apt-get; install your distribution's chromium package and retry"
    exit 1
fi
say "installing the distribution's chromium for the browser test"
if [ -z "$(candidate chromium)" ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 \
        || { say "ERROR: apt-get update failed (are you root, or may you sudo?)"; exit 1; }
fi
if [ -n "$(candidate chromium)" ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >&2 \
        || { say "ERROR: apt-get install chromium failed (are you root, or may you sudo?)"; exit 1; }
    have_chromium && exit 0
fi
say "ERROR: this distribution has no installable chromium package (Ubuntu ships it only as a snap)."
say "       Install a Chromium with a real /usr/bin/chromium (Debian's package, or 'snap install chromium'"
say "       and link it there), or run the suite without the browser test: make test PYTEST_ARGS='-m \"not browser\"'"
exit 1
