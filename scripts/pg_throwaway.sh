#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster for the demo, the tests and the
# benchmarks. Prints the DSN on stdout; `pg_throwaway.sh stop DIR` stops it.
#
#   eval "$(scripts/pg_throwaway.sh start)"   # sets SLUICE_DSN and SLUICE_PGDIR
#   scripts/pg_throwaway.sh stop "$SLUICE_PGDIR"
#
# For outage tests (tests/chaos): `down DIR` stops the server at once, as a
# crash would (pg_ctl -m immediate: no checkpoint, recovery at the next
# start); `up DIR` starts it again on the same port.
set -euo pipefail

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$PGBIN" ] || { echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }

run_as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-start}" in
  start)
    dir=$(mktemp -d /tmp/sluice-pg.XXXXXX)
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
    # A free port: ask the kernel.
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    run_as_postgres "$PGBIN/initdb" -D "$dir/data" -U postgres -A trust --no-sync >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    echo "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=${SLUICE_PG_FSYNC:-on} -c autovacuum_naptime=10s" >"$dir/options"
    run_as_postgres "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "$(cat "$dir/options")" start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    run_as_postgres "$PGBIN/createdb" -h 127.0.0.1 -p "$port" -U postgres sluice
    echo "export SLUICE_PGDIR=$dir"
    echo "export SLUICE_DSN='host=127.0.0.1 port=$port user=postgres dbname=sluice'"
    echo "export SLUICE_PG_ADMIN_DSN='host=127.0.0.1 port=$port user=postgres dbname=postgres'"
    ;;
  down)
    dir=${2:?usage: pg_throwaway.sh down DIR}
    run_as_postgres "$PGBIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
    ;;
  up)
    dir=${2:?usage: pg_throwaway.sh up DIR}
    run_as_postgres "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "$(cat "$dir/options")" start >/dev/null || { tail -20 "$dir/server.log" >&2; exit 1; }
    ;;
  stop)
    dir=${2:?usage: pg_throwaway.sh stop DIR}
    run_as_postgres "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
  *) echo "usage: $0 start | down DIR | up DIR | stop DIR" >&2; exit 2 ;;
esac
