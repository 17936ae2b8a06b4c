"""The target's prediction endpoint as a :data:`~mlchaos.experiments.attacks.boundary.Query`: one call, one POST.

Any answer other than a 200 JSON object carrying a string prediction is a :class:`QueryFailedError` (the attack
counts it and treats the point as not adversarial); so is a transport error or a timeout. Request headers (API
keys, tenant ids) stay in the client: they never appear in what the attack returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any

import httpx

from mlchaos.experiments.attacks.boundary import Answer, QueryFailedError


class HttpQuery:
    """POSTs each body as JSON to ``base_url + path`` over one keep-alive connection; close it when done (or use it
    as a context manager)."""

    def __init__(
        self,
        base_url: str,
        path: str,
        headers: Mapping[str, str],
        timeout_s: float,
        prediction_field: str = "prediction",
        score_field: str = "score",
    ) -> None:
        self._client = httpx.Client(base_url=base_url, headers=dict(headers), timeout=timeout_s)
        self._path = path
        self._prediction_field = prediction_field
        self._score_field = score_field

    def __call__(self, body: Mapping[str, Any]) -> Answer:
        try:
            response = self._client.post(self._path, json=dict(body))
        except httpx.HTTPError as exc:
            raise QueryFailedError(f"POST {self._path}: {type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise QueryFailedError(f"POST {self._path}: HTTP {response.status_code}")
        try:
            payload = response.json()
        except ValueError as exc:
            raise QueryFailedError(f"POST {self._path}: the answer is not JSON") from exc
        prediction = payload.get(self._prediction_field) if isinstance(payload, dict) else None
        if not isinstance(prediction, str):
            raise QueryFailedError(
                f"POST {self._path}: no string field {self._prediction_field!r} in the answer"
            )
        score = payload.get(self._score_field)
        number = isinstance(score, int | float) and not isinstance(score, bool)
        return Answer(prediction, float(score) if number else None)

    def close(self) -> None:
        self._client.close()

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
    score_field: str = "score",
) -> HttpQuery:
    """The target's ``path`` as a query function for :func:`~mlchaos.experiments.attacks.boundary.boundary_attack`."""
    return HttpQuery(base_url, path, headers, timeout_s, prediction_field, score_field)
