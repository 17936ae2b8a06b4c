"""The child's stdout format and the readers for reported fields."""

from __future__ import annotations

import math

import pytest
from requests.structures import CaseInsensitiveDict

from mlchaos.experiments.load import wire
from mlchaos.experiments.records import REQUEST_COLUMNS


def test_row_order_is_the_request_schema_order() -> None:
    assert wire.COLUMNS == REQUEST_COLUMNS


def test_lines_round_trip() -> None:
    row = [1712345678.401203, 3.214, 200, "primary", 0.9, "legit", None, "fraud"]
    assert wire.decode(wire.encode_started(12.5)) == wire.Started(12.5)
    assert wire.decode(wire.encode_batch(13.0, 4, [row])) == wire.Batch(13.0, 4, [row])
    assert wire.decode(wire.encode_done(7)) == wire.Done(7)
    assert wire.encode_batch(13.0, 4, [row]).count(b"\n") == 1


@pytest.mark.parametrize(
    "line", [b"hello\n", b'{"foo": 1}\n', b'{"records": []}\n', b"[1, 2]\n", b'"records"\n']
)
def test_anything_else_is_a_protocol_error(line: bytes) -> None:
    with pytest.raises(wire.ProtocolError):
        wire.decode(line)


def test_field_readers() -> None:
    headers = {"X-Tier": "cache", "X-Multi": ["a", "b"]}
    doc = {"tier": "primary", "result": {"score": 0.7}, "a.b": 1}
    assert wire.field_reader("header:X-Tier")(doc, headers) == "cache"
    assert wire.field_reader("header:X-Multi")(doc, headers) == "a"
    assert wire.field_reader("header:X-None")(doc, headers) is None
    assert wire.field_reader("header:X-Tier")(doc, None) is None
    assert wire.field_reader("tier")(doc, headers) == "primary"
    assert wire.field_reader("result.score")(doc, headers) == 0.7
    assert wire.field_reader("a.b")(doc, headers) == 1
    assert wire.field_reader("result.score.deeper")(doc, headers) is None
    assert wire.field_reader("tier")(None, headers) is None
    assert wire.field_reader("tier")(["not", "a", "dict"], headers) is None  # type: ignore[arg-type]
    assert not wire.needs_body("header:X-Tier", "header:X-Confidence")
    assert wire.needs_body("header:X-Tier", "confidence")


def test_field_readers_walk_list_indices() -> None:
    doc = {"outputs": [{"data": [0.12, 0.88]}], "0": {"x": 1}, "outputs.0": "a key with a dot"}
    assert wire.field_reader("outputs.0.data.1")(doc, None) == 0.88
    assert wire.field_reader("outputs.0.data.0")(doc, None) == 0.12
    assert wire.field_reader("outputs.0.data.2")(doc, None) is None  # out of range
    assert wire.field_reader("outputs.-1.data.0")(doc, None) is None  # no negative indices
    assert wire.field_reader("outputs.first.data")(doc, None) is None  # a list has no keys
    assert wire.field_reader("outputs.0.data.1.x")(doc, None) is None  # nor has a number
    assert wire.field_reader("0.x")(doc, None) == 1  # a digit step on an object is a key
    assert wire.field_reader("0.tier")([{"tier": "gold"}], None) == "gold"  # a body that is a list
    assert wire.field_reader("outputs.0")(doc, None) == "a key with a dot"  # looked up as is first


def test_header_fields_are_case_insensitive_in_the_clients_header_mappings() -> None:
    headers = CaseInsensitiveDict({"X-Served-By": "gold"})  # requests' (HttpUser's); FastHttpUser's is alike
    assert wire.field_reader("header:x-served-by")(None, headers) == "gold"
    assert wire.field_reader("header:X-SERVED-BY")(None, headers) == "gold"


def test_value_coercion() -> None:
    assert wire.as_float("0.5") == 0.5 and wire.as_float(1) == 1.0
    assert wire.as_float(True) is None and wire.as_float("high") is None and wire.as_float(None) is None
    assert wire.as_text("fallback") == "fallback" and wire.as_text(1) == "1" and wire.as_text(True) == "true"
    assert wire.as_text(None) is None


def test_errors_are_short_and_unwrapped() -> None:
    class Wrapper(Exception):
        def __init__(self, original: BaseException) -> None:
            super().__init__("retries exceeded")
            self.original = original

    assert wire.describe(Wrapper(TimeoutError("timed out"))) == "TimeoutError: timed out"
    assert wire.describe(ConnectionResetError()) == "ConnectionResetError"
    assert len(wire.describe(ValueError("x" * 1000))) == wire.ERROR_MAX_CHARS


ROW = [
    1712345678.401203,
    3.214,
    200,
    "primary",
    0.9,
    "legit",
    None,
    "fraud",
    None,
    None,
    None,
    0.93,
    True,
    None,
]


@pytest.mark.parametrize(
    ("column", "value"),
    [
        pytest.param(4, math.nan, id="nan-confidence"),
        pytest.param(11, math.inf, id="infinite-score"),
        pytest.param(5, "légit ✓", id="non-ascii"),
    ],
)
def test_batches_carry_every_value_as_read(column: int, value: object) -> None:
    """orjson writes the batches now; what it would write wrongly (NaN and infinity become null) the json module
    writes, so each value reaches the recording as the child read it."""
    row = [*ROW[:column], value, *ROW[column + 1 :]]
    batch = wire.decode(wire.encode_batch(13.0, 4, [list(ROW), row]))
    assert isinstance(batch, wire.Batch) and batch.rows[0] == ROW
    assert repr(batch.rows[1]) == repr(row)  # NaN == NaN only as text


def test_a_lone_surrogate_in_an_answer_is_recorded_as_its_escape_text() -> None:
    """JSON may carry ``"\\ud800"``, which decodes to a text no UTF-8 (so no recording) can hold: the batch still
    goes through, the surrogate kept as the escape the service wrote."""
    row = [*ROW[:3], "gold\ud800", *ROW[4:]]
    batch = wire.decode(wire.encode_batch(13.0, 4, [row]))
    assert isinstance(batch, wire.Batch) and batch.rows[0][3] == "gold\\ud800"
    assert batch.rows[0][:3] == ROW[:3] and batch.rows[0][4:] == ROW[4:]
