"""``mlchaos report``: default output paths, several runs, and a clear exit 2 for what is not a run."""

from __future__ import annotations

from pathlib import Path

import yaml
from run_dirs import scenario_data, write_run_dir
from typer.testing import CliRunner

from mlchaos.experiments.cli import app

runner = CliRunner()


def test_one_run_gets_its_report_beside_its_recording(run_dir: Path) -> None:
    result = runner.invoke(app, ["report", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert (run_dir / "report.html").exists()
    assert "report.html" in result.output
    assert not (run_dir / "junit.xml").exists()  # `report` renders HTML only; `run` writes the CI files


def test_out_chooses_the_file(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "reports" / "latest.html"
    result = runner.invoke(app, ["report", str(run_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_a_moved_dataset_does_not_stop_a_report(tmp_path: Path) -> None:
    # Run directories travel (CI artifacts): the dataset path recorded in scenario.yaml may not exist there.
    data = scenario_data()
    run_dir = write_run_dir(tmp_path / "run", data=data)
    recorded = yaml.safe_load((run_dir / "scenario.yaml").read_text(encoding="utf-8"))
    recorded["load"] = {"users": 4, "dataset": "/nowhere/transactions.jsonl"}
    (run_dir / "scenario.yaml").write_text(yaml.safe_dump(recorded), encoding="utf-8")
    result = runner.invoke(app, ["report", str(run_dir)])
    assert result.exit_code == 0, result.output


def test_not_a_run_directory_exits_2_and_says_why(tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2
    assert "is not a run directory" in result.output and "scenario.yaml" in result.output


def test_a_broken_scenario_file_is_reported_where_it_is_broken(run_dir: Path) -> None:
    (run_dir / "scenario.yaml").write_text("name: Not Valid!\n", encoding="utf-8")
    result = runner.invoke(app, ["report", str(run_dir)])
    assert result.exit_code == 2
    assert "scenario.yaml:1" in result.output
