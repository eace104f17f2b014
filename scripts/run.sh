#!/usr/bin/env bash
# The README's two commands, step by step, each step timed:
#   scripts/run.sh demo   install, provision PostGIS, migrate, load the demo borough, serve :8000
#   scripts/run.sh test   install, provision PostGIS, install Chromium, run the whole test suite
# At the end (or at the step that failed) it prints what it did and how long each step took.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:?usage: scripts/run.sh demo|test}
BIN=.venv/bin

steps=()
started=$SECONDS
summary() {
    local rc=$?
    {
        printf '\n== wardwise %s: %s ==\n' "$mode" "$([ "$rc" -eq 0 ] && echo done || echo "FAILED (exit $rc)")"
        local s
        for s in "${steps[@]}"; do printf '  %s\n' "$s"; done
        printf '  %-34s %6ss\n' "total" "$((SECONDS - started))"
    } >&2
}
trap summary EXIT

# step NAME CMD...: run CMD, record NAME, its outcome and its seconds.
step() {
    local name=$1; shift
    local t0=$SECONDS rc=0
    printf '\n-- %s\n' "$name" >&2
    "$@" || rc=$?
    steps+=("$(printf '%-34s %6ss  %s' "$name" "$((SECONDS - t0))" "$([ $rc -eq 0 ] && echo ok || echo "FAILED ($rc)")")")
    return $rc
}

install() {
    if [ -f "$BIN/.installed" ] && [ "$BIN/.installed" -nt pyproject.toml ]; then
        echo "already installed in .venv" >&2
    else
        bash scripts/bootstrap.sh && touch "$BIN/.installed"
    fi
}
provision() { DATABASE_URL=$(bash scripts/provision-db.sh); export DATABASE_URL; }

step "install Python packages (.venv)" install
step "PostgreSQL + PostGIS" provision
case $mode in
demo)
    step "migrate" "$BIN/wardwise" db migrate
    step "load the demo borough" "$BIN/wardwise" demo load ${WARDWISE_DEMO_ARGS:-}
    step "create an officer key" sh -c 'echo "Officer key for the map page sign-in (shown once; a new one each run):" >&2;
        '"$BIN"'/wardwise keys create --role officer --name "demo officer" --replace'
    summary; trap - EXIT
    echo "serving http://127.0.0.1:8000 (Ctrl-C stops)" >&2
    # Several workers (jobs and caches are shared through PostgreSQL); changed answers are
    # served from the cache, marked stale, for up to 5 s while they recompute, and stale
    # aggregates are refreshed concurrently every 30 s (docs/scaling.md).
    WARDWISE_STALE_MAX_S=${WARDWISE_STALE_MAX_S:-5} WARDWISE_AGGREGATE_REFRESH_S=${WARDWISE_AGGREGATE_REFRESH_S:-30} exec "$BIN/wardwise" serve --demo --host 127.0.0.1 --port 8000 \
        --workers "${WARDWISE_WORKERS:-2}" ${WARDWISE_SERVE_ARGS:-}
    ;;
test)
    step "Chromium (browser test)" bash scripts/ensure-chromium.sh
    step "GDAL (OGC API client tests)" bash scripts/ensure-gdal.sh
    eval "pytest_args=(${PYTEST_ARGS:-})"   # keeps quoted words: PYTEST_ARGS='-m "not browser"'
    step "test suite (pytest)" "$BIN/python" -m pytest "${pytest_args[@]}"
    ;;
*) echo "usage: scripts/run.sh demo|test" >&2; exit 2 ;;
esac
