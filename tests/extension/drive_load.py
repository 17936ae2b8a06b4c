"""Run by ``test_extension.py`` in a fresh interpreter that has the ``acme_chaos`` distribution on its path: plans
a scenario using the package's input fault, runs the load it asks for through mlchaos' load child (a process of
its own, which reads the input kind back from the spec through the entry points) against a stub service on
loopback, writes ``RUN_DIR/requests.parquet`` as a run does, and prints what the parquet file and the service saw
as JSON. Usage: ``python drive_load.py SCENARIO RUN_DIR``.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from mlchaos.experiments.load.runner import LoadRunner
from mlchaos.experiments.load.spec_from_scenario import load_spec
from mlchaos.experiments.load.store import read_requests_parquet, write_requests_parquet
from mlchaos.experiments.loader import load_scenario
from mlchaos.experiments.plan import make_plan, placeholder_endpoints
from mlchaos.experiments.service_schema import scenario_schema
from mlchaos.experiments.targets import EmbeddedTarget

LOAD_S = 4.0
SEEN: list[dict[str, Any]] = []


class Stub(BaseHTTPRequestHandler):
    """A model service that answers every prediction, and keeps every body it was sent."""

    def do_POST(self) -> None:  # the stdlib's name
        SEEN.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        answer = json.dumps({"prediction": "legit", "score": 0.1, "tier": "primary"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:  # the stdlib's names
        """Quiet: stdout carries the result."""


def main(scenario_path: Path, run_dir: Path) -> dict[str, Any]:
    scenario = load_scenario(scenario_path).scenario
    assert isinstance(scenario.target, EmbeddedTarget)
    with ThreadingHTTPServer(("127.0.0.1", 0), Stub) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}"
        endpoints = dataclasses.replace(placeholder_endpoints(scenario.target), service_url=url)
        plan = make_plan(scenario, endpoints)
        spec = load_spec(plan, LOAD_S, schema=scenario_schema(plan))
        runner = LoadRunner(spec)
        runner.start()
        code = runner.wait(timeout_s=60)
        records = runner.records
        server.shutdown()
    frame = read_requests_parquet(write_requests_parquet(records, run_dir / "requests.parquet"))
    tagged = frame[frame["input"].notna()]
    return {
        "exit": code,
        "description": plan.faults[0].plan.description,
        "spec_send": json.loads(spec.model_dump_json())["inputs"][0]["send"],
        "tags": sorted(set(tagged["input"])),
        "tagged": len(tagged),
        "clean": int(frame["input"].isna().sum()),
        "shouted_at_server": sum(1 for body in SEEN if any(str(v).isupper() for v in body.values())),
    }


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), Path(sys.argv[2]))))
