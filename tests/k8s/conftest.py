"""A real Kubernetes API server for the tests in this folder (see k8s_cluster): one cluster per session, a fresh
namespace per test. Nothing is skipped when the binaries are missing: the fixture fails saying how to build them."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from k8s_cluster import KubeCluster, TestenvError, running_cluster
from kubernetes import client as k8s
from support.waiting import wait_until


@pytest.fixture(scope="session")
def kube_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeCluster]:
    workdir: Path = tmp_path_factory.mktemp("k8s")
    problem = None
    try:
        with running_cluster(workdir) as cluster:
            yield cluster
    except TestenvError as error:
        problem = str(error)
    if problem is not None:  # outside the except block: the message alone, not a chained traceback
        pytest.fail(problem, pytrace=False)


@pytest.fixture
def namespace(kube_cluster: KubeCluster) -> Iterator[str]:
    """A namespace of its own for one test, ready for pods (its default ServiceAccount exists), deleted afterwards."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    core = k8s.CoreV1Api(kube_cluster.api)
    core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
    wait_until(
        lambda: bool(
            core.list_namespaced_service_account(name, field_selector="metadata.name=default").items
        ),
        60,
        f"the default ServiceAccount of namespace {name}",
        interval_s=0.2,
    )
    yield name
    with contextlib.suppress(k8s.ApiException):
        core.delete_namespace(name)
