"""The real node's own image, made without a registry or a base image: one static Go binary (nodetools/main.go)
that is the pod sandbox ("pause") of every pod and the probe the node's test runs inside pods.

The binary is built with the Go toolchain `scripts/k8s-testenv.sh build` already needs, and cached by the hash of
its source in the k8s cache; the image is a docker-archive tarball written here (one layer, one file), imported
with `ctr images import` like the images tests/realnode/images.py builds with podman.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from k8s_cluster import TestenvError

SOURCE = Path(__file__).resolve().parent / "nodetools" / "main.go"
CACHE = Path(os.environ.get("MLCHAOS_CACHE", Path.home() / ".cache" / "mlchaos")) / "k8s"
BUILD_TIMEOUT_S = 300.0
"""A cold build takes ~15 s on 2 busy cores; the bound only stops a hang."""


class NodeImageError(TestenvError):
    """The node's own image could not be built; the message says why."""


@dataclass(frozen=True)
class NodeImage:
    reference: str
    """`localhost/mlchaos-nodetools:<hash>`; its entrypoint pauses, `/nodetools serve|get|fetch|resolve` probe."""
    archive: Path


def node_image() -> NodeImage:
    """Build (or reuse) the binary and its image archive, both cached by the source's hash."""
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:12]
    folder = CACHE / f"nodetools-{digest}"
    reference = f"localhost/mlchaos-nodetools:{digest}"
    archive = folder / "image.tar"
    if not archive.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        binary = folder / "nodetools"
        _go_build(binary)
        partial = archive.with_suffix(".partial")  # a killed build never leaves an archive taken as done
        partial.write_bytes(_docker_archive(binary.read_bytes(), reference))
        partial.replace(archive)
    return NodeImage(reference=reference, archive=archive)


def _go_build(binary: Path) -> None:
    # Only the standard library: no module, no download; GOTOOLCHAIN=local never fetches another toolchain.
    env = {**os.environ, "CGO_ENABLED": "0", "GOTOOLCHAIN": "local", "GOFLAGS": ""}
    try:
        built = subprocess.run(
            ["go", "build", "-trimpath", "-ldflags=-s", "-o", str(binary), str(SOURCE)],
            capture_output=True, text=True, env=env, timeout=BUILD_TIMEOUT_S, check=False, cwd=SOURCE.parent,
        )  # fmt: skip
    except FileNotFoundError:
        raise NodeImageError(
            "the Go toolchain ('go') builds the node's pause image; `make test` installs it"
        ) from None
    if built.returncode != 0:
        raise NodeImageError(f"go build {SOURCE} failed:\n{built.stderr.strip()}")


def _docker_archive(binary: bytes, reference: str) -> bytes:
    """What `docker save` writes for a one-layer image whose only file is /nodetools."""
    layer = _tar({"nodetools": (binary, 0o755)})
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Entrypoint": ["/nodetools", "pause"], "User": "65534:65534"},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{hashlib.sha256(layer).hexdigest()}"]},
    }
    manifest = [{"Config": "config.json", "RepoTags": [reference], "Layers": ["layer.tar"]}]
    return _tar({
        "layer.tar": (layer, 0o644),
        "config.json": (json.dumps(config).encode(), 0o644),
        "manifest.json": (json.dumps(manifest).encode(), 0o644),
    })  # fmt: skip


def _tar(files: dict[str, tuple[bytes, int]]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, (content, mode) in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = (
                len(content),
                mode,
                0,
            )  # mtime 0: the same source, the same image
            tar.addfile(info, io.BytesIO(content))
    return out.getvalue()
