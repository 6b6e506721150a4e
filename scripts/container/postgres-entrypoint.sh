#!/bin/bash
# Entrypoint of localhost/rehearse-postgres (built by scripts/container-engine.sh from Debian's postgresql-15):
# behaves like the official postgres image's docker-entrypoint.sh for what rehearse and testcontainers use.
#  - POSTGRES_PASSWORD (required unless POSTGRES_HOST_AUTH_METHOD=trust), POSTGRES_USER (default postgres),
#    POSTGRES_DB (default: the user's name), POSTGRES_INITDB_ARGS, PGDATA;
#  - on an empty PGDATA: initdb, then a temporary server on the socket only to create the database, then stop
#    it. Like the official image this prints "database system is ready to accept connections" twice (the
#    temporary server, then the real one): a wait on the first line alone would connect during the init.
#  - the real server listens on *, with password authentication for every host.
set -Eeuo pipefail

PGDATA=${PGDATA:-/var/lib/postgresql/data}
export PGDATA

if [ "${1:-}" = "postgres" ] && [ "$(id -u)" = "0" ]; then
  # The server refuses to run as root: prepare the directories, then run this script again as postgres.
  mkdir -p "$PGDATA" /var/run/postgresql
  chown -R postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  chmod 2775 /var/run/postgresql
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ "${1:-}" = "postgres" ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  user=${POSTGRES_USER:-postgres}
  db=${POSTGRES_DB:-$user}
  auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
  if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$auth" != "trust" ]; then
    echo "error: database is uninitialized and superuser password is not specified." >&2
    echo "       Set POSTGRES_PASSWORD (or POSTGRES_HOST_AUTH_METHOD=trust, never outside a test)." >&2
    exit 1
  fi
  # The password goes to initdb through a file descriptor, never a command line another process could read.
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of arguments, split on purpose
  initdb --username="$user" --pwfile=<(printf '%s\n' "${POSTGRES_PASSWORD:-}") \
    --encoding=UTF8 --locale=C.UTF-8 ${POSTGRES_INITDB_ARGS:-}
  {
    echo
    echo "host all all all $auth"
  } >>"$PGDATA/pg_hba.conf"
  echo "listen_addresses = '*'" >>"$PGDATA/postgresql.auto.conf"

  # The temporary server listens on the socket only: no client can reach it before the database exists.
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start
  if [ "$db" != "postgres" ]; then
    # The name is quoted as an identifier by psql's :"db" substitution.
    psql -v ON_ERROR_STOP=1 --username "$user" --no-password --dbname postgres --set db="$db" \
      <<<'CREATE DATABASE :"db";'
  fi
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh) echo "running $f" && . "$f" ;;
      *.sql) echo "running $f" && psql -v ON_ERROR_STOP=1 --username "$user" --no-password --dbname "$db" -f "$f" ;;
      *) ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop
  echo
  echo "PostgreSQL init process complete; ready for start up."
  echo
fi

exec "$@"
