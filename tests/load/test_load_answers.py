"""Reading a response's answer columns with the target's response mapping (no Locust: plain response objects)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict

from mlchaos.experiments.http_bounds import AnswerTooLarge, DeadlinePassed
from mlchaos.experiments.load.answers import NOT_JSON_2XX, AnswerReader, parse_json
from mlchaos.experiments.load.spec import LoadSpec

REFERENCE_ANSWER = {"tier": "primary", "confidence": 0.9, "prediction": "legit", "score": 0.1, "review": True}


@dataclass
class Response:
    content: bytes
    headers: CaseInsensitiveDict[str] = field(default_factory=CaseInsensitiveDict)


def reader(**fields: Any) -> AnswerReader:
    return AnswerReader(
        LoadSpec(base_url="http://127.0.0.1:1", users=1, spawn_rate=1, duration_s=1, **fields)
    )


def answer(body: Any, headers: dict[str, str] | None = None) -> Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Response(content, CaseInsensitiveDict(headers or {}))


def test_a_mapping_with_nested_paths_list_indices_and_a_header() -> None:
    read = reader(
        tier_field="header:x-served-by",
        confidence_field="outputs.0.data.1",
        prediction_field="result.label",
        score_field="outputs.0.data.1",
        review_field="result.flags.review",
        shed_field="header:X-Overload",
    )
    body = {"outputs": [{"data": [0.12, 0.88]}], "result": {"label": "fraud", "flags": {"review": 1}}}
    response = answer(body, {"X-Served-By": "gold", "X-Overload": "true"})
    assert read.read(200, response, None) == ("gold", 0.88, "fraud", 0.88, True, True, None)


def test_fields_the_target_does_not_map_are_not_read_from_anywhere() -> None:
    """No fallback to the reference stack's conventions (``review``/``shed`` fields, ``X-Review``/``X-Shed``)."""
    body = {**REFERENCE_ANSWER, "shed": True}
    response = answer(body, {"X-Review": "1", "X-Shed": "1"})
    assert reader().read(200, response, None) == ("primary", 0.9, "legit", None, None, None, None)
    mapped = reader(score_field="score", review_field="review", shed_field="header:X-Shed")
    assert mapped.read(200, response, None) == ("primary", 0.9, "legit", 0.1, True, True, None)


@pytest.mark.parametrize(
    ("status", "body", "headers", "error"),
    [
        pytest.param(200, b"<html>ok</html>", {}, NOT_JSON_2XX, id="2xx-not-json"),
        pytest.param(200, b"", {}, NOT_JSON_2XX, id="2xx-empty"),
        pytest.param(200, {"label": "x"}, {}, "2xx without the tier field 'tier'", id="2xx-no-tier"),
        pytest.param(200, REFERENCE_ANSWER, {}, None, id="2xx-readable"),
        pytest.param(
            302, b"", {"Location": "http://127.0.0.2/p"}, "redirect to http://127.0.0.2/p, not followed"
        ),
        pytest.param(304, b"", {}, "HTTP 304", id="3xx-without-location"),
        pytest.param(422, {"error": "bad"}, {}, "HTTP 422", id="4xx-json"),
        pytest.param(400, b"bad request", {}, "HTTP 400: body is not JSON", id="4xx-not-json"),
        pytest.param(400, [1, 2], {}, "HTTP 400: body is not JSON", id="4xx-json-not-an-object"),
        pytest.param(503, b"down", {}, "HTTP 503", id="5xx"),
    ],
)
def test_what_the_error_column_says(
    status: int, body: Any, headers: dict[str, str], error: str | None
) -> None:
    assert reader().read(status, answer(body, headers), None)[-1] == error


def test_a_2xx_whose_tier_is_read_from_a_header_need_not_have_a_json_body() -> None:
    read = reader(tier_field="header:X-Tier", confidence_field="header:X-C", prediction_field="header:X-P")
    response = answer(b"plain text", {"X-Tier": "gold"})
    assert read.read(200, response, None) == ("gold", None, None, None, None, None, None)
    missing = read.read(200, answer(b"", {}), None)
    assert missing[-1] == "2xx without the tier field 'header:X-Tier'"


def test_a_2xx_with_an_exception_says_the_exception_and_leaves_the_body_alone() -> None:
    class Unread:
        headers = CaseInsensitiveDict({"X-Tier": "gold"})

        @property
        def content(self) -> bytes:
            raise AssertionError("the body of a request that failed is not read")

    failed = reader(tier_field="header:X-Tier").read(
        200, Unread(), ValueError("marked failed by the locustfile")
    )
    assert failed[0] == "gold" and failed[-1] == "ValueError: marked failed by the locustfile"


class Unreadable:
    """A response whose body must not be touched: reading it would be reading past a bound."""

    headers = CaseInsensitiveDict({"X-Tier": "gold"})

    @property
    def content(self) -> bytes:
        raise AssertionError("the body of a request past its deadline or cap was read")


@pytest.mark.parametrize("status", [200, 404, 500])
@pytest.mark.parametrize(
    ("bound", "error"),
    [
        (DeadlinePassed(5.0), "DeadlinePassed: no complete answer within 5s"),
        (AnswerTooLarge(1024), "AnswerTooLarge: answer larger than 1024 bytes"),
    ],
)
def test_a_request_past_a_bound_is_that_error_whatever_its_status(
    status: int, bound: Exception, error: str
) -> None:
    assert reader(tier_field="header:X-Tier").read(status, Unreadable(), bound) == (None,) * 6 + (error,)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_answers_are_parsed_as_the_json_module_parses_them(value: Any) -> None:
    """orjson reads the answers now (it is several times faster); every value within 64 bits must come out as
    before (larger integers: the next test)."""
    content = json.dumps(value).encode()
    assert parse_json(content) == (json.loads(content), True)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(b'{"confidence": NaN}', {"confidence": math.nan}, id="nan"),
        pytest.param(b'{"confidence": -Infinity}', {"confidence": -math.inf}, id="infinity"),
        pytest.param(b'{"tier": "a", "tier": "b"}', {"tier": "b"}, id="duplicate-key"),
        pytest.param(b'{"label": "\\ud800"}', {"label": "\ud800"}, id="lone-surrogate"),
        pytest.param(b"[" * 2000 + b"]" * 2000, None, id="too-deep"),
        pytest.param(b"\xff\xfe{}", None, id="not-utf8"),
        pytest.param(b"{'single': 1}", None, id="not-json"),
    ],
)
def test_what_orjson_refuses_the_json_module_decides_as_before(content: bytes, expected: Any) -> None:
    doc, is_json = parse_json(content)
    assert is_json == (expected is not None)
    if expected is not None:
        assert json.dumps(doc) == json.dumps(expected)  # NaN == NaN only as text
    a_nan_confidence = reader().read(200, answer(b'{"tier": "primary", "confidence": NaN}'), None)
    assert math.isnan(a_nan_confidence[1] or 0.0) and a_nan_confidence[-1] is None


def test_an_integer_beyond_64_bits_is_recorded_as_written() -> None:
    big = 123456789012345678901234567890
    read = reader(score_field="score")
    body = {"tier": big, "confidence": big, "prediction": -big, "score": 0.5}
    assert read.read(200, answer(body), None) == (str(big), float(big), str(-big), 0.5, None, None, None)
    genuine_floats = {"tier": 1.5, "confidence": 0.5, "prediction": 2e30}
    assert reader().read(200, answer(genuine_floats), None)[:3] == ("1.5", 0.5, "2e+30")
