#!/bin/sh
# The official postgres image's basics: POSTGRES_USER (default postgres), POSTGRES_PASSWORD,
# POSTGRES_DB (default: the user's name), POSTGRES_HOST_AUTH_METHOD (trust, or scram-sha-256
# when a password is set). On first start initdb fills $PGDATA as the postgres user; the server
# listens on all interfaces and runs in the foreground.
set -eu

: "${PGDATA:=/var/lib/postgresql/data}"
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
: "${POSTGRES_PASSWORD:=}"
: "${POSTGRES_HOST_AUTH_METHOD:=}"

# `docker run IMAGE -c foo=bar` means postgres flags
if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
    set -- postgres "$@"
fi

init_database() {
    method=$POSTGRES_HOST_AUTH_METHOD
    if [ -z "$method" ]; then
        if [ -z "$POSTGRES_PASSWORD" ]; then
            echo "error: the database is uninitialized and no superuser password is set:" \
                 "set POSTGRES_PASSWORD, or POSTGRES_HOST_AUTH_METHOD=trust" >&2
            exit 1
        fi
        method=scram-sha-256
    fi
    pwfile=""
    if [ -n "$POSTGRES_PASSWORD" ]; then
        pwfile=$(mktemp)
        printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
    fi
    initdb --username="$POSTGRES_USER" ${pwfile:+--pwfile="$pwfile"} --encoding=UTF8 \
        --locale=C.UTF-8 --auth-local=trust --auth-host="$method" -D "$PGDATA" >/dev/null
    [ -z "$pwfile" ] || rm -f "$pwfile"
    printf "\nlisten_addresses = '*'\n" >> "$PGDATA/postgresql.conf"
    printf 'host all all all %s\n' "$method" >> "$PGDATA/pg_hba.conf"
    if [ "$POSTGRES_DB" != postgres ]; then
        # single-user mode: no server, no socket, no race with clients
        printf 'CREATE DATABASE "%s";\n\n' "$POSTGRES_DB" \
            | postgres --single -j -D "$PGDATA" postgres >/dev/null
    fi
    echo "initialized $PGDATA (user $POSTGRES_USER, database $POSTGRES_DB, host auth $method)"
}

if [ "$1" = postgres ]; then
    if [ "$(id -u)" = 0 ]; then
        mkdir -p "$PGDATA" /var/run/postgresql
        chown postgres:postgres "$PGDATA" /var/run/postgresql
        chmod 0700 "$PGDATA"
        exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
    fi
    if [ ! -s "$PGDATA/PG_VERSION" ]; then
        init_database
    fi
fi
exec "$@"
