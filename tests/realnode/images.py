"""The container images of the real test node, as `scripts/k8s-images.sh build` left them.

Each image is tagged with a hash of what went into it (`localhost/NAME:HASH`) and saved as a docker-archive that
`ctr -n k8s.io images import` takes. `built_images()` asks the script which tags the current sources give and where
their archives are; it fails naming the images that are not built for them (`make test` builds them first).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
IMAGES_SCRIPT = REPO / "scripts" / "k8s-images.sh"


class ImagesNotBuilt(RuntimeError):
    """The images are missing or were built from other sources than the working tree's."""


@dataclass(frozen=True)
class NodeImage:
    reference: str  # localhost/NAME:TAG, as kubelet and containerd name it once imported
    archive: Path  # the docker-archive to import

    @property
    def repository(self) -> str:
        """The reference without its tag (a chart's `image.repository`)."""
        return self.reference.rpartition(":")[0]

    @property
    def tag(self) -> str:
        return self.reference.rpartition(":")[2]


@dataclass(frozen=True)
class NodeImages:
    mlchaos: NodeImage  # the repository's Dockerfile: the suite, the workers, the gateway and the primary
    redis: NodeImage  # the ml-staging chart's `redisImage`
    toxiproxy: NodeImage  # the ml-staging chart's `toxiproxyImage`

    @property
    def all_archives(self) -> tuple[Path, ...]:
        return tuple(image.archive for image in (self.mlchaos, self.redis, self.toxiproxy))


def built_images() -> NodeImages:
    """The images built for the current sources; ImagesNotBuilt says which are missing and how to build them."""
    found = subprocess.run(
        [str(IMAGES_SCRIPT), "env"], capture_output=True, text=True, check=False, timeout=60
    )
    if found.returncode != 0:
        raise ImagesNotBuilt(f"{found.stderr.strip()}\n(`make test` builds them before running the tests.)")
    images: dict[str, NodeImage] = {}
    for line in found.stdout.splitlines():
        name, reference, archive = line.split()
        images[name] = NodeImage(reference=reference, archive=Path(archive))
    return NodeImages(
        mlchaos=images["mlchaos"],
        redis=images["redis"],
        toxiproxy=images["toxiproxy"],
    )
