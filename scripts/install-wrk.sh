#!/usr/bin/env bash
# Install wrk (Debian package `wrk`), the C load generator `make bench` uses as the machine's ceiling when it
# measures what mlchaos's per-request recording costs (bench/load_overhead.py).
#
#   scripts/install-wrk.sh
#
# Does nothing when wrk is already on PATH. Otherwise it needs apt-get and root (or sudo); when it cannot install,
# it says so and exits non-zero, and bench/load_overhead.py then stops with the same advice.
set -euo pipefail

if command -v wrk >/dev/null 2>&1; then
    echo "wrk is already installed at $(command -v wrk)"
    exit 0
fi

SUDO=""
if [[ "$(id -u)" != "0" ]]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "error: wrk is missing and this script needs root (or sudo) to apt-get install wrk" >&2
        exit 1
    fi
fi

if ! command -v apt-get >/dev/null 2>&1; then
    cat >&2 <<MSG
error: wrk is missing and apt-get is not available to install it.
Install wrk with your system's package manager (https://github.com/wg/wrk) so that it is on PATH, then rerun.
MSG
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
${SUDO} apt-get update
${SUDO} apt-get install -y wrk
wrk --version | head -n 1 || true  # wrk --version exits 1 after printing its version
