#!/usr/bin/env bash
# Install a Prometheus Pushgateway (Debian package `prometheus-pushgateway`) for the tests of `publish.pushgateway`.
#
#   scripts/install-pushgateway.sh
#
# The tests start their own /usr/bin/prometheus-pushgateway on a free loopback port, so the package's service must
# not run: it would hold port 9091 and keep whatever is pushed to it. As in scripts/install-prometheus.sh, a
# policy-rc.d answering 101 ("action forbidden") stops the postinst from starting it, and whatever started anyway is
# stopped and disabled afterwards. Idempotent. Needs apt-get and root (or sudo); when it cannot install, it says so
# and exits non-zero — the Pushgateway tests then fail with the same message rather than being skipped.
set -euo pipefail

PUSHGATEWAY=/usr/bin/prometheus-pushgateway
POLICY=/usr/sbin/policy-rc.d

SUDO=""
if [[ "$(id -u)" != "0" ]]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    elif [[ ! -x "${PUSHGATEWAY}" ]]; then
        echo "error: ${PUSHGATEWAY} is missing and this script needs root (or sudo) to apt-get install prometheus-pushgateway" >&2
        exit 1
    fi
fi

stop_service() {
    # The tests need the binary only; a service the package started is not ours to keep.
    if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
        ${SUDO} systemctl disable --now prometheus-pushgateway.service >/dev/null 2>&1 || true
    elif [[ -x /etc/init.d/prometheus-pushgateway ]]; then
        ${SUDO} /etc/init.d/prometheus-pushgateway stop >/dev/null 2>&1 || true
        if command -v update-rc.d >/dev/null 2>&1; then
            ${SUDO} update-rc.d prometheus-pushgateway disable >/dev/null 2>&1 || true
        fi
    fi
}

if [[ -x "${PUSHGATEWAY}" ]]; then
    [[ -z "${SUDO}" && "$(id -u)" != "0" ]] || stop_service
    echo "prometheus-pushgateway is already installed at ${PUSHGATEWAY}"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    cat >&2 <<MSG
error: ${PUSHGATEWAY} is missing and apt-get is not available to install it.
Install a Prometheus Pushgateway (1.x) so that ${PUSHGATEWAY} exists, then rerun.
MSG
    exit 1
fi

# Forbid service starts during the install, unless the system already has a policy (e.g. Docker images do).
if [[ ! -e "${POLICY}" ]]; then
    printf '#!/bin/sh\n# mlchaos scripts/install-pushgateway.sh: no service starts during its apt-get install\nexit 101\n' \
        | ${SUDO} tee "${POLICY}" >/dev/null
    ${SUDO} chmod 755 "${POLICY}"
    trap '${SUDO} rm -f "${POLICY}"' EXIT
fi

export DEBIAN_FRONTEND=noninteractive
if ! apt-cache show prometheus-pushgateway >/dev/null 2>&1; then
    ${SUDO} apt-get update
fi
install() { ${SUDO} apt-get install -y --no-install-recommends prometheus-pushgateway; }
install || { ${SUDO} apt-get update && install; }  # stale package lists: refresh once and retry
stop_service
"${PUSHGATEWAY}" --version
