"""Headless Chromium for the report tests: open a page over the DevTools protocol and record what it did.

Nothing is skipped: without /usr/bin/chromium (``scripts/install-chromium.sh`` installs it, and ``make test``
runs that script) the test fails and says how to get it.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import websocket
from support.local_processes import stop
from support.waiting import wait_until

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing, so the report cannot be checked in a browser. Install it with "
            "scripts/install-chromium.sh (apt-get install chromium; `make test` runs it) and rerun.",
            pytrace=False,
        )
    return CHROMIUM


@dataclass
class PageVisit:
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)


class _Session:
    def __init__(self, ws_url: str) -> None:
        self.ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self.events.append(message)

    def wait_for(self, method: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not any(e.get("method") == method for e in self.events):
            if time.monotonic() > deadline:
                raise AssertionError(f"no {method} within {timeout_s}s")
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            self.events.append(json.loads(self.ws.recv()))

    def drain(self, quiet_s: float) -> None:
        self.ws.settimeout(quiet_s)
        try:
            while True:
                self.events.append(json.loads(self.ws.recv()))
        except websocket.WebSocketTimeoutException:
            return


def _page_ws(profile: Path, process: subprocess.Popen[bytes], timeout_s: float = 30.0) -> str:
    port_file = profile / "DevToolsActivePort"

    def port_written() -> str:
        assert process.poll() is None, f"chromium exited ({process.poll()}) before opening its DevTools port"
        return port_file.read_text().strip() if port_file.exists() else ""

    port = int(wait_until(port_written, timeout_s, "chromium to open its DevTools port", 0.1).split()[0])
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
        targets = json.load(response)
    return str(next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page"))


def visit(page: Path, profile: Path) -> PageVisit:
    """Load ``page`` from file://; record every request it made and every console error or exception."""
    chromium = require_chromium()
    args = [str(chromium), *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env(profile))
    try:
        session = _Session(_page_ws(profile, process))
        for domain in ("Runtime", "Log", "Network", "Page"):
            session.call(f"{domain}.enable")
        session.events.clear()  # about:blank's own events are not the report's
        session.call("Page.navigate", url=page.resolve().as_uri())
        session.wait_for("Page.loadEventFired", timeout_s=30)
        session.drain(quiet_s=1.0)
        script = (
            "JSON.stringify({banner: document.querySelector('.banner .label')?.textContent,"
            " charts: document.querySelectorAll('svg.chart').length, scripts: document.scripts.length,"
            " title: document.title, failed_rows: document.querySelectorAll('table.verdicts tr.fail').length,"
            " advice: [...document.querySelectorAll('.advice')].map(e => ({way: e.dataset.way,"
            " text: e.textContent.trim(), shown: e.getBoundingClientRect().height > 0}))})"
        )
        evaluated = session.call("Runtime.evaluate", expression=script, returnByValue=True)
        result = PageVisit(facts=json.loads(evaluated["result"]["value"]))
        for event in session.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Network.requestWillBeSent":
                result.requests.append(params["request"]["url"])
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                result.errors.append(json.dumps(params.get("args")))
            elif method == "Runtime.exceptionThrown":
                result.errors.append(json.dumps(params.get("exceptionDetails")))
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                result.errors.append(params["entry"].get("text", ""))
        session.ws.close()
        return result
    finally:
        stop(process, within_s=10)


def screenshot(page: Path, out: Path, profile: Path, window: str = "1400,3000") -> Path:
    """What a person sees: ``chromium --headless --screenshot``."""
    chromium = require_chromium()
    out.parent.mkdir(parents=True, exist_ok=True)
    args = [
        str(chromium),
        *FLAGS,
        f"--user-data-dir={profile}",
        f"--screenshot={out}",
        f"--window-size={window}",
        page.resolve().as_uri(),
    ]
    subprocess.run(args, capture_output=True, timeout=60, check=True, env=_env(profile))
    assert out.exists() and out.stat().st_size > 10_000, f"no screenshot at {out}"
    return out


def _env(profile: Path) -> dict[str, str]:
    """Chromium's own temporary folders (``org.chromium.Chromium.*``) go beside its profile, in the test's
    temporary directory, not in /tmp where nothing would remove them."""
    profile.parent.mkdir(parents=True, exist_ok=True)
    return {**os.environ, "TMPDIR": str(profile.parent)}
