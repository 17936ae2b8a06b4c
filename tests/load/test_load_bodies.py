"""Request bodies, in-process: no child, no network, milliseconds."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from mlchaos.experiments.load.bodies import BodyError, DatasetBodies, body_source, entity, first_bodies
from mlchaos.experiments.load.spec import LoadSpec, RequestTemplate, Stage


def spec(**overrides: Any) -> LoadSpec:
    values: dict[str, Any] = {"base_url": "http://127.0.0.1:9", "users": 2, "spawn_rate": 1, "duration_s": 1}
    values.update(overrides)
    return LoadSpec(**values)


def test_entity_formats_ids_like_the_feature_store() -> None:
    assert entity(7) == "u0007"
    assert entity(12345) == "u12345"


def test_rendered_values_keep_their_native_types() -> None:
    template = {
        "n": "{{ randint(1, 3) }}",
        "x": "{{ uniform(0, 1) }}",
        "who": "{{ entity(user) }}",
        "tags": ["{{ choice(['a', 'b']) }}", 1],
        "nested": {"on": "{{ seq % 2 == 0 }}", "const": {"k": [1, 2]}},
        "text": "id-{{ seq }}",
        "digits": "007",
    }
    bodies = first_bodies(body_source(spec(template=template)), index=3, count=2)
    for seq, (body, label) in enumerate(bodies):
        assert label is None
        assert isinstance(body["n"], int) and 1 <= body["n"] <= 3
        assert isinstance(body["x"], float)
        assert body["who"] == "u0003"
        assert body["tags"][0] in {"a", "b"} and body["tags"][1] == 1
        assert body["nested"] == {"on": seq % 2 == 0, "const": {"k": [1, 2]}}
        assert body["text"] == f"id-{seq}"
        assert body["digits"] == "007"  # not a template: never turned into the int 7


def test_template_labels_see_the_rendered_body() -> None:
    s = spec(template={"a": "{{ randint(0, 9) }}"}, template_label="{{ 'high' if body.a > 4 else 'low' }}")
    for body, label in first_bodies(body_source(s), index=0, count=20):
        assert label == ("high" if body["a"] > 4 else "low")


def test_same_seed_same_bodies_other_seed_or_user_other_bodies() -> None:
    template = {"v": "{{ randint(0, 10**9) }}"}
    same = [first_bodies(body_source(spec(template=template, seed=1)), 0, 5) for _ in range(2)]
    assert same[0] == same[1]
    assert first_bodies(body_source(spec(template=template, seed=2)), 0, 5) != same[0]
    assert first_bodies(body_source(spec(template=template, seed=1)), 1, 5) != same[0]


@pytest.mark.parametrize(
    ("template", "message"),
    [
        pytest.param({"x": "{{ nope }}"}, r"body\.x: UndefinedError", id="unknown-name"),
        pytest.param({"a": {"b": ["{{ 1 + }}"]}}, r"body\.a\.b\[0\]: TemplateSyntaxError", id="syntax"),
        pytest.param(
            {"x": "{{ ''.__class__.__mro__ }}"}, r"body\.x: (SecurityError|UndefinedError)", id="sandbox"
        ),
        pytest.param({"x": "{{ randint('a', 2) }}"}, r"body\.x: ValueError", id="helper-raises"),
        pytest.param({"x": "{{ randint }}"}, "not JSON", id="not-json"),
    ],
)
def test_broken_templates_name_the_field(template: dict[str, Any], message: str) -> None:
    with pytest.raises(BodyError, match=message):
        body_source(spec(template=template))


def test_exactly_one_body_source_is_required() -> None:
    with pytest.raises(BodyError, match="needs request bodies"):
        body_source(spec())
    both = spec(template={"a": 1}, requests=(RequestTemplate(body={"a": 1}),))
    with pytest.raises(BodyError, match="both `requests` and `template`"):
        body_source(both)


def test_dataset_users_start_spread_out_and_cycle_in_order() -> None:
    rows = tuple(RequestTemplate(body={"i": i}, label=f"L{i}") for i in range(8))
    s = spec(requests=rows, users=2, stages=(Stage(at_s=1, users=4, spawn_rate=1),), seed=3)
    source = DatasetBodies(s)
    offsets = [source.offset(u) for u in range(4)]
    assert sorted((o - offsets[0]) % 8 for o in offsets) == [0, 2, 4, 6]  # a quarter of the way round each
    sequence = [(body["i"], label) for body, label in first_bodies(source, 1, 17)]
    assert sequence == [((offsets[1] + k) % 8, f"L{(offsets[1] + k) % 8}") for k in range(17)]
    assert DatasetBodies(s).offset(0) == offsets[0]  # deterministic under the seed


def test_dataset_bodies_are_encoded_once() -> None:
    rows = (RequestTemplate(body={"i": 1}),)
    users = DatasetBodies(spec(requests=rows))
    first, second = itertools.islice(users.for_user(0), 2)
    assert first[0] is second[0] == b'{"i":1}'
