#!/usr/bin/env bash
# Print the path of a usable Python (3.13 preferred, 3.12 accepted) for CareHub.
# Order: $PYTHON, python3.13 / python3.12 on PATH, pyenv installs, /usr/bin, python3.
set -euo pipefail

usable() {
    # A candidate counts only if it actually runs (pyenv shims exist but may fail) and is >= 3.12.
    local p=$1
    [[ -n "$p" ]] || return 1
    "$p" -c 'import sys; assert sys.version_info >= (3, 12)' >/dev/null 2>&1
}

resolve() {
    # Turn a bare command name into an absolute path so callers can store it.
    local p=$1
    if [[ "$p" != */* ]]; then
        p=$(command -v "$p" 2>/dev/null) || return 1
    fi
    printf '%s\n' "$p"
}

if [[ -n "${PYTHON:-}" ]]; then
    if usable "$PYTHON"; then
        resolve "$PYTHON"
        exit 0
    fi
    echo "scripts/python.sh: PYTHON=$PYTHON is not a working Python >= 3.12; looking elsewhere." >&2
fi

candidates=(python3.13 python3.12)
shopt -s nullglob
for p in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13*/bin/python3.13 \
         /root/.pyenv/versions/3.13*/bin/python3.13 \
         "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3.12 \
         /root/.pyenv/versions/3.12*/bin/python3.12; do
    candidates+=("$p")
done
shopt -u nullglob
candidates+=(/usr/bin/python3.13 /usr/local/bin/python3.13 /usr/bin/python3.12 /usr/local/bin/python3.12 python3)

for p in "${candidates[@]}"; do
    if usable "$p"; then
        resolve "$p"
        exit 0
    fi
done

cat >&2 <<'MSG'
CareHub needs Python 3.13 (or 3.12). Install it, e.g. `apt-get install python3.13` or pyenv,
or set PYTHON=/path/to/python.
MSG
exit 1
