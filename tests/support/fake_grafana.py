"""Grafana's annotation endpoint on 127.0.0.1, in the test process.

Grafana is not packaged for Debian here, so the tests cannot start a real one. What mlchaos relies on is small
and documented (Grafana's HTTP API, "Annotations": ``POST /api/annotations`` with a JSON body of ``time``,
``timeEnd`` in epoch milliseconds, ``tags`` and ``text``, authorised by ``Authorization: Bearer TOKEN``, answered
``{"message": "Annotation added", "id": N}``; a wrong token is answered 401): this server implements exactly that
and checks the token as Grafana does, so what it keeps is what Grafana would have stored. ``hang`` makes it
accept a request and never answer.

``from support.fake_grafana import fake_grafana``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from support.loopback_http import answer, serving


@dataclass
class FakeGrafana:
    url: str
    token: str
    annotations: list[dict[str, Any]] = field(default_factory=list)
    refused: int = 0
    hang: bool = False
    release: threading.Event = field(default_factory=threading.Event)
    """Set at the end, so a hanging handler thread ends with the server."""


@contextmanager
def fake_grafana(token: str) -> Iterator[FakeGrafana]:
    lock = threading.Lock()
    grafana: FakeGrafana

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if grafana.hang:
                grafana.release.wait(30)
                return
            if self.path != "/api/annotations":
                self._answer(404, {"message": "Not found"})
            elif self.headers.get("Authorization") != f"Bearer {grafana.token}":
                with lock:
                    grafana.refused += 1
                self._answer(401, {"message": "invalid API key"})
            else:
                with lock:
                    grafana.annotations.append(json.loads(body))
                    number = len(grafana.annotations)
                self._answer(200, {"message": "Annotation added", "id": number})

        def _answer(self, status: int, document: dict[str, Any]) -> None:
            answer(self, status, json.dumps(document).encode(), "application/json")

        def log_message(self, format: str, *args: Any) -> None:
            del format, args

    with serving(Handler) as url:
        grafana = FakeGrafana(url, token)
        try:
            yield grafana
        finally:
            grafana.release.set()
