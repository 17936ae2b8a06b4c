"""How one HTTP response becomes the answer columns of its request row: the target's response mapping, applied.

The target declares where its answers say what they are (``TargetEndpoints.response``: tier, confidence,
prediction, and optionally score, review, shed — JSON paths or ``header:NAME``); the load spec carries those
specs and :class:`AnswerReader` reads them, one prepared reader per field. Undeclared optional fields are not
read: their columns stay empty rather than guessed from the reference stack's conventions.

``error`` is what the verifiers tell good answers from the rest by, besides the status:

=====================  ========================================================================================
status                 error
=====================  ========================================================================================
0                      the exception (``TimeoutError: timed out``), or ``no response``; a request still
                       waiting when the load stopped: ``timed out: no answer yet when the load stopped (…)``
any, past a bound      ``DeadlinePassed: no complete answer within Ns`` (``request_timeout``), or
                       ``AnswerTooLarge: answer larger than N bytes`` (``max_response_bytes``): whatever the status,
                       the answer was not read
2xx, readable          ``None``
2xx, body not JSON     ``2xx but body is not JSON`` (only when a field is read from the body)
2xx, no tier           ``2xx without the tier field 'SPEC'``: not an answer the mapping can read (say a request a
                       team's locustfile makes to another endpoint)
2xx + exception        the exception: the body did not arrive, or the locustfile's own check failed the request
3xx                    ``redirect to LOCATION, not followed`` (the load follows redirects on the same host only)
4xx                    ``HTTP 4xx``, or ``HTTP 4xx: body is not JSON`` when the rejection does not explain itself
5xx                    ``HTTP 5xx``
=====================  ========================================================================================

No Locust here: both Locust clients' responses (FastHttpUser's and HttpUser's) have ``content`` and ``headers``,
which is all this reads, and tests feed it plain objects.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import orjson

from mlchaos.experiments.http_bounds import AnswerTooLarge, DeadlinePassed
from mlchaos.experiments.load import wire
from mlchaos.experiments.load.spec import LoadSpec
from mlchaos.experiments.redaction import redact_text

Answer = tuple[str | None, float | None, str | None, float | None, bool | None, bool | None, str | None]
"""``(tier, confidence, prediction, score, flagged, shed, error)``, in the wire's column order."""

NOT_JSON_2XX = "2xx but body is not JSON"
NOT_JSON_4XX = "body is not JSON"
"""The suffix of a 4xx's error when its body is not a JSON object (``HTTP 400: body is not JSON``)."""

_decode_json = json.JSONDecoder().decode


def parse_json(content: bytes) -> tuple[Any, bool]:
    """``(document, True)``, or ``(None, False)`` when ``content`` is not JSON.

    orjson reads a typical answer about five times faster than the json module, and this runs for every answer
    of the load. What orjson refuses goes to the json module, which decides as it always did: it also reads
    ``NaN`` and ``Infinity`` (a target may report them; they are recorded as read) and lone surrogate escapes.
    On everything else they agree (tests/load/test_load_answers.py) but for integers beyond 64 bits, which
    orjson reads as floats: :func:`exact_json` reads those as written, where it matters.
    """
    try:
        return orjson.loads(content), True
    except orjson.JSONDecodeError:
        pass
    # not JSON: ValueError (UnicodeDecodeError included), or nested too deep for the decoder
    with contextlib.suppress(ValueError, RecursionError):
        # str first: json.loads(bytes) sniffs the encoding and costs ~3x more per response
        return _decode_json(content.decode()), True
    return None, False


def exact_json(content: bytes) -> Any:
    """``content`` parsed by the json module, every integer as written (``content`` is known to be JSON)."""
    return _decode_json(content.decode())


def _not_read(_doc: Any, _headers: Any) -> None:
    return None


class AnswerReader:
    """Reads a response's answer columns with a load spec's response mapping."""

    def __init__(self, spec: LoadSpec) -> None:
        self._tier_spec = spec.tier_field
        self._tier = wire.field_reader(spec.tier_field)
        self._confidence = wire.field_reader(spec.confidence_field)
        self._prediction = wire.field_reader(spec.prediction_field)
        optional = (spec.score_field, spec.review_field, spec.shed_field)
        self._score, self._review, self._shed = (
            _not_read if field is None else wire.field_reader(field) for field in optional
        )
        read = (spec.tier_field, spec.confidence_field, spec.prediction_field)
        self._parse_body = wire.needs_body(*read, *(field for field in optional if field is not None))

    def read(self, status: int, response: Any, exception: BaseException | None) -> Answer:
        """The answer columns of a response with HTTP ``status`` (not 0: there was a response)."""
        if isinstance(exception, (DeadlinePassed, AnswerTooLarge)):  # its body is not to be read
            return (None, None, None, None, None, None, wire.describe(exception))
        headers = response.headers
        doc, is_json = None, False
        # A 4xx is parsed even when no field is read from the body: a rejection must explain itself in JSON.
        if (self._parse_body or 400 <= status < 500) and not (exception is not None and status < 300):
            # (a 2xx with an exception is not read: its body may never have arrived)
            content = response.content
            if content:
                doc, is_json = parse_json(content)
        tier_value, prediction_value = self._tier(doc, headers), self._prediction(doc, headers)
        if is_json and (type(tier_value) is float or type(prediction_value) is float):
            # recorded as text, so as written: orjson would have turned an integer beyond 64 bits into a float
            doc = exact_json(content)
            tier_value, prediction_value = self._tier(doc, headers), self._prediction(doc, headers)
        tier = wire.as_text(tier_value)
        answer_error: str | None = None
        if status >= 400:
            if status < 500 and not isinstance(doc, dict):
                answer_error = f"HTTP {status}: {NOT_JSON_4XX}"
            else:
                answer_error = f"HTTP {status}"
        elif status >= 300:
            answer_error = _redirect_error(status, headers)
        elif exception is not None:
            answer_error = wire.describe(exception)
        elif self._parse_body and not is_json:
            answer_error = NOT_JSON_2XX
        elif tier is None:
            answer_error = f"2xx without the tier field '{self._tier_spec}'"[: wire.ERROR_MAX_CHARS]
        return (
            tier,
            wire.as_float(self._confidence(doc, headers)),
            wire.as_text(prediction_value),
            wire.as_float(self._score(doc, headers)),
            wire.as_flag(self._review(doc, headers)),
            wire.as_flag(self._shed(doc, headers)),
            answer_error,
        )


def _redirect_error(status: int, headers: Any) -> str:
    location = headers.get("location") if headers is not None else None
    if isinstance(location, list):
        location = location[0] if location else None
    if not location:
        return f"HTTP {status}"
    return f"redirect to {redact_text(str(location))}, not followed"[: wire.ERROR_MAX_CHARS]
