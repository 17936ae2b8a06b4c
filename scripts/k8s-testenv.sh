#!/usr/bin/env bash
# The Kubernetes test environment: real kube-apiserver, kube-controller-manager, kube-scheduler and etcd, with kwok
# faking the nodes and the kubelet (pods really get scheduled, become Ready through kwok's stages, and are recreated
# by the ReplicaSet controller). Everything is built from Go modules and cached outside the repository.
set -euo pipefail

# Pinned versions: change one and only that component is rebuilt (each lives in its own versioned cache folder).
KUBERNETES_VERSION="v1.31.4"
ETCD_VERSION="v3.5.13"
KWOK_VERSION="v0.7.0"
HELM_VERSION="v3.21.4"
# The real node (tests/realnode): kubelet and kube-proxy come from KUBERNETES_VERSION's module too.
CRICTL_VERSION="v1.34.0"
COREDNS_VERSION="v1.11.3"

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${MLCHAOS_CACHE:-$HOME/.cache/mlchaos}/k8s"
KUBERNETES_BIN="${CACHE}/${KUBERNETES_VERSION}/bin"
ETCD_BIN="${CACHE}/etcd-${ETCD_VERSION}/bin"
KWOK_BIN="${CACHE}/kwok-${KWOK_VERSION}/bin"
HELM_BIN="${CACHE}/helm-${HELM_VERSION}/bin"
CRICTL_BIN="${CACHE}/crictl-${CRICTL_VERSION}/bin"
COREDNS_BIN="${CACHE}/coredns-${COREDNS_VERSION}/bin"
LOGS="${CACHE}/logs"

usage() {
    cat <<EOF
Usage: scripts/k8s-testenv.sh COMMAND

Commands:
  build    build (or reuse) every binary of the test environment; safe to rerun, only missing ones are built
  status   say which binaries are present and which still need building (exit 1 if any is missing)
  env      print NAME=PATH for each binary (what tests/k8s reads); exit 1 naming the missing ones
  up       build if needed, then run a cluster in the foreground until Ctrl-C and print its kubeconfig path
  help     this text

What 'build' makes, each from Go modules with $(command -v go >/dev/null && go version | cut -d' ' -f3 || echo 'go (missing)'):
  kube-apiserver, kube-controller-manager, kube-scheduler  Kubernetes ${KUBERNETES_VERSION}  ~6.5 min cold
  etcd                                                     ${ETCD_VERSION}
  kwok, kwokctl                                            ${KWOK_VERSION}
  helm                                                     ${HELM_VERSION}
  kubelet, kube-proxy, kubectl (the real node)             Kubernetes ${KUBERNETES_VERSION}
  crictl                                                   ${CRICTL_VERSION}
  coredns                                                  ${COREDNS_VERSION}
k8s.io/kubernetes cannot be 'go install'ed (its go.mod replaces the k8s.io staging modules with local folders), so
its commands are built in a throwaway wrapper module that requires it and replaces each staging module with
its published v0.x.y twin. etcd's server module has the same problem and gets the same treatment.

Cache: \${MLCHAOS_CACHE:-\$HOME/.cache/mlchaos}/k8s (now ${CACHE}); build logs in ${LOGS}.
Nothing is downloaded but Go modules. The slow builds run in the background, one log each; a failure names its log.
EOF
}

log() { printf '[k8s-testenv %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

binaries() {
    printf '%s\n' \
        "KUBE_APISERVER=${KUBERNETES_BIN}/kube-apiserver" \
        "KUBE_CONTROLLER_MANAGER=${KUBERNETES_BIN}/kube-controller-manager" \
        "KUBE_SCHEDULER=${KUBERNETES_BIN}/kube-scheduler" \
        "ETCD=${ETCD_BIN}/etcd" \
        "KWOK=${KWOK_BIN}/kwok" \
        "KWOKCTL=${KWOK_BIN}/kwokctl" \
        "HELM=${HELM_BIN}/helm" \
        "KUBELET=${KUBERNETES_BIN}/kubelet" \
        "KUBE_PROXY=${KUBERNETES_BIN}/kube-proxy" \
        "CRICTL=${CRICTL_BIN}/crictl" \
        "COREDNS=${COREDNS_BIN}/coredns" \
        "KUBECTL=${KUBERNETES_BIN}/kubectl"
}

missing_binaries() {
    local line
    binaries | while IFS= read -r line; do [[ -x "${line#*=}" ]] || echo "${line#*=}"; done
}

require_go() {
    command -v go >/dev/null 2>&1 || die "the Go toolchain ('go', 1.22 or newer) is needed to build the Kubernetes
test environment and is not on PATH. Debian/Ubuntu: apt-get install golang-go; otherwise https://go.dev/doc/install"
}

# A throwaway module under $1 whose go.mod requires $2@$3; stdin adds lines (replace directives) to go.mod.
new_wrapper_module() {
    local dir="$1" module="$2" version="$3"
    mkdir -p "${dir}"
    { echo "module mlchaos.invalid/k8s-testenv-wrapper"; echo; echo "go 1.22"; echo; cat; } >"${dir}/go.mod"
    (cd "${dir}" && GOFLAGS=-mod=mod go get "${module}@${version}")
}

build_kubernetes() { kubernetes_commands "$1" kube-apiserver kube-controller-manager kube-scheduler; }
build_node() { kubernetes_commands "$1" kubelet kube-proxy; }
# kubectl of the same version: tests/realnode runs it against the node (no kubectl package in Debian).
build_kubectl() { kubernetes_commands "$1" kubectl; }

# Builds the k8s.io/kubernetes commands $2... in the throwaway wrapper module $1.
kubernetes_commands() {
    local work="$1" mod_file
    shift
    # The staging modules are the "=> ./staging/src/k8s.io/NAME" replace lines of k8s.io/kubernetes' own go.mod.
    mod_file="$(go mod download -json "k8s.io/kubernetes@${KUBERNETES_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')"
    [[ -f "${mod_file}" ]] || die "could not download k8s.io/kubernetes@${KUBERNETES_VERSION} (go mod download)"
    local staging_version="v0.${KUBERNETES_VERSION#v1.}"
    sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "${mod_file}" |
        while read -r staging; do echo "replace ${staging} => ${staging} ${staging_version}"; done |
        new_wrapper_module "${work}" k8s.io/kubernetes "${KUBERNETES_VERSION}"
    # Keeps the commands (and so their dependencies) in the module graph.
    {
        printf '//go:build tools\n\npackage tools\n\nimport (\n'
        for command in "$@"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "${command}"; done
        printf ')\n'
    } >"${work}/tools.go"
    (cd "${work}" && GOFLAGS=-mod=mod go mod tidy -e >/dev/null 2>&1 || true)
    local minor="${KUBERNETES_VERSION#v1.}"
    minor="${minor%%.*}"
    local ldflags="-X k8s.io/component-base/version.gitVersion=${KUBERNETES_VERSION}
        -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor}"
    local command start
    for command in "$@"; do
        start=${SECONDS}
        (cd "${work}" && GOFLAGS=-mod=mod go build -ldflags "${ldflags}" -o "${work}/out/${command}" \
            "k8s.io/kubernetes/cmd/${command}")
        echo "built ${command} in $((SECONDS - start)) s"
    done
    mkdir -p "${KUBERNETES_BIN}"
    mv -f "${work}/out/"* "${KUBERNETES_BIN}/"
}

build_etcd() {
    local work="$1"
    # etcd 3.5's server module replaces its sibling modules with local folders too; as a dependency it is fine.
    new_wrapper_module "${work}" go.etcd.io/etcd/server/v3 "${ETCD_VERSION}" </dev/null
    (cd "${work}" && GOFLAGS=-mod=mod go build -o "${work}/out/etcd" go.etcd.io/etcd/server/v3)
    mkdir -p "${ETCD_BIN}"
    mv -f "${work}/out/etcd" "${ETCD_BIN}/etcd"
}

build_kwok() {
    local work="$1"
    GOBIN="${work}/out" go install "sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}" "sigs.k8s.io/kwok/cmd/kwokctl@${KWOK_VERSION}"
    mkdir -p "${KWOK_BIN}"
    mv -f "${work}/out/kwok" "${work}/out/kwokctl" "${KWOK_BIN}/"
}

build_crictl() {
    local work="$1"
    GOBIN="${work}/out" go install "sigs.k8s.io/cri-tools/cmd/crictl@${CRICTL_VERSION}"
    mkdir -p "${CRICTL_BIN}"
    mv -f "${work}/out/crictl" "${CRICTL_BIN}/crictl"
}

build_coredns() {
    local work="$1"
    GOBIN="${work}/out" go install "github.com/coredns/coredns@${COREDNS_VERSION}"
    mkdir -p "${COREDNS_BIN}"
    mv -f "${work}/out/coredns" "${COREDNS_BIN}/coredns"
}

build_helm() {
    local work="$1"
    # Without the ldflag, `helm version` says only the minor version (v3.21).
    GOBIN="${work}/out" go install -ldflags "-X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}" \
        "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}"
    mkdir -p "${HELM_BIN}"
    mv -f "${work}/out/helm" "${HELM_BIN}/helm"
}

# Runs build_$1 in the background unless its binary $2 is already cached; the job's pid goes to PIDS[$1].
declare -A PIDS=()
start_build() {
    local component="$1" binary="$2"
    if [[ -x "${binary}" ]]; then
        log "${component}: cached (${binary})"
        return
    fi
    local work
    work="$(mktemp -d "${CACHE}/work-${component}.XXXXXX")"
    log "${component}: building in the background, log: ${LOGS}/${component}.log"
    # Each build writes into its own work dir and moves the binaries into the cache only when all of them are
    # built, so an interrupted build never leaves a half-written binary that a rerun would take as done.
    (
        set -euo pipefail
        start=${SECONDS}
        "build_${component}" "${work}"
        rm -rf "${work}"
        echo "$((SECONDS - start))" >"${LOGS}/${component}.seconds"
    ) >"${LOGS}/${component}.log" 2>&1 &
    PIDS[${component}]=$!
}

stop_builds() {
    local pid
    for pid in "${PIDS[@]}"; do kill -- "-${pid}" 2>/dev/null || true; done
}

build() {
    require_go
    mkdir -p "${CACHE}" "${LOGS}"
    # One build at a time per cache: a second 'make test' waits instead of building the same thing twice.
    exec 9>"${CACHE}/.build.lock"
    if ! flock -n 9; then
        log "another build holds ${CACHE}/.build.lock; waiting for it"
        flock 9
    fi
    rm -rf "${CACHE}"/work-*  # left by a build that was killed; no build runs now, we hold the lock
    local total_start=${SECONDS}
    # Each background build gets a process group of its own (job control), so stopping it stops its go commands.
    set -m
    trap stop_builds EXIT
    trap 'stop_builds; exit 130' INT TERM
    start_build kubernetes "${KUBERNETES_BIN}/kube-scheduler"
    start_build etcd "${ETCD_BIN}/etcd"
    start_build kwok "${KWOK_BIN}/kwokctl"
    start_build helm "${HELM_BIN}/helm"
    start_build node "${KUBERNETES_BIN}/kube-proxy"
    start_build crictl "${CRICTL_BIN}/crictl"
    start_build coredns "${COREDNS_BIN}/coredns"
    start_build kubectl "${KUBERNETES_BIN}/kubectl"
    local component failed=()
    for component in "${!PIDS[@]}"; do
        if wait "${PIDS[${component}]}"; then
            log "${component}: built in $(cat "${LOGS}/${component}.seconds") s"
        else
            log "${component}: FAILED; last lines of ${LOGS}/${component}.log:"
            tail -n 20 "${LOGS}/${component}.log" | sed 's/^/    /' >&2
            failed+=("${component}")
        fi
    done
    trap - EXIT INT TERM
    if ((${#failed[@]})); then
        die "building ${failed[*]} failed (logs in ${LOGS}); rerun 'scripts/k8s-testenv.sh build' to retry only those"
    fi
    log "all binaries ready in $((SECONDS - total_start)) s"
}

status() {
    local missing
    missing="$(missing_binaries)"
    binaries | while IFS= read -r line; do
        if [[ -x "${line#*=}" ]]; then echo "ok       ${line#*=}"; else echo "missing  ${line#*=}"; fi
    done
    [[ -z "${missing}" ]]
}

print_env() {
    local missing
    missing="$(missing_binaries)"
    if [[ -n "${missing}" ]]; then
        printf 'error: the Kubernetes test environment is not built; missing:\n%s\nrun: scripts/k8s-testenv.sh build   (~10 min cold, seconds when cached)\n' \
            "$(sed 's/^/  /' <<<"${missing}")" >&2
        exit 1
    fi
    binaries
}

up() {
    build
    # tests/: k8s_cluster.py imports the shared test helpers (tests/support)
    PYTHONPATH="${ROOT}/tests" exec "${ROOT}/.venv/bin/python" "${ROOT}/tests/k8s/k8s_cluster.py"
}

case "${1:-help}" in
    build) build ;;
    status) status ;;
    env) print_env ;;
    up) up ;;
    help | -h | --help) usage ;;
    *) usage >&2; die "unknown command '$1'" ;;
esac
