"""ML input faults through the real load child: what the server receives is what the record says was sent."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from load_fakes import DATASET, FakeTarget, run_to_end

from mlchaos.experiments.inputs import (
    CorruptSend,
    InputWindow,
    MetamorphicSend,
    Mutator,
    OodKind,
    OodSend,
    ReplaySample,
    ReplaySend,
)
from mlchaos.experiments.inputs.contract import InputContract
from mlchaos.experiments.inputs.inference import resolve_schema
from mlchaos.experiments.inputs.mutators import mutate
from mlchaos.experiments.inputs.relations import SetValue
from mlchaos.experiments.inputs.schema import Feature, FeatureType, RequestSchema
from mlchaos.experiments.load.runner import LoadRunner
from mlchaos.experiments.load.spec import LoadSpec
from mlchaos.experiments.load.store import records_frame
from mlchaos.experiments.verifiers import bad_input_handling
from mlchaos.experiments.verifiers.base import FaultWindow, Recording, empty_probes
from mlchaos.experiments.verifiers.steady_state import SteadyState

Runners = Callable[..., LoadRunner]
SMALL = CorruptSend(
    mutators=tuple(Mutator),
    oversize_bytes=3000,
    nest_depth=40,
    contract=InputContract(extra_fields="ignore", content_type="strict", max_body_bytes=2048),
)
SCHEMA = resolve_schema(
    RequestSchema(features={"amount": Feature(type=FeatureType.NUMBER, min=0, max=1000)}),
    bodies=[request.body for request in DATASET],
    openapi=None,
    predict_path="/predict",
)
"""The fake target's request schema: ``amount`` declared (and so first: what field-level mutators corrupt), ``id``
inferred from the dataset."""


def window(send: Any, start_s: float = 0.0, end_s: float = 60.0, share: float = 1.0) -> InputWindow:
    return InputWindow(fault_id="f", start_s=start_s, end_s=end_s, share=share, send=send)


def test_every_mutator_reaches_the_server_as_its_record_says(
    target: FakeTarget, make_spec: Callable[..., LoadSpec], runners: Runners
) -> None:
    spec = make_spec(
        target.url,
        duration_s=2.5,
        users=3,
        inputs=(window(SMALL),),
        request_schema=SCHEMA,
        score_field="score",
    )
    runner = run_to_end(runners, spec)

    # What each mutator makes of each clean row: the exact bytes and content type the server must have seen.
    made = {
        (out.body, out.content_type): mutator
        for mutator in Mutator
        for clean in DATASET
        for out in [mutate(mutator, clean.body, SMALL, SCHEMA)]
    }
    seen_at_server = Counter(made[(raw, content_type)] for raw, content_type in target.raw)
    tagged = Counter(r.input for r in runner.records)
    assert set(seen_at_server) == set(Mutator), "every mutator was sent"
    assert tagged == {f"corrupt:{m.value}": n for m, n in seen_at_server.items()}
    by_tag = {r.input: r for r in runner.records}
    # what the input contract expects travels from the child to each record
    expected = {tag: {r.expected for r in runner.records if r.input == tag} for tag in tagged}
    assert expected.pop("corrupt:extra_field") == {"accept"}  # extra_fields: ignore
    assert set().union(*expected.values()) == {"reject"}  # the 3000-byte body is past max_body_bytes too
    assert by_tag["corrupt:empty_body"].error == "HTTP 400: body is not JSON"
    assert by_tag["corrupt:truncated_json"].error == "HTTP 400"  # a JSON error body
    assert by_tag["corrupt:nan"].status == 200 and by_tag["corrupt:nan"].score == 0.1


def test_the_server_sees_each_corruption_for_real(
    target: FakeTarget, make_spec: Callable[..., LoadSpec], runners: Runners
) -> None:
    spec = make_spec(target.url, duration_s=2.0, users=3, inputs=(window(SMALL),), request_schema=SCHEMA)
    run_to_end(runners, spec)
    raw = {bytes(body): content_type for body, content_type in target.raw}
    assert b"" in raw
    assert any(b":NaN" in body for body in raw)
    assert any(b":Infinity" in body for body in raw) and any(b":-Infinity" in body for body in raw)
    assert any(body.count(b"[") == 40 for body in raw)
    assert any(len(body) >= 3000 and json.loads(body) for body in raw)  # oversized, but still valid JSON
    assert "text/plain" in raw.values()
    assert any(b"\\u0000" in body for body in raw)
    decoded = [b for b in target.bodies if isinstance(b, dict)]
    assert any("amount_v2" in b for b in decoded)
    assert any(isinstance(b.get("amount"), str) for b in decoded)  # wrong type
    assert any(b.get("amount") == 1000 + 1000 * 1000 for b in decoded)  # out of range: past the declared max
    assert any("unexpected_feature" in b for b in decoded)
    assert any("amount" in b and b["amount"] is None for b in decoded)
    assert any("amount" not in b and "amount_v2" not in b for b in decoded)  # missing
    assert any(body.endswith(b",,}") for body in raw)  # malformed


def test_a_window_corrupts_only_its_share_of_its_time_span(
    target: FakeTarget, make_spec: Callable[..., LoadSpec], runners: Runners
) -> None:
    corrupt = CorruptSend(mutators=(Mutator.NAN,))
    spec = make_spec(
        target.url,
        duration_s=3.0,
        users=3,
        inputs=(window(corrupt, 1.0, 2.0, share=0.5),),
        request_schema=SCHEMA,
    )
    runner = run_to_end(runners, spec)
    assert runner.started_at is not None
    inside = [r for r in runner.records if 1.0 <= r.start - runner.started_at < 2.0]
    # the child decides at send time; a record's start is taken a moment later
    outside = [r for r in runner.records if not 0.95 <= r.start - runner.started_at < 2.05]
    assert outside and all(r.input is None for r in outside)
    assert all(r.label is not None for r in outside), "clean rows keep their canary labels"
    share = sum(r.input == "corrupt:nan" for r in inside) / len(inside)
    assert 0.25 < share < 0.75, share
    assert all(r.label is None for r in inside if r.input), "a corrupted request is no canary"


def test_replayed_samples_carry_their_pair_and_expected_answer(
    target: FakeTarget, make_spec: Callable[..., LoadSpec], runners: Runners
) -> None:
    samples = tuple(
        ReplaySample(body={"id": 100 + i}, input="adversarial:boundary", pair=f"a/{i}", expected="fraud")
        for i in range(3)
    )
    spec = make_spec(target.url, inputs=(window(ReplaySend(samples=samples)),))
    runner = run_to_end(runners, spec)
    assert {r.pair for r in runner.records} == {"a/0", "a/1", "a/2"}
    assert all(r.input == "adversarial:boundary" and r.expected == "fraud" for r in runner.records)
    assert {b["id"] for b in target.bodies} == {100, 101, 102}


def test_metamorphic_pairs_go_out_back_to_back_from_one_user(
    target: FakeTarget, make_spec: Callable[..., LoadSpec], runners: Runners
) -> None:
    night_on = SetValue(
        name="night_on", operation="set", field="night", from_=False, to=True, expect="higher"
    )
    spec = make_spec(target.url, users=1, inputs=(window(MetamorphicSend(relations=(night_on,))),))
    runner = run_to_end(runners, spec)
    records = sorted(runner.records, key=lambda r: r.start)
    pairs = [records[i : i + 2] for i in range(0, len(records) - 1, 2)]
    assert pairs
    for original, transformed in pairs:
        assert original.pair == transformed.pair is not None
        assert (original.expected, transformed.expected) == ("original", "higher")
        assert original.input == transformed.input == "metamorphic:night_on"
    bodies = target.bodies[: 2 * len(pairs)]
    assert [b["night"] for b in bodies] == [False, True] * len(pairs)


def test_out_of_distribution_requests_are_built_in_the_child_from_the_specs_schema(
    target: FakeTarget, make_spec: Callable[..., LoadSpec], runners: Runners
) -> None:
    spec = make_spec(target.url, inputs=(window(OodSend(kinds=tuple(OodKind))),), request_schema=SCHEMA)
    runner = run_to_end(runners, spec)
    assert {r.input for r in runner.records} == {f"ood:{kind.value}" for kind in OodKind}
    amounts = [body["amount"] for body in target.bodies]
    assert all(0 <= amount <= 1000 for amount in amounts), "within the declared bounds"
    assert max(amounts) > 40, "beyond anything the dataset holds (0..40)"


def test_an_empty_replay_sends_clean_requests(
    target: FakeTarget, make_spec: Callable[..., LoadSpec], runners: Runners
) -> None:
    runner = run_to_end(runners, make_spec(target.url, inputs=(window(ReplaySend(samples=())),)))
    assert runner.records and all(r.input is None for r in runner.records)


@pytest.mark.parametrize("field", ["flagged", "shed"])
def test_review_and_shed_flags_are_read_from_the_answer(
    field: str, target: FakeTarget, make_spec: Callable[..., LoadSpec], runners: Runners
) -> None:
    spec = make_spec(target.url, review_field="review", shed_field="header:X-Shed")  # the reference mapping's
    runner = run_to_end(runners, spec)
    values = {getattr(r, field) for r in runner.records}
    # the fake answers {"review": false} and says nothing about shedding
    assert values == ({False} if field == "flagged" else {None})


def test_mutated_request_count_is_bounded_by_what_the_child_sent(
    target: FakeTarget, make_spec: Callable[..., LoadSpec], runners: Runners
) -> None:
    runner = run_to_end(
        runners, make_spec(target.url, inputs=(window(SMALL, share=0.3),), request_schema=SCHEMA)
    )
    assert runner.sent == len(runner.records) == target.count
    assert 0 < sum(r.input is not None for r in runner.records) < len(runner.records)
    assert all(not r.input or r.input.startswith("corrupt:") for r in itertools.chain(runner.records))


def test_bad_input_handling_counts_every_corrupted_request_the_server_got(
    target: FakeTarget, make_spec: Callable[..., LoadSpec], runners: Runners
) -> None:
    """From the server's bytes through the child's records to the verifier's per-mutator table, nothing is lost."""
    spec = make_spec(target.url, duration_s=2.0, users=3, inputs=(window(SMALL),), request_schema=SCHEMA)
    runner = run_to_end(runners, spec)
    assert runner.started_at is not None
    start, end = runner.started_at, runner.started_at + 4.0
    # The fake target has no health endpoints; the liveness samples the verifier also requires are made up here.
    probes = pd.DataFrame(
        {"ts": [start, start + 1, end], "check": ["live"] * 3, "ok": [True] * 3, "value": ["200"] * 3}
    )
    recording = Recording(
        requests=records_frame(runner.records),
        probes=probes.reindex(columns=empty_probes().columns),
        phases=(),
        faults=(FaultWindow("f", "corrupted_inputs", start, end, False),),
        started_at=start,
        ended_at=end,
        steady_state=SteadyState(),
    )
    verdict = bad_input_handling.verify(
        recording, bad_input_handling.BadInputHandling(type="bad_input_handling", fault="f")
    )
    assert verdict.table is not None
    sent = {row[0]: row[1] for row in verdict.table.rows}
    made = {
        out.body: mutator.value
        for mutator in Mutator
        for clean in DATASET
        for out in [mutate(mutator, clean.body, SMALL, SCHEMA)]
    }
    assert sent == Counter(made[raw] for raw, _ in target.raw)
    # the fake answers parseable corruptions with an unflagged 200 and an empty body with a plain-text 400
    assert not verdict.passed and "empty_body" in verdict.explanation
