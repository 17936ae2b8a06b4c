"""Publishing settings: a suite file's ``publish:`` block checked with file:line like the rest of the file, a
webhook URL that may never be written in it, and the command line's options on top — refused before anything runs
when the URL they name is missing."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from mlchaos.experiments.cli_common import publish_settings
from mlchaos.experiments.publish import PublishConfig, When, overridden
from mlchaos.experiments.publish.config import WEBHOOK_URL_ENV
from mlchaos.experiments.suite import SuiteInvalid, load_suite

SECRET = "https://hooks.example.com/services/T0/B0/s3cr3tXYZ"


def _suite(tmp_path: Path, publish: str) -> Path:
    (tmp_path / "a.yaml").write_text("name: a\n", encoding="utf-8")  # only its existence is checked here
    suite = tmp_path / "suite.yaml"
    suite.write_text(f"name: monthly\nscenarios:\n  - a.yaml\npublish:\n{publish}", encoding="utf-8")
    return suite


def test_a_webhook_url_written_in_the_suite_file_is_refused_without_repeating_it(tmp_path: Path) -> None:
    suite = _suite(tmp_path, f"  webhook:\n    url: {SECRET}\n  pushgateway:\n    url: pushgateway:9091\n")
    with pytest.raises(SuiteInvalid) as caught:
        load_suite(suite)
    webhook, gateway = (str(p) for p in caught.value.problems)
    assert webhook.startswith(f"{suite}:5:3: publish.webhook: a webhook URL is a secret")
    assert "url_env: MLCHAOS_WEBHOOK_URL" in webhook and "s3cr3t" not in str(caught.value)
    assert gateway.startswith(f"{suite}:8:5: publish.pushgateway.url:")


def test_an_unknown_when_names_the_allowed_values(tmp_path: Path) -> None:
    with pytest.raises(SuiteInvalid) as caught:
        load_suite(_suite(tmp_path, "  webhook: {url_env: HOOK, when: sometimes}\n"))
    [problem] = caught.value.problems
    assert "publish.webhook.when: expected 'always', 'failure' or 'regression', got 'sometimes'" in str(
        problem
    )


def test_a_relative_url_file_is_relative_to_the_suite_file(tmp_path: Path) -> None:
    suite = load_suite(_suite(tmp_path, "  webhook: {url_file: secrets/hook, when: regression}\n"))
    assert suite.publish is not None and suite.publish.webhook is not None
    assert suite.publish.webhook.url_file == tmp_path / "secrets" / "hook"
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "hook").write_text(f"{SECRET}\n", encoding="utf-8")
    assert suite.publish.webhook.url() == SECRET


def test_the_command_line_overrides_the_suite_file_field_by_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(WEBHOOK_URL_ENV, raising=False)
    block = PublishConfig.model_validate(
        {"webhook": {"url_env": "HOOK", "when": "regression", "format": "generic"}}
    )
    config = overridden(block, webhook_when=When.ALWAYS, pushgateway="http://127.0.0.1:9091")
    assert config is not None and config.webhook is not None and config.pushgateway is not None
    assert (config.webhook.url_env, config.webhook.when, config.webhook.format) == (
        "HOOK",
        "always",
        "generic",
    )
    assert config.pushgateway.url == "http://127.0.0.1:9091" and config.pushgateway.job == "mlchaos"
    assert overridden(None) is None  # nothing configured: nothing published
    monkeypatch.setenv(WEBHOOK_URL_ENV, SECRET)
    from_env = overridden(None)  # the chart's way: the variable alone turns the webhook on (when: failure)
    assert from_env is not None and from_env.webhook is not None and from_env.webhook.url() == SECRET


def test_a_webhook_whose_url_is_unset_stops_the_command_before_anything_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("HOOK", raising=False)
    block = PublishConfig.model_validate({"webhook": {"url_env": "HOOK"}})
    with pytest.raises(typer.Exit) as caught:
        publish_settings(block, when=None, format_=None, url_file=None, pushgateway=None)
    assert caught.value.exit_code == 2
    assert (
        "webhook: environment variable HOOK is empty or unset (expected an http(s) URL)"
        in capsys.readouterr().err
    )
    monkeypatch.setenv("HOOK", "not a url s3cr3t")
    with pytest.raises(typer.Exit):
        publish_settings(block, when=None, format_=None, url_file=None, pushgateway=None)
    error = capsys.readouterr().err
    assert "does not hold an http(s) URL" in error and "s3cr3t" not in error
    with pytest.raises(typer.Exit):  # --webhook-when without any URL: a typo, not "no webhook"
        publish_settings(None, when=When.FAILURE, format_=None, url_file=None, pushgateway=None)
    with pytest.raises(typer.Exit):
        publish_settings(None, when=None, format_=None, url_file=tmp_path / "missing", pushgateway=None)
    assert "webhook url_file" in capsys.readouterr().err
