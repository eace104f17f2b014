#!/usr/bin/env bash
# Make sure a PostgreSQL server with PostGIS is there for Wardwise, and print the URL to use.
#
# With DATABASE_URL set we only check it (PostGIS present, server reachable) and echo it.
# Without it we use the local server: install the distribution's PostgreSQL and PostGIS
# packages for the installed major version when missing (as root), start the cluster,
# and create a `wardwise` role plus the databases `wardwise` and `wardwise_test`, each with
# the postgis extension created by the superuser (a plain role cannot create it).
#
# Prints exactly one line on stdout: the application database URL. Everything else goes
# to stderr so `make` can capture the URL.
set -euo pipefail

say() { printf 'provision-db: %s\n' "$*" >&2; }
die() { printf 'provision-db: ERROR: %s\n' "$*" >&2; exit 1; }

if [ -n "${DATABASE_URL:-}" ]; then
    say "using DATABASE_URL (not touching any local server)"
    echo "$DATABASE_URL"
    exit 0
fi

. "$(dirname "$0")/lib.sh"   # as_root

need_root_msg="PostgreSQL with PostGIS is missing and this user cannot install packages.
  Either install them (Debian/Ubuntu: sudo apt-get install postgresql postgresql-<major>-postgis-3)
  or point Wardwise at an existing PostGIS: export DATABASE_URL=postgresql://user:pass@host:5432/db"

apt_updated=0
apt_install() {
    if [ "$apt_updated" -eq 0 ]; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 || die "$need_root_msg"
        apt_updated=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >&2 || die "$need_root_msg"
}

# 1. A server: the newest installed major version, or the distribution's default.
major=""
if [ -d /usr/lib/postgresql ]; then
    major=$(ls /usr/lib/postgresql | sort -n | tail -n 1)   # no pipefail trap: tail reads all
fi
if [ -z "$major" ] || [ ! -x "/usr/lib/postgresql/$major/bin/postgres" ]; then
    command -v apt-get >/dev/null 2>&1 || die "$need_root_msg"
    say "installing PostgreSQL from the distribution"
    apt_install postgresql postgresql-contrib
    major=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
fi
say "PostgreSQL major version $major"

# 2. PostGIS for that major version.
if [ ! -f "/usr/share/postgresql/$major/extension/postgis.control" ]; then
    command -v apt-get >/dev/null 2>&1 || die "$need_root_msg"
    say "installing PostGIS for PostgreSQL $major"
    apt_install "postgresql-$major-postgis-3"
fi

# 3. A running cluster.
clusters() { pg_lsclusters -h 2>/dev/null || true; }
if command -v pg_lsclusters >/dev/null 2>&1; then
    if [ -z "$(awk -v m="$major" '$1==m' <<<"$(clusters)")" ]; then
        say "creating cluster $major/main"
        as_root pg_createcluster "$major" main >&2 || die "could not create a PostgreSQL cluster"
    fi
    if [ -z "$(awk -v m="$major" '$1==m && $4=="online"' <<<"$(clusters)")" ]; then
        say "starting cluster $major/main"
        as_root pg_ctlcluster --skip-systemctl-redirect "$major" main start >&2 \
            || as_root pg_ctlcluster "$major" main start >&2 \
            || die "could not start PostgreSQL $major (see /var/log/postgresql/)"
    fi
fi
port=$(awk -v m="$major" '$1==m {print $3; exit}' <<<"$(clusters)")
port=${port:-5432}

# 4. Role and databases, created as the postgres superuser over the local socket.
pg_super() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@";
    elif [ "$(id -un)" = "postgres" ]; then "$@";
    else sudo -n -u postgres "$@"; fi
}
psql_super() { pg_super psql -p "$port" -v ON_ERROR_STOP=1 -qAt "$@"; }

for i in $(seq 1 30); do
    psql_super -c 'select 1' >/dev/null 2>&1 && break
    sleep 1
done
psql_super -c 'select 1' >/dev/null 2>&1 || die "cannot connect to PostgreSQL $major on port $port as postgres"

role=${WARDWISE_DB_USER:-wardwise}
password=${WARDWISE_DB_PASSWORD:-wardwise}
if [ -z "$(psql_super -c "select 1 from pg_roles where rolname = '$role'")" ]; then
    say "creating role $role"
    psql_super -c "create role \"$role\" login createdb password '$password'"
fi
for db in wardwise wardwise_test; do
    if [ -z "$(psql_super -c "select 1 from pg_database where datname = '$db'")" ]; then
        say "creating database $db"
        psql_super -c "create database \"$db\" owner \"$role\""
    fi
    psql_super -d "$db" -c "create extension if not exists postgis"
done

echo "postgresql+psycopg://$role:$password@127.0.0.1:$port/wardwise"
