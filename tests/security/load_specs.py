"""The load the request-bound tests of tests/security send: mlchaos' own users (FastHttpUser) or a team's
HttpUser, so that requests through either Locust client are shown to be bounded."""

from __future__ import annotations

from pathlib import Path

from mlchaos.experiments.load.spec import LoadSpec, Locustfile, RequestTemplate

TEAM_USERS = """\
from locust import HttpUser, constant, task


class Team(HttpUser):
    wait_time = constant(0.01)

    @task
    def score(self):
        self.client.post("/predict", json={"amount": 5})
"""


def load_spec(url: str, tmp_path: Path, *, team: bool = False, **values: object) -> LoadSpec:
    """Two quick users against ``url`` (a team's, from a locustfile in ``tmp_path``, when ``team``); ``values``
    override any field."""
    users: dict[str, object] = {"requests": (RequestTemplate(body={"amount": 5}),)}
    if team:
        file = tmp_path / "team_users.py"
        file.write_text(TEAM_USERS)
        users = {"locustfile": Locustfile(path=str(file), source=TEAM_USERS)}
    defaults: dict[str, object] = {
        "users": 2,
        "spawn_rate": 50,
        "wait_min_s": 0.01,
        "wait_max_s": 0.02,
        "flush_interval_s": 0.1,
    }
    return LoadSpec(base_url=url, **{**defaults, **users, **values})  # type: ignore[arg-type]
