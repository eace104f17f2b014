#!/usr/bin/env bash
# Create .venv with Python >= 3.11 and install Wardwise with its dev tools into it.
set -euo pipefail
say() { printf 'bootstrap: %s\n' "$*" >&2; }
die() { printf 'bootstrap: ERROR: %s\n' "$*" >&2; exit 1; }
. "$(dirname "$0")/lib.sh"   # as_root

python=""
for candidate in ${PYTHON:-} python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1 \
        && "$candidate" -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] < (3, 14) else 1)' 2>/dev/null; then
        python=$candidate; break
    fi
done
if [ -z "$python" ]; then
    command -v apt-get >/dev/null 2>&1 && as_root apt-get update -q >&2 \
        && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3 python3-venv >&2 \
        && python=python3 \
        || die "Wardwise needs Python 3.11-3.13 (Debian/Ubuntu: apt-get install python3 python3-venv)"
fi

if [ ! -x .venv/bin/python ]; then
    say "creating .venv with $($python --version)"
    if ! "$python" -m venv .venv 2>/dev/null; then
        rm -rf .venv
        ver=$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "python$ver-venv" >&2 \
            || die "python venv module missing (apt-get install python3-venv)"
        "$python" -m venv .venv
    fi
fi
say "installing Wardwise and its dev tools into .venv"
.venv/bin/python -m pip install -q --upgrade 'pip>=25.1'
.venv/bin/python -m pip install -q -e . --group dev
