"""Where mlchaos may send traffic (loopback, ``allowed_hosts``, never production unless told), and scenarios
that name a target file. The refusals at their lines are in ``malformed/``; here, what passes, the host rules
themselves, and the command line."""

from __future__ import annotations

import ipaddress
import os
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlchaos.experiments.cli import app
from mlchaos.experiments.hosts import Host, allowed_host_entry, parse_host, refusal, url_host
from mlchaos.experiments.loader import ScenarioInvalid, load_scenario, load_scenarios, load_target
from mlchaos.experiments.suite import load_suite
from mlchaos.experiments.targets import ExternalTarget, KubernetesTarget

WriteFile = Callable[..., Path]  # the `write` fixture (conftest.py)

SCENARIO = """\
    name: hosts
    target: {target}
    load:
      body: {{x: 1}}
    faults:
      - id: slow
        type: latency
        dependency: feature_store
        latency_ms: 100
        duration: 10s
    verifiers:
      - type: availability
    """
STAGING = """\
    kind: external
    allowed_hosts: [scoring.staging.example, 10.20.0.7]
    service_url: https://SCORING.staging.example./v1/
    toxiproxy_url: http://10.20.0.7:8474
    proxies: {feature_store: fs}
    """
PRODUCTION = """\
    kind: external
    allowed_hosts: [scoring.prod.example]
    service_url: https://scoring.prod.example
    proxies: {feature_store: fs}
    """


def _problems(path: Path, **options: bool) -> list[str]:
    with pytest.raises(ScenarioInvalid) as caught:
        load_scenario(path, **options)
    return [str(problem) for problem in caught.value.problems]


# --- the host rules


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:8080", True),
        ("http://127.45.6.7", True),
        ("http://[::1]:9000", True),
        ("http://[::ffff:127.0.0.1]", True),
        ("http://LOCALHOST.:80", True),
        ("http://127.attacker.example", False),
        ("http://localhost.attacker.example", False),
        ("http://0.0.0.0:8080", False),
        ("http://10.0.0.1", False),
    ],
)
def test_loopback_is_decided_on_addresses_not_on_text(url: str, loopback: bool) -> None:
    assert url_host(url).loopback is loopback


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://127.0.0.1/", "expected an http:// or https:// URL"),
        ("127.0.0.1:8080", "expected an http:// or https:// URL"),
        ("http://admin:s3cret@127.0.0.1/", "carries a user or password"),
        ("http://127.0.0.1:99999", "not a valid URL"),
        ("http:///predict", "has no host"),
        ("http://127.1/", "nor an IP address in its usual form"),
        ("http://bad_host-.example/", "neither a host name"),
        ("http://exämple.com/", "xn-- (punycode)"),
        ("http://127.0.0.1/a b", "spaces or control characters"),
    ],
)
def test_a_url_mlchaos_cannot_use_says_why(url: str, why: str) -> None:
    with pytest.raises(ValueError) as caught:
        url_host(url)
    assert why in str(caught.value)
    assert "s3cret" not in str(caught.value), "a password is never repeated back"


def test_hosts_compare_case_insensitively_without_a_trailing_dot_and_addresses_as_addresses() -> None:
    assert parse_host("Scoring.Staging.Example.") == Host("scoring.staging.example")
    assert parse_host("0:0::1") == Host("::1", ipaddress.ip_address("::1"))
    allowed = ("scoring.staging.example", "fd00::7")
    assert (
        refusal(url_host("https://SCORING.staging.example."), allowed_hosts=allowed, allow_production=False)
        is None
    )
    assert refusal(url_host("http://[fd00:0::7]:80"), allowed_hosts=allowed, allow_production=False) is None
    assert "not in allowed_hosts" in str(
        refusal(
            url_host("https://scoring.staging.example.evil"), allowed_hosts=allowed, allow_production=False
        )
    )


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        ("https://scoring.example/", "not a URL: write 'scoring.example'"),
        ("scoring.example:8080", "without a port: write 'scoring.example'"),
        ("10.0.0.300", "neither a host name nor an IP address"),
    ],
)
def test_an_allowed_hosts_entry_is_a_host_name_or_an_address(entry: str, why: str) -> None:
    with pytest.raises(ValueError) as caught:
        allowed_host_entry(entry)
    assert why in str(caught.value)


def test_production_looks_are_whole_words_of_the_host() -> None:
    def refused(host: str) -> str | None:
        return refusal(parse_host(host), allowed_hosts=(host,), allow_production=False)

    assert refused("api.live.example.com") is not None and refused("fraud-prd.example") is not None
    assert refused("product-search.example") is None and refused("delivery.example") is None
    assert (
        refusal(
            parse_host("api.live.example.com"), allowed_hosts=("api.live.example.com",), allow_production=True
        )
        is None
    )


def test_a_kubernetes_service_name_is_allowed_by_its_namespace() -> None:
    target = {
        "kind": "kubernetes",
        "namespace": "ml-staging",
        "allowed_namespaces": ["ml-staging"],
        "service_url": "http://gateway.ml-staging.svc.cluster.local:8000",
        "toxiproxy_url": "http://toxiproxy.ml-staging.svc:8474",
    }
    assert KubernetesTarget.model_validate(target).service_url == target["service_url"]
    # The same name is only a host name for an external target: it must be listed there.
    with pytest.raises(ValueError, match="is not in allowed_hosts"):
        ExternalTarget.model_validate({"kind": "external", "service_url": target["service_url"]})


# --- targets and scenarios


def test_a_listed_staging_host_passes_and_is_normalised(write: WriteFile) -> None:
    target, problems = load_target(write(STAGING, "staging.yaml"))
    assert problems == []
    assert isinstance(target, ExternalTarget)
    assert target.allowed_hosts == ("scoring.staging.example", "10.20.0.7")
    assert target.service_url == "https://SCORING.staging.example./v1"


def test_an_invalid_allowed_hosts_entry_is_shown_at_its_line(write: WriteFile) -> None:
    text = "kind: external\nallowed_hosts:\n  - staging.example\n  - https://other.example/\nservice_url: http://127.0.0.1:1\n"
    target, problems = load_target(write(text, "t.yaml"))
    assert target is None
    [problem] = problems
    assert (problem.line, problem.where) == (4, "allowed_hosts[1]")
    assert "expected a host name, not a URL: write 'other.example'" in problem.message


def test_a_production_host_is_allowed_by_the_target_or_by_allow_production(write: WriteFile) -> None:
    write(PRODUCTION, "production.yaml")
    scenario = write(SCENARIO.format(target="production.yaml"))
    [refused] = _problems(scenario)
    assert refused.startswith(f"{scenario.parent / 'production.yaml'}:3:")
    assert "host 'scoring.prod.example' looks like production ('prod' is a word of it)" in refused

    allowed = load_scenario(scenario, allow_production=True).scenario.target
    assert isinstance(allowed, ExternalTarget) and allowed.service_url == "https://scoring.prod.example"
    write(PRODUCTION + "allow_production: true\n", "production.yaml")
    assert load_scenario(scenario).scenario.target.kind == "external"


def test_validate_refuses_a_production_host_unless_allow_production(write: WriteFile) -> None:
    write(PRODUCTION, "production.yaml")
    scenario = write(SCENARIO.format(target="production.yaml"))
    refused = CliRunner().invoke(app, ["validate", str(scenario)])
    assert refused.exit_code == 2
    assert "production.yaml:3:1: service_url: host 'scoring.prod.example' looks like production" in " ".join(
        refused.output.split()
    )
    allowed = CliRunner().invoke(app, ["validate", "--allow-production", str(scenario)])
    assert allowed.exit_code == 0, allowed.output


# --- target files named by scenarios


def test_a_target_file_resolves_against_the_scenarios_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "targets").mkdir()
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "targets" / "staging.yaml").write_text(textwrap.dedent(STAGING), encoding="utf-8")
    scenario = tmp_path / "scenarios" / "hosts.yaml"
    text = textwrap.dedent(SCENARIO.format(target="../targets/staging.yaml"))
    scenario.write_text(text, encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    loaded = load_scenario(Path(os.path.relpath(scenario, elsewhere))).scenario
    assert isinstance(loaded.target, ExternalTarget)
    assert loaded.target.toxiproxy_url == "http://10.20.0.7:8474"


def test_a_string_that_is_neither_a_kind_nor_a_target_file_says_what_is_expected(write: WriteFile) -> None:
    [problem] = _problems(write(SCENARIO.format(target="targets/staging")))
    assert (
        "target: expected a target kind (embedded), a mapping, or a target file ending .yaml or .yml"
        in problem
    )


def test_target_overrides_a_target_file_the_scenario_names_which_is_then_not_read(write: WriteFile) -> None:
    scenario = write(SCENARIO.format(target="nowhere.yaml"))
    [missing] = _problems(scenario)
    assert ":2:" in missing and "target file 'nowhere.yaml': no such file" in missing
    override = write(STAGING, "staging.yaml")
    result = CliRunner().invoke(app, ["validate", "--target", str(override), str(scenario)])
    assert result.exit_code == 0, result.output


def test_a_suites_target_is_relative_to_the_suite_and_replaces_the_target_files_of_its_scenarios(
    write: WriteFile, tmp_path: Path
) -> None:
    write(SCENARIO.format(target="nowhere.yaml"))
    (tmp_path / "targets").mkdir()
    write(STAGING, "targets/staging.yaml")
    suite = load_suite(
        write("name: monthly\ntarget: targets/staging.yaml\nscenarios: [scenario.yaml]\n", "suite.yaml")
    )
    assert suite.target is not None
    target, problems = load_target(suite.target)
    assert problems == [] and isinstance(target, ExternalTarget)
    # As `mlchaos suite` loads them: on the suite's target; the file the scenario names is not read.
    files, problems = load_scenarios(suite.scenarios, target=target)
    assert problems == [] and [f.scenario.target for f in files] == [target]
