#!/usr/bin/env bash
# The whole check that CI runs (`make test`): dependencies, lint, types, migrations, import
# contracts, deploy check, then the test suite on SQLite, on PostgreSQL and in headless Chromium.
# Stops at the first failing step.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

PY=.venv/bin/python
START=$SECONDS
STEP=0
TOTAL=11
CURRENT=

header() {
    STEP=$((STEP + 1))
    CURRENT=$1
    printf '\n=== [%d/%d] %s ===\n' "$STEP" "$TOTAL" "$1"
}
on_exit() {
    local rc=$?
    if ((rc != 0)); then
        printf '\ntest.sh: FAILED at step %d/%d (%s), exit code %d, after %ds\n' \
            "$STEP" "$TOTAL" "${CURRENT:-setup}" "$rc" "$((SECONDS - START))"
    fi
}
trap on_exit EXIT

header "bootstrap (Python and npm dependencies)"
scripts/bootstrap.sh

header "system packages (PostgreSQL server, Chromium)"
scripts/system-deps.sh

# pytest-xdist is optional: use two workers only when it is installed.
PYTEST=(.venv/bin/pytest -p no:randomly)
if "$PY" -c 'import xdist' >/dev/null 2>&1; then
    PYTEST+=(-n 2)
fi

header "ruff check"
.venv/bin/ruff check .

header "ruff format --check"
.venv/bin/ruff format --check .

header "mypy"
.venv/bin/mypy carehub config

header "migrations up to date (makemigrations --check)"
DJANGO_SETTINGS_MODULE=config.settings.test "$PY" manage.py makemigrations --check --dry-run

header "import contracts (lint-imports)"
.venv/bin/lint-imports

header "deploy check (config.settings.prod, warnings fail)"
# The environment of a real production install: its own secret key, its host name, an SMTP relay
# (without EMAIL_HOST mail goes to files, which the deploy check rightly rejects: mail.E001).
secret=$("$PY" -c 'import secrets, string; a = string.ascii_letters + string.digits + "!@#%^&*(-_=+)"; print("".join(secrets.choice(a) for _ in range(50)))')
env -u DATABASE_URL DJANGO_SECRET_KEY="$secret" ALLOWED_HOSTS=example.org EMAIL_HOST=smtp.example.org \
    "$PY" manage.py check --deploy --fail-level WARNING --settings=config.settings.prod

header "pytest on SQLite (not browser)"
env -u DATABASE_URL "${PYTEST[@]}" -m "not browser"

header "pytest on PostgreSQL (not browser)"
scripts/with-postgres.sh "${PYTEST[@]}" -m "not browser"

header "pytest browser tests (headless Chromium, SQLite)"
set +e
env -u DATABASE_URL "${PYTEST[@]}" -m browser
rc=$?
set -e
if ((rc == 5)); then
    echo "test.sh: no browser tests collected (pytest exit 5): counted as success for this step"
elif ((rc != 0)); then
    exit "$rc"
fi

printf '\ntest.sh: all %d steps succeeded in %ds\n' "$TOTAL" "$((SECONDS - START))"
