"""One real single-node cluster for the charts' module (real_node.py), with the images images.py built imported
into its containerd. Nothing is skipped when something is missing: the fixtures fail saying what to run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from images import ImagesNotBuilt, NodeImages, built_images
from k8s_cluster import TestenvError
from kube_tools import Kube
from real_node import RealNode, running_node

NAMESPACE = "ml-staging"
"""Both charts go here, as docs/kubernetes.md installs them: the suite faults its own namespace."""


@pytest.fixture(scope="module")
def node_images() -> NodeImages:
    try:
        return built_images()
    except ImagesNotBuilt as error:
        problem = str(error)
    pytest.fail(
        problem, pytrace=False
    )  # outside the except block: the message alone, not a chained traceback


@pytest.fixture(scope="module")
def charts_node(tmp_path_factory: pytest.TempPathFactory, node_images: NodeImages) -> Iterator[RealNode]:
    problem = None
    try:
        with running_node(tmp_path_factory.mktemp("node")) as node:
            for archive in node_images.all_archives:
                node.import_image(archive)
            yield node
    except TestenvError as error:
        problem = str(error)
    if problem is not None:
        pytest.fail(problem, pytrace=False)


@pytest.fixture(scope="module")
def kube(charts_node: RealNode) -> Kube:
    kube = Kube(charts_node, NAMESPACE)
    kube.kubectl("create", "namespace", NAMESPACE)
    return kube
