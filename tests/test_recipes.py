"""The CI recipes of docs/recipes/ (docs/scheduling.md), linted: a team copies them as they are, so they must be
valid workflow files, fire monthly, run mlchaos commands this version parses, and upload what a suite writes.

The GitHub Actions workflow goes through actionlint (built by ``make actionlint``). No GitLab CI linter or schema
is available offline, so the GitLab job is checked here: its keywords, its schedule's cron, its commands and paths.
"""

from __future__ import annotations

import itertools
import re
import shlex
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from string import Template
from typing import Any

import pytest
import typer
import yaml
from croniter import croniter
from typer.core import TyperGroup

from mlchaos.experiments.cli import app
from mlchaos.reports.junit import JUNIT_NAME
from mlchaos.reports.outputs import REPORT_NAME
from mlchaos.reports.run import SUMMARY_NAME

RECIPES = Path(__file__).resolve().parents[1] / "docs" / "recipes"
GITHUB = RECIPES / "github-actions-monthly.yml"
GITLAB = RECIPES / "gitlab-ci-monthly.yml"
ACTIONLINT = Path(sys.executable).parent / "actionlint"
SUITE_WRITES = {REPORT_NAME, JUNIT_NAME, SUMMARY_NAME, "suite.yaml"}
"""What ``mlchaos suite`` writes in its folder (experiments/runs.py; tests/engine/test_suite.py checks it)."""
GITLAB_JOB_KEYWORDS = {
    "image", "rules", "resource_group", "timeout", "variables", "cache", "script", "before_script",
    "after_script", "artifacts", "stage", "tags", "needs", "environment", "interruptible", "retry",
}  # fmt: skip


def _load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict), path
    return document


def _fires_monthly(cron: str) -> None:
    assert croniter.is_valid(cron), cron
    fires = croniter(cron, datetime(2026, 1, 15, tzinfo=UTC))
    times = [fires.get_next(datetime) for _ in range(4)]
    gaps = {(later - earlier).days for earlier, later in itertools.pairwise(times)}
    assert gaps <= {28, 29, 30, 31}, f"{cron} fires every {sorted(gaps)} days, not monthly"


def _commands(lines: list[str], env: dict[str, str]) -> list[list[str]]:
    """The ``mlchaos`` command lines among shell ``lines`` (continuations joined), with ``$VAR`` filled in."""
    joined = "\n".join(lines).replace("\\\n", " ")
    found = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        if words and words[0] == "mlchaos":
            found.append([Template(word).substitute(env) for word in words[1:]])
    return found


def _parses(argv: list[str]) -> dict[str, Any]:
    """The parameters the real CLI reads from ``argv`` (unknown commands or options raise click's errors)."""
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    command = group.commands[argv[0]]
    return dict(command.make_context(argv[0], argv[1:]).params)


def _expressions(text: str, env: dict[str, str]) -> str:
    return re.sub(r"\$\{\{\s*env\.(\w+)\s*\}\}", lambda m: env[m.group(1)], text)


def test_the_github_workflow_runs_the_suite_monthly_and_uploads_what_it_writes() -> None:
    workflow = _load(GITHUB)
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    (schedule,) = triggers["schedule"]
    _fires_monthly(schedule["cron"])
    env = workflow["env"]
    steps = workflow["jobs"]["suite"]["steps"]
    commands = _commands([step["run"] for step in steps if "run" in step], env)
    assert [argv[0] for argv in commands] == ["suite"]
    params = _parses(commands[0])
    assert (params["suite_file"], params["out"], params["no_history"]) == (
        Path(env["SUITE"]),
        Path(env["RUNS"]),
        False,
    )
    suite_step = next(s for s in steps if "mlchaos suite" in s.get("run", ""))
    assert "continue-on-error" not in suite_step and "||" not in suite_step["run"], (
        "its exit code fails the job"
    )
    uploads = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert all(s["if"].startswith("always()") for s in uploads), "a failed month uploads its report too"
    paths = [_expressions(line.strip(), env) for s in uploads for line in s["with"]["path"].splitlines()]
    assert f"{params['out']}/" in paths, "the runs folder, the next run's history"
    names = {Path(p).name for p in paths if "steps.latest" in p}
    assert names and names <= SUITE_WRITES and JUNIT_NAME in names and REPORT_NAME in names
    assert "name suite.yaml" in next(s["run"] for s in steps if s.get("id") == "latest")


def test_the_github_workflow_passes_actionlint() -> None:
    if not ACTIONLINT.exists():
        pytest.fail(f"{ACTIONLINT} is missing: `make actionlint` builds it (Go toolchain)", pytrace=False)
    result = subprocess.run(
        [str(ACTIONLINT), "-no-color", str(GITHUB)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_gitlab_job_runs_the_suite_on_its_monthly_schedule_and_keeps_what_it_writes() -> None:
    text = GITLAB.read_text(encoding="utf-8")
    (cron,) = re.findall(r'glab schedule create --cron "([^"]+)"', text)
    _fires_monthly(cron)
    (job,) = _load(GITLAB).values()
    assert set(job) <= GITLAB_JOB_KEYWORDS, set(job) - GITLAB_JOB_KEYWORDS
    assert any("schedule" in rule["if"] and "MLCHAOS_SCHEDULE" in rule["if"] for rule in job["rules"])
    env = job["variables"]
    commands = _commands(job["script"], env)
    assert [argv[0] for argv in commands] == ["suite"]
    params = _parses(commands[0])
    assert (params["suite_file"], params["out"]) == (Path(env["SUITE"]), Path(env["RUNS"]))
    assert not any("|| true" in line or "allow_failure" in line for line in job["script"])
    runs = f"{params['out']}/"
    assert job["cache"]["paths"] == [runs] and job["cache"]["when"] == "always"
    artifacts = job["artifacts"]
    assert artifacts["when"] == "always" and runs in artifacts["paths"]
    copied = {Path(p).name for p in artifacts["paths"] if p != runs}
    assert copied <= SUITE_WRITES and {JUNIT_NAME, REPORT_NAME} <= copied
    assert Path(artifacts["reports"]["junit"]).name == JUNIT_NAME
    assert all(f"$latest/{name}" in " ".join(job["after_script"]) for name in copied)
    assert f"find {params['out']}" in job["after_script"][0] and "-name suite.yaml" in job["after_script"][0]
