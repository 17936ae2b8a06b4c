"""The files ``mlchaos init`` writes — ``target.yaml`` and ``scenario.yaml`` — as YAML text with comments saying
what each value was guessed from and what to fill in, validated by the target and scenario models before they
are written.

The text is built here line by line (PyYAML writes no comments); every value in it goes through
:func:`flow`, ``yaml.safe_dump`` of that one value, so whatever a service publishes (a tier name ``on``, a key
with a colon) reads back as the same value.
"""

from __future__ import annotations

import os
import re
import textwrap
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from mlchaos.experiments.init_files import HEALTH_PATHS, METRICS_PATHS, Discovery, InitRefused
from mlchaos.experiments.init_guesses import Guess, Suggested, guess_answer, guess_signals
from mlchaos.experiments.openapi_hints import answer_choices
from mlchaos.experiments.scenario import Scenario
from mlchaos.experiments.targets import ALLOW_PRODUCTION, Target
from mlchaos.experiments.typical_bodies import template_body, template_fields

TARGET_FILE = "target.yaml"
SCENARIO_FILE = "scenario.yaml"
WIDTH = 110
"""Comments are wrapped at this width."""
_FIELDS = ("tier", "prediction", "confidence", "score", "review", "shed")


def flow(value: Any) -> str:
    """``value`` as one line of YAML (a flow collection or a scalar, quoted where it must be)."""
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, sort_keys=False, width=10**9)
    return text.strip().removesuffix("\n...").strip()


def _comment(text: str) -> str:
    return " ".join(text.split())  # one line, whatever a service's names hold


def slug(name: str) -> str:
    """A scenario-name-safe form of ``name`` (lower case, digits, ``.``, ``_``, ``-``)."""
    text = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-._")
    return text[:60] or "service"


class _Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def comment(self, text: str, indent: int = 0) -> None:
        lead = " " * indent + "# "
        self.lines += textwrap.wrap(_comment(text), WIDTH, initial_indent=lead, subsequent_indent=lead)

    def add(self, text: str, note: str = "", indent: int = 0) -> None:
        self.lines.append(" " * indent + text + (f"  # {_comment(note)}" if note else ""))

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def target_text(found: Discovery, answer: dict[str, Guess]) -> str:
    out = _Lines()
    out.comment(
        f"Target file for the service at {found.service_url}, written by `mlchaos init` on {date.today()}"
    )
    out.comment("from what it publishes. 'check:' marks a guess to confirm, 'fill in:' what only you know.")
    out.comment(f"Then: mlchaos target check {TARGET_FILE}  (one look, faulting nothing: shows what is read)")
    out.add("kind: external")
    out.add(f"service_url: {flow(found.service_url)}")
    if found.allowed_host is not None:
        out.comment("mlchaos sends traffic only to loopback and the hosts listed here: the one you gave")
        if found.production:
            out.comment("it looks like production: every command needs --allow-production to contact it")
        out.add(f"allowed_hosts: {flow([found.allowed_host])}")
    out.comment("fill in, for network faults: the toxiproxy API and which proxy stands for which dependency")
    out.add("# toxiproxy_url: http://127.0.0.1:8474")
    out.add("# proxies: {DEPENDENCY: PROXY_NAME}")
    out.comment("fill in, for pod_kill: supervisord's XML-RPC URL and the programs it may kill")
    out.add("# supervisor_url: http://127.0.0.1:9001/RPC2")
    out.add("# programs: [PROGRAM]")
    out.add(f"predict_path: {flow(found.predict_path)}", found.predict_note)
    _health(out, found)
    _response(out, answer, found)
    _tiers(out, found, answer)
    _signals(out, found)
    _request(out, found)
    out.comment("fill in what the service promises of bad input (bad_input_handling holds it to this):")
    out.add("# input_contract:")
    out.add("#   extra_fields: either   # an unknown field is: reject | ignore | either")
    out.add("#   content_type: either   # JSON sent as another content type is: strict | lenient | either")
    out.add("#   max_body_bytes: 65536  # bodies larger than its limit must be refused")
    out.comment("fill in: headers sent with every request (credentials: redacted in journals and reports)")
    out.add('# headers: {Authorization: "Bearer TOKEN"}')
    return out.text()


def _health(out: _Lines, found: Discovery) -> None:
    out.add("health:")
    for name in ("live", "ready", "inference"):
        path = found.health.get(name)
        tried = ", ".join(HEALTH_PATHS[name])
        if path is not None:
            out.add(f"{name}: {flow(path)}", "answered 200", indent=2)
        elif name == "inference":
            out.add(
                "inference: null", f"fill in: a deep check through the model, if any (none of {tried})", 2
            )
        else:
            other = found.health.get("ready" if name == "live" else "live")
            guess = other or f"/health/{name}"
            out.add(f"{name}: {flow(guess)}", f"fill in: none of {tried} answered 200", indent=2)
    if found.metrics_path is not None:
        out.add(f"metrics: {flow(found.metrics_path)}", "a Prometheus exposition", indent=2)
    else:
        out.add("metrics: null", f"fill in: none of {', '.join(METRICS_PATHS)} is a Prometheus exposition", 2)


def _response(out: _Lines, answer: dict[str, Guess], found: Discovery) -> None:
    asked = f"POST {found.predict_path} answered " + (found.answer_error or f"HTTP {found.status}")
    out.comment(
        "Where an answer says which tier served it, what it predicts, how sure it is (a JSON path like"
    )
    out.comment(
        "a.b or outputs.0.data.1, or header:NAME). Guessed from ONE answer: check each against your API."
    )
    if found.answer_error is not None:
        out.comment(f"fill in: {asked}, so nothing could be read from it")
    out.add("response:")
    for name in _FIELDS:
        guess = answer.get(name)
        if guess is not None:
            out.add(
                f"{name}: {flow(guess.spec)}", f"check: guessed from one answer: {guess.shown()}", indent=2
            )
        elif name in ("tier", "prediction", "confidence"):
            out.add(f"{name}: {flow(name)}", f"fill in: not found in the answer ({asked})", indent=2)
        else:
            out.add(
                f"# {name}: PATH", "fill in if the answers carry it: not found in the one answer", indent=2
            )


def _ladder(found: Discovery, answer: dict[str, Guess]) -> tuple[list[str], str] | None:
    """The tier names to write, best first as far as is known, and the comment on them; ``None`` if no tier
    was read."""
    guess = answer.get("tier")
    if guess is None:
        return None
    listed, seen = _published_tiers(found, guess), str(guess.seen)
    if listed:
        why = f"check: the tier names the OpenAPI spec lists, in its order ({seen!r} answered): best first?"
        return list(dict.fromkeys([*listed, seen])), why
    return [seen], f"fill in: every tier name, best first — only {seen!r} answered the one request"


def _tiers(out: _Lines, found: Discovery, answer: dict[str, Guess]) -> None:
    ladder = _ladder(found, answer)
    if ladder is None:
        out.comment("fill in: the tier names, best first (default: primary, fallback, rules, cache, static)")
        out.add("# tiers: [BEST, NEXT, WORST]")
        return
    out.comment(ladder[1])
    out.add(f"tiers: {flow(ladder[0])}")


def _published_tiers(found: Discovery, guess: Guess) -> tuple[str, ...]:
    """The tier names the OpenAPI spec lists for the tier field — or for a body field named like a tier."""
    if found.document is None:
        return ()
    specs = [guess.spec, *(p for p, g in _tier_fields(found.answer) if g == guess.seen)]
    for spec in specs:
        choices = answer_choices(found.document, found.predict_path, spec)
        if choices:
            return choices
    return ()


def _tier_fields(document: Any) -> list[tuple[str, Any]]:
    guessed = guess_answer(document, {})
    return [(guessed["tier"].spec, guessed["tier"].seen)] if "tier" in guessed else []


def _signals(out: _Lines, found: Discovery) -> None:
    if not found.families:
        out.comment(
            "fill in: signals (breaker states, drift alarm) for breaker and drift verdicts — see docs/targets.md"
        )
        return
    guesses = guess_signals(found.families)
    groups = [("breakers", guesses.breakers), ("transitions", guesses.transitions)]
    drift = [(name, s) for name, s in (("alarm", guesses.alarm), ("onsets", guesses.onsets)) if s is not None]
    if not any(items for _, items in groups) and not drift:
        out.comment(
            f"fill in: no metric in {found.metrics_path} is named like a breaker or drift signal; declare"
        )
        out.comment(
            "signals (breaker states, drift alarm) for breaker and drift verdicts — see docs/targets.md"
        )
        return
    out.comment(f"check: suggested from {found.metrics_path}'s metric names; check the labels and values")
    out.add("signals:")
    for name, items in groups:
        if items:
            out.add(f"{name}:", indent=2)
            for suggested in items:
                _suggested(out, suggested, "- ", 4)
    if drift:
        out.add("drift:", indent=2)
        for name, suggested in drift:
            _suggested(out, suggested, f"{name}: ", 4)
    for family in guesses.unused:
        out.comment(f"not declared (fits no signal): {family.shown()}", indent=2)


def _suggested(out: _Lines, suggested: Suggested, lead: str, indent: int) -> None:
    for line in suggested.comments:
        out.comment(f"check: {line}" if not line.startswith("seen:") else line, indent)
    out.add(lead + flow(suggested.declaration), indent=indent)


def _request(out: _Lines, found: Discovery) -> None:
    if found.openapi_path is None:
        out.comment("fill in: request.features (types, ranges, choices) — else they are inferred from the")
        out.comment("scenario's dataset or rendered body template")
        return
    listed = ", ".join(f"{path} ({feature.type.value})" for path, feature in found.schema.features.items())
    out.add("request:")
    out.comment(f"the request features are read from it before each run: {listed or 'none found'}", 2)
    out.add(f"openapi: {flow(found.openapi_path)}", indent=2)


def scenario_text(found: Discovery, name: str, out_dir: Path, answer: dict[str, Guess]) -> str:
    out = _Lines()
    out.comment(f"Starter scenario for the service at {found.service_url}, written by `mlchaos init`.")
    out.comment(
        "It needs nothing but the service: a fifth of the requests arrive corrupted for 10 s; each must be"
    )
    out.comment(
        "refused with a JSON 4xx (or answered flagged), never a 5xx or a hang, and clean traffic stays served."
    )
    out.comment(f"Run: mlchaos validate {SCENARIO_FILE} && mlchaos run {SCENARIO_FILE}")
    out.add(f"name: {flow(slug(name) + '-bad-inputs')}")
    out.add(f"description: {flow('Corrupted requests under load: refused cleanly, clean traffic unharmed.')}")
    out.add(f"target: {TARGET_FILE}")
    out.add("load:")
    out.add("users: 4", indent=2)
    out.add("wait: [0.05, 0.2]", "seconds each user waits between requests", indent=2)
    out.add("warmup: 2s", "load before the baseline, judged by nothing", indent=2)
    _load_body(out, found, out_dir)
    out.add("steady_state:")
    out.add("window: 5s", indent=2)
    out.add("min_availability: 0.99", indent=2)
    tiers = (_ladder(found, answer) or (["BEST_TIER"], ""))[0]
    best, lower = tiers[0], tiers[1] if len(tiers) > 1 else "TIER"
    out.add(f"# min_tier_share: {flow({best: 0.9})}", "fill in: the share your best tier serves normally", 2)
    out.add("# max_p99_ms: 500", "fill in: the p99 latency normal traffic keeps", indent=2)
    out.add("faults:")
    out.add("- {id: garbage-in, type: corrupted_inputs, share: 0.2, at: 0s, duration: 10s}", indent=2)
    dependency = _a_dependency(found)
    out.comment(
        f"an outage of a dependency ({dependency}: check the name) — uncomment with the verifiers below once "
        "target.yaml has toxiproxy_url and proxies (the dependency's toxiproxy proxy):",
        2,
    )
    outage = {
        "id": "dependency-down",
        "type": "feature_store_outage",
        "dependency": dependency,
        "mode": "down",
        "at": "15s",
        "duration": "10s",
    }
    out.add(f"# - {flow(outage)}", indent=2)
    out.add("recovery: 5s")
    out.add("verifiers:")
    out.add("- {type: bad_input_handling, fault: garbage-in}", indent=2)
    out.add("- {type: availability, min: 0.99}", indent=2)
    out.add("- {type: clean_traffic_unharmed, min_availability: 0.99, max_p99_ratio: 3}", indent=2)
    out.comment(
        f"with the outage: its breaker opens and closes again, and a lower tier ({lower}?) answers", 2
    )
    breaker: dict[str, Any] = {"type": "breaker", "dependency": dependency, "fault": "dependency-down"}
    breaker |= {"open_within": "2s", "close_within": "5s"}
    engaged: dict[str, Any] = {"type": "fallback_engaged", "fault": "dependency-down", "tiers": [lower]}
    engaged |= {"within": "2s", "min_share": 0.9}
    out.add(f"# - {flow(breaker)}", indent=2)
    out.add(f"# - {flow(engaged)}", indent=2)
    if found.labelled:
        out.comment("the dataset has labels (canaries): accuracy of the answers, per tier", 2)
        out.add("# - {type: quality, min_accuracy: 0.9}", indent=2)
    out.add("abort_when:")
    out.add("- {metric: error_rate, above: 0.5, for: 5s}", "stop (and revert) if half the requests fail", 2)
    return out.text()


def _a_dependency(found: Discovery) -> str:
    """A dependency name the service's breaker metrics show, for the commented examples."""
    guesses = guess_signals(found.families)
    for suggested in guesses.breakers:
        label = str(suggested.declaration.get("dependency_label"))
        family = next(f for f in found.families if f.name == suggested.declaration["metric"])
        if family.labels.get(label):
            return family.labels[label][0]
        if "dependency" in suggested.declaration:
            return str(suggested.declaration["dependency"])
    return "DEPENDENCY"


def _load_body(out: _Lines, found: Discovery, out_dir: Path) -> None:
    if found.dataset is not None:
        absolute = found.dataset.resolve()
        relative = os.path.relpath(absolute, out_dir.resolve())
        # beside the scenario or near it: relative, so the folder can move; far away: where it is
        shown = relative if not relative.startswith(f"..{os.sep}..") else str(absolute)
        out.add(f"dataset: {flow(shown)}", "JSONL requests (a relative path is from this file)", indent=2)
        return
    out.comment(
        "check: each request is rendered from this template (built from the request schema) — make", 2
    )
    out.comment(
        'it look like normal traffic, or use `dataset: FILE` (JSONL {"body": …, "label": …}) instead', 2
    )
    out.add("body:", indent=2)
    fields = template_fields(found.schema, found.examples)
    notes = {one.path: one.note for one in fields}
    _nested(out, template_body(fields), notes, "", 4)


def _nested(out: _Lines, body: dict[str, Any], notes: dict[str, str], prefix: str, indent: int) -> None:
    for key, value in body.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.add(f"{flow(key)}:", indent=indent)
            _nested(out, value, notes, f"{path}.", indent + 2)
        else:
            out.add(f"{flow(key)}: {flow(value)}", notes.get(path, ""), indent=indent)


def validated(target: str, scenario: str, *, allow_production: bool) -> None:
    """Both texts read back through the models; :class:`InitRefused` (a bug of init's) if they do not."""
    try:
        loaded = TypeAdapter(Target).validate_python(
            yaml.safe_load(target), context={ALLOW_PRODUCTION: allow_production}
        )
        document = yaml.safe_load(scenario)
        Scenario.model_validate({**document, "target": loaded})
    except (ValidationError, yaml.YAMLError) as exc:
        raise InitRefused(
            f"mlchaos init made a file that does not validate (a bug: please report it): {exc}"
        ) from exc


def write(out_dir: Path, files: Iterable[tuple[str, str]], *, force: bool) -> list[Path]:
    """Write ``(name, text)`` files into ``out_dir``; existing ones only with ``force``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in files:
        path = out_dir / name
        path.write_text(text, encoding="utf-8") if force else _create(path, text)
        written.append(path)
    return written


def _create(path: Path, text: str) -> None:
    with path.open("x", encoding="utf-8") as file:  # "x": never replaces a file that appeared meanwhile
        file.write(text)
