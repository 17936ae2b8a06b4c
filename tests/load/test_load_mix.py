"""Mixing input faults into each user's requests, without starting any load: determinism, shares, shifts."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from support.cli_runs import ROOT

from mlchaos.experiments.inputs import (
    CorruptSend,
    CovariateSend,
    InputWindow,
    LabelPriorSend,
    MetamorphicSend,
    Mutator,
    OodKind,
    OodSend,
    Outgoing,
    Relation,
)
from mlchaos.experiments.inputs.inference import resolve_schema
from mlchaos.experiments.load.bodies import BodyError, body_source
from mlchaos.experiments.load.mix import InputMixer
from mlchaos.experiments.load.spec import LoadSpec, RequestTemplate
from mlchaos.experiments.loader import load_scenario
from mlchaos.experiments.targets import REFERENCE_DECLARATION
from mlchaos.injectors.metamorphic import Metamorphic
from mlchaos.staging.schemas import PredictRequest

ROWS = tuple(
    RequestTemplate(
        body={
            "entity_id": f"u{i:04d}",
            "amount": 20.0 + i,
            "hour": 10,
            "merchant_risk": 0.2,
            "is_foreign": False,
        },
        label="fraud" if i % 5 == 0 else "legit",
    )
    for i in range(20)
)


SCHEMA = resolve_schema(
    REFERENCE_DECLARATION.request, bodies=[row.body for row in ROWS], openapi=None, predict_path="/predict"
)


def spec(*sends: Any, share: float = 1.0, seed: int = 7) -> LoadSpec:
    windows = tuple(
        InputWindow(fault_id=f"f{i}", start_s=0, end_s=100, share=share, send=send)
        for i, send in enumerate(sends)
    )
    return LoadSpec(
        base_url="http://127.0.0.1:1",
        users=2,
        spawn_rate=2,
        duration_s=1,
        requests=ROWS,
        seed=seed,
        inputs=windows,
        request_schema=SCHEMA,
    )


def first(load: LoadSpec, n: int, user: int = 0, at_s: float = 1.0) -> list[Outgoing]:
    stream = InputMixer(load).for_user(user, body_source(load).for_user(user), lambda: at_s)
    return list(itertools.islice(stream, n))


def test_a_user_sends_the_same_mix_on_every_run_with_the_same_seed() -> None:
    load = spec(CorruptSend(mutators=tuple(Mutator)), share=0.4)
    assert first(load, 50) == first(load, 50)
    assert first(load, 50) != first(load, 50, user=1)
    assert first(load, 50) != first(spec(CorruptSend(mutators=tuple(Mutator)), share=0.4, seed=8), 50)


def test_outside_its_window_a_fault_sends_nothing() -> None:
    load = spec(CorruptSend(mutators=(Mutator.NAN,)))
    assert all(out.input is None for out in first(load, 20, at_s=100.0))
    assert all(out.input == "corrupt:nan" for out in first(load, 20, at_s=50.0))


def test_the_share_is_honoured() -> None:
    sent = first(spec(CorruptSend(mutators=(Mutator.NAN,)), share=0.25), 2000)
    assert 0.2 < sum(o.input is not None for o in sent) / len(sent) < 0.3


def test_a_covariate_shift_moves_features_and_keeps_integers_integers() -> None:
    send = CovariateSend(
        scale={"amount": 3, "hour": 2}, offset={"merchant_risk": 0.5}, swap=("hour", "amount")
    )
    for out in first(spec(send), 10):
        body = json.loads(out.body)
        assert out.input == "shift:covariate" and out.label is None
        assert body["hour"] >= 60 and isinstance(body["amount"], int) and body["amount"] == 20
        assert body["merchant_risk"] == 0.7


def test_a_label_prior_shift_redraws_the_canary_mix() -> None:
    sent = first(spec(LabelPriorSend(fraud_share=0.8)), 1000)
    assert all(o.input == "shift:label_prior" for o in sent)
    assert 0.75 < sum(o.label == "fraud" for o in sent) / len(sent) < 0.85  # the dataset has 20% fraud


def test_a_label_prior_shift_needs_labelled_rows_of_the_class_it_wants() -> None:
    load = spec(LabelPriorSend(fraud_share=0.5, positive_label="chargeback"))
    with pytest.raises(BodyError, match="label 'chargeback'"):
        InputMixer(load)


@pytest.mark.parametrize("kind", list(OodKind))
def test_ood_inputs_pass_the_schema(kind: OodKind) -> None:
    for out in first(spec(OodSend(kinds=(kind,))), 30):
        assert out.input == f"ood:{kind.value}"
        PredictRequest.model_validate_json(out.body)  # valid: OOD tests routing, not validation


CATALOGUE_RELATIONS = next(
    fault.relations
    for fault in load_scenario(ROOT / "scenarios" / "adversarial-samples.yaml").scenario.faults
    if isinstance(fault, Metamorphic)
)


@pytest.mark.parametrize("relation", CATALOGUE_RELATIONS, ids=lambda r: r.name)
def test_the_catalogues_relations_make_valid_pairs_that_differ_only_by_their_field(
    relation: Relation,
) -> None:
    original, transformed = first(spec(MetamorphicSend(relations=(relation,))), 2)
    assert original.pair == transformed.pair and original.pair
    assert (original.expected, transformed.expected) == ("original", relation.expect.value)
    a, b = json.loads(original.body), json.loads(transformed.body)
    PredictRequest.model_validate(a)
    PredictRequest.model_validate(b)
    changed = {k for k in a.keys() | b.keys() if a.get(k) != b.get(k) or type(a.get(k)) is not type(b.get(k))}
    assert changed == ({relation.field_path} if relation.field_path else set())
    if relation.field_path is None:  # the same JSON, written another way
        assert original.body != transformed.body
