#!/bin/bash
# Entrypoint of multidb-test/postgres:15 (built by tests/images/build.sh).
#
# Follows the official postgres image's environment contract, as far as the
# tests (and testcontainers' PostgresContainer) need it:
#   POSTGRES_PASSWORD   superuser password (required unless POSTGRES_HOST_AUTH_METHOD=trust)
#   POSTGRES_USER       superuser name (default: postgres)
#   POSTGRES_DB         database created on first start (default: $POSTGRES_USER)
#   POSTGRES_HOST_AUTH_METHOD  auth for remote hosts in pg_hba.conf (default: scram-sha-256)
#   POSTGRES_INITDB_ARGS, POSTGRES_INITDB_WALDIR, PGDATA, and VAR_FILE for the secrets
#   /docker-entrypoint-initdb.d/*.sh|*.sql|*.sql.gz  run once, on first start
# Like the official image: first start runs initdb and a temporary server on the
# Unix socket only (so nothing on TCP answers before the real server); then the
# real server is exec'ed in the foreground as the postgres user (PID 1). Both
# servers log "database system is ready to accept connections", like upstream.
# Test tuning (fsync off, small buffers, listen on *) comes from the image's
# postgresql.conf.sample (see build.sh); `-c name=value` arguments override it.
set -Eeo pipefail

log() { echo "$(date -u '+%Y-%m-%d %H:%M:%S.%3N UTC') [entrypoint] $*"; }
die() { log "ERROR: $*" >&2; exit 1; }

# VAR_FILE support, as upstream: file_env VAR [default]
file_env() {
    local var="$1" fileVar="${1}_FILE" def="${2:-}"
    if [ -n "${!var:-}" ] && [ -n "${!fileVar:-}" ]; then
        die "both $var and $fileVar are set (but are exclusive)"
    fi
    local val="$def"
    if [ -n "${!var:-}" ]; then
        val="${!var}"
    elif [ -n "${!fileVar:-}" ]; then
        val="$(<"${!fileVar}")"
    fi
    export "$var"="$val"
    unset "$fileVar"
}

# `docker run IMAGE -c fsync=on` -> postgres -c fsync=on
if [ "${1:0:1}" = '-' ]; then
    set -- postgres "$@"
fi

: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA

if [ "$1" = postgres ] && [ "$(id -u)" = 0 ]; then
    # As root: fix ownership, then re-exec this script as postgres (no gosu here:
    # setpriv is in util-linux, which every Debian system has).
    mkdir -p "$PGDATA" /var/run/postgresql
    chmod 00700 "$PGDATA" || :
    chmod 03775 /var/run/postgresql
    chown -R postgres:postgres /var/run/postgresql
    find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
    if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then
        mkdir -p "$POSTGRES_INITDB_WALDIR"
        find "$POSTGRES_INITDB_WALDIR" \! -user postgres -exec chown postgres:postgres '{}' +
        chmod 700 "$POSTGRES_INITDB_WALDIR"
    fi
    exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

# shellcheck disable=SC1090 # sourcing the user's init scripts, as upstream
run_initdb_d() {
    local f
    for f in /docker-entrypoint-initdb.d/*; do
        case "$f" in
            *.sh)
                if [ -x "$f" ]; then log "running $f"; "$f"; else log "sourcing $f"; . "$f"; fi ;;
            *.sql) log "running $f"; psql_init -f "$f" ;;
            *.sql.gz) log "running $f"; gunzip -c "$f" | psql_init ;;
            *.sql.xz) log "running $f"; xz -dc "$f" | psql_init ;;
            *) if [ -e "$f" ]; then log "ignoring $f"; fi ;;
        esac
    done
}

psql_init() {
    PGHOST=/var/run/postgresql PGPORT=5432 PGPASSWORD='' \
        psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" "$@"
}

init_database() {
    file_env POSTGRES_PASSWORD
    file_env POSTGRES_USER postgres
    file_env POSTGRES_DB "$POSTGRES_USER"
    file_env POSTGRES_INITDB_ARGS
    : "${POSTGRES_HOST_AUTH_METHOD:=}"

    if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
        die "Database is uninitialized and superuser password is not specified.
       You must specify POSTGRES_PASSWORD to a non-empty value for the superuser.
       For example, \"-e POSTGRES_PASSWORD=password\" on \"docker run\".
       To allow connections without a password, set POSTGRES_HOST_AUTH_METHOD=trust."
    fi

    local -a args=(--username="$POSTGRES_USER" --auth-local=trust --auth-host=trust --no-sync)
    if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then args+=(--waldir "$POSTGRES_INITDB_WALDIR"); fi
    local pwfile=""
    if [ -n "$POSTGRES_PASSWORD" ]; then
        pwfile="$(mktemp)"
        printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
        args+=(--pwfile="$pwfile")
    fi
    # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is word-split, as upstream
    initdb "${args[@]}" $POSTGRES_INITDB_ARGS >/dev/null
    rm -f "$pwfile"

    # Remote hosts: password auth (trust only when asked for), like upstream.
    local method="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
    printf '\nhost all all all %s\n' "$method" >>"$PGDATA/pg_hba.conf"

    # Temporary server: Unix socket only, so TCP probes fail until the real one is up.
    pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w -t 60 start

    if [ "$POSTGRES_DB" != postgres ]; then
        local q="${POSTGRES_DB//\"/\"\"}"
        psql_init --dbname postgres -c "CREATE DATABASE \"$q\";"
    fi
    run_initdb_d

    pg_ctl -D "$PGDATA" -m fast -w stop
    log "PostgreSQL init process complete; ready for start up."
}

if [ "$1" = postgres ]; then
    if [ -s "$PGDATA/PG_VERSION" ]; then
        log "PostgreSQL Database directory appears to contain a database; Skipping initialization"
    else
        init_database
    fi
    unset POSTGRES_PASSWORD
fi

exec "$@"
