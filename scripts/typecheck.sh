#!/usr/bin/env bash
# mypy --strict over the mlchaos namespace. mypy cannot follow setuptools' package-dir mapping through the editable
# install, so it checks build/typecheck/mlchaos: a tree of symlinks to the top-level folders.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-$root/.venv/bin}"
tree="$root/build/typecheck/mlchaos"
mkdir -p "$tree"
for package in experiments injectors reports staging; do
    ln -sfn "../../../$package" "$tree/$package"
done
cd "$root/build/typecheck"
exec "$bin/mypy" --config-file "$root/pyproject.toml" -p mlchaos
