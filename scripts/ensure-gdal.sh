#!/usr/bin/env bash
# The OGC API tests read Wardwise with GDAL/OGR's own OAPIF driver (`ogrinfo`, `ogr2ogr`: a
# client nobody here wrote); install the distribution's gdal-bin when they are missing.
# Nothing is ever downloaded from anywhere else: where the distribution has no gdal-bin,
# say what to do instead.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
say() { printf 'ensure-gdal: %s\n' "$*" >&2; }

have_gdal() {
    local formats
    command -v ogrinfo >/dev/null 2>&1 && command -v ogr2ogr >/dev/null 2>&1 || return 1
    # The OGC API - Features driver must be built in (Debian's is, GDAL >= 3.1). Captured
    # first, then matched: no `| grep -q` under pipefail (see lib.sh).
    formats=$(ogrinfo --formats 2>/dev/null || true)
    [[ $formats == *OAPIF* ]]
}
have_gdal && exit 0

say "installing the distribution's gdal-bin for the OGC API client tests"
if apt_install_from_distribution gdal-bin && have_gdal; then exit 0; fi
say "ERROR: no installable gdal-bin package with the OAPIF driver here, or no root/sudo."
say "       Install GDAL >= 3.6 with its command-line tools (ogrinfo, ogr2ogr on the PATH), or run"
say "       the suite without the GDAL client tests: make test PYTEST_ARGS='-m \"not gdal\"'"
exit 1
