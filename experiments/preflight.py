"""Before any load or fault: is the target there, healthy, and does it have what the faults name?

A failed preflight is an invalid target (exit 2), not an aborted run: nothing was touched.
"""

from __future__ import annotations

import time

import requests

from mlchaos.experiments.plan import Plan
from mlchaos.injectors import INJECTORS, InjectorError

READY_TIMEOUT_S = 30.0
UNREACHABLE_TIMEOUT_S = 5.0


class PreflightFailed(Exception):
    """The target is not fit for the experiment; the message says what is wrong and what was tried."""


def wait_ready(
    plan: Plan, timeout_s: float = READY_TIMEOUT_S, unreachable_s: float = UNREACHABLE_TIMEOUT_S
) -> None:
    """Wait for the service's readiness check to answer 200.

    A service that answers "not ready" gets ``timeout_s`` (a previous experiment may still be recovering); one that
    does not answer at all gets only ``unreachable_s`` — a wrong URL does not fix itself. A redirect is not
    followed (it could lead to a host the target does not allow): it is an answer that is not 200.
    """
    url = plan.target.service_url + plan.target.health.ready
    started = time.monotonic()
    last, answered = "no answer yet", False
    while (elapsed := time.monotonic() - started) < (
        timeout_s if answered else min(timeout_s, unreachable_s)
    ):
        try:
            response = requests.get(url, timeout=2, headers=plan.target.headers, allow_redirects=False)
        except requests.RequestException as exc:
            last = f"{type(exc).__name__}: {exc}"
        else:
            if response.status_code == 200:
                return
            answered, last = True, f"HTTP {response.status_code}: {response.text[:200]}"
            if response.is_redirect:
                where = response.headers.get("location", "?")
                last = f"HTTP {response.status_code}: redirect to {where}, not followed"
        time.sleep(0.25)
    raise PreflightFailed(
        f"the target is not ready: {url} did not answer 200 within {elapsed:.0f}s (last: {last})"
    )


def preflight(plan: Plan, *, ready_timeout_s: float = READY_TIMEOUT_S) -> None:
    wait_ready(plan, ready_timeout_s)
    for planned in plan.faults:
        injector = INJECTORS[planned.spec.type]
        try:
            injector.check(planned.plan.undo)
        except InjectorError as exc:
            raise PreflightFailed(f"fault '{planned.spec.id}' cannot run on this target: {exc}") from exc
