#!/usr/bin/env bash
# Install CareHub's Python and front-end dependencies; a no-op (well under a second) when nothing
# changed. Usage: scripts/bootstrap.sh [--dev|--prod]   (default --dev: includes the dev group)
#
# - .venv is created with scripts/python.sh's interpreter if missing or broken.
# - uv is pinned and installed with pip outside site-packages (.venv/.carehub-tools, linked as
#   .venv/bin/uv): `uv sync` removes every package the lock does not list, uv itself included.
# - `uv sync --locked` runs only when uv.lock / pyproject.toml are newer than .venv/.carehub-synced
#   or the mode (dev/prod) changed; `npm ci` only when package-lock.json is newer than
#   node_modules/.carehub-installed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

MODE=dev
for arg in "$@"; do
    case "$arg" in
        --dev) MODE=dev ;;
        --prod) MODE=prod ;;
        -h | --help)
            echo "usage: scripts/bootstrap.sh [--dev|--prod]"
            exit 0
            ;;
        *)
            echo "bootstrap: unknown option '$arg' (use --dev or --prod)" >&2
            exit 2
            ;;
    esac
done

UV_VERSION=${CAREHUB_UV_VERSION:-0.13.8}
VENV=.venv
TOOLS=$VENV/.carehub-tools
PY_STAMP=$VENV/.carehub-synced
NODE_STAMP=node_modules/.carehub-installed
export UV_PYTHON_DOWNLOADS=never

say() { printf 'bootstrap: %s\n' "$*"; }
die() {
    printf 'bootstrap: ERROR: %s\n' "$*" >&2
    exit 1
}

venv_ok() {
    [[ -x $VENV/bin/python ]] &&
        "$VENV/bin/python" -c 'import sys; assert sys.version_info >= (3, 12)' >/dev/null 2>&1
}

# --- 1. virtual environment --------------------------------------------------------------------
if ! venv_ok; then
    PY=$("$ROOT/scripts/python.sh")
    if [[ -e $VENV ]]; then
        say "$VENV exists but its python does not work; recreating it with $PY"
        rm -rf "$VENV"
    else
        say "creating $VENV with $PY"
    fi
    # --without-pip fallback: Debian's python3.x without python3.x-venv has no ensurepip.
    "$PY" -m venv --prompt carehub "$VENV" 2>/dev/null ||
        { rm -rf "$VENV" && "$PY" -m venv --without-pip --prompt carehub "$VENV"; } ||
        die "could not create $VENV with $PY"
    rm -f "$PY_STAMP"
fi

# --- 2. uv (pinned) ----------------------------------------------------------------------------
uv_ok() {
    [[ -x $VENV/bin/uv ]] && [[ "$("$VENV/bin/uv" --version 2>/dev/null)" == "uv $UV_VERSION"* ]]
}
if ! uv_ok; then
    say "installing uv $UV_VERSION into $TOOLS"
    pip_cmd=()
    if "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
        pip_cmd=("$VENV/bin/python" -m pip)
    elif "$VENV/bin/python" -m ensurepip --default-pip >/dev/null 2>&1; then
        pip_cmd=("$VENV/bin/python" -m pip)
    else
        for p in "$("$ROOT/scripts/python.sh")" python3; do
            if "$p" -m pip --version >/dev/null 2>&1; then
                pip_cmd=("$p" -m pip)
                break
            fi
        done
    fi
    ((${#pip_cmd[@]})) || die "no pip available to install uv. Install pip (apt-get install python3-pip python3-venv) or put uv on PATH and run: ln -s \"\$(command -v uv)\" $VENV/bin/uv"
    rm -rf "$TOOLS"
    "${pip_cmd[@]}" install --quiet --disable-pip-version-check --no-input --target "$TOOLS" "uv==$UV_VERSION" ||
        die "pip install uv==$UV_VERSION failed (is PyPI reachable?)"
    ln -sfn ../.carehub-tools/bin/uv "$VENV/bin/uv"
    uv_ok || die "uv was installed but '$VENV/bin/uv --version' does not report $UV_VERSION"
fi

# --- 3. Python dependencies --------------------------------------------------------------------
need_sync=0
if [[ ! -f $PY_STAMP ]] || [[ $(cat "$PY_STAMP") != "$MODE" ]]; then
    need_sync=1
elif [[ uv.lock -nt $PY_STAMP ]] || [[ pyproject.toml -nt $PY_STAMP ]]; then
    need_sync=1
fi
if ((need_sync)); then
    sync_args=(sync --locked --python "$VENV/bin/python")
    [[ $MODE == prod ]] && sync_args+=(--no-dev)
    say "uv ${sync_args[*]}"
    rm -f "$PY_STAMP"
    "$VENV/bin/uv" "${sync_args[@]}" ||
        die "uv sync failed. If uv.lock is out of date with pyproject.toml, run '$VENV/bin/uv lock' and commit uv.lock."
    printf '%s\n' "$MODE" >"$PY_STAMP"
fi

# --- 4. front-end packages (served as static files) --------------------------------------------
if [[ -f package.json ]]; then
    lock=package-lock.json
    if [[ ! -f $NODE_STAMP ]] || [[ ! -f $lock ]] || [[ $lock -nt $NODE_STAMP ]] || [[ package.json -nt $NODE_STAMP ]]; then
        command -v npm >/dev/null 2>&1 || die "npm is needed for the front-end packages (apt-get install npm, or Node.js from nodejs.org)"
        if [[ -f $lock ]]; then
            say "npm ci"
            npm ci --no-audit --no-fund --loglevel=error || die "npm ci failed (package-lock.json out of date with package.json? run 'npm install' and commit package-lock.json)"
        else
            say "npm install (no package-lock.json yet: commit the one it writes)"
            npm install --no-audit --no-fund --loglevel=error || die "npm install failed"
        fi
        touch "$NODE_STAMP"
    fi
fi

say "ready ($MODE)"
