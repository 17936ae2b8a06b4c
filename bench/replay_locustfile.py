"""A team's locustfile, as far as mlchaos can tell, whose users record requests without sending any.

``bench/master_ingest.py`` runs it on real workers of a distributed load to find the master's own ceiling: each
user fires Locust's ``request`` event for a fixed answer (the fast endpoint's, ``bench/fast_endpoint.py``) in
bursts, with no HTTP at all, so a worker produces rows about ten times faster than it could by sending requests —
through the same recorder (each answer parsed with the target's mapping), the same shipping to the master, the same
checks there and the same writing to the orchestrator. On a 2-core machine that is the only way four workers can
feed a master faster than it can take.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from fast_endpoint import response_bytes  # the locustfile's own folder is on its import path, as for a team's
from locust import User, constant_pacing, task

ROWS_PER_S_PER_USER = 100.0
"""The pace of each user; bench/master_ingest.py writes its own into the copy of this file a load carries."""
BURST = 50
"""Requests recorded per task run; Locust yields to its other greenlets (flushes, heartbeats) between runs."""
_HEAD, _BODY = response_bytes().split(b"\r\n\r\n", 1)


class _Answer:
    """What the recorder reads of a response: its status, body and headers."""

    status_code = 200
    content = _BODY
    headers: ClassVar[dict[str, Any]] = {"content-type": "application/json"}


class ReplayUser(User):
    # paced, not flat out: a master offered more than it can take falls behind, and its workers' late rows then
    # fail the load (they start after its end) — the sign the rate was past its ceiling
    wait_time = constant_pacing(BURST / ROWS_PER_S_PER_USER)

    @task
    def replay(self) -> None:
        fire = self.environment.events.request.fire
        answer = _Answer()
        for _ in range(BURST):
            fire(
                request_type="POST",
                name="/v1/score",
                response_time=0.1,
                response_length=len(_BODY),
                response=answer,
                context={},
                exception=None,
                start_time=time.time(),
                url="/v1/score",
            )
