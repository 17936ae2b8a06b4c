#!/usr/bin/env bash
# The real single-node Kubernetes cluster of tests/realnode (tests/realnode/real_node.py): the control plane of
# scripts/k8s-testenv.sh plus a kubelet on containerd + runc, kube-proxy, CoreDNS and a CNI bridge, all inside a
# network namespace of its own. This script installs what the node needs from Debian and runs one for a developer.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# containerd + runc run the pods, the CNI plugins give them addresses on a bridge; iproute2 and util-linux make the
# namespaces (ip netns, nsenter, unshare); kube-proxy programs iptables; openssl makes the node's certificates.
PACKAGES=(containerd runc containernetworking-plugins iptables iproute2 util-linux openssl)
POLICY=/usr/sbin/policy-rc.d

usage() {
    cat <<EOF
Usage: scripts/k8s-node.sh COMMAND

Commands:
  install  apt-get install what the node needs when missing (${PACKAGES[*]}); fast when all are there.
           containerd's own service is kept from running: the node starts a containerd of its own
  up       build the binaries if needed (scripts/k8s-testenv.sh build), then run a node in the foreground until
           Ctrl-C; it prints how to reach it (ip netns exec ... kubectl). Ctrl-C removes everything it made
  status   list the nodes on this machine (network namespaces mlchaos-node-<pid>-<n>) and whether their process lives
  down     remove what nodes of dead processes left behind (a killed test session): their network namespace and
           cgroup folders; a running node is never touched (stop it with Ctrl-C or by ending its process)
  help     this text

Inside the node's namespace: the node is 10.250.0.1 (API server :6443, kubelet, CoreDNS :53), pods get
10.244.0.0/24 on a bridge, Services 10.96.0.0/24. Nothing is routed off the machine. Needs root.
EOF
}

log() { printf '[k8s-node %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

missing_packages() {
    local package
    for package in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "${package}" 2>/dev/null | grep -q 'install ok installed' || echo "${package}"
    done
}

stop_containerd_service() {
    if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
        systemctl disable --now containerd.service >/dev/null 2>&1 || true
    fi
}

install() {
    [[ "$(id -u)" == "0" ]] || die "the real node needs root (network namespaces, mounts, cgroups); rerun as root"
    command -v dpkg-query >/dev/null 2>&1 || die "dpkg-query is missing: install ${PACKAGES[*]} yourself (Debian names)"
    local missing
    mapfile -t missing < <(missing_packages)
    if ((${#missing[@]})); then
        log "installing ${missing[*]} with apt-get"
        # No service starts during the install (Debian starts containerd from its postinst), unless the system
        # already has a policy of its own.
        if [[ ! -e "${POLICY}" ]]; then
            printf '#!/bin/sh\n# mlchaos scripts/k8s-node.sh: no service starts during its apt-get install\nexit 101\n' >"${POLICY}"
            chmod 755 "${POLICY}"
            trap 'rm -f "${POLICY}"' EXIT
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" ||
            { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"; }
    fi
    stop_containerd_service
    # kube-proxy needs iptables to see bridged pod traffic (a Service's answer from a pod on the same bridge).
    [[ -d /proc/sys/net/bridge ]] || modprobe br_netfilter ||
        die "the br_netfilter kernel module is missing (modprobe br_netfilter failed)"
    log "node packages ready"
}

python_in_tests() {
    # tests/: the shared test helpers; tests/k8s: the control plane's process handling; tests/realnode: the node
    PYTHONPATH="${ROOT}/tests:${ROOT}/tests/k8s:${ROOT}/tests/realnode" exec "${ROOT}/.venv/bin/python" "$@"
}

case "${1:-help}" in
    install) install ;;
    up)
        install
        "${ROOT}/scripts/k8s-testenv.sh" build
        python_in_tests "${ROOT}/tests/realnode/real_node.py"
        ;;
    status)
        python_in_tests -c '
from node_namespaces import NETNS_DIR, PREFIX, alive
nodes = sorted(NETNS_DIR.glob(f"{PREFIX}*")) if NETNS_DIR.is_dir() else []
dead = "left by a dead process: scripts/k8s-node.sh down removes it"
for netns in nodes:
    print(netns.name, "running" if alive(netns.name) else dead)
print(f"{len(nodes)} node(s)")'
        ;;
    down)
        python_in_tests -c '
from node_namespaces import remove_stale
removed = remove_stale()
print("removed: " + (", ".join(removed) if removed else "nothing (no node of a dead process)"))'
        ;;
    help | -h | --help) usage ;;
    *) usage >&2; die "unknown command '$1'" ;;
esac
