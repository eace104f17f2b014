#!/usr/bin/env bash
# Prove the README's two commands on a machine where nothing was installed by hand.
#
# Builds a throwaway Debian root with debootstrap (only the distribution's own packages:
# no PostGIS, no Chromium, no GDAL, no virtualenv, no pip cache), puts a PostgreSQL server
# in it the way the target machines have one (server running, no PostGIS), clones this
# repository into it from the last commit, and inside a private mount and PID namespace runs
#   1. `make test`  (must pass)
#   2. `make demo`  (must serve /health, the map page and a ward tile on 127.0.0.1:8000)
# then reports each step's time. Nothing on the host is used but the kernel, the network to
# the package registries and this machine's CA bundle (for registries behind a TLS proxy).
#
#   sudo scripts/fresh-machine-check.sh [--suite bookworm] [--keep] [--root DIR]
#
# The chroot's PostgreSQL listens on port 5544 so it never meets a server on the host.
# Needs root, debootstrap (installed when missing) and about 6 GB of disk.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

suite=bookworm
keep=0
root=/var/tmp/wardwise-fresh
while [ $# -gt 0 ]; do
    case $1 in
    --suite) suite=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --root) root=$2; shift 2 ;;
    *) echo "usage: $0 [--suite SUITE] [--keep] [--root DIR]" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" -eq 0 ] || { echo "fresh-machine-check: needs root (debootstrap, chroot)" >&2; exit 1; }

results=()
started=$SECONDS
report() {
    local rc=$?
    {
        printf '\n== fresh-machine check (%s, %s): %s ==\n' "$suite" "$(git -C "$repo" rev-parse --short HEAD)" \
            "$([ "$rc" -eq 0 ] && echo PASSED || echo "FAILED (exit $rc)")"
        local r
        for r in "${results[@]}"; do printf '  %s\n' "$r"; done
        printf '  %-40s %6ss\n' total "$((SECONDS - started))"
        printf '  logs: %s/log/\n' "$root"
    } | tee -a "$root/log/summary.txt" >&2
    cleanup
}
cleanup() {
    local m
    for m in build/shared dev/shm dev/pts dev proc sys; do
        mountpoint -q "$root/$m" 2>/dev/null && umount -l "$root/$m" || true
    done
    if [ "$keep" -eq 0 ] && [ -d "$root" ]; then
        mv "$root/log" "/var/tmp/wardwise-fresh-log.$$" 2>/dev/null || true
        rm -rf --one-file-system "$root"
        mkdir -p "$root" && mv "/var/tmp/wardwise-fresh-log.$$" "$root/log" 2>/dev/null || true
    fi
}
step() {
    local name=$1; shift
    local t0=$SECONDS rc=0
    printf '\n-- %s\n' "$name" >&2
    "$@" >>"$root/log/$(tr ' /' '__' <<<"$name").log" 2>&1 || rc=$?
    results+=("$(printf '%-40s %6ss  %s' "$name" "$((SECONDS - t0))" "$([ $rc -eq 0 ] && echo ok || echo "FAILED ($rc)")")")
    if [ $rc -ne 0 ]; then
        echo "fresh-machine-check: '$name' failed; last lines of its log:" >&2
        tail -n 40 "$root/log/$(tr ' /' '__' <<<"$name").log" >&2
    fi
    return $rc
}

if ! command -v debootstrap >/dev/null 2>&1; then
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null
fi
if [ -e "$root" ]; then
    for m in build/shared dev/shm dev/pts dev proc sys; do umount -l "$root/$m" 2>/dev/null || true; done
    rm -rf --one-file-system "$root"
fi
mkdir -p "$root/log"
trap report EXIT

mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
mirror=${mirror:-http://deb.debian.org/debian}
step "debootstrap $suite" debootstrap --variant=minbase \
    --include=ca-certificates,git,make,python3,sudo,procps,curl "$suite" "$root" "$mirror"

# The machine's network facts only: name resolution, apt sources, the CA bundle.
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    rm -f "$root/etc/apt/sources.list"
    cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/"
fi
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d" && chmod +x "$root/usr/sbin/policy-rc.d"

mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
mount -t tmpfs -o size=2g tmpfs "$root/dev/shm"

# in_root CMD: run CMD in the chroot with a plain environment (the machine's pip settings pass
# through: the CA bundle for a TLS-intercepting proxy, the pip timeout).
in_root() {
    chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        LANG=C.UTF-8 CI=true PIP_CERT="${PIP_CERT:-}" PIP_DEFAULT_TIMEOUT="${PIP_DEFAULT_TIMEOUT:-60}" \
        bash -c "$1"
}

# A PostgreSQL server as the target machines have it: installed and running, without PostGIS.
step "PostgreSQL server (the machine's own)" in_root '
    set -e
    mkdir -p /etc/postgresql-common
    echo "port = 5544" >/etc/postgresql-common/createcluster.conf
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql
    rm -f /usr/sbin/policy-rc.d
    major=$(ls /usr/lib/postgresql)
    pg_ctlcluster --skip-systemctl-redirect "$major" main start
    ! ls /usr/share/postgresql/*/extension/postgis.control 2>/dev/null
    ! command -v chromium'

mkdir -p "$root/build/main" "$root/build/shared"
git clone -q "$repo" "$root/build/main"
if [ -d "$repo/../shared" ]; then mount --bind -o ro "$repo/../shared" "$root/build/shared"; fi

step "make test (README command 2)" in_root 'cd /build/main && make test'

step "make demo (README command 1)" in_root '
    cd /build/main
    (setsid make demo >/build/demo.log 2>&1 &)
    ok=0
    for i in $(seq 1 600); do
        if curl -fsS http://127.0.0.1:8000/health >/dev/null 2>&1; then ok=1; break; fi
        sleep 1
    done
    status=0
    if [ $ok -eq 1 ]; then
        python3 - <<"PY" || status=1
import json, math, urllib.request
base = "http://127.0.0.1:8000"
page = urllib.request.urlopen(base + "/").read().decode()
assert "<html" in page.lower(), "no map page"
tj = json.load(urllib.request.urlopen(base + "/tiles/wards.json"))
lon, lat, z = tj["center"][0], tj["center"][1], 12
n = 2 ** z
x = int((lon + 180) / 360 * n)
y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
r = urllib.request.urlopen(f"{base}/tiles/wards/{z}/{x}/{y}.pbf")
body = r.read()
print(f"map page ok; ward tile {z}/{x}/{y}: HTTP {r.status}, {len(body)} bytes")
assert r.status == 200 and body, "empty ward tile at the centre"
PY
    else
        status=1
    fi
    cat /build/demo.log
    pkill -f "[w]ardwise serve" || true   # [w]: never matches the command line of this check itself
    exit $status'

step "stop the chroot PostgreSQL" in_root 'pg_ctlcluster --skip-systemctl-redirect $(ls /usr/lib/postgresql) main stop'
