"""What each test needs beyond the Python process, declared per folder, file, test or fixture (see tests/conftest.py,
which applies these as markers, and pyproject.toml, which describes each marker)."""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]

FIXTURE_NEEDS: dict[str, tuple[str, ...]] = {
    "stack": ("stack",),  # every folder's `stack` fixture starts the embedded stack (riskd's: riskd)
    "gateway_url": ("stack",),
    "kube_cluster": ("cluster",),
    "namespace": ("cluster",),
    "prometheus": ("prometheus",),
    "runners": ("load",),  # tests/load: LoadRunners stopped at teardown
}

# Relative to tests/; a folder covers every file under it, FILE::TEST (or FILE::CLASS::TEST) one test.
PATH_NEEDS: dict[str, tuple[str, ...]] = {
    "k8s": ("cluster", "e2e"),
    "realnode": ("realnode", "cluster"),
    "riskd": ("stack",),
    "own_service": ("stack", "prometheus", "e2e"),
    "engine/test_catalogue_runs.py": ("e2e",),
    "engine/test_distributed_runs.py": ("e2e",),
    "engine/test_runs.py": ("e2e",),
    "engine/test_suite.py": ("e2e",),
    "engine/test_truth.py": ("e2e",),
    "engine/test_warmup.py": ("e2e",),
    "inputs/test_input_fault_scenarios.py": ("e2e",),
    "load/test_load_distributed.py": ("load", "e2e"),
    "load/test_load_runner.py": ("load",),
    "load/test_recording_memory.py": ("load",),  # no Locust, but a million rows at full speed: ~6 s
    "load/test_load_trust.py::test_a_run_at_worker_bind_without_a_secret_is_refused_before_anything_starts": (
        "e2e",
    ),
    "load/test_packaged_worker.py": ("load", "e2e"),
    "publish/test_pushgateway.py": ("prometheus",),  # a Pushgateway and a Prometheus scraping it
    # promtool, from Debian's prometheus package
    "publish/test_dashboard.py::test_promtool_accepts_the_rules_and_their_tests_pass": ("prometheus",),
    "reports/test_report_browser.py": ("browser", "e2e"),
    "reports/test_report_index.py::test_the_index_opens_offline_in_chromium_without_errors": ("browser",),
    "reports/test_report_serve.py::test_serve_answers_reads_and_refuses_the_rest": ("e2e",),
    "robustness/test_harness_chaos.py": ("e2e",),
    "robustness/test_loader_fuzz.py": ("e2e",),
    "robustness/test_runlock.py::test_rollback_refuses_a_run_that_is_still_going": ("e2e",),
    "security/test_guards.py::test_the_chart_does_not_render_without_its_cluster_name": ("cluster",),
    "security/test_huge_answers.py": ("load",),
    "security/test_hung_requests.py": ("load",),
    "security/test_inputs_bounded.py": ("e2e",),
    "security/test_rogue_worker.py": ("load", "e2e"),
    "security/test_toxic_names.py": ("stack",),
    "security/test_unfinished_runs.py": ("cluster", "e2e"),
    "signals/test_signal_prometheus.py": ("prometheus",),
    "test_architecture.py::test_import_contracts_are_kept": ("lint",),
    "test_architecture.py::test_ruff_finds_nothing": ("lint",),
    "test_architecture.py::test_mypy_strict_finds_nothing": ("lint",),
    "test_architecture.py::test_code_is_formatted": ("lint",),
    "test_recipes.py::test_the_github_workflow_passes_actionlint": ("lint",),
}


def needs_of(item: pytest.Item) -> set[str]:
    """The markers PATH_NEEDS and FIXTURE_NEEDS give ``item`` (those written in its file come on top)."""
    relative = item.path.resolve().relative_to(TESTS).as_posix()
    test_id = f"{relative}::{item.nodeid.partition('::')[2].split('[')[0]}"
    needs = {
        marker
        for where, markers in PATH_NEEDS.items()
        if test_id == where or relative == where or relative.startswith(f"{where}/")
        for marker in markers
    }
    needs.update(m for name in getattr(item, "fixturenames", ()) for m in FIXTURE_NEEDS.get(name, ()))
    return needs
