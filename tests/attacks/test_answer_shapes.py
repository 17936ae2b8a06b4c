"""The attack's query against services unlike the reference stack: answers read through the target's response
mapping (nested JSON with list indices, headers), no score at all, nested request features — and a service
that drips its answer, which the total deadline cuts off."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from mlchaos.experiments.attacks import FeatureRange, QueryFailedError, boundary_attack
from mlchaos.experiments.attacks.target import http_query

Respond = Callable[[dict[str, Any], BaseHTTPRequestHandler], None]


def send_json(handler: BaseHTTPRequestHandler, document: Any, headers: dict[str, str] | None = None) -> None:
    raw = json.dumps(document).encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(raw)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(raw)


def risk(body: dict[str, Any]) -> float:
    """The checkout scorer's model: value and basket size, nested in the request."""
    return float(body["txn"]["value"]) / 1000 + float(body["items"][0]["qty"]) / 10


def checkout_answer(body: dict[str, Any], handler: BaseHTTPRequestHandler) -> None:
    """A KServe-like answer: no top-level prediction; the decision in a header, class scores in a nested list."""
    score = min(risk(body), 1.0)
    decision = "review" if score > 0.6 else "approve"
    send_json(handler, {"outputs": [{"data": [1 - score, score]}]}, {"X-Decision": decision})


@pytest.fixture
def serve() -> Iterator[Callable[[Respond], str]]:
    servers: list[ThreadingHTTPServer] = []

    def start(respond: Respond) -> str:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms wait for an ACK

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                respond(body, self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


CLEAN = {"txn": {"value": 200.0, "currency": "EUR"}, "items": [{"qty": 2, "sku": "a-1"}], "channel": "web"}


def test_prediction_from_a_header_and_score_from_a_list_index(serve: Callable[[Respond], str]) -> None:
    url = serve(checkout_answer)
    with http_query(url, "/v2/score", {}, 5, "header:X-Decision", "outputs.0.data.1") as query:
        answer = query(CLEAN)
    assert answer.prediction == "approve" and answer.score == pytest.approx(0.4)


def test_a_prediction_that_is_a_number_reads_as_the_load_records_it(serve: Callable[[Respond], str]) -> None:
    url = serve(lambda body, handler: send_json(handler, {"outputs": [{"data": [0, 1]}]}))
    with http_query(url, "/", {}, 5, "outputs.0.data.1") as query:
        assert query(CLEAN).prediction == "1" and query(CLEAN).score is None


def test_an_answer_without_the_prediction_is_a_failed_query(serve: Callable[[Respond], str]) -> None:
    url = serve(checkout_answer)
    with (
        http_query(url, "/", {}, 5, "outputs.1.data.0") as query,
        pytest.raises(QueryFailedError, match=r"no 'outputs\.1\.data\.0'"),
    ):
        query(CLEAN)
    with (
        http_query(url, "/", {}, 5, "header:X-Verdict") as query,
        pytest.raises(QueryFailedError, match="headers"),
    ):
        query(CLEAN)


def test_the_attack_moves_nested_features_on_predictions_alone(serve: Callable[[Respond], str]) -> None:
    """No score field is declared: the boundary search needs only the decision."""
    url = serve(checkout_answer)
    clean = [
        {**CLEAN, "txn": {"value": value, "currency": "EUR"}, "items": [{"qty": qty, "sku": "a-1"}]}
        for value, qty in ((150.0, 3), (300.0, 2), (500.0, 2), (50.0, 1))
    ]
    features = (FeatureRange("txn.value", 0, 1000), FeatureRange("items.0.qty", 1, 9, integer=True))
    with http_query(url, "/", {}, 5, "header:X-Decision") as query:
        result = boundary_attack(clean, features, query, budget=150, seed=4, max_distance=0.5)
    assert result.samples, "the decision boundary is within reach"
    for sample in result.samples:
        moved = sample.adversarial
        assert ("review" if risk(moved) > 0.6 else "approve") == sample.adversarial_prediction
        assert sample.adversarial_prediction != sample.clean_prediction
        assert (
            moved["channel"] == "web"
            and moved["txn"]["currency"] == "EUR"
            and moved["items"][0]["sku"] == "a-1"
        )
        assert isinstance(moved["items"][0]["qty"], int)


def drip(where: str) -> Respond:
    """Answers one byte every 0.1 s — each read well within any per-read timeout — for 6 s in all."""

    def respond(_body: dict[str, Any], handler: BaseHTTPRequestHandler) -> None:
        raw = b'{"prediction": "approve", "pad": "' + b"x" * 60 + b'"}'
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(raw)
        slow, fast = (head, raw) if where == "headers" else (raw, head)
        try:
            if where == "body":
                handler.wfile.write(fast)
            for byte in slow:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
                time.sleep(0.1)
            if where == "headers":
                handler.wfile.write(fast)
        except OSError:  # the client gave up: what the test expects
            pass

    return respond


@pytest.mark.parametrize("where", ["headers", "body"])
def test_a_dripped_answer_is_cut_off_at_the_total_deadline(
    serve: Callable[[Respond], str], where: str
) -> None:
    url = serve(drip(where))
    with (
        http_query(url, "/", {}, 1.0) as query,
        pytest.raises(QueryFailedError, match=r"no complete answer within 1s"),
    ):
        query(CLEAN)


def test_after_a_deadline_the_next_query_gets_a_fresh_connection(serve: Callable[[Respond], str]) -> None:
    slow_first = {"calls": 0}

    def respond(body: dict[str, Any], handler: BaseHTTPRequestHandler) -> None:
        slow_first["calls"] += 1
        if slow_first["calls"] == 1:
            drip("body")(body, handler)
        else:
            checkout_answer(body, handler)

    url = serve(respond)
    with http_query(url, "/", {}, 1.0, "header:X-Decision") as query:
        with pytest.raises(QueryFailedError, match="no complete answer"):
            query(CLEAN)
        assert query(CLEAN).prediction == "approve"
