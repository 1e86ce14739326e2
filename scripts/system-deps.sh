#!/usr/bin/env bash
# System packages the test suite needs: PostgreSQL server binaries (scripts/with-postgres.sh) and
# Chromium (browser tests). As root, installs whatever is missing with apt-get; otherwise prints
# the exact Debian packages to install and exits 1. A no-op when everything is present.
set -euo pipefail

say() { printf 'system-deps: %s\n' "$*"; }

find_initdb() {
    local d
    for d in /usr/lib/postgresql/*/bin; do
        [[ -x $d/initdb && -x $d/postgres ]] && return 0
    done
    command -v initdb >/dev/null 2>&1 && command -v postgres >/dev/null 2>&1
}

missing=()
find_initdb || missing+=(postgresql)
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
# Chromium renders text with whatever fonts exist; without any, screenshots show boxes.
if ! { [[ -d /usr/share/fonts/truetype/dejavu ]] || fc-list 2>/dev/null | grep -q .; }; then
    missing+=(fonts-dejavu-core)
fi

if ((${#missing[@]} == 0)); then
    say "PostgreSQL and Chromium present"
    exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
    say "missing Debian packages: ${missing[*]}" >&2
    say "install them with:  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi

command -v apt-get >/dev/null 2>&1 || {
    say "missing: ${missing[*]}, and this is not a Debian/Ubuntu system (no apt-get): install the equivalents by hand." >&2
    exit 1
}

export DEBIAN_FRONTEND=noninteractive
say "installing ${missing[*]} (apt-get)"
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

still=()
find_initdb || still+=(postgresql)
[[ -x /usr/bin/chromium ]] || still+=(chromium)
if ((${#still[@]})); then
    say "still missing after apt-get install: ${still[*]}" >&2
    exit 1
fi
say "installed ${missing[*]}"
