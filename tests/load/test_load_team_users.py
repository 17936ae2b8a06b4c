"""A team's own Locust users (``load.locustfile``): a real Locust child runs the team's FastHttpUser or HttpUser
against a real HTTP server on 127.0.0.1, and every request they make is recorded, read with the target's
response mapping — here one unlike the reference stack's (tier in a header, confidence behind a list index).

Every load is short (1–3 s) and every wait bounded; the ``runners`` fixture stops any child left behind.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from load_fakes import FakeTarget, run_to_end
from support.local_processes import free_port

from mlchaos.experiments.load.runner import LoadError, LoadRunner
from mlchaos.experiments.load.spec import LoadSpec, Locustfile, Stage

pytestmark = pytest.mark.timeout(60)

MakeSpec = Callable[..., LoadSpec]
Runners = Callable[..., LoadRunner]

FAST_USERS = """
from locust import FastHttpUser, constant, task


class Base(FastHttpUser):
    abstract = True  # not run: Locust's rule, kept
    wait_time = constant(0.01)


class Scorer(Base):
    @task
    def score(self):
        self.client.post("/v2/score", json={"account": "a1"}, context={"mlchaos_label": "fraud"})
"""

HTTP_USERS = """
from locust import HttpUser, constant, task


class Scorer(HttpUser):
    wait_time = constant(0.01)

    @task
    def score(self):
        response = self.client.post("/v2/score", json={"account": "a1"}, context={"mlchaos_label": "fraud"})
        response.json()["no such field"]  # a team's own check that raises: logged, the request still recorded
"""

USERS = {"FastHttpUser": FAST_USERS, "HttpUser": HTTP_USERS}
NESTED_MAPPING = {
    "tier_field": "header:x-served-by",  # the server sends X-Served-By: header names are case-insensitive
    "confidence_field": "outputs.0.data.1",
    "prediction_field": "result.label",
}


def team_spec(make_spec: MakeSpec, url: str, source: str, tmp_path: Path, **overrides: Any) -> LoadSpec:
    file = tmp_path / "team_users.py"
    file.write_text(source, encoding="utf-8")
    locustfile = Locustfile(path=str(file), source=source, user_classes=overrides.pop("user_classes", ()))
    return make_spec(url, requests=(), locustfile=locustfile, **{**NESTED_MAPPING, **overrides})


@pytest.mark.parametrize("kind", USERS)
def test_every_request_of_the_teams_users_is_recorded_with_the_targets_mapping(
    kind: str, target: FakeTarget, make_spec: MakeSpec, runners: Runners, tmp_path: Path
) -> None:
    target.mode = "nested"
    spec = team_spec(make_spec, target.url, USERS[kind], tmp_path, headers={"Authorization": "Bearer t0ken"})
    runner = run_to_end(runners, spec)

    records = runner.records
    assert len(records) == runner.sent == target.count > 10
    # review and shed are in the body and the headers, but this target maps neither: nothing is read
    assert {(r.status, r.tier, r.confidence, r.prediction, r.error, r.flagged, r.shed) for r in records} == {
        (200, "gold", 0.88, "fraud", None, None, None)
    }
    assert {r.label for r in records} == {"fraud"}  # the canary label the team's request carried
    assert set(target.authorizations) == {"Bearer t0ken"}  # the target's headers reach the team's requests
    assert runner.started_at is not None
    assert all(r.start <= runner.started_at + spec.duration_s + 0.005 for r in records)


@pytest.mark.parametrize("kind", USERS)
def test_failures_of_the_teams_requests_become_statuses_and_errors(
    kind: str, target: FakeTarget, free_port: int, make_spec: MakeSpec, runners: Runners, tmp_path: Path
) -> None:
    target.mode = "error"
    source = USERS[kind].replace('["no such field"]', "")
    answered = run_to_end(runners, team_spec(make_spec, target.url, source, tmp_path)).records
    assert len(answered) == target.count > 5
    assert {(r.status, r.error) for r in answered} == {(500, "HTTP 500")}

    refused = run_to_end(runners, team_spec(make_spec, f"http://127.0.0.1:{free_port}", source, tmp_path))
    assert refused.records and {r.status for r in refused.records} == {0}
    assert all("refused" in str(r.error).lower() for r in refused.records), refused.records[0].error


LOOPING_USERS = """
from locust import {base}, constant, task


class Looper({base}):
    wait_time = constant(0)

    @task
    def never_returns(self):
        while True:  # a task that would run past any deadline
            self.client.post("/v2/score", json={{}})
"""


@pytest.mark.parametrize("base", USERS)
def test_no_request_starts_after_the_deadline_even_from_a_task_that_never_returns(
    base: str, target: FakeTarget, make_spec: MakeSpec, runners: Runners, tmp_path: Path
) -> None:
    target.mode = "nested"
    spec = team_spec(make_spec, target.url, LOOPING_USERS.format(base=base), tmp_path, duration_s=1.0)
    runner = runners(spec)
    runner.start()
    assert runner.wait(timeout_s=spec.duration_s + spec.stop_grace_s + 8) == 0, "the load did not stop"

    records = runner.records
    assert runner.started_at is not None and len(records) == target.count > 10
    assert max(r.start for r in records) <= runner.started_at + spec.duration_s + 0.005


@pytest.mark.parametrize("elsewhere", ["another host", "another port"])
@pytest.mark.parametrize("kind", [*USERS, "mlchaos' own"])
def test_a_redirect_to_another_origin_is_recorded_not_followed(
    kind: str, elsewhere: str, target: FakeTarget, make_spec: MakeSpec, runners: Runners, tmp_path: Path
) -> None:
    port = target.url.rsplit(":", 1)[1]
    # Another port of the same host is another service: following it would send the load somewhere unchosen.
    other = f"127.0.0.2:{port}" if elsewhere == "another host" else f"127.0.0.1:{free_port()}"
    location = f"http://{other}/elsewhere"
    target.mode, target.location = "redirect", location
    if kind in USERS:
        spec = team_spec(make_spec, target.url, USERS[kind].replace('["no such field"]', ""), tmp_path)
    else:
        spec = make_spec(target.url)
    runner = run_to_end(runners, spec)

    records = runner.records
    assert len(records) == target.count > 5  # nothing was sent elsewhere (it would be a refused connection)
    assert {(r.status, r.error) for r in records} == {(307, f"redirect to {location}, not followed")}


@pytest.mark.parametrize("kind", USERS)
def test_a_redirect_on_the_same_host_is_followed(
    kind: str, target: FakeTarget, make_spec: MakeSpec, runners: Runners, tmp_path: Path
) -> None:
    target.mode, target.location = "redirect", f"{target.url}/redirected"
    spec = team_spec(make_spec, target.url, USERS[kind], tmp_path, tier_field="header:X-Tier")
    runner = run_to_end(runners, spec)

    records = runner.records
    assert 2 * len(records) == target.count  # each request, then its redirect
    assert {(r.status, r.tier, r.error) for r in records} == {(200, "fallback", None)}


ELSEWHERE_USERS = """
from locust import FastHttpUser, constant, task


class Elsewhere(FastHttpUser):
    wait_time = constant(0.05)

    @task
    def score(self):
        self.client.post("http://{host}/v2/score", json={{}})
"""


@pytest.mark.parametrize(
    ("host", "allowed", "why"),
    [
        pytest.param("staging.example.invalid", (), "is not in allowed_hosts", id="not-allowed"),
        pytest.param(
            "api.prod.example.invalid", ("api.prod.example.invalid",), "looks like production", id="prod"
        ),
    ],
)
def test_a_request_to_a_host_the_target_does_not_allow_is_never_sent_and_fails_the_load(
    host: str,
    allowed: tuple[str, ...],
    why: str,
    target: FakeTarget,
    make_spec: MakeSpec,
    runners: Runners,
    tmp_path: Path,
) -> None:
    source = ELSEWHERE_USERS.format(host=host)
    runner = runners(team_spec(make_spec, target.url, source, tmp_path, allowed_hosts=allowed))
    runner.start()
    with pytest.raises(LoadError, match="load child failed") as failed:
        runner.wait(timeout_s=15)
    assert f"refused a request to http://{host}/v2/score" in failed.value.stderr_tail
    assert why in failed.value.stderr_tail
    assert runner.records == []  # refused before it was sent: no request, so no record


def test_load_stages_drive_the_teams_users(
    target: FakeTarget, make_spec: MakeSpec, runners: Runners, tmp_path: Path
) -> None:
    target.mode = "nested"
    spike = (Stage(at_s=1.0, users=4, spawn_rate=50),)
    spec = team_spec(make_spec, target.url, FAST_USERS, tmp_path, users=1, stages=spike, duration_s=2.5)
    runner = run_to_end(runners, spec)

    assert runner.started_at is not None
    counts = [(t - runner.started_at, users) for t, users in runner.user_counts]
    assert max(users for t, users in counts if t < 0.8) == 1
    assert max(users for _, users in counts) == 4
    assert len(runner.records) == target.count


def test_workers_run_the_locustfile_from_the_spec_not_from_the_disk(
    target: FakeTarget, make_spec: MakeSpec, runners: Runners
) -> None:
    target.mode = "nested"
    # a path nothing exists at: the workers import the text the spec carries
    locustfile = Locustfile(path="/nonexistent/team_users.py", source=FAST_USERS)
    spec = make_spec(
        target.url, requests=(), locustfile=locustfile, users=4, workers=2, duration_s=2.0, **NESTED_MAPPING
    )
    runner = run_to_end(runners, spec)

    records = runner.records
    assert len(records) == runner.sent == target.count > 10
    assert {(r.status, r.tier, r.label) for r in records} == {(200, "gold", "fraud")}


@pytest.mark.parametrize(
    ("source", "classes", "says"),
    [
        pytest.param(FAST_USERS, ("Scorer", "Nobody"), "'Nobody' is not defined", id="unknown-class"),
        pytest.param(
            FAST_USERS, ("Base",), "'Base' is not a runnable Locust User class", id="abstract-class"
        ),
        pytest.param("import locust\n", (), "defines no Locust User class", id="no-users"),
        pytest.param("raise RuntimeError('no config')\n", (), "RuntimeError: no config", id="import-fails"),
    ],
)
def test_a_locustfile_without_the_users_asked_for_stops_the_child_before_any_load(
    source: str,
    classes: tuple[str, ...],
    says: str,
    target: FakeTarget,
    make_spec: MakeSpec,
    runners: Runners,
    tmp_path: Path,
) -> None:
    runner = runners(team_spec(make_spec, target.url, source, tmp_path, user_classes=classes))
    with pytest.raises(LoadError, match="exited before starting") as failed:
        runner.start(timeout_s=20)
    assert says in failed.value.stderr_tail
    assert target.count == 0
