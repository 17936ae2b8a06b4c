"""What identifies a run wherever it is published — span attributes, annotation tags — and their names.

OpenTelemetry's semantic conventions are used where one fits (``test.case.*`` for a scenario's run and its
result, ``server.*`` for the service a run sends its load to, ``k8s.*`` for a cluster, ``error.type``); mlchaos'
own terms (run, scenario, fault, phase, the journal) are under ``mlchaos.*``, as the conventions ask of a
name they do not define. docs/observability.md lists them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from mlchaos.experiments.scenario import Scenario
from mlchaos.experiments.targets import ExternalTarget, KubernetesTarget

RUN_ID = "mlchaos.run.id"
"""The run directory's name (``20261206-101500-feature-store-outage``): what the reports and the runs index call
the run."""
SCENARIO = "mlchaos.scenario.name"
TARGET_KIND = "mlchaos.target.kind"
TARGET_NAME = "mlchaos.target.name"
PHASE = "mlchaos.phase.name"
FAULT_ID = "mlchaos.fault.id"
FAULT_KIND = "mlchaos.fault.kind"
"""The fault's type in the scenario (``latency``, ``pod_kill``)."""
FAULT_HEALS_ITSELF = "mlchaos.fault.heals_itself"
JOURNAL_SEQ = "mlchaos.journal.seq"
"""The journal entry an event was made from (its line in ``journal.jsonl``, counting from 1)."""
DETAIL = "mlchaos.detail"
EXIT_CODE = "mlchaos.exit_code"
# Semantic conventions
TEST_CASE_NAME = "test.case.name"
TEST_CASE_RESULT_STATUS = "test.case.result.status"
"""``pass`` or ``fail``: every verifier held (exit 0), or not."""
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
K8S_CLUSTER_NAME = "k8s.cluster.name"
K8S_NAMESPACE_NAME = "k8s.namespace.name"
ERROR_TYPE = "error.type"
SERVICE_NAME = "service.name"
SERVICE_VERSION = "service.version"

DEFAULT_SERVICE_NAME = "mlchaos"
"""``service.name`` unless ``OTEL_SERVICE_NAME`` (or ``OTEL_RESOURCE_ATTRIBUTES``) names another."""

Attributes = dict[str, str | int | bool]


@dataclass(frozen=True)
class RunIdentity:
    """Which run this is, on what: the attributes every span of it carries and the tags of its annotations."""

    run_id: str
    scenario: str
    target_kind: str
    target_name: str
    target_attributes: tuple[tuple[str, str | int], ...] = ()
    """Semantic-convention attributes of the target (server address and port, cluster and namespace)."""

    @classmethod
    def of(cls, run_dir: Path, scenario: Scenario) -> RunIdentity:
        target = scenario.target
        if isinstance(target, KubernetesTarget):
            name = target.cluster_name or target.context or "kubernetes"
            where: list[tuple[str, str | int]] = [(K8S_NAMESPACE_NAME, target.namespace)]
            if target.cluster_name:
                where.append((K8S_CLUSTER_NAME, target.cluster_name))
            return cls(run_dir.name, scenario.name, target.kind, f"{name}/{target.namespace}", tuple(where))
        if isinstance(target, ExternalTarget):
            url = urlsplit(target.service_url)  # host and port only: never the user information of a URL
            host, port = url.hostname or "", url.port or (443 if url.scheme == "https" else 80)
            return cls(
                run_dir.name,
                scenario.name,
                target.kind,
                f"{host}:{port}",
                ((SERVER_ADDRESS, host), (SERVER_PORT, port)),
            )
        return cls(run_dir.name, scenario.name, target.kind, target.kind)

    def attributes(self) -> Attributes:
        return {
            RUN_ID: self.run_id,
            SCENARIO: self.scenario,
            TEST_CASE_NAME: self.scenario,
            TARGET_KIND: self.target_kind,
            TARGET_NAME: self.target_name,
            **dict(self.target_attributes),
        }
