#!/usr/bin/env bash
# Starts or stops a throwaway PostgreSQL cluster for the tests.
#
#   scripts/postgres.sh start DIR   initdb + start in DIR; prints the DSN
#   scripts/postgres.sh stop DIR    stops it
#
# Uses the Debian server binaries (/usr/lib/postgresql/*/bin). As root the
# cluster runs as the postgres user, since PostgreSQL refuses to run as root.
# fsync is off: the data is thrown away.
set -euo pipefail
cmd=${1:?start|stop}
dir=${2:?directory}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$bin" ] && [ -x "$bin/initdb" ] || { echo "postgres.sh: no PostgreSQL server binaries under /usr/lib/postgresql" >&2; exit 3; }
as() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case $cmd in
start)
	mkdir -p "$dir"
	if [ "$(id -u)" = 0 ]; then chmod a+x "$(dirname "$dir")"; chown postgres: "$dir"; fi
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo $((20000 + RANDOM % 20000)))
	as "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1
	# The superuser the tests connect as is trusted; every other role must
	# log in with its password, so that connector tests prove a rotated
	# password really works.
	cat >"$dir/data/pg_hba.conf" <<-HBA
		local all all trust
		host all postgres 127.0.0.1/32 trust
		host all all 127.0.0.1/32 scram-sha-256
	HBA
	as "$bin/pg_ctl" -D "$dir/data" -l "$dir/pg.log" -w -o "-p $port -c listen_addresses=127.0.0.1 -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" start >/dev/null
	# pg_trgm belongs to the database: make it once, here, before tests make
	# their schemas (see store/sqlstore/sqlstoretest).
	as "$bin/psql" -h "$dir" -p "$port" -U postgres -d postgres -qc 'CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public' >/dev/null
	echo "postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
	;;
stop)
	[ -d "$dir/data" ] && as "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
	;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
