"""The runs index (``mlchaos index DIR``): every run and suite of a folder with its trend, read from summary.json.

The folder is built from real outputs: a synthetic run directory gets its report, junit.xml and summary.json from
the same writer ``mlchaos run`` uses; earlier months are copies of that summary.json with another date and score
(what a history folder holds). The suite end-to-end run (tests/engine/test_suite.py) checks the same on a suite's
own refresh of the index.
"""

from __future__ import annotations

import copy
import io
import json
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from browser import screenshot, visit
from rich.console import Console
from run_dirs import T0, write_run_dir

from mlchaos.experiments.run_endings import refresh_index
from mlchaos.experiments.run_view import Output
from mlchaos.experiments.scenario import Scenario
from mlchaos.reports import RunReader, write_run_outputs
from mlchaos.reports.index import INDEX_NAME, read_folder, write_index

DAY = 86_400.0
ROOT = Path(__file__).resolve().parents[2]


def _iso(ts: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _earlier(summary: dict[str, Any], directory: Path, *, days_ago: float, **changes: Any) -> Path:
    """An earlier month's run: its summary.json with another start time (and whatever else differs)."""
    past = copy.deepcopy(summary)
    past.update(started_at=_iso(T0 - days_ago * DAY), run_dir=directory.name, **changes)
    directory.mkdir(parents=True)
    (directory / "summary.json").write_text(json.dumps(past), encoding="utf-8")
    return directory


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [value for name, value in attrs if tag == "a" and name == "href" and value]


def _links(page: Path) -> list[str]:
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.hrefs


@pytest.fixture
def runs_folder(tmp_path: Path, reader: RunReader[Scenario]) -> Path:
    """This month's run (real outputs) in a suite-like folder, two earlier months, and one damaged summary."""
    folder = tmp_path / "mlchaos runs"  # a space: links must be URL-encoded
    current = write_run_dir(folder / "20261122-100000-synthetic-outage")
    write_run_outputs(current, reader)
    summary = json.loads((current / "summary.json").read_text(encoding="utf-8"))
    _earlier(summary, folder / "20260922-100000-synthetic-outage", days_ago=61, score=0.5, status="failed")
    _earlier(summary, folder / "20261022-100000-synthetic-outage", days_ago=31, score=0.75, status="failed")
    damaged = folder / "20260822-100000-synthetic-outage"
    damaged.mkdir()
    (damaged / "summary.json").write_text("{not json", encoding="utf-8")
    return folder


def test_the_index_lists_every_run_with_its_trend_and_relative_links(
    runs_folder: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere" / "run"
    shutil.copytree(runs_folder / "20261022-100000-synthetic-outage", outside)
    (runs_folder / "linked").symlink_to(outside.parent, target_is_directory=True)

    written = write_index(runs_folder)

    assert (written.runs, written.suites, written.skipped) == (3, 0, 1)  # the link out of the folder: ignored
    page = runs_folder / INDEX_NAME
    html = page.read_text(encoding="utf-8")
    start = html.index('id="trend-synthetic-outage"')
    trend = html[start : html.index("</section>", start)]
    months = ["20260922-100000", "20261022-100000", "20261122-100000"]
    assert [trend.index(m) for m in months] == sorted(
        trend.index(m) for m in months
    )  # oldest first, all three
    assert trend.count("<path d=") >= 1 and "score trend of synthetic-outage" in trend
    assert '<span class="better">better</span> (was 75%)' in trend
    assert "1 summary.json file(s) could not be read" in html
    hrefs = [h for h in _links(page) if not h.startswith("#")]
    assert "20261122-100000-synthetic-outage/report.html" in hrefs
    assert "20261022-100000-synthetic-outage/summary.json" in hrefs  # no report there: its summary instead
    for href in hrefs:  # relative, inside the folder, and every one resolves
        assert not href.startswith(("/", "file:", "http")), href
        assert (runs_folder / unquote(href)).is_file(), href


def test_a_suite_is_listed_with_its_runs_and_names_are_escaped(
    tmp_path: Path, reader: RunReader[Scenario]
) -> None:
    folder = tmp_path / "runs"
    suite_dir = folder / "20261122-090000-monthly"
    run = write_run_dir(suite_dir / "20261122-100000-x")
    write_run_outputs(run, reader)
    # A summary.json is a file anyone could have edited: what it says is shown, never interpreted.
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    summary.update(scenario="<b>x</b>", status="failed", message="<script>alert(1)</script>")
    (run / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    suite = {
        "schema_version": 1,
        "kind": "suite",
        "suite": "<i>monthly</i>",
        "status": "passed",
        "score": 1.0,
        "scenarios": {"total": 1, "passed": 1},
        "started_at": _iso(T0),
        "runs": [],
    }
    (suite_dir / "summary.json").write_text(json.dumps(suite), encoding="utf-8")

    found = read_folder(folder)
    assert [s.name for s in found.suites] == ["<i>monthly</i>"] and found.skipped == 0
    html = (write_index(folder).path).read_text(encoding="utf-8")
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<i>monthly</i>" not in html and "&lt;i&gt;monthly&lt;/i&gt;" in html
    assert 'href="20261122-090000-monthly/summary.json"' in html  # the suite wrote no report.html here


def test_the_index_is_a_folder_of_runs(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not a directory"):
        read_folder(tmp_path / "missing")


def test_the_index_opens_offline_in_chromium_without_errors(runs_folder: Path, tmp_path: Path) -> None:
    page = write_index(runs_folder).path
    seen = visit(page, tmp_path / "profile")
    assert seen.requests == [page.resolve().as_uri()], seen.requests  # the page itself, nothing else
    assert seen.errors == [], seen.errors
    assert seen.facts["charts"] == 1 and seen.facts["scripts"] == 0
    assert seen.facts["title"] == "mlchaos runs · mlchaos runs"
    shot = screenshot(
        page, ROOT / "build" / "artifacts" / "index.png", tmp_path / "profile-shot", "1300,1500"
    )
    assert shot.stat().st_size > 30_000  # a rendered page, not a blank one


def test_a_suite_whose_index_cannot_be_written_says_so_and_goes_on(tmp_path: Path) -> None:
    """A suite refreshes OUT/index.html last (experiments/runs.py): a failure there is reported, never raised,
    so the suite's outcome — computed before — is what it returns and exits with."""
    out = tmp_path / "runs"
    (out / INDEX_NAME).mkdir(parents=True)  # something that is not a page is where the page goes
    printed, problems = io.StringIO(), io.StringIO()

    refresh_index(out, Output(Console(file=printed, width=300), Console(file=problems, width=300)))

    said = problems.getvalue()
    assert f"could not refresh the runs index of {out}" in said and "exit code stand" in said, said
    assert printed.getvalue() == ""
