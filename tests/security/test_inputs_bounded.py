"""Inputs that must not take the harness down or give secrets away (issue 13, attack 7), tried as they were.

Before: ``"{{ 7**100000 }}"`` in a body template made ``mlchaos validate`` exit 1 with a traceback (Jinja folded
the power into a constant at compile time and could not print it), ``"{{ 3**2000000000 }}"`` hung it, and a
token in the predict path's query string was written into report.html and the run's scenario.yaml. Now the
templates run in a bounded sandbox (refused at their line, in milliseconds), scenario files and datasets are
capped, and every output of a run masks secrets in URLs while the service still receives them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml
from support.cli_runs import run_mlchaos

from mlchaos.experiments import loader
from mlchaos.experiments.file_limits import MAX_DATASET_BYTES, MAX_YAML_BYTES
from mlchaos.experiments.load.bodies import BodyError, body_source
from mlchaos.experiments.load.spec import LoadSpec
from mlchaos.experiments.load.template_sandbox import MAX_BODY_BYTES
from mlchaos.experiments.redaction import MASK, redact_text

pytestmark = pytest.mark.timeout(120)  # only against a hang: nothing here is timed

TAIL = """\
faults:
  - {id: fs, type: feature_store_outage, duration: 10s}
verifiers:
  - {type: availability}
"""

# Each body field on its own line (the line the problem must be reported at) and what the message must say.
HOSTILE_TEMPLATES = [
    ("{{ 7**100000 }}", "at most 4,096 bits"),  # crashed validate with a traceback
    ("{{ 3**2000000000 }}", "at most 4,096 bits"),  # hung validate
    ("{{ 'x' * 10**10 }}", "more than 65,536 characters"),
    ("{{ 2**4000 * 2**4000 }}", "at most 4,096 bits"),
    ("{{ range(10**9)|list }}", "range of 1,000,000,000 numbers"),
    ("{{ [range(60000)|list] * 100000 }}", "more than 65,536 characters or items"),
    ("{{ range(60000)|join('x' * 60000) }}", "would be too long"),
    ("{{ ('ab' * 30000)|replace('a', 'aaaa') }}", "more than 65,536 characters"),
    ("{{ 'x'|center(10**9) }}", "no filter 'center'"),
    ("{{ '{:999999999}'.format(1) }}", "attribute 'format'"),
    ("{{ 'x'.ljust(10**9) }}", "attribute 'ljust'"),
    ("{{ '%999999999d' % 1 }}", "string formatting with %"),
    ("{{ lipsum(10**8) }}", "'lipsum' is undefined"),
    ("{% for i in range(60000) %}{% for j in range(60000) %}x{% endfor %}{% endfor %}", "{% for %} is not"),
]


def validate(*paths: Path) -> tuple[int, str]:
    done = run_mlchaos("validate", *map(str, paths), timeout_s=60)  # the timeout only stops a hang
    return done.returncode, done.stdout + done.stderr


def test_hostile_body_templates_are_refused_at_their_lines(tmp_path: Path) -> None:
    fields = "".join(f"    f{i}: {json.dumps(text)}\n" for i, (text, _) in enumerate(HOSTILE_TEMPLATES))
    ok = '    fine: "{{ entity(randint(1, 50)) }}-{{ (uniform(1, 500) * 2)|round(2) }}-{{ 10**6 }}"\n'
    path = tmp_path / "templates.yaml"
    path.write_text(f"name: tpl\nload:\n  body:\n{fields}{ok}{TAIL}", encoding="utf-8")
    code, output = validate(path)
    assert code == 2, output
    assert "Traceback" not in output
    problems = [line for line in output.splitlines() if line.startswith(str(path))]
    assert len(problems) == len(HOSTILE_TEMPLATES), output  # one each, and none for the fine field
    for i, (_, expected) in enumerate(HOSTILE_TEMPLATES):
        line = 4 + i
        [problem] = [p for p in problems if p.startswith(f"{path}:{line}:")]
        assert f"load.body.f{i}: template" in problem and expected in problem, problem


def test_templates_are_bounded_when_the_load_renders_them_too() -> None:
    # What a worker gets from the master, or a spec written by hand: the load's own check refuses it.
    spec = LoadSpec(
        base_url="http://127.0.0.1:9", users=1, spawn_rate=1, duration_s=1, template={"x": "{{ 7**100000 }}"}
    )
    with pytest.raises(BodyError, match=r"template field body\.x: TemplateLimit: 7 \*\* 100000"):
        body_source(spec)
    # Each value within the limits, the body as a whole is not: capped when it is rendered.
    wide = {f"f{i}": "{{ 'x' * 60000 ~ 'y' * 60000 }}" for i in range(10)}
    spec = spec.model_copy(update={"template": wide})
    with pytest.raises(BodyError, match=f"body is larger than {MAX_BODY_BYTES:,} characters"):
        body_source(spec)


def test_an_oversized_scenario_or_dataset_is_refused_naming_the_file_and_the_cap(tmp_path: Path) -> None:
    scenario = tmp_path / "huge.yaml"
    scenario.write_text("name: huge\n" + "#" * MAX_YAML_BYTES + "\n", encoding="utf-8")
    with (tmp_path / "huge.jsonl").open("wb") as dataset:
        dataset.truncate(MAX_DATASET_BYTES + 1)  # sparse: as large as it says, without the disk space
    uses_it = tmp_path / "uses-dataset.yaml"
    uses_it.write_text(f"name: big-data\nload:\n  dataset: huge.jsonl\n{TAIL}", encoding="utf-8")
    code, output = validate(scenario, uses_it)
    assert code == 2, output
    assert "Traceback" not in output
    assert f"{scenario}: the file is larger than {MAX_YAML_BYTES:,} bytes (1 MiB)" in output
    assert (
        f"{uses_it}:3:3: load.dataset: dataset 'huge.jsonl' ({tmp_path / 'huge.jsonl'}) is larger than"
        in (output)
    )
    assert f"{MAX_DATASET_BYTES:,} bytes (64 MiB), the most a load dataset may be" in output


def test_a_dataset_with_too_many_requests_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "MAX_DATASET_ROWS", 3)  # a million rows, scaled down
    (tmp_path / "rows.jsonl").write_text('{"body": {"a": 1}}\n' * 4, encoding="utf-8")
    path = tmp_path / "scenario.yaml"
    path.write_text(f"name: rows\nload:\n  dataset: rows.jsonl\n{TAIL}", encoding="utf-8")
    with pytest.raises(loader.ScenarioInvalid) as refused:
        loader.load_scenario(path)
    assert [str(p) for p in refused.value.problems] == [
        f"{path}:3:3: load.dataset: dataset 'rows.jsonl' has 4 requests; a load dataset may have at most 3"
    ]


def test_secret_query_values_and_user_information_are_masked_and_the_rest_kept() -> None:
    assert redact_text("POST http://127.0.0.1:8080/predict?token=abc&model=v2 failed") == (
        f"POST http://127.0.0.1:8080/predict?token={MASK}&model=v2 failed"
    )
    assert redact_text("https://me:pw@host/x?X-Amz-Signature=s&apiKey=k&monkey=1") == (
        f"https://{MASK}@host/x?X-Amz-Signature={MASK}&apiKey={MASK}&monkey=1"
    )
    assert redact_text("max retries exceeded with url: /p?access_token=t (Caused by") == (
        f"max retries exceeded with url: /p?access_token={MASK} (Caused by"
    )


SECRET = "s3cr3t-T0KEN-4711"


class _Service(BaseHTTPRequestHandler):
    """A service that answers, records every request line, and now and then redirects to a URL with the token
    (so the token also reaches the recorded errors, which must mask it)."""

    paths: list[str]
    lock = threading.Lock()

    def do_GET(self) -> None:
        self._answer(200, b'{"status": "ok"}')

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.lock:
            redirect = sum(p.startswith("/predict") for p in self.paths) % 4 == 0
        if redirect:
            self._answer(307, b"{}", location=f"http://elsewhere.example/predict?token={SECRET}")
        else:
            self._answer(200, b'{"tier": "primary", "prediction": "legit", "confidence": 0.9}')

    def _answer(self, status: int, body: bytes, location: str | None = None) -> None:
        with self.lock:
            self.paths.append(self.path)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if location:
            self.send_header("Location", location)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        del format, args


@pytest.fixture
def service() -> Iterator[tuple[str, list[str]]]:
    paths: list[str] = []
    handler = type("Service", (_Service,), {"paths": paths})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", paths
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_token_in_the_predict_path_reaches_the_service_and_no_output(
    tmp_path: Path, service: tuple[str, list[str]]
) -> None:
    url, received = service
    (tmp_path / "requests.jsonl").write_text('{"body": {"amount": 1}}\n', encoding="utf-8")
    document = {
        "name": "token-in-url",
        "description": f"calls {url}/predict?token={SECRET}",
        "target": {
            "kind": "external",
            "service_url": url,
            "predict_path": f"/predict?token={SECRET}&model=v2",
            "health": {"live": f"/live?api_key={SECRET}", "ready": "/ready"},
            "response": {"tier": "tier", "prediction": "prediction", "confidence": "confidence"},
        },
        "load": {"users": 1, "dataset": "requests.jsonl", "wait": [0.02, 0.05]},
        "steady_state": {"window": "1s", "min_availability": 0.5},
        "faults": [{"id": "c", "type": "corrupted_inputs", "mutators": ["nan"], "duration": "1s"}],
        "recovery": "0s",
        "verifiers": [{"type": "availability", "min": 0.1}],
    }
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(yaml.safe_dump(document), encoding="utf-8")
    done = run_mlchaos("run", str(scenario), "--out", str(tmp_path / "runs"), timeout_s=120)
    assert done.returncode in (0, 1), done.stdout + done.stderr  # judged; whether it passed is not the point

    assert any(p.startswith(f"/predict?token={SECRET}&model=v2") for p in received)  # the real URL is used
    assert f"/live?api_key={SECRET}" in received
    assert SECRET not in done.stdout + done.stderr
    [run_dir] = (tmp_path / "runs").iterdir()
    files = [f for f in run_dir.rglob("*") if f.is_file()]
    assert {"scenario.yaml", "journal.jsonl", "report.html", "junit.xml", "summary.json"} <= {
        f.name for f in files
    }
    for file in files:
        if file.suffix == ".parquet":  # compressed: look at the values, not the bytes
            text = json.dumps(pq.read_table(file).to_pylist(), default=str)
        else:
            text = file.read_bytes().decode("utf-8", errors="replace")
        assert SECRET not in text, f"{file.name} shows the token"
    # Masked, not dropped: the outputs still say which URL and which request failed how.
    assert f"predict_path: /predict?token={MASK}&model=v2" in (run_dir / "scenario.yaml").read_text("utf-8")
    assert f"/predict?token={MASK}" in (run_dir / "report.html").read_text("utf-8")
    errors = pq.read_table(run_dir / "requests.parquet").column("error").to_pylist()
    assert f"redirect to http://elsewhere.example/predict?token={MASK}, not followed" in errors
