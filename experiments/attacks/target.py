"""The target's prediction endpoint as a :data:`~mlchaos.experiments.attacks.boundary.Query`: one call, one POST.

The answer is read through the target's response mapping (``response.prediction``, ``response.score``: a JSON
field, a nested path such as ``outputs.0.data.1``, or ``header:NAME``) with the load's own field readers
(:func:`mlchaos.experiments.load.wire.field_reader`), and a prediction is turned into text the way the load
records it — so the attack's ``expected`` answers compare equal to what the load records later. The score is
optional: the boundary search needs only the prediction.

Anything but a 200 carrying a prediction is a :class:`QueryFailedError` (the attack counts it and treats the point
as not adversarial); so is a transport error, an answer larger than the load's ``max_response_bytes``, and a
request still unanswered at its deadline. The requests are bounded as all of mlchaos' requests to a target are
(:func:`mlchaos.experiments.signal_reading.post`): the deadline is total — connecting, sending and reading the
whole answer — not per read, so a server that drips its answer a byte at a time cannot hold the attack, and the
answer is read in pieces and given up past the cap. Request headers (API keys, tenant ids) stay in the session:
they never appear in what the attack returns.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import requests

from mlchaos.experiments.attacks.boundary import Answer, QueryFailedError
from mlchaos.experiments.http_bounds import DEFAULT_MAX_RESPONSE_BYTES
from mlchaos.experiments.load import wire
from mlchaos.experiments.signal_reading import SignalReadError, post


class HttpQuery:
    """POSTs each body as JSON to ``base_url + path`` over kept-alive connections, each request within
    ``timeout_s`` in all and its answer at most ``max_bytes``; close it when done (or use it as a context
    manager)."""

    def __init__(
        self,
        base_url: str,
        path: str,
        headers: Mapping[str, str],
        timeout_s: float,
        prediction_field: str = "prediction",
        score_field: str | None = None,
        max_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self._session = requests.Session()
        self._session.headers.update(headers)
        self._url = base_url.rstrip("/") + path
        self._path = path
        self._timeout_s = timeout_s
        self._max_bytes = max_bytes
        self._prediction = wire.field_reader(prediction_field)
        self._prediction_field = prediction_field
        self._score = wire.field_reader(score_field) if score_field is not None else None
        self._needs_body = wire.needs_body(prediction_field, *(() if score_field is None else (score_field,)))

    def __call__(self, body: Mapping[str, Any]) -> Answer:
        content = json.dumps(dict(body), separators=(",", ":")).encode()
        try:
            answer = post(
                self._session, self._url, content, deadline_s=self._timeout_s, max_bytes=self._max_bytes
            )
        except SignalReadError as exc:
            raise QueryFailedError(f"POST {self._path}: {exc}") from exc
        if answer.status != 200:
            raise QueryFailedError(f"POST {self._path}: HTTP {answer.status}")
        document: Any = None
        if self._needs_body:
            try:
                document = json.loads(answer.text)
            except ValueError:
                document = None
        prediction = wire.as_text(self._prediction(document, answer.headers))
        if prediction is None:
            where = "JSON answer" if self._needs_body else "answer's headers"
            raise QueryFailedError(f"POST {self._path}: no {self._prediction_field!r} in the {where}")
        score = wire.as_float(self._score(document, answer.headers)) if self._score is not None else None
        return Answer(prediction, score)

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> HttpQuery:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


def http_query(
    base_url: str,
    path: str,
    headers: Mapping[str, str],
    timeout_s: float,
    prediction_field: str = "prediction",
    score_field: str | None = None,
    max_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
) -> HttpQuery:
    """The target's ``path`` as a query function for :func:`~mlchaos.experiments.attacks.boundary.boundary_attack`."""
    return HttpQuery(base_url, path, headers, timeout_s, prediction_field, score_field, max_bytes)
