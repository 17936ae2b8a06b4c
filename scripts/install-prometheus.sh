#!/usr/bin/env bash
# Install a Prometheus server (Debian package `prometheus`) for the tests that read signals through PromQL.
#
#   scripts/install-prometheus.sh
#
# The tests start their own /usr/bin/prometheus (own config, own temporary storage, a free loopback port), so the
# package's service must not run: it would hold port 9090 and scrape nothing of ours. Debian starts services from
# the package's postinst; a policy-rc.d that answers 101 ("action forbidden") stops that, and whatever started
# anyway is stopped and disabled afterwards. Idempotent: does nothing when /usr/bin/prometheus is there (it still
# makes sure the service is not running). Needs apt-get and root (or sudo); when it cannot install, it says so and
# exits non-zero — the Prometheus tests then fail with the same message rather than being skipped.
set -euo pipefail

PROMETHEUS=/usr/bin/prometheus
POLICY=/usr/sbin/policy-rc.d

SUDO=""
if [[ "$(id -u)" != "0" ]]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    elif [[ ! -x "${PROMETHEUS}" ]]; then
        echo "error: ${PROMETHEUS} is missing and this script needs root (or sudo) to apt-get install prometheus" >&2
        exit 1
    fi
fi

stop_service() {
    # The tests need the binary only; a service the package (or an earlier install) started is not ours to keep.
    if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
        ${SUDO} systemctl disable --now prometheus.service >/dev/null 2>&1 || true
    elif [[ -x /etc/init.d/prometheus ]]; then
        ${SUDO} /etc/init.d/prometheus stop >/dev/null 2>&1 || true
        if command -v update-rc.d >/dev/null 2>&1; then
            ${SUDO} update-rc.d prometheus disable >/dev/null 2>&1 || true
        fi
    fi
}

if [[ -x "${PROMETHEUS}" ]]; then
    [[ -z "${SUDO}" && "$(id -u)" != "0" ]] || stop_service
    echo "prometheus is already installed at ${PROMETHEUS}"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    cat >&2 <<MSG
error: ${PROMETHEUS} is missing and apt-get is not available to install it.
Install a Prometheus server (2.x or newer) so that ${PROMETHEUS} exists, then rerun.
MSG
    exit 1
fi

# Forbid service starts during the install, unless the system already has a policy (e.g. Docker images do).
if [[ ! -e "${POLICY}" ]]; then
    printf '#!/bin/sh\n# mlchaos scripts/install-prometheus.sh: no service starts during its apt-get install\nexit 101\n' \
        | ${SUDO} tee "${POLICY}" >/dev/null
    ${SUDO} chmod 755 "${POLICY}"
    trap '${SUDO} rm -f "${POLICY}"' EXIT
fi

export DEBIAN_FRONTEND=noninteractive
# Without recommends: prometheus-node-exporter would be one more service started.
if ! apt-cache show prometheus >/dev/null 2>&1; then
    ${SUDO} apt-get update
fi
install() { ${SUDO} apt-get install -y --no-install-recommends prometheus; }
install || { ${SUDO} apt-get update && install; }  # stale package lists: refresh once and retry
stop_service
"${PROMETHEUS}" --version
