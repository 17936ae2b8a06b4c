#!/usr/bin/env bash
# Install actionlint (the GitHub Actions workflow linter) into a bin directory: tests/test_recipes.py lints
# docs/recipes/github-actions-monthly.yml with it.
#
#   scripts/install-actionlint.sh [BIN_DIR]      # BIN_DIR defaults to .venv/bin
#
# actionlint ships no Python wheel; it is a Go module, built with the Go toolchain as toxiproxy-server is.
set -euo pipefail

VERSION="1.7.12"
MODULE="github.com/rhysd/actionlint"
BIN_DIR="${1:-.venv/bin}"
TARGET="${BIN_DIR}/actionlint"

if [[ -x "${TARGET}" ]] && "${TARGET}" -version 2>/dev/null | head -n 1 | grep -qxF "${VERSION}"; then
    echo "actionlint ${VERSION} is already installed at ${TARGET}"
    exit 0
fi

if ! command -v go >/dev/null 2>&1; then
    echo "error: the Go toolchain ('go') is needed to build actionlint ${VERSION}; install Go 1.22 or newer" >&2
    exit 1
fi

mkdir -p "${BIN_DIR}"
BUILD_DIR="$(mktemp -d)"
trap 'rm -rf "${BUILD_DIR}"' EXIT
GOBIN="${BUILD_DIR}" go install -ldflags "-X ${MODULE}.version=${VERSION}" "${MODULE}/cmd/actionlint@v${VERSION}"
mv -f "${BUILD_DIR}/actionlint" "${TARGET}"
chmod 0755 "${TARGET}"
echo "installed ${TARGET} ($("${TARGET}" -version | head -n 1))"
