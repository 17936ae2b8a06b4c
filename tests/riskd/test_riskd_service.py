"""riskd, the second test service, keeps its own (deliberately unlike the reference stack's) promises: answer
shape and tiers, validation and leniency, breakers and fallbacks under real toxiproxy faults, supervisord
restarts, load shedding, OOD flagging, drift alarms, metrics, health checks, OpenAPI, and a few defect flags.
Real processes throughout (supervisord, toxiproxy-server, three Python programs); loopback only."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.waiting import wait_until

from mlchaos.staging.supervisor import supervisor_proxy
from riskd.cases import INVALID, MALFORMED, encoded
from riskd.config import TIERS
from riskd.data import DATA_FILE, FILE_SEED, read_jsonl, transactions
from riskd.stack import PYTHONPATH, RiskdEndpoints, RiskdStack
from riskd.testing import (
    CLEAN_BODY,
    RiskApi,
    Toxiproxy,
    assert_gone,
    burst,
    check_answer,
    clean_bodies,
    parse_metrics,
)

pytestmark = pytest.mark.timeout(120)


def test_clean_traffic_is_answered_by_gold_and_mostly_right(api: RiskApi) -> None:
    rows = read_jsonl(DATA_FILE)
    assert len(rows) == 1500
    right, tiers = 0, []
    for row in rows[:80]:
        response = api.score(row["body"])
        payload = check_answer(response)
        tiers.append(response.headers["X-Served-By"])
        assert payload["meta"]["load_shed"] is False
        right += payload["outputs"][0]["data"][0] == row["label"]
    # All gold, really; a starved CPU may make a call miss its 300 ms timeout now and then, and that answer
    # rightly comes from silver.
    assert set(tiers) <= {"gold", "silver"} and tiers.count("gold") >= 72, tiers
    assert right >= 74


def test_the_shipped_dataset_is_the_generators_output() -> None:
    rows = read_jsonl(DATA_FILE)
    assert rows == transactions(1500, FILE_SEED)
    assert 0.05 < sum(row["label"] == "block" for row in rows) / len(rows) < 0.2


def test_health_checks(api: RiskApi) -> None:
    assert api.client.get("/healthz").status_code == 200
    assert api.client.get("/readyz").json() == {"ready": True}
    deep = api.client.get("/readyz/deep")
    assert deep.status_code == 200 and deep.json()["served_by"] in ("gold", "silver")


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_input_gets_422_naming_the_field(api: RiskApi, case: str) -> None:
    raw, field = INVALID[case]
    response = api.client.post("/api/v2/score", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    payload = response.json()
    assert isinstance(payload["problem"], str) and isinstance(payload["fields"], list)
    if field is not None:
        assert [f["field"] for f in payload["fields"]] == [field]


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_json_gets_400(api: RiskApi, case: str) -> None:
    response = api.client.post(
        "/api/v2/score", content=MALFORMED[case], headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert set(response.json()) == {"problem", "fields"}


def test_oversized_bodies_get_413_declared_or_chunked(api: RiskApi) -> None:
    big = encoded(padding="x" * 70_000)
    response = api.client.post("/api/v2/score", content=big, headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and "problem" in response.json()

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit must hold while streaming too
        for start in range(0, len(big), 8192):
            yield big[start : start + 8192]

    response = api.client.post(
        "/api/v2/score", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413 and "problem" in response.json()


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (encoded(note="extra fields are ignored", tags=["a"], nested={"x": 1}), "application/json"),
        (encoded(), "text/plain"),
        (encoded(), "application/x-www-form-urlencoded"),
        (encoded(), None),
    ],
    ids=["extra fields", "text/plain", "form content type", "no content type"],
)
def test_lenient_on_purpose(api: RiskApi, raw: bytes, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = api.client.post("/api/v2/score", content=raw, headers=headers)
    check_answer(response)
    assert response.headers["X-Served-By"] in ("gold", "silver")  # silver: a timeout on a starved CPU


@pytest.mark.parametrize(
    ("changes", "tier"),
    [
        ({"value_eur": 50000}, "bronze"),
        ({"value_eur": 0}, "bronze"),
        ({"basket_items": 100}, "bronze"),
        ({"value_eur": 5000, "basket_items": 60, "channel": "app"}, "default"),  # no rule fits: default
    ],
    ids=["huge value", "zero value", "huge basket", "no rule"],
)
def test_out_of_distribution_is_flagged_and_kept_from_the_models(
    api: RiskApi, changes: dict[str, Any], tier: str
) -> None:
    response = api.score(**changes)
    meta = check_answer(response)["meta"]
    assert response.headers["X-Served-By"] == tier
    assert meta["needs_review"] is True and meta["review_reason"] == "ood"
    assert meta["confidence"] <= 0.6


def test_profiles_outage_serves_silver_and_the_breaker_opens_half_opens_and_closes(
    api: RiskApi, toxiproxy: Toxiproxy
) -> None:
    wait_until(lambda: api.tier() == "gold", 5.0, "gold before the outage")
    opened = api.changes("profiles", "CLOSED", "OPEN")
    closed = api.changes("profiles", "HALF_OPEN", "CLOSED")
    with toxiproxy.disabled("profiles-db"):
        assert {api.tier(body) for body in clean_bodies(5)} == {"silver"}
        assert api.circuit("profiles") == 1  # 3 failures in a row; the 2 s recovery has not passed yet
        assert api.changes("profiles", "CLOSED", "OPEN") == opened + 1
        started = time.perf_counter()
        assert api.tier() == "silver"
        assert time.perf_counter() - started < 0.25  # open: the dead store costs nothing
        wait_until(lambda: api.circuit("profiles") == 2, 5.0, "the profiles breaker to half-open")
        assert api.tier() == "silver"  # the trial fails ...
        assert api.circuit("profiles") == 1  # ... and it opens again
    assert api.circuit("scorer") == 0
    wait_until(lambda: api.tier() == "gold", 6.0, "gold to serve again after the store is back", 0.1)
    assert api.circuit("profiles") == 0
    assert api.changes("profiles", "HALF_OPEN", "CLOSED") == closed + 1


@pytest.mark.timeout(60)
def test_a_sigkilled_scorer_is_restarted_and_gold_comes_back(endpoints: RiskdEndpoints, api: RiskApi) -> None:
    with supervisor_proxy(endpoints.supervisor_url) as proxy:
        old_pid = proxy.supervisor.getProcessInfo("scorer")["pid"]
    os.kill(old_pid, signal.SIGKILL)  # our own stack's process, by its pid
    killed_at = time.monotonic()
    wait_until(lambda: api.tier() == "silver", 5.0, "silver while the scorer is down")

    def restarted() -> bool:
        with supervisor_proxy(endpoints.supervisor_url) as proxy:
            info = proxy.supervisor.getProcessInfo("scorer")
        return bool(info["statename"] == "RUNNING" and info["pid"] != old_pid)

    wait_until(restarted, 15.0, "supervisord to restart the scorer", 0.1)
    wait_until(lambda: api.tier() == "gold", 15.0, "gold to serve again", 0.1)
    assert time.monotonic() - killed_at < 10.0


def test_excess_load_is_shed_to_the_rules_at_once(
    endpoints: RiskdEndpoints, api: RiskApi, toxiproxy: Toxiproxy
) -> None:
    shed_before = api.sample("riskd_load_shed_total")
    with toxiproxy.latency("scorer-rpc", 150):  # each admitted request holds its slot >= 150 ms
        replies = burst(endpoints.service_url, clean_bodies(24, seed=3))
    payloads = [check_answer(reply) for reply in replies]
    shed = [(r, p) for r, p in zip(replies, payloads, strict=True) if p["meta"]["load_shed"]]
    admitted = [r for r, p in zip(replies, payloads, strict=True) if not p["meta"]["load_shed"]]
    assert len(admitted) >= 8 and len(shed) >= 8, (len(admitted), len(shed))
    assert {r.headers["X-Served-By"] for r, _ in shed} <= {"bronze", "default"}
    assert {r.headers["X-Served-By"] for r in admitted} <= {"gold", "silver"}  # silver: a starved CPU
    assert any(r.headers["X-Served-By"] == "gold" for r in admitted)
    assert api.sample("riskd_load_shed_total") == shed_before + len(shed)


def test_deep_readiness_needs_gold_or_silver_within_500_ms(api: RiskApi, toxiproxy: Toxiproxy) -> None:
    with toxiproxy.disabled("profiles-db"):
        deep = api.client.get("/readyz/deep")
        assert deep.status_code == 200 and deep.json()["served_by"] == "silver"
    # Each call within its 300 ms timeout, both together over the 500 ms budget. On a busy machine a call
    # may still miss its timeout (silver, 200): try again, a few times (fewer than would open a breaker).
    with toxiproxy.latency("profiles-db", 255), toxiproxy.latency("scorer-rpc", 255):
        attempts = []
        for _ in range(2):
            deep = api.client.get("/readyz/deep")
            attempts.append((deep.status_code, deep.json()))
            if deep.status_code == 503:
                break
        assert deep.status_code == 503, attempts
        assert deep.json()["served_by"] == "gold" and deep.json()["seconds"] > 0.5
        assert api.client.get("/readyz").status_code == 200  # slow is not unready


def test_metrics_names_labels_and_encodings(api: RiskApi) -> None:
    api.score()
    response = api.client.get("/internal/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    metrics = parse_metrics(response.text)
    by_name: dict[str, list[dict[str, str]]] = {}
    for (name, labels), _ in metrics.items():
        by_name.setdefault(name, []).append(dict(labels))
    assert sorted(labels["upstream"] for labels in by_name["riskd_upstream_circuit"]) == [
        "profiles",
        "scorer",
    ]
    assert api.circuit("profiles") in (0, 1, 2)
    changes = by_name["riskd_circuit_changes_total"]
    assert all(set(labels) == {"upstream", "from", "to"} for labels in changes)
    assert {labels["from"] for labels in changes} == {"CLOSED", "OPEN", "HALF_OPEN"}
    assert sorted(labels["served_by"] for labels in by_name["riskd_answers_total"]) == sorted(TIERS)
    assert api.sample("riskd_answers_total", served_by="gold") >= 1
    assert metrics[("riskd_drift_alarm_active", frozenset())] in (0.0, 1.0)
    assert ("riskd_drift_alarms_raised_total", frozenset()) in metrics
    assert any(name == "riskd_score_latency_seconds_bucket" for name in by_name)


def test_openapi_spec_gives_types_ranges_and_enums(api: RiskApi) -> None:
    spec = api.client.get("/api/v2/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    ref = spec["paths"]["/api/v2/score"]["post"]["requestBody"]["content"]["application/json"]["schema"][
        "$ref"
    ]
    schema = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert sorted(schema["required"]) == sorted(CLEAN_BODY)
    fields = schema["properties"]
    assert fields["value_eur"] == {"type": "number", "minimum": 0.0, "maximum": 50000.0, "example": 12.5}
    assert (
        fields["basket_items"]["type"],
        fields["basket_items"]["minimum"],
        fields["basket_items"]["maximum"],
    ) == (
        "integer",
        1,
        100,
    )
    assert fields["channel"]["enum"] == ["web", "app", "pos", "phone"]
    assert fields["country"]["enum"] == ["DE", "FR", "ES", "IT", "NL", "PL"]
    assert fields["night"]["type"] == "boolean"
    assert fields["customer_ref"]["pattern"] == "^C-[0-9]{5}$"


@pytest.mark.timeout(90)
def test_drift_alarm_stays_quiet_on_clean_traffic_and_raises_on_a_shift(api: RiskApi) -> None:
    raised = api.sample("riskd_drift_alarms_raised_total")
    for body in clean_bodies(320, seed=21):
        assert api.score(body).status_code == 200
    time.sleep(0.3)  # scores are recomputed at most every 0.25 s
    assert api.sample("riskd_drift_alarm_active") == 0
    shifted = clean_bodies(300, seed=22)
    for i, body in enumerate(shifted):  # value x5 in every other request
        api.score(body, value_eur=round(body["value_eur"] * 5, 2) if i % 2 else body["value_eur"])
    wait_until(lambda: api.sample("riskd_drift_alarm_active") == 1, 2.0, "the drift alarm")
    assert api.sample("riskd_drift_alarms_raised_total") >= raised + 1
    for body in clean_bodies(320, seed=23):
        api.score(body)
    wait_until(lambda: api.sample("riskd_drift_alarm_active") == 0, 2.0, "the drift alarm to clear")


@pytest.mark.timeout(90)
def test_degraded_labelled_gold_mislabels_and_the_cold_start_slows_first_answers() -> None:
    riskd = RiskdStack(flags=["degraded_labelled_gold"])
    endpoints = riskd.start()
    try:
        assert endpoints.flags == ("degraded_labelled_gold",)
        with RiskApi(endpoints.service_url) as api:
            started = time.perf_counter()
            check_answer(api.score())
            assert time.perf_counter() - started >= 0.35  # the cold start
            response = api.score(value_eur=50000)  # OOD: really served by bronze
            assert check_answer(response)["meta"]["review_reason"] == "ood"
            assert response.headers["X-Served-By"] == "gold"
            assert api.sample("riskd_answers_total", served_by="bronze") == 1
            assert riskd.ready_at is not None
            time.sleep(max(0.0, riskd.ready_at + riskd.config.cold_start_s + 0.2 - time.monotonic()))
            started = time.perf_counter()
            check_answer(api.score())
            assert time.perf_counter() - started < 0.3  # no longer the 0.4 s cold-start delay
            assert api.sample("riskd_cold_start_active") == 0
    finally:
        riskd.stop()
    assert_gone(endpoints)


@pytest.mark.timeout(90)
def test_nan_500_overconfident_ood_and_broken_fallback() -> None:
    with RiskdStack(flags=("nan_500", "overconfident_ood", "broken_fallback")) as riskd:
        endpoints = riskd.endpoints
        with RiskApi(endpoints.service_url) as api:
            for literal in ("NaN", "Infinity"):
                raw = encoded().replace(b"12.5", literal.encode())
                response = api.client.post("/api/v2/score", content=raw)
                assert response.status_code == 500 and response.json()["problem"] == "internal"

            def gold_ood_answer() -> httpx.Response | None:  # gold, unless a call missed its timeout
                response = api.score(value_eur=50000)
                return response if response.headers.get("X-Served-By") == "gold" else None

            response = wait_until(gold_ood_answer, 5.0, "gold to answer an OOD request")
            meta = check_answer(response)["meta"]
            assert meta["needs_review"] is False and meta["confidence"] >= 0.95
            with Toxiproxy(endpoints.toxiproxy_url).disabled("profiles-db"):
                assert api.tier() in ("bronze", "default")  # silver always raises
                deep = api.client.get("/readyz/deep")
                assert deep.status_code == 503 and deep.json()["served_by"] in ("bronze", "default")
    assert_gone(endpoints)


def _read_line(process: subprocess.Popen[str], timeout_s: float) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        assert selector.select(timeout_s), f"no output within {timeout_s} s"
    return process.stdout.readline()


@pytest.mark.timeout(60)
def test_python_m_riskd_runs_in_the_foreground_and_cleans_up_on_sigterm() -> None:
    env = {**os.environ, "PYTHONPATH": PYTHONPATH}
    command = [sys.executable, "-m", "riskd", "--flag", "slow_recovery", "--max-in-flight", "4"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as process:
        try:
            shown = json.loads(_read_line(process, 45.0))
            assert shown["flags"] == ["slow_recovery"] and shown["proxies"]["scorer"] == "scorer-rpc"
            assert httpx.get(f"{shown['service_url']}/readyz", timeout=5.0).status_code == 200
        finally:
            process.send_signal(signal.SIGTERM)  # our own child, by its pid
            assert process.wait(timeout=30) == 0
    assert not Path(shown["workdir"]).exists()
