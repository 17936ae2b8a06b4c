"""kubectl and helm against the real node (tests/realnode/real_node.py), run inside its network namespace, with
failures that say what the cluster looked like: a chart test that only said "timed out" would be useless.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from real_node import RealNode

REPO = Path(__file__).resolve().parents[2]


class KubeCommandFailed(AssertionError):
    """A kubectl or helm command exited non-zero; the message has its output and the cluster's state."""


@dataclass(frozen=True)
class Kube:
    """kubectl and helm (the node's pinned ones) on one node; `namespace` is where the charts are installed."""

    node: RealNode
    namespace: str

    def kubectl(self, *args: str, timeout_s: float = 60, stdin: str | None = None) -> str:
        return self._run(["kubectl", "-n", self.namespace, *args], timeout_s, stdin)

    def json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json"))

    def helm(self, *args: str, timeout_s: float = 400) -> str:
        return self._run(["helm", "-n", self.namespace, *args], timeout_s, None)

    def _run(self, argv: list[str], timeout_s: float, stdin: str | None) -> str:
        done = self.node.run(argv, timeout_s=timeout_s, check=False, input=stdin)
        if done.returncode != 0:
            raise KubeCommandFailed(
                f"`{' '.join(argv)}` exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}\n"
                f"{self.diagnose()}"
            )
        return done.stdout

    def logs(self, what: str, tail: int = 80) -> str:
        """The last lines of a pod's (or job/NAME's, deploy/NAME's) containers, or why there are none."""
        argv = ["kubectl", "-n", self.namespace, "logs", what, "--all-containers", f"--tail={tail}"]
        done = self.node.run(argv, timeout_s=30, check=False)
        return done.stdout if done.returncode == 0 else f"(no logs of {what}: {done.stderr.strip()})"

    def diagnose(self) -> str:
        """Pods, recent events and the node's own log tail: what a failure message needs."""
        parts = []
        for args in (["get", "pods", "-o", "wide"], ["get", "events", "--sort-by=.lastTimestamp"]):
            done = self.node.run(["kubectl", "-n", self.namespace, *args], timeout_s=30, check=False)
            parts.append(f"$ kubectl {' '.join(args)}\n{(done.stdout or done.stderr)[-4000:]}")
        parts.append(f"node logs:\n{self.node.logs_tail()}")
        return "\n".join(parts)

    def run_job(self, cronjob: str, job: str, timeout_s: float) -> bool:
        """Create `job` from `cronjob` (as a user runs the monthly suite now) and wait until it ends: True when it
        completed, False when it failed. Past `timeout_s` the test fails with the job's logs."""
        self.kubectl("create", "job", f"--from=cronjob/{cronjob}", job)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for condition in self.json("get", "job", job).get("status", {}).get("conditions") or []:
                if condition["type"] in ("Complete", "Failed") and condition["status"] == "True":
                    return bool(condition["type"] == "Complete")
            time.sleep(3)
        raise AssertionError(
            f"job {job} did not finish within {timeout_s:g} s; its logs:\n{self.logs(f'job/{job}', 200)}\n"
            f"{self.diagnose()}"
        )
