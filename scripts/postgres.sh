#!/usr/bin/env bash
# Start a project-local PostgreSQL (Debian's `postgresql` package) for the tests and benchmarks, idempotently:
# a cluster in .local/postgres, listening on 127.0.0.1 only (port $HOTLINE_PG_PORT, default 55432, or the next free), a role
# with a generated password kept in .local/postgres/password (never in the repository) and a test database.
# Usage:
#   scripts/postgres.sh           start if needed; print the database URL
#   scripts/postgres.sh --env     start if needed; print `export TEST_POSTGRES_URL=...` (for eval)
#   scripts/postgres.sh --stop    stop the cluster
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
port=${HOTLINE_PG_PORT:-55432}
dir="$root/.local/postgres"
data="$dir/data"
run="$dir/run"
log="$dir/server.log"
db=hotline_test
role=hotline

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$bindir" ] || [ ! -x "$bindir/pg_ctl" ]; then
    echo "postgres.sh: PostgreSQL is not installed (scripts/setup.sh --test installs Debian's postgresql)" >&2
    exit 1
fi

# PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres` system user.
as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

mkdir -p "$dir"
if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
chmod 700 "$dir"

if [ "${1:-}" = "--stop" ]; then
    if [ -f "$data/postmaster.pid" ]; then as_owner "$bindir/pg_ctl" -D "$data" -m fast -w stop >&2; fi
    exit 0
fi

if [ ! -f "$dir/password" ]; then
    (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$dir/password")
    if [ "$(id -u)" = 0 ]; then chown postgres: "$dir/password"; fi
fi
password=$(cat "$dir/password")

if [ ! -f "$data/PG_VERSION" ]; then
    echo "postgres.sh: creating the cluster in $data" >&2
    pwfile="$dir/.initpw"
    (umask 077; printf '%s\n' "$password" > "$pwfile")
    if [ "$(id -u)" = 0 ]; then chown postgres: "$pwfile"; fi
    as_owner "$bindir/initdb" -D "$data" -U "$role" --pwfile="$pwfile" -A scram-sha-256 -E UTF8 \
        --locale=C.UTF-8 >/dev/null
    rm -f "$pwfile"
fi
as_owner mkdir -p "$run"

# A port another program (or another checkout's cluster) holds is skipped: the next free one is taken. A
# running cluster of this checkout keeps the port it has (line 4 of postmaster.pid).
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    port=$(sed -n 4p "$data/postmaster.pid")
else
    for _ in $(seq 1 50); do
        listening "$port" || break
        echo "postgres.sh: port $port is taken; trying $((port + 1))" >&2
        port=$((port + 1))
    done
    echo "postgres.sh: starting PostgreSQL on 127.0.0.1:$port" >&2
    as_owner "$bindir/pg_ctl" -D "$data" -l "$log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $run -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >&2
fi

export PGPASSWORD="$password"
psql=("$bindir/psql" -h 127.0.0.1 -p "$port" -U "$role" -d postgres -v ON_ERROR_STOP=1 -qtA)
for _ in $(seq 1 50); do
    "${psql[@]}" -c "select 1" >/dev/null 2>&1 && break
    sleep 0.2
done
if [ "$("${psql[@]}" -c "select 1 from pg_database where datname = '$db'")" != 1 ]; then
    "${psql[@]}" -c "create database $db" >/dev/null
fi

url="postgresql://$role:$password@127.0.0.1:$port/$db"
if [ "${1:-}" = "--env" ]; then
    echo "export TEST_POSTGRES_URL='$url'"
else
    echo "$url"
fi
