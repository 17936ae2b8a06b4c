"""Each fault, injected and reverted against the real toxiproxy-server and supervisord of an embedded stack.

The effect is observed twice: in the backend's own state (toxiproxy's API, supervisord's process table) and in
what the gateway does about it (which tier answers).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from pydantic import TypeAdapter
from support.waiting import wait_until

from mlchaos.experiments.targets import TargetEndpoints
from mlchaos.injectors import INJECTORS, AnyFault, FaultSpec
from mlchaos.injectors.base import TargetMisconfigured, TargetUnreachable
from mlchaos.staging.endpoints import StackEndpoints

pytestmark = pytest.mark.stack

BODY = {"entity_id": "u0042", "amount": 42.0, "hour": 14, "merchant_risk": 0.2, "is_foreign": False}


def fault(**fields: Any) -> FaultSpec:
    spec: FaultSpec = TypeAdapter(AnyFault).validate_python({"id": "t", "duration": 5, **fields})
    return spec


def tier(stack: StackEndpoints) -> str:
    response = requests.post(f"{stack.gateway_url}/predict", json=BODY, timeout=10)
    response.raise_for_status()
    answer: str = response.json()["tier"]
    return answer


def proxy(stack: StackEndpoints, name: str) -> dict[str, Any]:
    state: dict[str, Any] = requests.get(f"{stack.toxiproxy_url}/proxies/{name}", timeout=5).json()
    return state


def apply(spec: FaultSpec, target: TargetEndpoints) -> Any:
    injector = INJECTORS[spec.type]
    plan = injector.plan(spec, target)
    injector.check(plan.undo)
    injector.inject(spec, plan.undo)
    return plan


def revert_twice(spec: FaultSpec, plan: Any) -> None:
    injector = INJECTORS[spec.type]
    injector.revert(plan.undo)
    injector.revert(plan.undo)  # idempotent: a second revert (rollback after a revert) changes nothing


def test_latency_adds_a_toxic_and_the_revert_removes_it(
    stack: StackEndpoints, target: TargetEndpoints
) -> None:
    spec = fault(type="latency", dependency="primary_model", latency_ms=250, jitter_ms=10)
    plan = apply(spec, target)
    toxics = proxy(stack, "primary_model")["toxics"]
    assert [(t["name"], t["type"], t["attributes"]["latency"]) for t in toxics] == [
        ("mlchaos_t", "latency", 250)
    ]
    # 250 ms is under the gateway's 300 ms primary timeout: still primary, but visibly slower.
    started = time.monotonic()
    assert tier(stack) == "primary"
    assert time.monotonic() - started >= 0.25
    revert_twice(spec, plan)
    assert proxy(stack, "primary_model")["toxics"] == []
    wait_until(lambda: tier(stack) == "primary", 15, "the primary tier to answer", 0.1)


@pytest.mark.parametrize(
    ("mode", "toxic_type"), [("down", None), ("blackhole", "timeout"), ("reset", "reset_peer")]
)
def test_feature_store_outage_modes(
    stack: StackEndpoints, target: TargetEndpoints, mode: str, toxic_type: str | None
) -> None:
    spec = fault(type="feature_store_outage", mode=mode)
    plan = apply(spec, target)
    state = proxy(stack, "feature_store")
    if toxic_type is None:
        assert state["enabled"] is False
    else:
        assert state["enabled"] is True
        assert [t["type"] for t in state["toxics"]] == [toxic_type]
    wait_until(lambda: tier(stack) == "fallback", 15, "the fallback tier to answer", 0.1)
    revert_twice(spec, plan)
    state = proxy(stack, "feature_store")
    assert state["enabled"] is True and state["toxics"] == []
    wait_until(lambda: tier(stack) == "primary", 15, "the primary tier to answer", 0.1)


def test_pod_kill_kills_and_supervisord_restarts(stack: StackEndpoints, target: TargetEndpoints) -> None:
    from mlchaos.injectors.backends.supervisor import SupervisorClient

    supervisor = SupervisorClient(stack.supervisor_url)
    before = supervisor.program("primary-model").pid
    spec = fault(type="pod_kill", program="primary-model")
    plan = apply(spec, target)
    wait_until(
        lambda: supervisor.program("primary-model").pid not in (0, before), 15, "a new primary-model pid", 0.1
    )
    revert_twice(spec, plan)
    wait_until(
        lambda: supervisor.program("primary-model").state == "RUNNING", 15, "primary-model RUNNING", 0.1
    )
    wait_until(lambda: tier(stack) == "primary", 30, "the primary tier to answer", 0.1)


def test_pod_kill_revert_starts_a_program_that_stayed_down(
    stack: StackEndpoints, target: TargetEndpoints
) -> None:
    from mlchaos.injectors.backends.supervisor import SupervisorClient
    from mlchaos.staging.supervisor import supervisor_proxy

    supervisor = SupervisorClient(stack.supervisor_url)
    spec = fault(type="pod_kill", program="primary-model")
    plan = INJECTORS["pod_kill"].plan(spec, target)
    # A program supervisord gave up on (or someone stopped) is brought back by the revert.
    with supervisor_proxy(stack.supervisor_url) as proxy:
        proxy.supervisor.stopProcess("primary-model", True)
    assert supervisor.program("primary-model").state == "STOPPED"
    INJECTORS["pod_kill"].revert(plan.undo)
    wait_until(
        lambda: supervisor.program("primary-model").state == "RUNNING", 30, "primary-model RUNNING", 0.1
    )
    wait_until(lambda: tier(stack) == "primary", 30, "the primary tier to answer", 0.1)


def test_a_leftover_toxic_fails_the_check_with_a_hint(stack: StackEndpoints, target: TargetEndpoints) -> None:
    spec = fault(type="latency", dependency="cache", latency_ms=5)
    plan = apply(spec, target)
    try:
        with pytest.raises(TargetMisconfigured, match=r"still has toxic\(s\) mlchaos_t .*mlchaos rollback"):
            INJECTORS["latency"].check(plan.undo)
    finally:
        INJECTORS["latency"].revert(plan.undo)


def test_names_the_target_does_not_have_are_refused_with_the_known_ones(target: TargetEndpoints) -> None:
    with pytest.raises(TargetMisconfigured, match=r"no proxy for dependency 'nope' \(it has: cache, "):
        INJECTORS["latency"].plan(fault(type="latency", dependency="nope", latency_ms=5), target)
    with pytest.raises(TargetMisconfigured, match=r"no program 'nope' \(the target has: redis, "):
        INJECTORS["pod_kill"].plan(fault(type="pod_kill", program="nope"), target)


def test_an_unreachable_backend_is_reported_not_hung(target: TargetEndpoints) -> None:
    # Port 9 (discard) has nothing listening on loopback: the connection is refused at once.
    dead = TargetEndpoints(
        service_url=target.service_url,
        toxiproxy_url="http://127.0.0.1:9",
        supervisor_url="http://127.0.0.1:9",
        proxies=target.proxies,
    )
    with pytest.raises(TargetUnreachable, match=r"toxiproxy at http://127\.0\.0\.1:9 did not answer"):
        INJECTORS["latency"].check(
            INJECTORS["latency"].plan(fault(type="latency", dependency="cache", latency_ms=5), dead).undo
        )
    with pytest.raises(TargetUnreachable, match=r"supervisord at http://127\.0\.0\.1:9/RPC2 did not answer"):
        INJECTORS["pod_kill"].revert(
            INJECTORS["pod_kill"].plan(fault(type="pod_kill", program="x"), dead).undo
        )
