#!/usr/bin/env bash
# The container images of the real test node (tests/realnode), built without any container registry: a Debian base
# made with debootstrap, then the mlchaos image (the repository's Dockerfile), redis and toxiproxy on it, each saved
# as a docker-archive that `ctr -n k8s.io images import` takes. (The pods' sandbox image is the node's own:
# tests/realnode/nodetools.)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${MLCHAOS_CACHE:-$HOME/.cache/mlchaos}/images"
LOGS="${CACHE}/logs"
DEBIAN_SUITE="bookworm"
# The mirror apt uses on this kind of machine; debootstrap and the images' apt-get both fetch from it.
DEBIAN_MIRROR="${MLCHAOS_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
BASE_TAR="${CACHE}/base/debian-${DEBIAN_SUITE}-minbase.tar"
TOXIPROXY_SERVER="${MLCHAOS_TOXIPROXY_SERVER:-${ROOT}/.venv/bin/toxiproxy-server}"
# Bump when the way an image is built changes (flags below) without any of its hashed inputs changing.
RECIPE_REVISION="1"
IMAGES=(toxiproxy redis mlchaos)

usage() {
    cat <<EOF
Usage: scripts/k8s-images.sh COMMAND

Commands:
  build    build (or reuse) every image and its archive; only images whose inputs changed are rebuilt
  env      print one line per image: NAME REFERENCE ARCHIVE (what tests/realnode/images.py reads); exit 1 naming
           the images not built for the current sources
  clean    remove the images' cache (${CACHE}), podman's storage in it included
  podman   run podman on that storage with the script's configuration, e.g.
           scripts/k8s-images.sh podman run --rm --read-only --tmpfs /tmp localhost/mlchaos:TAG --help
  help     this text

Images (each tagged with a hash of everything that goes into it, so a changed source is a new image):
  localhost/mlchaos     the repository's Dockerfile, FROM the local base; hash: Dockerfile, .dockerignore, the
                        files its COPY lines take (pyproject.toml, README.md, the package folders), the base
  localhost/redis       scripts/images/redis.Containerfile: Debian's redis-server, uid 10001
  localhost/toxiproxy   scripts/images/toxiproxy.Containerfile: ${TOXIPROXY_SERVER#"${ROOT}/"}
                        (scripts/install-toxiproxy.sh builds it when missing)
The base, localhost/debian:${DEBIAN_SUITE}: debootstrap --variant=minbase ${DEBIAN_SUITE} from ${DEBIAN_MIRROR}
(MLCHAOS_DEBIAN_MIRROR), imported with podman and kept as a tarball; delete ${BASE_TAR#"${CACHE}/"} to refresh it.

Needs root (debootstrap, rootful podman); installs podman, buildah, debootstrap and
runc with apt-get when missing.
podman runs with its own configuration, storage (--root) and state (--runroot) under ${CACHE}; builds use the
host's network (no bridge is created) and pip inside them gets the host's CA bundle as a build secret.
Archives: ${CACHE}/NAME-TAG.tar (docker-archive); logs: ${LOGS}.
EOF
}

log() { printf '[k8s-images %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# --- content hashes -------------------------------------------------------------------------------------------

# sha256 over the names and contents of the files $2... relative to directory $1.
hash_files() {
    local dir="$1"
    shift
    (cd "${dir}" && LC_ALL=C sha256sum -- "$@") | sha256sum | cut -c1-64
}

# The Dockerfile, .dockerignore and every file its COPY lines take from the repository (.dockerignore keeps
# __pycache__ out of the build context, so it stays out of the hash).
mlchaos_sources() {
    local sources=()
    read -r -a sources < <(sed -n 's/^COPY \(.*\) [^ ]*$/\1/p' "${ROOT}/Dockerfile" | tr '\n' ' ')
    ((${#sources[@]})) || die "found no COPY lines in ${ROOT}/Dockerfile"
    printf '%s\n' Dockerfile .dockerignore
    (cd "${ROOT}" && find "${sources[@]}" -type f ! -path '*/__pycache__/*' ! -name '*.pyc') | LC_ALL=C sort
}

base_hash() {
    [[ -f "${BASE_TAR}.sha256" ]] || return 1
    cat "${BASE_TAR}.sha256"
}

# The tag of image $1: the first 16 hex digits of a hash of its inputs, its base's hash included.
image_tag() {
    local name="$1" base inputs
    case "${name}" in
        toxiproxy)
            [[ -f "${TOXIPROXY_SERVER}" ]] || return 1
            base="$(base_hash)" || return 1
            inputs="${base} $(hash_files "${ROOT}/scripts/images" toxiproxy.Containerfile) $(sha256sum <"${TOXIPROXY_SERVER}")"
            ;;
        redis)
            base="$(base_hash)" || return 1
            inputs="${base} $(hash_files "${ROOT}/scripts/images" redis.Containerfile)"
            ;;
        mlchaos)
            base="$(base_hash)" || return 1
            local files=()
            mapfile -t files < <(mlchaos_sources)
            inputs="${base} $(hash_files "${ROOT}" "${files[@]}")"
            ;;
        *) die "unknown image '${name}'" ;;
    esac
    printf '%s %s %s' "${RECIPE_REVISION}" "${name}" "${inputs}" | sha256sum | cut -c1-16
}

archive_of() { echo "${CACHE}/$1-$2.tar"; }

# --- podman -----------------------------------------------------------------------------------------------------

ensure_packages() {
    local missing=() tool
    # runc named: podman is content with crun, which refuses this kind of machine's hybrid cgroups.
    for tool in podman buildah debootstrap runc; do command -v "${tool}" >/dev/null 2>&1 || missing+=("${tool}"); done
    ((${#missing[@]} == 0)) && return
    log "installing ${missing[*]} with apt-get"
    apt-get install -y "${missing[@]}" || { apt-get update && apt-get install -y "${missing[@]}"; }
}

# Explicit ulimits: podman's defaults exceed what runc may set here (no CAP_SYS_RESOURCE). Measured: nofile up to
# our hard limit works, nproc above 32768 is refused even under our hard limit (96369).
NOFILE="$(ulimit -Hn | sed 's/unlimited/1048576/')"
NOFILE="$((NOFILE > 1048576 ? 1048576 : NOFILE))"
NPROC="$(ulimit -Hu | sed 's/unlimited/32768/')"
NPROC="$((NPROC > 32768 ? 32768 : NPROC))"

# podman as measured on this kind of machine: runc (crun refuses hybrid cgroup v1), cgroupfs (no systemd), the
# ulimits above, storage (--root) and state (--runroot) under the cache.
PODMAN_CONF="${CACHE}/podman/containers.conf"
write_podman_conf() {
    mkdir -p "${CACHE}/podman/tmp"
    # Written aside and renamed: a podman started meanwhile (tests run several) never reads half a file.
    cat >"${PODMAN_CONF}.$$" <<EOF
# Written by scripts/k8s-images.sh on every run.
[containers]
default_ulimits = ["nofile=${NOFILE}:${NOFILE}", "nproc=${NPROC}:${NPROC}"]
# No network unless asked for: a default bridge would leave iptables chains and forwarding on the host.
netns = "none"

[network]
network_config_dir = "${CACHE}/podman/networks"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "${CACHE}/podman/events.log"
tmp_dir = "${CACHE}/podman/tmp"
EOF
    mv -f "${PODMAN_CONF}.$$" "${PODMAN_CONF}"
}

podman_() {
    CONTAINERS_CONF="${PODMAN_CONF}" podman --root "${CACHE}/podman/root" --runroot "${CACHE}/podman/run" \
        --storage-driver overlay "$@"
}

# --- the base image ---------------------------------------------------------------------------------------------

# Unmounts whatever debootstrap left mounted under $1 (it mounts /proc and /sys into the target), then removes $1.
remove_rootfs() {
    local dir="$1" mounts
    [[ -d "${dir}" ]] || return 0
    mounts="$(findmnt -n -l -o TARGET | awk -v d="${dir}" 'index($0, d "/") == 1' | sort -r)"
    [[ -z "${mounts}" ]] || xargs -r -n1 umount -l <<<"${mounts}"
    rm -rf --one-file-system "${dir}"
}

make_base_tar() {
    [[ -f "${BASE_TAR}" && -f "${BASE_TAR}.sha256" ]] && return
    local rootfs="${CACHE}/base/rootfs" start=${SECONDS}
    remove_rootfs "${rootfs}"
    mkdir -p "${rootfs}"
    log "base: debootstrap --variant=minbase ${DEBIAN_SUITE} from ${DEBIAN_MIRROR} (log: ${LOGS}/base.log)"
    if ! debootstrap --variant=minbase "${DEBIAN_SUITE}" "${rootfs}" "${DEBIAN_MIRROR}" >"${LOGS}/base.log" 2>&1; then
        tail -n 20 "${LOGS}/base.log" | sed 's/^/    /' >&2
        remove_rootfs "${rootfs}"
        die "debootstrap failed (log: ${LOGS}/base.log)"
    fi
    [[ -n "${rootfs}" && -f "${rootfs}/etc/debian_version" ]] || die "debootstrap left no Debian in ${rootfs}"
    # Security updates for what the images apt-get install; no package lists or downloaded .debs in the base.
    cat >"${rootfs}/etc/apt/sources.list" <<EOF
deb ${DEBIAN_MIRROR} ${DEBIAN_SUITE} main
deb ${DEBIAN_MIRROR} ${DEBIAN_SUITE}-updates main
deb ${DEBIAN_MIRROR}-security ${DEBIAN_SUITE}-security main
EOF
    # As debian:bookworm-slim: apt keeps no .debs or package caches in a layer, dpkg installs no documentation.
    printf '%s\n' \
        'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };' \
        'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };' \
        'Dir::Cache::pkgcache "";' 'Dir::Cache::srcpkgcache "";' >"${rootfs}/etc/apt/apt.conf.d/docker-clean"
    printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
        'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' >"${rootfs}/etc/dpkg/dpkg.cfg.d/docker"
    # Paths under the new root only, never the host's: rootfs is checked just above to be our own folder.
    (
        cd "${rootfs}" || exit 1
        find usr/share/doc -mindepth 1 ! -type d ! -name copyright -delete
        rm -rf usr/share/man/* usr/share/info/* var/lib/apt/lists/* var/cache/apt/archives/*.deb var/cache/apt/*.bin
    )
    tar --numeric-owner --xattrs -C "${rootfs}" -cf "${BASE_TAR}.partial" .
    remove_rootfs "${rootfs}"
    sha256sum <"${BASE_TAR}.partial" | cut -c1-64 >"${BASE_TAR}.sha256"
    mv -f "${BASE_TAR}.partial" "${BASE_TAR}"
    log "base: made in $((SECONDS - start)) s, $(du -m "${BASE_TAR}" | cut -f1) MB"
}

# Echoes the base's reference in podman's storage, importing the tarball when storage lacks it.
base_image() {
    local ref
    ref="localhost/debian:${DEBIAN_SUITE}-$(base_hash | cut -c1-16)"
    if ! podman_ image exists "${ref}"; then
        podman_ import --quiet "${BASE_TAR}" "${ref}" >/dev/null
        podman_ tag "${ref}" "localhost/debian:${DEBIAN_SUITE}"
    fi
    echo "${ref}"
}

# --- the images -------------------------------------------------------------------------------------------------

# Prepares the build context of image $1 in $2 (a temporary directory) and echoes: CONTEXT CONTAINERFILE.
prepare_context() {
    local name="$1" work="$2"
    case "${name}" in
        toxiproxy)
            cp "${TOXIPROXY_SERVER}" "${work}/toxiproxy-server"
            echo "${work} ${ROOT}/scripts/images/toxiproxy.Containerfile"
            ;;
        redis) echo "${work} ${ROOT}/scripts/images/redis.Containerfile" ;;
        mlchaos) echo "${ROOT} ${ROOT}/Dockerfile" ;;
    esac
}

build_image() {
    local name="$1" tag archive start=${SECONDS}
    tag="$(image_tag "${name}")"
    archive="$(archive_of "${name}" "${tag}")"
    if [[ -f "${archive}" ]]; then
        log "${name}: cached (localhost/${name}:${tag})"
        return
    fi
    local ref="localhost/${name}:${tag}" work context containerfile
    work="$(mktemp -d "${CACHE}/work-${name}.XXXXXX")"
    read -r context containerfile < <(prepare_context "${name}" "${work}")
    log "${name}: building ${ref} (log: ${LOGS}/${name}.log)"
    # RUN steps take their ulimits from these flags, not from containers.conf.
    local build=(build --network host --pull=never --layers -f "${containerfile}" -t "${ref}"
        --ulimit "nofile=${NOFILE}:${NOFILE}" --ulimit "nproc=${NPROC}:${NPROC}")
    build+=(--build-arg "BASE_IMAGE=$(base_image)")
    # pip inside the Dockerfile trusts what the host trusts (this machine reaches PyPI through its CA).
    [[ "${name}" != mlchaos || ! -f "${PIP_CERT_FILE}" ]] || build+=(--secret "id=pip-cert,src=${PIP_CERT_FILE}")
    if ! podman_ "${build[@]}" "${context}" >"${LOGS}/${name}.log" 2>&1; then
        tail -n 30 "${LOGS}/${name}.log" | sed 's/^/    /' >&2
        rm -rf "${work}"
        die "building ${ref} failed (log: ${LOGS}/${name}.log)"
    fi
    podman_ save --format docker-archive -o "${archive}.partial" "${ref}" >>"${LOGS}/${name}.log" 2>&1
    mv -f "${archive}.partial" "${archive}"
    rm -rf "${work}"
    forget_older "${name}" "${tag}"
    log "${name}: built in $((SECONDS - start)) s, $(du -m "${archive}" | cut -f1) MB archive"
}

# Removes the archives and podman images of $1 other than tag $2 (older sources), and layers nothing uses now.
forget_older() {
    local name="$1" tag="$2" old
    find "${CACHE}" -maxdepth 1 -name "${name}-*.tar" ! -name "${name}-${tag}.tar" -delete
    while read -r old; do
        [[ "${old}" == "localhost/${name}:${tag}" ]] || podman_ rmi --force "${old}" >/dev/null 2>&1 || true
    done < <(podman_ images --format '{{.Repository}}:{{.Tag}}' --filter "reference=localhost/${name}")
    podman_ image prune --force >/dev/null 2>&1 || true
}

PIP_CERT_FILE="${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}"

build() {
    [[ "$(id -u)" == 0 ]] || die "building the node's images needs root (debootstrap, rootful podman for containerd)"
    mkdir -p "${CACHE}/base" "${LOGS}"
    exec 9>"${CACHE}/.build.lock"
    if ! flock -n 9; then
        log "another build holds ${CACHE}/.build.lock; waiting for it"
        flock 9
    fi
    local total_start=${SECONDS} name
    # Left by a build that was killed; no build runs now, we hold the lock.
    rm -rf "${CACHE}"/work-* "${CACHE}"/*.partial "${BASE_TAR}.partial"
    remove_rootfs "${CACHE}/base/rootfs"
    if [[ ! -x "${TOXIPROXY_SERVER}" ]]; then
        "${ROOT}/scripts/install-toxiproxy.sh" "$(dirname "${TOXIPROXY_SERVER}")"
    fi
    local needed=()
    for name in "${IMAGES[@]}"; do
        local tag
        tag="$(image_tag "${name}" 2>/dev/null)" && [[ -f "$(archive_of "${name}" "${tag}")" ]] && continue
        needed+=("${name}")
    done
    if ((${#needed[@]} == 0)); then
        log "all images cached ($((SECONDS - total_start)) s)"
        return
    fi
    ensure_packages
    write_podman_conf
    make_base_tar
    for name in "${IMAGES[@]}"; do build_image "${name}"; done
    log "all images ready in $((SECONDS - total_start)) s"
}

print_env() {
    local name tag archive missing=()
    for name in "${IMAGES[@]}"; do
        if tag="$(image_tag "${name}")" && archive="$(archive_of "${name}" "${tag}")" && [[ -f "${archive}" ]]; then
            printf '%s localhost/%s:%s %s\n' "${name}" "${name}" "${tag}" "${archive}"
        else
            missing+=("${name}")
        fi
    done
    if ((${#missing[@]})); then
        printf 'error: the node images are not built for the current sources; missing: %s\nrun: scripts/k8s-images.sh build   (~3.5 min cold, ~20 s after a source change)\n' \
            "${missing[*]}" >&2
        exit 1
    fi
}

clean() {
    if [[ -d "${CACHE}/podman/root" ]]; then
        write_podman_conf
        podman_ rm --all --force >/dev/null 2>&1 || true
        podman_ rmi --all --force >/dev/null 2>&1 || true
    fi
    remove_rootfs "${CACHE}/base/rootfs"
    rm -rf --one-file-system "${CACHE}"
    log "removed ${CACHE}"
}

case "${1:-help}" in
    build) build ;;
    env) print_env ;;
    clean) clean ;;
    podman) shift; write_podman_conf; podman_ "$@" ;;
    help | -h | --help) usage ;;
    *) usage >&2; die "unknown command '$1'" ;;
esac
