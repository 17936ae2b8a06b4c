"""A ``gauge`` verifier names a gauge of the target's ``signals.gauges``: a name it does not declare is refused at
the verifier's ``name`` line — also when ``--target`` puts another target in the scenario's place."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mlchaos.experiments.loader import ScenarioInvalid, load_scenario, load_target
from mlchaos.experiments.verifiers.gauge import Gauge

WriteFile = Callable[..., Path]  # the `write` fixture (conftest.py)

SCENARIO = """\
    name: queue-bounded
    target:
      kind: external
      service_url: http://127.0.0.1:8080
      signals:
        gauges:
          queue: {metric: svc_queue_depth}
          pool_free: {metric: svc_pool_free}
    load:
      users: 2
      body: {x: 1}
    faults:
      - id: spike
        type: traffic_spike
        multiplier: 3
        duration: 10s
    verifiers:
      - type: gauge
        name: NAME
        fault: spike
        max: 50
    """


def problems_of(path: Path, **options: object) -> list[tuple[int | None, int | None, str, str]]:
    with pytest.raises(ScenarioInvalid) as caught:
        load_scenario(path, **options)  # type: ignore[arg-type]
    return [(p.line, p.column, p.where, p.message) for p in caught.value.problems]


def test_a_declared_gauge_loads(write: WriteFile) -> None:
    [verifier] = load_scenario(write(SCENARIO.replace("NAME", "queue"))).scenario.verifiers
    assert isinstance(verifier, Gauge) and verifier.name == "queue" and verifier.fault == "spike"


def test_a_gauge_the_target_does_not_declare_is_refused_at_its_line(write: WriteFile) -> None:
    path = write(SCENARIO.replace("NAME", "queue_depth"))
    message = "unknown gauge 'queue_depth' (signals.gauges); the target's gauges are: queue, pool_free"
    assert problems_of(path) == [(19, 5, "verifiers[0].name", message)]


def test_a_target_put_in_the_scenarios_place_is_the_one_checked(write: WriteFile) -> None:
    path = write(SCENARIO.replace("NAME", "queue"))
    other = write("kind: external\nservice_url: http://127.0.0.1:8080\n", "target.yaml")
    target, problems = load_target(other)
    assert problems == [] and target is not None
    message = "unknown gauge 'queue' (signals.gauges); the target declares none"
    assert problems_of(path, target=target) == [(19, 5, "verifiers[0].name", message)]
