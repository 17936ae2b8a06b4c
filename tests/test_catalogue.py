"""The shipped catalogue stays valid, documented and reproducible."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from mlchaos.experiments.loader import load_scenario
from mlchaos.experiments.suite import load_suite

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = sorted((ROOT / "scenarios").glob("*.yaml"))


def test_the_catalogue_is_not_empty() -> None:
    assert len(CATALOGUE) >= 3


@pytest.mark.parametrize("path", CATALOGUE, ids=lambda p: p.name)
def test_each_scenario_is_valid_says_what_it_proves_and_is_in_the_readme(path: Path) -> None:
    scenario = load_scenario(path).scenario
    assert path.read_text(encoding="utf-8").startswith("# Proves:"), "open with a '# Proves:' comment"
    assert scenario.name == path.stem
    assert f"`{path.name}`" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_datasets_are_what_the_generator_writes() -> None:
    spec = importlib.util.spec_from_file_location(
        "make_dataset", ROOT / "scripts" / "make-transactions-dataset.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    data = ROOT / "scenarios" / "data"
    assert (data / "transactions.jsonl").read_text(encoding="utf-8").splitlines() == module.dataset_lines(
        2000, 1
    )
    with_outliers = (data / "transactions-with-outliers.jsonl").read_text(encoding="utf-8").splitlines()
    assert with_outliers == module.outlier_dataset_lines(2000, 1)


def test_the_supplied_adversarial_samples_are_what_the_generator_writes() -> None:
    spec = importlib.util.spec_from_file_location(
        "make_samples", ROOT / "scripts" / "make-adversarial-samples.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = (ROOT / "scenarios" / "data" / "adversarial-supplied.jsonl").read_text(encoding="utf-8")
    assert committed.splitlines() == module.sample_lines(40, 4)


def test_the_monthly_suite_runs_the_whole_catalogue() -> None:
    """`make demo` and the Helm chart's CronJob run this suite: a scenario missing from it is never run."""
    suite = load_suite(ROOT / "scenarios" / "suites" / "monthly.yaml")
    assert sorted(p.resolve() for p in suite.scenarios) == [p.resolve() for p in CATALOGUE]
