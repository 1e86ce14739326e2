#!/usr/bin/env bash
# `make run`: install what is missing, prepare the database, keys and static files, load the demo
# data, then serve CareHub with gunicorn and run the background worker beside it.
#   HOST (default 127.0.0.1) and PORT (default 8000) choose where it listens.
# Settings: config.settings.dev (manage.py's default) unless DJANGO_SETTINGS_MODULE is set.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
PY=.venv/bin/python
VAR=${CAREHUB_VAR_DIR:-var}
CREDENTIALS=$VAR/demo-credentials.json

say() { printf 'run: %s\n' "$*"; }

scripts/bootstrap.sh

say "encryption key"
"$PY" manage.py init_keys
say "migrate"
"$PY" manage.py migrate --noinput
# collectstatic hashes and compresses (gzip + brotli) every front-end file: minutes, so it runs
# only when an input changed since the last run: project or app static files, the npm or Python
# packages, or the settings.
STATIC_STAMP=$VAR/.carehub-static-collected
static_stale() {
    [[ -f $STATIC_STAMP && -f $VAR/static/staticfiles.json ]] || return 0
    [[ -n $(find static carehub -path '*static*' -newer "$STATIC_STAMP" -print -quit 2>/dev/null) ]] && return 0
    local f
    for f in node_modules/.carehub-installed .venv/.carehub-synced config/settings/*.py; do
        [[ $f -nt $STATIC_STAMP ]] && return 0
    done
    return 1
}
if static_stale; then
    say "collectstatic (hashing and compressing front-end files: a few minutes the first time)"
    rm -f "$STATIC_STAMP"
    "$PY" manage.py collectstatic --noinput -v0
    mkdir -p "$VAR"
    touch "$STATIC_STAMP"
else
    say "static files up to date"
fi
if compgen -G "carehub/*/management/commands/seed_demo.py" >/dev/null; then
    say "demo data (seed_demo)"
    "$PY" manage.py seed_demo
else
    say "WARNING: no seed_demo command yet: starting without demo data and $CREDENTIALS"
fi

# --- processes ----------------------------------------------------------------------------------
WORKER_PID=
GUNICORN_PID=
stop_all() {
    trap - INT TERM EXIT
    local pid alive
    for pid in $GUNICORN_PID $WORKER_PID; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for _ in $(seq 1 50); do # up to 10 s for a graceful stop
        alive=0
        for pid in $GUNICORN_PID $WORKER_PID; do
            kill -0 "$pid" 2>/dev/null && alive=1
        done
        ((alive)) || break
        sleep 0.2
    done
    for pid in $GUNICORN_PID $WORKER_PID; do
        kill -KILL "$pid" 2>/dev/null || true
    done
}
trap 'echo; say "stopping"; stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM
trap stop_all EXIT

"$PY" manage.py run_worker &
WORKER_PID=$!
# Sync workers, not threads: with threaded workers one process kept most kept-alive connections
# and p95 doubled (docs/benchmarks.md). WEB_WORKERS overrides the count.
.venv/bin/gunicorn config.wsgi --config config/gunicorn.conf.py --bind "$HOST:$PORT" --workers "${WEB_WORKERS:-4}" --access-logfile - &
GUNICORN_PID=$!

# Print the banner once gunicorn accepts connections (or gave up trying).
connect_host=$HOST
[[ $HOST == 0.0.0.0 || $HOST == "::" ]] && connect_host=127.0.0.1
for _ in $(seq 1 60); do
    kill -0 "$GUNICORN_PID" 2>/dev/null || break
    "$PY" -c 'import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 1).close()' \
        "$connect_host" "$PORT" 2>/dev/null && break
    sleep 0.5
done
if kill -0 "$GUNICORN_PID" 2>/dev/null; then
    lines=(
        "CareHub is running at http://$HOST:$PORT/"
        "Demo accounts and passwords: $CREDENTIALS (cat it)"
        "Mail is written to $VAR/mail/ unless EMAIL_HOST is set"
        "Stop with Ctrl-C"
    )
    width=0
    for l in "${lines[@]}"; do ((${#l} > width)) && width=${#l}; done
    rule=$(printf '%*s' $((width + 2)) '' | tr ' ' '-')
    printf '\n+%s+\n' "$rule"
    for l in "${lines[@]}"; do printf '| %-*s |\n' "$width" "$l"; done
    printf '+%s+\n' "$rule"
    if [[ -f $CREDENTIALS ]]; then
        echo "$CREDENTIALS:"
        cat "$CREDENTIALS"
        echo
    fi
fi

# Gunicorn decides the lifetime: when it exits the worker is stopped. A dead worker only warns
# (pages still work; background jobs and scheduled tasks do not run until a restart).
worker_alive=1
while :; do
    done_pid=
    set +e
    if ((worker_alive)); then
        wait -n -p done_pid "$GUNICORN_PID" "$WORKER_PID"
    else
        wait -n -p done_pid "$GUNICORN_PID"
    fi
    rc=$?
    set -e
    if [[ $done_pid == "$WORKER_PID" ]]; then
        worker_alive=0
        say "WARNING: the background worker exited (status $rc): jobs and scheduled tasks are not" \
            "running. Restart 'make run', or run '$PY manage.py run_worker' in another terminal."
    elif [[ $done_pid == "$GUNICORN_PID" ]]; then
        say "gunicorn exited (status $rc); stopping the worker"
        exit "$rc"
    fi
done
