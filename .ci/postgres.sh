#!/usr/bin/env bash
# Start a throwaway PostgreSQL cluster (Debian's packages, initdb into a temp dir, trust auth on
# 127.0.0.1 only, fsync off) and print its database URL on stdout; everything else goes to stderr.
#
#   export COC_TEST_POSTGRES_URL="$(.ci/postgres.sh)"   # start
#   .ci/postgres.sh stop                                # stop the last one started and delete it
#
# As root, the cluster runs as the unprivileged `postgres` user (created by the Debian package);
# otherwise as the current user. Installs postgresql with apt-get if no initdb is found.
set -euo pipefail

STATE="${TMPDIR:-/tmp}/coc-postgres.dir"

find_bin() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

run_as() {
  if [ "$(id -u)" = "0" ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

if [ "${1:-start}" = "stop" ]; then
  [ -f "$STATE" ] || { echo "no cluster recorded in $STATE" >&2; exit 0; }
  DIR="$(cat "$STATE")"
  PGBIN="$(find_bin)"
  run_as "$PGBIN/pg_ctl" -D "$DIR/data" -m fast -w stop >&2 || true
  rm -rf "$DIR" "$STATE"
  exit 0
fi

PGBIN="$(find_bin)"
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
  echo "installing postgresql (apt-get)" >&2
  apt-get update >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2
  PGBIN="$(find_bin)"
fi

DIR="$(mktemp -d "${TMPDIR:-/tmp}/coc-pg.XXXXXX")"
chmod 755 "$DIR"
if [ "$(id -u)" = "0" ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/false postgres
  chown postgres "$DIR"
fi
PORT="${COC_PG_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"

run_as "$PGBIN/initdb" -D "$DIR/data" -U coc --auth=trust -E UTF8 --no-instructions >&2
run_as "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w \
  -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
  start >&2
run_as "$PGBIN/createdb" -h 127.0.0.1 -p "$PORT" -U coc coc_test >&2
echo "$DIR" > "$STATE"
echo "postgresql://coc@127.0.0.1:$PORT/coc_test"
