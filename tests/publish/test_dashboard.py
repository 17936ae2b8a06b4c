"""The Grafana dashboard and the alert rules use exactly the documented metrics, and the rules are valid
Prometheus rules that fire as their tests say (promtool, from Debian's prometheus package)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from mlchaos.experiments.publish.metrics import BY_NAME

DOCS = Path(__file__).resolve().parents[2] / "docs" / "grafana"
DASHBOARD = DOCS / "mlchaos-dashboard.json"
RULES = DOCS / "mlchaos-alerts.yml"
PROMTOOL = "/usr/bin/promtool"

# What a PromQL expression may name besides metrics: functions, aggregations, keywords, Grafana variables.
_WORDS = {"sum", "max", "min", "count", "avg", "by", "without", "time", "on", "ignoring", "and", "or", "unless",
          "label_values", "group_left", "group_right", "bool", "offset"}  # fmt: skip
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_MATCHERS = re.compile(r"\{[^}]*\}")
_GROUPING = re.compile(r"\b(by|without|on|ignoring)\s*\([^)]*\)")
_LABEL_VALUES = re.compile(r"\blabel_values\(\s*([^,)]*)(,[^)]*)?\)")  # Grafana's: (metric, label)
_NAME = re.compile(r"(?<![\w$])[A-Za-z_:][A-Za-z0-9_:]*")


def metric_names(expr: str) -> set[str]:
    """The metric names in a PromQL expression: what is left once strings, label matchers, grouping clauses,
    functions and keywords are taken out."""
    bare = _GROUPING.sub(" ", _MATCHERS.sub(" ", _STRINGS.sub('""', expr)))
    bare = _LABEL_VALUES.sub(r" \1 ", bare)
    return {name for name in _NAME.findall(bare) if name not in _WORDS}


def dashboard_expressions() -> list[tuple[str, str]]:
    """(panel title, PromQL) of every panel target of the dashboard."""
    document = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [(panel["title"], target["expr"]) for panel in document["panels"] for target in panel["targets"]]


def test_the_dashboard_names_only_documented_metrics() -> None:
    document = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    variables = [v["query"]["query"] for v in document["templating"]["list"] if v["type"] == "query"]
    expressions = [expr for _, expr in dashboard_expressions()] + variables
    assert len(expressions) >= 10
    for expr in expressions:
        names = metric_names(expr)
        assert names, f"no metric in {expr!r}"
        assert names <= set(BY_NAME), f"{expr!r} names undocumented metrics {sorted(names - set(BY_NAME))}"


def test_the_name_reader_sees_through_promql() -> None:  # the check above is only as good as this
    assert metric_names('sum by (suite) (mlchaos_a{suite=~"$suite", x="y"}) / 86400 > time()') == {
        "mlchaos_a"
    }
    assert metric_names("label_values(mlchaos_b, suite)") == {"mlchaos_b"}
    assert metric_names("rate(up[5m]) + on (job) node_load1") == {
        "rate",
        "up",
        "node_load1",
    }  # rate: not allowed


def test_the_alert_rules_name_only_documented_metrics() -> None:
    rules = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"][0]["rules"]
    for rule in rules:
        names = metric_names(rule["expr"])
        assert names and names <= set(BY_NAME), (rule["alert"], sorted(names - set(BY_NAME)))


def test_promtool_accepts_the_rules_and_their_tests_pass() -> None:
    if shutil.which(PROMTOOL) is None:
        pytest.fail(f"{PROMTOOL} is missing: run `make prometheus` (scripts/install-prometheus.sh) first")
    checked = subprocess.run(
        [PROMTOOL, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(
        [PROMTOOL, "test", "rules", str(DOCS / "mlchaos-alerts.test.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
