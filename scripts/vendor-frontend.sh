#!/usr/bin/env bash
# Vendor the map page's JavaScript into frontend_static/vendor (no CDN at run time):
#  - deck.gl, as the bundle that ships inside the installed pydeck wheel
#    (pydeck/nbextension/static/index.js; it exports createDeck and the JSON converter);
#  - the @loaders.gl/mvt web worker from npm, whose version must match the loaders.gl
#    inside that bundle (MVTLayer would otherwise fetch the worker from unpkg.com).
#  - axe-core from npm, for the browser tests only (tests/browser/vendor).
# File names carry the versions; geo/mappage.py names the same files.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
DECK_VERSION=9.3.6
LOADERS_VERSION=4.4.3
PYDECK_VERSION=$($PY -c 'import pydeck; print(pydeck.__version__)')
STATIC=$($PY -c 'import pathlib, pydeck; print(pathlib.Path(pydeck.__file__).parent / "nbextension/static")')
OUT=frontend_static/vendor
mkdir -p "$OUT"

# The bundle records its deck.gl and loaders.gl versions; refuse a mismatch with the names.
grep -q "let t=\"${DECK_VERSION}\"" "$STATIC/index.js" \
    || { echo "vendor-frontend: pydeck $PYDECK_VERSION does not bundle deck.gl $DECK_VERSION" >&2; exit 1; }
grep -q "var [A-Za-z0-9_\$]*=\"${LOADERS_VERSION}\",[A-Za-z0-9_\$]*={...u_e" "$STATIC/index.js" \
    || { echo "vendor-frontend: the bundle's MVT loader is not loaders.gl $LOADERS_VERSION" >&2; exit 1; }
cp "$STATIC/index.js" "$OUT/pydeck-${PYDECK_VERSION}-deckgl-${DECK_VERSION}.js"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && npm pack --silent "@loaders.gl/mvt@${LOADERS_VERSION}" >/dev/null && tar xzf loaders.gl-mvt-*.tgz)
cp "$TMP/package/dist/mvt-worker.js" "$OUT/loaders.gl-mvt-${LOADERS_VERSION}-worker.js"
cp "$TMP/package/LICENSE" "$OUT/loaders.gl-LICENSE" 2>/dev/null || true
ls -l "$OUT"

# axe-core (MPL-2.0), for the browser tests only (tests/browser/test_accessibility.py): it is
# evaluated in the page through DevTools, never served by the app.
AXE_VERSION=4.14.1
(cd "$TMP" && rm -rf package && npm pack --silent "axe-core@${AXE_VERSION}" >/dev/null && tar xzf axe-core-*.tgz)
mkdir -p tests/browser/vendor
cp "$TMP/package/axe.min.js" "tests/browser/vendor/axe-core-${AXE_VERSION}.min.js"
cp "$TMP/package/LICENSE" tests/browser/vendor/axe-core-LICENSE
ls -l tests/browser/vendor
