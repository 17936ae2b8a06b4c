#!/usr/bin/env bash
# Install headless Chromium (Debian package `chromium`) for the report test that opens a real report in a browser.
#
#   scripts/install-chromium.sh
#
# Does nothing when /usr/bin/chromium is already there. Otherwise it needs apt-get and root (or sudo); when it
# cannot install, it says so and exits non-zero — the browser test then fails with the same message rather than
# being skipped, so a CI run never passes without having looked at a report.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [[ -x "${CHROMIUM}" ]]; then
    echo "chromium is already installed at ${CHROMIUM}"
    exit 0
fi

SUDO=""
if [[ "$(id -u)" != "0" ]]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "error: ${CHROMIUM} is missing and this script needs root (or sudo) to apt-get install chromium" >&2
        exit 1
    fi
fi

if ! command -v apt-get >/dev/null 2>&1; then
    cat >&2 <<MSG
error: ${CHROMIUM} is missing and apt-get is not available to install it.
Install Chromium with your system's package manager so that ${CHROMIUM} exists, then rerun.
MSG
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
${SUDO} apt-get update
${SUDO} apt-get install -y chromium
"${CHROMIUM}" --version
