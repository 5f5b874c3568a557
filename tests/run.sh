#!/usr/bin/env bash
# touban's whole test suite, from a fresh checkout on a fresh machine.
#
# Installs what the tests need when it is missing (as root with apt-get;
# otherwise it prints the command and stops), then checks formatting and
# lints and runs every test: unit, render snapshots, config fixtures, the
# headless event loop, and end-to-end runs of the binary in tmux.
set -euo pipefail
cd "$(dirname "$0")/.."

export LANG="${LANG:-C.UTF-8}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# Debian packages the tests start or drive, by the command that proves each.
declare -A packages=(
    [tmux]=tmux              # end-to-end tests run the binary in a real terminal
    [curl]=curl              # reads the sandbox's Alertmanager API
    [prometheus]=prometheus  # scrapes the sandbox's metrics endpoints, evaluates the seed's rules
        [prometheus-alertmanager]=prometheus-alertmanager  # receives them, for the alert sources
        [redis-server]=redis-server  # a primary and a replica for the cache source
    [prometheus-postgres-exporter]=prometheus-postgres-exporter  # scraped by the database source
    [prometheus-redis-exporter]=prometheus-redis-exporter        # scraped by the cache source
)
missing=()
for cmd in "${!packages[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("${packages[$cmd]}")
done
# PostgreSQL's server binaries are not on PATH; the data-source tests run a
# primary and a streaming replica as the `postgres` user the package creates.
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
if ((${#missing[@]})); then
    if [ "$(id -u)" = 0 ]; then
        echo "tests/run.sh: installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    else
        echo "tests/run.sh: missing ${missing[*]}; install with:" >&2
        echo "    sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
fi

cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
if command -v cargo-nextest >/dev/null 2>&1; then
    cargo nextest run --locked --no-fail-fast
else
    cargo test --locked --no-fail-fast
fi
