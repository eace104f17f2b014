#!/usr/bin/env bash
# The OGC API tests read Wardwise with GDAL/OGR's own OAPIF driver (`ogrinfo`, a client
# nobody here wrote); install the distribution's gdal-bin when `ogrinfo` is missing. Nothing
# is ever downloaded from anywhere else: where the distribution has no gdal-bin, say what to do.
#
# No `cmd | grep -q` under pipefail here (grep -q exits at its first match, the writer dies
# of SIGPIPE and pipefail turns the match into a failure): outputs are captured first.
set -euo pipefail
say() { printf 'ensure-gdal: %s\n' "$*" >&2; }

have_ogrinfo() {
    local formats
    command -v ogrinfo >/dev/null 2>&1 || return 1
    formats=$(ogrinfo --formats 2>/dev/null || true)
    # The OGC API - Features driver must be compiled in (it is in Debian's build, GDAL >= 3.0).
    [[ $formats == *OAPIF* ]]
}
have_ogrinfo && exit 0

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
    say "ERROR: no ogrinfo and no apt-get; install your distribution's gdal-bin (GDAL >= 3.6) and retry"
    exit 1
fi
say "installing the distribution's gdal-bin for the OGC API client tests"
if [ -z "$(candidate gdal-bin)" ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 \
        || { say "ERROR: apt-get update failed (are you root, or may you sudo?)"; exit 1; }
fi
if [ -n "$(candidate gdal-bin)" ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends gdal-bin >&2 \
        || { say "ERROR: apt-get install gdal-bin failed (are you root, or may you sudo?)"; exit 1; }
    have_ogrinfo && exit 0
    say "ERROR: gdal-bin is installed but its ogrinfo has no OAPIF (OGC API - Features) driver"
    exit 1
fi
say "ERROR: this distribution has no installable gdal-bin package."
say "       Install GDAL >= 3.6 with its command-line tools (ogrinfo on the PATH), or run the suite"
say "       without the GDAL client tests: make test PYTEST_ARGS='-m \"not gdal\"'"
exit 1
