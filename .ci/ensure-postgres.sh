#!/usr/bin/env bash
# Makes a Postgres available and prints the shell line that points herald at it:
#   eval "$(bash .ci/ensure-postgres.sh)"
# In order: $HERALD_TEST_DATABASE_URL or $DATABASE_URL when they answer; 127.0.0.1:5432 as
# user postgres when it answers; otherwise a private throw-away cluster from Debian's
# postgresql packages (installed with apt-get when missing), run as the postgres user because
# Postgres refuses to run as root. The cluster lives in $HERALD_PGDATA (default
# /tmp/herald-pg) on port $HERALD_PGPORT (default 55432) and survives until reboot.
set -euo pipefail

answers() { # URL
	if command -v pg_isready >/dev/null 2>&1; then
		pg_isready -q -d "$1" -t 3 >/dev/null 2>&1 || return 1
	fi
	command -v psql >/dev/null 2>&1 || return 0
	psql "$1" -Atqc 'select 1' >/dev/null 2>&1
}

for url in "${HERALD_TEST_DATABASE_URL:-}" "${DATABASE_URL:-}" "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"; do
	if [ -n "$url" ] && answers "$url"; then
		echo "export HERALD_TEST_DATABASE_URL='$url'"
		exit 0
	fi
done

pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
if [ -z "$pgbin" ] || [ ! -x "$pgbin/initdb" ]; then
	echo "ensure-postgres: installing Debian's postgresql packages" >&2
	export DEBIAN_FRONTEND=noninteractive
	SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
	$SUDO apt-get update -qq >&2
	$SUDO apt-get install -y -qq --no-install-recommends postgresql postgresql-client >/dev/null
	pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
fi

data=${HERALD_PGDATA:-/tmp/herald-pg}
port=${HERALD_PGPORT:-55432}
url="postgres://postgres@127.0.0.1:${port}/postgres?sslmode=disable"
if answers "$url"; then
	echo "export HERALD_TEST_DATABASE_URL='$url'"
	exit 0
fi

as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}
if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
	useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
fi
mkdir -p "$data"
[ "$(id -u)" -eq 0 ] && chown postgres "$data"
if [ ! -f "$data/PG_VERSION" ]; then
	echo "ensure-postgres: creating a throw-away cluster in $data" >&2
	as_pg "$pgbin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >/dev/null
fi
echo "ensure-postgres: starting Postgres on 127.0.0.1:$port" >&2
as_pg "$pgbin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
	-o "-p $port -k $data -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off" start >/dev/null
echo "export HERALD_TEST_DATABASE_URL='$url'"
