"""Toxic names, as they were attacked: a toxic was named after its fault alone (``mlchaos_<fault>``), so another
run's rollback of a fault with the same id — a run of another user, not locked out, or ``mlchaos rollback`` of an
old run directory — removed the toxic of the run that was going on.

Now every run names its toxics after itself (``mlchaos_<fault>_<run id>``), journals the name before the toxic is
added, and reverts only its own names. Against a real toxiproxy-server (one proxy, no stack behind it)."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from support.cli_runs import DATASET
from support.local_processes import die_with_parent, free_port
from support.waiting import wait_until
from typer.testing import CliRunner

from mlchaos.experiments.cli import app
from mlchaos.experiments.engine import Experiment, StopRequest
from mlchaos.experiments.journal import Event, Journal, read_journal
from mlchaos.experiments.live import Snapshot
from mlchaos.experiments.loader import load_scenario
from mlchaos.experiments.plan import Action, Plan, Step, make_plan
from mlchaos.experiments.rollback import revert_outstanding
from mlchaos.experiments.targets import TargetEndpoints
from mlchaos.injectors import INJECTORS
from mlchaos.injectors.backends.toxiproxy import ToxiproxyClient, require_pristine
from mlchaos.injectors.base import TargetMisconfigured
from mlchaos.staging.supervisor import find_toxiproxy_server

PROXY = "store"


@pytest.fixture(scope="module")
def toxiproxy_url() -> Iterator[str]:
    """A toxiproxy-server with one proxy, ``store`` (its upstream need not answer: only names are looked at)."""
    port = free_port()
    server = subprocess.Popen(
        [str(find_toxiproxy_server()), "-host", "127.0.0.1", "-port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=die_with_parent(signal.SIGKILL),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: requests.get(f"{url}/version", timeout=1).ok,
            10,
            "toxiproxy-server to answer",
            ignoring=(requests.RequestException,),
        )
        proxy = {"name": PROXY, "listen": f"127.0.0.1:{free_port()}", "upstream": "127.0.0.1:9"}
        requests.post(f"{url}/proxies", json=proxy, timeout=5).raise_for_status()
        yield url
    finally:
        server.kill()
        server.wait(timeout=10)


@pytest.fixture
def target(toxiproxy_url: str) -> Iterator[TargetEndpoints]:
    yield TargetEndpoints(
        service_url="http://127.0.0.1:9", toxiproxy_url=toxiproxy_url, proxies={"store": PROXY}
    )
    for name in toxics(toxiproxy_url):  # each test starts from a clean proxy
        ToxiproxyClient(toxiproxy_url).remove_toxic(PROXY, name)


def toxics(toxiproxy_url: str) -> list[str]:
    return list(ToxiproxyClient(toxiproxy_url).proxy(PROXY).toxics)


def plan_run(tmp_path: Path, target: TargetEndpoints) -> Plan:
    """A run's plan of a scenario with one latency fault, ``slow`` (every run of it has that fault id)."""
    scenario: dict[str, Any] = {
        "name": "names",
        "target": {"kind": "external", "service_url": target.service_url},
        "load": {"users": 1, "dataset": str(DATASET)},
        "steady_state": {"window": "3s"},
        "faults": [
            {"id": "slow", "type": "latency", "dependency": "store", "latency_ms": 100, "duration": 5}
        ],
        "recovery": "3s",
        "verifiers": [{"type": "availability", "min": 0.5}],
    }
    path = tmp_path / "names.yaml"
    path.write_text(yaml.safe_dump(scenario), encoding="utf-8")
    return make_plan(load_scenario(path).scenario, target)


def inject_as_the_engine_does(plan: Plan, run_dir: Path) -> str:
    """Journal the intent (with the undo), then inject; the toxic's name."""
    run_dir.mkdir()
    fault = plan.faults[0]
    journal = Journal(run_dir)
    journal.append(Event.INJECT_INTENT, fault_id="slow", kind="latency", undo=fault.plan.undo.model_dump())
    INJECTORS["latency"].inject(fault.spec, fault.plan.undo)
    journal.append(Event.INJECTED, fault_id="slow", kind="latency")
    journal.close()
    name: str = fault.plan.undo.toxic
    return name


def test_another_runs_rollback_leaves_the_live_runs_toxic(tmp_path: Path, target: TargetEndpoints) -> None:
    """Run A is going; run B applied the same fault and is rolled back (its own end, or `mlchaos rollback`)."""
    run_a, run_b = plan_run(tmp_path, target), plan_run(tmp_path, target)
    assert run_a.run_id != run_b.run_id
    toxic_a = inject_as_the_engine_does(run_a, tmp_path / "a")
    toxic_b = inject_as_the_engine_does(run_b, tmp_path / "b")
    assert (toxic_a, toxic_b) == (f"mlchaos_slow_{run_a.run_id}", f"mlchaos_slow_{run_b.run_id}")
    assert sorted(toxics(target.toxiproxy_url or "")) == sorted([toxic_a, toxic_b])

    journal_b = Journal(tmp_path / "b")
    assert revert_outstanding(journal_b).reverted == ["slow"]
    assert toxics(target.toxiproxy_url or "") == [toxic_a]
    INJECTORS["latency"].revert(run_b.faults[0].plan.undo)  # again: idempotent, and still not A's
    journal_b.close()
    assert toxics(target.toxiproxy_url or "") == [toxic_a]

    # A third run's preflight still sees A's toxic — any mlchaos toxic — and says which run left it.
    run_c = plan_run(tmp_path, target)
    with pytest.raises(TargetMisconfigured) as refused:
        INJECTORS["latency"].check(run_c.faults[0].plan.undo)
    assert f"still has toxic(s) {toxic_a} (left by run {run_a.run_id})" in str(refused.value)
    assert f"grep -l {toxic_a} OUTPUT/*/journal.jsonl" in str(refused.value)


def test_rollback_of_a_run_directory_of_the_old_naming_still_works(
    tmp_path: Path, target: TargetEndpoints
) -> None:
    """A journal written before toxics carried run ids names ``mlchaos_slow``: its rollback removes just that."""
    url = target.toxiproxy_url or ""
    live = inject_as_the_engine_does(plan_run(tmp_path, target), tmp_path / "live")
    ToxiproxyClient(url).add_toxic(PROXY, "mlchaos_slow", "latency", {"latency": 100, "jitter": 0})
    old = tmp_path / "old-run"
    old.mkdir()
    undo = {"toxiproxy_url": url, "proxy": PROXY, "toxic": "mlchaos_slow"}
    entries = [
        {"seq": 1, "ts": 1.0, "event": "run_started", "detail": "names"},
        {"seq": 2, "ts": 2.0, "event": "inject_intent", "fault_id": "slow", "kind": "latency", "undo": undo},
        {"seq": 3, "ts": 3.0, "event": "injected", "fault_id": "slow", "kind": "latency"},
    ]
    (old / "journal.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries), encoding="utf-8")
    with pytest.raises(TargetMisconfigured, match=r"mlchaos_slow \(left by a run of an older mlchaos\)"):
        require_pristine(ToxiproxyClient(url), PROXY)

    result = CliRunner().invoke(app, ["rollback", str(old)])
    assert result.exit_code == 0, result.output
    assert "reverted slow" in result.output
    assert toxics(url) == [live]


def test_the_runs_toxic_name_is_journalled_before_the_toxic_is_added(
    tmp_path: Path, target: TargetEndpoints, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = plan_run(tmp_path, target)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    experiment = Experiment(plan, run_dir, stop=StopRequest(), display=_Quiet())
    journalled_when_added: list[list[str]] = []
    add_toxic = ToxiproxyClient.add_toxic

    def watched(self: ToxiproxyClient, proxy: str, name: str, *args: Any, **kwargs: Any) -> None:
        intents = [e for e in read_journal(run_dir / "journal.jsonl") if e.event == Event.INJECT_INTENT]
        journalled_when_added.append([(e.undo or {}).get("toxic", "") for e in intents])
        add_toxic(self, proxy, name, *args, **kwargs)

    monkeypatch.setattr(ToxiproxyClient, "add_toxic", watched)
    experiment._do(Step(0.0, Action.INJECT, fault=plan.faults[0].spec))
    name = f"mlchaos_slow_{plan.run_id}"
    assert journalled_when_added == [[name]]
    assert toxics(target.toxiproxy_url or "") == [name]
    experiment._do(Step(5.0, Action.REVERT, fault=plan.faults[0].spec))
    experiment.journal.close()
    assert toxics(target.toxiproxy_url or "") == []


class _Quiet:
    def started(self, plan: Plan, run_dir: Path) -> None: ...
    def phase(self, phase: str, offset: float) -> None: ...
    def note(self, message: str) -> None: ...
    def tick(self, elapsed: float, snapshot: Snapshot) -> None: ...
    def finished(self) -> None: ...
