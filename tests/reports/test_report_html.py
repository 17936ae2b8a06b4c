"""The HTML report of synthetic runs: what it shows, that it is self-contained, and that it escapes everything."""

from __future__ import annotations

import re
from pathlib import Path

from run_dirs import SECRET, XSS, external_target, journal, probes, requests, scenario_data, write_run_dir

from mlchaos.experiments.scenario import Scenario
from mlchaos.experiments.verifiers.base import OutcomeTable, Verdict
from mlchaos.reports import RunReader, RunStatus, read_run, write_report, write_run_outputs
from mlchaos.reports.html import render_html

# Anything that could fetch: an absolute or scheme-relative address in an attribute, a CSS import, a CSS url()
# that is not a reference inside the page (the SVG's clip paths are url(#id)).
EXTERNAL = re.compile(
    r"""(?:src|href|action)\s*=\s*["']?\s*(?:[a-z]+:)?//|@import|url\(\s*["']?(?!#)""", re.I
)


def test_a_passed_run_shows_its_verdict_score_verifiers_faults_and_facts(
    run_dir: Path, reader: RunReader[Scenario]
) -> None:
    run = write_run_outputs(run_dir, reader)
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert run.status == RunStatus.PASSED, run.message
    banner = page[page.index('<section class="banner') :]
    assert banner.startswith('<section class="banner passed"')
    assert ">PASSED<" in banner[:400]
    assert ">100%<" in page  # the resilience score
    for verdict in run.verdicts:
        assert verdict.name.replace(">", "&gt;") in page
    assert "mttd (store-down)" in page and "mttr (store-down)" in page
    assert "Faults: detection and recovery" in page and "Error budget" in page
    assert "name: synthetic-outage" in page  # the scenario as run
    assert page.count('class="chart"') == 1


def test_the_report_is_one_self_contained_file(run_dir: Path, reader: RunReader[Scenario]) -> None:
    write_run_outputs(run_dir, reader)
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "<script" not in page.lower()
    assert not EXTERNAL.findall(page), EXTERNAL.findall(page)
    assert "default-src 'none'" in page  # the browser refuses anything the page might still ask for
    assert "<link" not in page.lower() and "<img" not in page.lower()


def test_a_failed_run_says_which_verifiers_failed(tmp_path: Path, reader: RunReader[Scenario]) -> None:
    strict = scenario_data(
        verifiers=[{"type": "latency", "phase": "fault", "max_ms": 10}, {"type": "availability"}]
    )
    run = write_run_outputs(write_run_dir(tmp_path / "run", data=strict), reader)
    page = (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    assert run.status == RunStatus.FAILED
    assert '<section class="banner failed"' in page
    assert "latency p99 (fault)" in run.message
    assert page.count(">FAIL<") == sum(not v.passed for v in run.verdicts) >= 1


def test_an_aborted_run_shows_why_and_judges_nothing(tmp_path: Path, reader: RunReader[Scenario]) -> None:
    entries = journal(aborted="guardrail tripped: error_rate > 50% for 5s (now 0.9)")
    run = write_run_outputs(write_run_dir(tmp_path / "run", entries=entries), reader)
    page = (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    assert run.status == RunStatus.ABORTED and run.verdicts == []
    assert '<section class="banner aborted"' in page
    assert "guardrail tripped: error_rate &gt; 50%" in page
    assert 'class="chart"' in page  # what was recorded before the abort is still shown


def test_everything_shown_is_escaped(tmp_path: Path, reader: RunReader[Scenario]) -> None:
    data = scenario_data(description=f"outage {XSS}")
    records = requests(error=f"HTTP 503: {XSS}")
    samples = probes(dependency="<img src=x onerror=alert(1)>")
    run_dir = write_run_dir(tmp_path / "run", data=data, records=records, samples=samples)
    write_run_outputs(run_dir, reader)
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "<script" not in page and "<img" not in page
    assert (
        "&lt;script&gt;alert(&#39;owned&#39;)&lt;/script&gt;" in page
    )  # the description and the error, as text
    assert "HTTP 503: &lt;script&gt;" in page
    assert "breaker &lt;img src=x onerror=alert(1)&gt;" in page  # the chart's label, escaped by matplotlib


def test_outcome_tables_are_shown_escaped_and_masked(tmp_path: Path, reader: RunReader[Scenario]) -> None:
    """Bad-input and adversarial verifiers attach tables whose cells come from the traffic: shown as text."""
    data = scenario_data(target=external_target())
    run_dir = write_run_dir(tmp_path / "run", data=data, raw_scenario=True)  # the secret known in clear
    table = OutcomeTable(
        "per mutator",
        ("mutator", "sent", "5xx"),
        (("nan", 120, 0), (f"echo {XSS} {SECRET}", 3, None), ("huge", 2.5, 1)),
    )
    verdict = Verdict(
        verifier="bad_input_handling",
        name="bad input",
        passed=False,
        measured=97.5,
        target="≥ 100%",
        unit="%",
        explanation="3 got a 5xx",
        table=table,
    )
    write_run_outputs(run_dir, reader, verdicts=[verdict])
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "<caption>per mutator</caption>" in page
    assert "<td>nan</td><td>120</td><td>0</td>" in page
    assert (
        "<td>echo &lt;script&gt;alert(&#39;owned&#39;)&lt;/script&gt; **********</td><td>3</td><td>—</td>"
        in page
    )
    for name in ("report.html", "summary.json"):
        assert SECRET not in (run_dir / name).read_text(encoding="utf-8")


def test_no_header_value_of_the_target_reaches_any_output(
    tmp_path: Path, reader: RunReader[Scenario]
) -> None:
    # The worst case: the scenario file holds the secret in clear (copied by hand), and the target echoed it
    # back in an error, which the journal recorded too.
    data = scenario_data(target=external_target())
    records = requests(error=f"HTTP 401: bad credentials {SECRET}")
    entries = journal(aborted=f"could not inject: proxy said Authorization={SECRET}")
    run_dir = write_run_dir(tmp_path / "run", data=data, records=records, entries=entries, raw_scenario=True)
    assert SECRET in (run_dir / "scenario.yaml").read_text(encoding="utf-8")
    write_run_outputs(run_dir, reader)
    other = write_run_dir(tmp_path / "finished", data=data, records=records, raw_scenario=True)
    write_run_outputs(other, reader)
    for directory in (run_dir, other):
        for name in ("report.html", "junit.xml", "summary.json"):
            text = (directory / name).read_text(encoding="utf-8")
            assert SECRET not in text and SECRET[-8:] not in text, (
                f"{directory.name}/{name} shows a header value"
            )
    page = (other / "report.html").read_text(encoding="utf-8")
    assert "Authorization: **********" in page  # the header's name is shown, its value masked


def test_several_runs_make_one_combined_report(tmp_path: Path, reader: RunReader[Scenario]) -> None:
    first = write_run_dir(tmp_path / "runs" / "a")
    strict = scenario_data(name="strict", verifiers=[{"type": "latency", "phase": "fault", "max_ms": 10}])
    second = write_run_dir(tmp_path / "runs" / "b", data=strict)
    path = write_report([first, second], reader)
    assert path == (tmp_path / "runs" / "report.html").resolve()
    page = path.read_text(encoding="utf-8")
    assert '<section class="banner failed"' in page  # the worst of the runs
    assert 'href="#run-1"' in page and 'id="run-2"' in page
    assert page.count('class="chart"') == 2
    assert "1</strong> of 2 scenarios passed" in page


def test_a_report_rendered_later_is_the_same_report(run_dir: Path, reader: RunReader[Scenario]) -> None:
    at_run_end = write_run_outputs(run_dir, reader)
    later = read_run(run_dir, reader)
    assert later.verdicts == at_run_end.verdicts
    assert later.recorded_by == at_run_end.recorded_by  # read back from summary.json
    # The render time differs, and so may the chart's clip-path ids (layout floats): compare everything else.
    strip = re.compile(r"rendered [^<]*|<svg .*?</svg>", re.S)
    again, first = render_html([later]), (run_dir / "report.html").read_text("utf-8")
    assert again.count('class="chart"') == first.count('class="chart"') == 1
    assert strip.sub("", again) == strip.sub("", first)
