#!/usr/bin/env bash
# Install toxiproxy-server (the network-fault proxy of the embedded stack) into a bin directory.
#
#   scripts/install-toxiproxy.sh [BIN_DIR]      # BIN_DIR defaults to .venv/bin
#
# Toxiproxy ships no Python wheel, so we build it from source with the Go toolchain. The version is stamped into
# the binary (-ldflags), so `toxiproxy-server -version` can tell whether a rerun has anything to do.
set -euo pipefail

VERSION="2.12.0"
MODULE="github.com/Shopify/toxiproxy/v2"
BIN_DIR="${1:-.venv/bin}"
TARGET="${BIN_DIR}/toxiproxy-server"

if [[ -x "${TARGET}" ]] && "${TARGET}" -version 2>/dev/null | grep -qF "version ${VERSION}"; then
    echo "toxiproxy-server ${VERSION} is already installed at ${TARGET}"
    exit 0
fi

if ! command -v go >/dev/null 2>&1; then
    cat >&2 <<EOF
error: the Go toolchain ('go') is needed to build toxiproxy-server ${VERSION}, and it is not on PATH.
Install Go 1.22 or newer, then rerun this script:
  - Debian/Ubuntu:  sudo apt-get install golang-go   (or a newer release from https://go.dev/dl/)
  - macOS:          brew install go
  - any system:     https://go.dev/doc/install   (and add /usr/local/go/bin to PATH)
Alternatively put a toxiproxy-server binary on PATH, or point MLCHAOS_TOXIPROXY_SERVER at one.
EOF
    exit 1
fi

mkdir -p "${BIN_DIR}"
BUILD_DIR="$(mktemp -d)"
trap 'rm -rf "${BUILD_DIR}"' EXIT

echo "building toxiproxy-server ${VERSION} with $(go version)"
GOBIN="${BUILD_DIR}" go install -ldflags "-X ${MODULE}.Version=${VERSION}" "${MODULE}/cmd/server@v${VERSION}"
# `go install` names the binary after its package directory (cmd/server); give it its real name.
mv -f "${BUILD_DIR}/server" "${TARGET}"
chmod 0755 "${TARGET}"
"${TARGET}" -version
echo "installed ${TARGET}"
