from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from mlchaos.experiments.durations import PositiveSeconds, Seconds, format_seconds

SECONDS = TypeAdapter(Seconds)


@pytest.mark.parametrize(
    ("given", "seconds"),
    [(5, 5.0), (2.5, 2.5), ("500ms", 0.5), ("10s", 10.0), ("2m", 120.0), (" 3 s ", 3.0), ("0", 0.0)],
)
def test_durations_in_the_forms_authors_write(given: object, seconds: float) -> None:
    assert SECONDS.validate_python(given) == seconds


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("-5s", "cannot be negative"),
        (-1, "greater than or equal to 0"),
        ("soon", "expected a duration"),
        (True, "not a boolean"),
        ("5h", "expected a duration"),
    ],
)
def test_bad_durations_say_what_was_expected(given: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SECONDS.validate_python(given)


def test_positive_durations_refuse_zero() -> None:
    with pytest.raises(ValidationError, match="greater than 0"):
        TypeAdapter(PositiveSeconds).validate_python("0s")


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.25, "250ms"), (12.0, "12s"), (12.5, "12.5s"), (125, "2m05s")]
)
def test_format_seconds(seconds: float, text: str) -> None:
    assert format_seconds(seconds) == text
