#!/usr/bin/env bash
# Run a command against a throwaway PostgreSQL cluster:
#   scripts/with-postgres.sh CMD [ARGS...]
# Creates a cluster in a temp dir (trust auth, user `carehub`, fsync off), starts it on a free
# 127.0.0.1 port, creates database `carehub`, exports DATABASE_URL (and PGHOST/PGPORT/PGUSER/
# PGDATABASE), runs CMD, then stops the server and deletes the dir. Exits with CMD's status.
# As root, the server runs as the `postgres` system user (initdb/postgres refuse to run as root).
set -euo pipefail

if (($# == 0)); then
    echo "usage: scripts/with-postgres.sh CMD [ARGS...]" >&2
    exit 2
fi
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

say() { printf 'with-postgres: %s\n' "$*" >&2; }
die() {
    printf 'with-postgres: ERROR: %s\n' "$*" >&2
    exit 1
}

# --- server binaries: newest /usr/lib/postgresql/N/bin, else PATH --------------------------------
PGBIN=
shopt -s nullglob
pg_dirs=(/usr/lib/postgresql/*/bin)
shopt -u nullglob
for d in $( ((${#pg_dirs[@]})) && printf '%s\n' "${pg_dirs[@]}" | sort -V -r); do
    if [[ -x $d/initdb && -x $d/postgres && -x $d/pg_ctl ]]; then
        PGBIN=$d
        break
    fi
done
if [[ -z $PGBIN ]] && command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    PGBIN=$(dirname "$(command -v initdb)")
fi
[[ -n $PGBIN ]] || die "PostgreSQL server binaries (initdb, postgres, pg_ctl) not found. Run scripts/system-deps.sh, or: apt-get install postgresql"
client() { # client tools (pg_isready, createdb) may live in the server dir or on PATH
    if [[ -x $PGBIN/$1 ]]; then printf '%s\n' "$PGBIN/$1"; else command -v "$1"; fi
}
PG_ISREADY=$(client pg_isready) || die "pg_isready not found (apt-get install postgresql-client)"
CREATEDB=$(client createdb) || die "createdb not found (apt-get install postgresql-client)"

# --- who runs the server -----------------------------------------------------------------------
as_pg=()
if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || die "running as root, but there is no 'postgres' system user to run the server (apt-get install postgresql creates it)"
    command -v runuser >/dev/null 2>&1 || die "runuser not found (util-linux)"
    as_pg=(runuser -u postgres --)
fi

# --- a free port ---------------------------------------------------------------------------------
free_port() {
    local py
    py=$("$ROOT/scripts/python.sh" 2>/dev/null) || py=python3
    "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

DIR=$(mktemp -d "${TMPDIR:-/tmp}/carehub-pg.XXXXXX")
DATA=$DIR/data
started=0
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
    if ((started)); then
        "${as_pg[@]}" "$PGBIN/pg_ctl" stop -D "$DATA" -m immediate -s >/dev/null 2>&1 || true
    fi
    rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if ((${#as_pg[@]})); then
    chown postgres: "$DIR"
    chmod 700 "$DIR"
fi

"${as_pg[@]}" "$PGBIN/initdb" -D "$DATA" -U carehub --auth=trust -E UTF8 --locale=C.UTF-8 \
    --no-sync >"$DIR/initdb.log" 2>&1 || {
    cat "$DIR/initdb.log" >&2
    die "initdb failed"
}

# Another process may grab the port between picking and binding it: retry a few times.
PORT=
for attempt in 1 2 3 4 5; do
    port=$(free_port)
    opts="-h 127.0.0.1 -p $port -k '$DIR' -c fsync=off -c synchronous_commit=off"
    opts+=" -c full_page_writes=off -c max_connections=100"
    if "${as_pg[@]}" "$PGBIN/pg_ctl" start -D "$DATA" -w -t 60 -s -l "$DIR/postgres.log" \
        -o "$opts" >/dev/null 2>&1; then
        started=1
        PORT=$port
        break
    fi
    say "start on port $port failed (attempt $attempt); retrying"
    "${as_pg[@]}" "$PGBIN/pg_ctl" stop -D "$DATA" -m immediate -s >/dev/null 2>&1 || true
done
if [[ -z $PORT ]]; then
    tail -n 30 "$DIR/postgres.log" >&2 || true
    die "could not start PostgreSQL"
fi

for _ in $(seq 1 100); do
    "$PG_ISREADY" -q -h 127.0.0.1 -p "$PORT" -U carehub -d postgres && break
    sleep 0.1
done
"$PG_ISREADY" -q -h 127.0.0.1 -p "$PORT" -U carehub -d postgres || {
    tail -n 30 "$DIR/postgres.log" >&2 || true
    die "PostgreSQL did not become ready on port $PORT"
}
"$CREATEDB" -h 127.0.0.1 -p "$PORT" -U carehub carehub || die "createdb carehub failed"

export DATABASE_URL="postgres://carehub@127.0.0.1:$PORT/carehub"
export PGHOST=127.0.0.1 PGPORT=$PORT PGUSER=carehub PGDATABASE=carehub
say "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT (DATABASE_URL=$DATABASE_URL)"

set +e
"$@"
status=$?
set -e
exit "$status"
