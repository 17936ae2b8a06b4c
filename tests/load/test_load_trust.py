"""What a distributed load trusts, checked without starting a load: the load secret's sources, the rows a master
accepts from a worker, and the hosts a worker agrees to reach.

The attacks themselves (a rogue worker, a fake master) are tried in tests/security/test_rogue_worker.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlchaos.experiments.load import checked_rows, load_secret, wire, worker_hosts
from mlchaos.experiments.load.spec import LoadSpec

REPO = Path(__file__).resolve().parents[2]
MLCHAOS = Path(sys.executable).with_name("mlchaos")
STARTED = 1_700_000_000.0


def row(start: float = STARTED + 1, **changes: object) -> list[object]:
    values: dict[str, object] = dict.fromkeys(wire.COLUMNS)
    values.update({"start": start, "latency_ms": 12.5, "status": 503, "error": "HTTP 503", **changes})
    return list(values.values())


def check(*rows: list[object]) -> list[wire.Row]:
    return checked_rows.checked(list(rows), started=STARTED, duration_s=10.0, stop_grace_s=1.0)


def test_rows_in_the_wire_format_pass_unchanged() -> None:
    good = row(tier="fallback", confidence=0.7, flagged=True, score=float("nan"))
    assert check(good, row(status=0, error="TimeoutError")) == [good, row(status=0, error="TimeoutError")]
    assert len(row()) == len(wire.COLUMNS) == len(checked_rows.ROWS.validate_python([row()])[0])


@pytest.mark.parametrize(
    ("bad", "said"),
    [
        (row(start=STARTED + 60), "outside the load"),
        (row(start=STARTED - 60), "outside the load"),
        (row(latency_ms=-1.0), "row 1.1"),
        (row(latency_ms=60_000.0), "longer than the whole load"),
        (row(status="200"), "row 1.2"),
        (row(status=True), "row 1.2"),
        (row(flagged="yes"), "row 1.12"),
        (row()[:5], "row 1"),
        ([*row(), "extra"], "row 1"),
    ],
)
def test_a_batch_with_a_row_that_cannot_be_true_is_refused_whole(bad: list[object], said: str) -> None:
    with pytest.raises(checked_rows.BadRows, match=said):
        check(row(), bad)


def test_a_worker_refuses_a_spec_for_hosts_its_own_configuration_does_not_allow() -> None:
    spec = LoadSpec(base_url="http://scoring.staging.example:8080", users=1, spawn_rate=1, duration_s=1)
    refused = worker_hosts.refusal(spec, ())
    assert refused is not None and "'scoring.staging.example'" in refused and "--allow-host" in refused
    assert worker_hosts.refusal(spec, worker_hosts.parsed(["Scoring.Staging.Example"])) is None
    loopback = LoadSpec(base_url="http://127.0.0.1:8080", users=1, spawn_rate=1, duration_s=1)
    assert worker_hosts.refusal(loopback, ()) is None
    also = loopback.model_copy(update={"allowed_hosts": ("attacker.example",)})
    assert "'attacker.example'" in (worker_hosts.refusal(also, ()) or "")
    tricky = LoadSpec(base_url="http://127.attacker.example", users=1, spawn_rate=1, duration_s=1)
    assert worker_hosts.refusal(tricky, ()) is not None


def test_a_secret_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("a-long-enough-load-secret\n")
    path.chmod(0o644)
    with pytest.raises(
        load_secret.LoadSecretError, match=r"readable by other users \(mode 0644\).*chmod 600"
    ):
        load_secret.read_file(path)
    path.chmod(0o600)
    assert load_secret.read_file(path) == "a-long-enough-load-secret"
    with pytest.raises(load_secret.LoadSecretError, match="fewer than 16"):
        load_secret.from_environment({load_secret.SECRET_ENV: "short"})


def test_a_run_at_worker_bind_without_a_secret_is_refused_before_anything_starts(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCHAOS_LOAD_SECRET")}
    scenario = REPO / "scenarios" / "feature-store-outage.yaml"
    result = subprocess.run(
        [str(MLCHAOS), "run", "--worker-bind", "127.0.0.1:5557", "--out", str(tmp_path), str(scenario)],
        capture_output=True, text=True, timeout=120, env={**env, "COLUMNS": "250"},
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert "no load secret is configured: set MLCHAOS_LOAD_SECRET" in result.stderr
    assert "--secret-file" in result.stderr
    assert not any(tmp_path.iterdir()), "nothing was started or recorded"
