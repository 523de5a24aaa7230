#!/bin/bash
# Entrypoint of multidb-test/mariadb:10.11 (built by tests/images/build.sh).
#
# Follows the official mariadb image's environment contract, as far as the tests
# (and testcontainers' MySqlContainer, which sets the MYSQL_* names) need it.
# Each MARIADB_X wins over MYSQL_X; X_FILE reads the value from a file:
#   MARIADB_ROOT_PASSWORD / MYSQL_ROOT_PASSWORD            root password
#   MARIADB_ALLOW_EMPTY_ROOT_PASSWORD / MYSQL_ALLOW_EMPTY_PASSWORD
#   MARIADB_RANDOM_ROOT_PASSWORD / MYSQL_RANDOM_ROOT_PASSWORD
#       (one of these three is required on first start, as upstream)
#   MARIADB_ROOT_HOST / MYSQL_ROOT_HOST       host of the extra root account (default %)
#   MARIADB_DATABASE / MYSQL_DATABASE         database created on first start
#   MARIADB_USER + MARIADB_PASSWORD / MYSQL_USER + MYSQL_PASSWORD
#       user@'%' created on first start, with ALL on MARIADB_DATABASE.* (as upstream:
#       it may not create other databases, e.g. Django's test_* ones; connect as
#       root for that)
#   MARIADB_INITDB_SKIP_TZINFO / MYSQL_INITDB_SKIP_TZINFO  skip loading time zones
#   /docker-entrypoint-initdb.d/*.sh|*.sql|*.sql.gz  run once, on first start
# Like upstream: first start runs mariadb-install-db and a temporary server with
# networking off, then exec's the real server in the foreground (PID 1) as the
# mysql user. Each server logs "mariadbd: ready for connections.", so the log has
# it twice after a first start, which is what MySqlContainer waits for.
# Test tuning (bind 0.0.0.0, small buffers, no flushing) is in
# /etc/mysql/mariadb.conf.d/99-multidb-test.cnf (see build.sh); server options
# given as arguments override it.
set -Eeo pipefail

log() { printf '%s [%s] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$1" "$2"; }
note() { log Note "$*"; }
die() { log ERROR "$*" >&2; exit 1; }

# _env X [default]: MARIADB_X, else MYSQL_X, else X's _FILE variants, else default;
# exports both names.
_env() {
    local x="$1" def="${2:-}" val="" n
    for n in "MARIADB_$x" "MYSQL_$x"; do
        if [ -n "${!n:-}" ]; then val="${!n}"; break; fi
        local f="${n}_FILE"
        if [ -n "${!f:-}" ]; then val="$(<"${!f}")"; break; fi
    done
    [ -n "$val" ] || val="$def"
    export "MARIADB_$x"="$val" "MYSQL_$x"="$val"
    unset "MARIADB_${x}_FILE" "MYSQL_${x}_FILE"
}

# `docker run IMAGE --some-option` -> mariadbd --some-option
if [ "${1:0:1}" = '-' ]; then
    set -- mariadbd "$@"
fi

is_server() { [ "$1" = mariadbd ] || [ "$1" = mysqld ]; }

DATADIR=/var/lib/mysql
SOCKET=/run/mysqld/mysqld.sock

if is_server "$1" && [ "$(id -u)" = 0 ]; then
    note "Entrypoint script for MariaDB Server $(mariadbd --version | awk '{ print $3 }') started."
    mkdir -p "$DATADIR" /run/mysqld
    chown mysql:mysql /run/mysqld
    find "$DATADIR" \! -user mysql -exec chown mysql:mysql '{}' +
    # Re-exec as mysql (setpriv is in util-linux, which every Debian system has).
    exec setpriv --reuid=mysql --regid=mysql --init-groups "${BASH_SOURCE[0]}" "$@"
fi

sql_escape_string() { local s="${1//\\/\\\\}"; printf '%s' "${s//\'/\\\'}"; }
sql_escape_ident() { printf '%s' "${1//\`/\`\`}"; }

client() { mariadb --protocol=socket --socket="$SOCKET" -uroot --password= --batch --skip-column-names "$@"; }

temp_server_start() {
    "$@" --skip-networking --socket="$SOCKET" --default-time-zone=SYSTEM --wsrep_on=OFF \
        --expire-logs-days=0 --skip-slave-start --loose-innodb_buffer_pool_load_at_startup=0 &
    TEMP_PID=$!

    for _ in $(seq 1 300); do
        if client --database=mysql -e 'SELECT 1' >/dev/null 2>&1; then
            return 0
        fi
        kill -0 "$TEMP_PID" 2>/dev/null || die "temporary server exited during startup"
        sleep 0.1
    done
    die "temporary server did not start in 30 s"
}

temp_server_stop() {
    kill "$TEMP_PID"
    wait "$TEMP_PID" || die "temporary server did not stop cleanly"
}

# shellcheck disable=SC1090 # sourcing the user's init scripts, as upstream
run_initdb_d() {
    local f
    for f in /docker-entrypoint-initdb.d/*; do
        case "$f" in
            *.sh)
                if [ -x "$f" ]; then note "$0: running $f"; "$f"; else note "$0: sourcing $f"; . "$f"; fi ;;
            *.sql) note "$0: running $f"; client "${dbarg[@]}" <"$f" ;;
            *.sql.gz) note "$0: running $f"; gunzip -c "$f" | client "${dbarg[@]}" ;;
            *.sql.xz) note "$0: running $f"; xz -dc "$f" | client "${dbarg[@]}" ;;
            *) if [ -e "$f" ]; then note "$0: ignoring $f"; fi ;;
        esac
    done
}

init_database() {
    _env ROOT_PASSWORD
    _env ALLOW_EMPTY_ROOT_PASSWORD
    [ -n "$MARIADB_ALLOW_EMPTY_ROOT_PASSWORD" ] || _env ALLOW_EMPTY_PASSWORD
    MARIADB_ALLOW_EMPTY_ROOT_PASSWORD="${MARIADB_ALLOW_EMPTY_ROOT_PASSWORD:-$MYSQL_ALLOW_EMPTY_PASSWORD}"
    _env RANDOM_ROOT_PASSWORD
    _env ROOT_HOST %
    _env DATABASE
    _env USER
    _env PASSWORD
    _env INITDB_SKIP_TZINFO

    if [ -z "$MARIADB_ROOT_PASSWORD" ] && [ -z "$MARIADB_ALLOW_EMPTY_ROOT_PASSWORD" ] &&
        [ -z "$MARIADB_RANDOM_ROOT_PASSWORD" ]; then
        die "Database is uninitialized and password option is not specified
	You need to specify one of MARIADB_ROOT_PASSWORD, MARIADB_ALLOW_EMPTY_ROOT_PASSWORD and MARIADB_RANDOM_ROOT_PASSWORD"
    fi
    if [ "$MARIADB_USER" = root ]; then
        die "MARIADB_USER=\"root\", MARIADB_USER and MARIADB_PASSWORD are for configuring a regular user and cannot be used for the root user
	Remove MARIADB_USER=\"root\" and use one of the following to control the root user password:
	- MARIADB_ROOT_PASSWORD
	- MARIADB_ALLOW_EMPTY_ROOT_PASSWORD
	- MARIADB_RANDOM_ROOT_PASSWORD"
    fi
    if [ -n "$MARIADB_USER" ] && [ -z "$MARIADB_PASSWORD" ]; then
        die "MARIADB_USER is set, MARIADB_PASSWORD is not"
    fi

    note "Initializing database files"
    mariadb-install-db --datadir="$DATADIR" --rpm --auth-root-authentication-method=normal \
        --skip-test-db --skip-name-resolve --default-time-zone=SYSTEM --skip-log-bin \
        --expire-logs-days=0 --loose-innodb_buffer_pool_load_at_startup=0 \
        --loose-innodb_buffer_pool_dump_at_shutdown=0 "${@:2}" >/dev/null
    note "Database files initialized"

    note "Starting temporary server"
    temp_server_start "$@"
    note "Temporary server started."

    if [ -n "$MARIADB_RANDOM_ROOT_PASSWORD" ]; then
        MARIADB_ROOT_PASSWORD="$(head -c 24 /dev/urandom | base64 | tr -d '/+=' | head -c 32)"
        export MARIADB_ROOT_PASSWORD MYSQL_ROOT_PASSWORD="$MARIADB_ROOT_PASSWORD"
        note "GENERATED ROOT PASSWORD: $MARIADB_ROOT_PASSWORD"
    fi

    local tzinfo=""
    if [ -z "$MARIADB_INITDB_SKIP_TZINFO" ] && [ -d /usr/share/zoneinfo ]; then
        tzinfo="$(mariadb-tzinfo-to-sql --skip-write-binlog /usr/share/zoneinfo 2>/dev/null |
            sed 's/Local time zone must be set--see zic manual page/FCTY/')"
    fi

    local rootpw root_host root_grant="" db_sql="" user_sql=""
    rootpw="$(sql_escape_string "$MARIADB_ROOT_PASSWORD")"
    root_host="$(sql_escape_string "$MARIADB_ROOT_HOST")"
    if [ "$MARIADB_ROOT_HOST" != localhost ]; then
        root_grant="CREATE USER 'root'@'$root_host' IDENTIFIED BY '$rootpw';
GRANT ALL ON *.* TO 'root'@'$root_host' WITH GRANT OPTION;
GRANT PROXY ON ''@'%' TO 'root'@'$root_host' WITH GRANT OPTION;"
    fi
    if [ -n "$MARIADB_DATABASE" ]; then
        note "Creating database ${MARIADB_DATABASE}"
        db_sql="CREATE DATABASE IF NOT EXISTS \`$(sql_escape_ident "$MARIADB_DATABASE")\`;"
    fi
    if [ -n "$MARIADB_USER" ]; then
        note "Creating user ${MARIADB_USER}"
        local u
        u="$(sql_escape_string "$MARIADB_USER")"
        user_sql="CREATE USER '$u'@'%' IDENTIFIED BY '$(sql_escape_string "$MARIADB_PASSWORD")';"
        if [ -n "$MARIADB_DATABASE" ]; then
            note "Giving user ${MARIADB_USER} access to schema ${MARIADB_DATABASE}"
            user_sql+="
GRANT ALL ON \`$(sql_escape_ident "${MARIADB_DATABASE//_/\\_}")\`.* TO '$u'@'%';"
        fi
    fi

    note "Securing system users (equivalent to running mysql_secure_installation)"
    client --database=mysql --binary-mode <<-EOSQL
		SET @@SESSION.SQL_LOG_BIN=0;
		SET @@SESSION.SQL_MODE=REPLACE(@@SESSION.SQL_MODE, 'NO_BACKSLASH_ESCAPES', '');
		${tzinfo}
		DROP USER IF EXISTS root@'127.0.0.1', root@'::1';
		EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS root@\'', @@hostname,'\'');
		SET PASSWORD FOR 'root'@'localhost'= PASSWORD('${rootpw}');
		${root_grant}
		${db_sql}
		${user_sql}
	EOSQL

    # From here on the client needs the root password (empty if allowed).
    client() { mariadb --protocol=socket --socket="$SOCKET" -uroot --password="$MARIADB_ROOT_PASSWORD" --batch --skip-column-names "$@"; }
    dbarg=()
    if [ -n "$MARIADB_DATABASE" ]; then dbarg=(--database="$MARIADB_DATABASE"); fi
    run_initdb_d

    note "Stopping temporary server"
    temp_server_stop
    note "Temporary server stopped"
    echo
    note "MariaDB init process done. Ready for start up."
    echo
}

if is_server "$1"; then
    if [ -d "$DATADIR/mysql" ]; then
        note "MariaDB upgrade not required"
    else
        init_database "$@"
    fi
    unset MARIADB_ROOT_PASSWORD MYSQL_ROOT_PASSWORD MARIADB_PASSWORD MYSQL_PASSWORD
fi

exec "$@"
