"""The real node (real_node.py) gives pods what a cluster gives them, and leaves nothing behind when it stops, even
when the test process was killed.

One node for the module; every check runs in pods that really run (the node's own nodetools image)."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import k8s_cluster
import pytest
import yaml
from node_config import POD_CIDR
from node_namespaces import NETNS_DIR, PREFIX, hierarchies, remove_stale
from real_node import RealNode, running_node
from support.waiting import wait_until

pytestmark = pytest.mark.realnode

NAMESPACE = "node-check"
WAIT_S = 120.0
"""Bounds only: each wait takes seconds on 2 busy cores."""


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealNode]:
    problem = None
    try:
        with running_node(tmp_path_factory.mktemp("realnode")) as started:
            started.run(["kubectl", "apply", "-f", "-"], timeout_s=60, input=_manifests(started.node_image))
            yield started
    except k8s_cluster.TestenvError as error:
        problem = str(error)
    if problem is not None:  # outside the except block: the message alone, not a chained traceback
        pytest.fail(problem, pytrace=False)


def _manifests(image: str) -> str:
    labels = {"app": "web"}
    container = {"image": image, "imagePullPolicy": "Never"}
    web = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": NAMESPACE},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": {
            "metadata": {"labels": labels},
            "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
                **container, "name": "web", "command": ["/nodetools", "serve", ":8080"],
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 1},
            }]},
        }},
    }  # fmt: skip
    probe = {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "probe", "namespace": NAMESPACE},
        "spec": {"terminationGracePeriodSeconds": 1,
                 "containers": [{**container, "name": "probe", "command": ["/nodetools", "pause"]}]},
    }  # fmt: skip
    # The default ServiceAccount may read one ConfigMap: a 200 for it proves the pod's token was accepted.
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": "read-ca", "namespace": NAMESPACE},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["kube-root-ca.crt"],
                   "verbs": ["get"]}],
    }  # fmt: skip
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "read-ca", "namespace": NAMESPACE},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "read-ca"},
        "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": NAMESPACE}],
    }  # fmt: skip
    service = {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": NAMESPACE},
        "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]},
    }  # fmt: skip
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    return yaml.safe_dump_all([namespace, role, binding, service, web, probe])


def _pods(node: RealNode, selector: str) -> list[dict[str, object]]:
    listed = node.run(["kubectl", "get", "pods", "-n", NAMESPACE, "-l", selector, "-o", "json"], timeout_s=30)
    items: list[dict[str, object]] = json.loads(listed.stdout)["items"]
    return items


def _ready(pod: dict[str, object]) -> bool:
    status = pod.get("status") or {}
    conditions = status.get("conditions", []) if isinstance(status, dict) else []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def _name(pod: dict[str, object]) -> str:
    metadata = pod["metadata"]
    assert isinstance(metadata, dict)
    return str(metadata["name"])


def _ready_pods(node: RealNode, selector: str) -> list[dict[str, object]]:
    return wait_until(
        lambda: [pod for pod in _pods(node, selector) if _ready(pod)] or None,
        WAIT_S,
        f"a Ready pod ({selector})",
        0.5,
    )


def _exec(node: RealNode, *argv: str) -> str:
    node.run(["kubectl", "wait", "-n", NAMESPACE, "--for=condition=Ready", "pod/probe", f"--timeout={WAIT_S:g}s"],
             timeout_s=WAIT_S + 10)  # fmt: skip
    return node.run(["kubectl", "exec", "-n", NAMESPACE, "probe", "--", *argv], timeout_s=60).stdout


def _wait_served_by(node: RealNode, pod: str) -> None:
    """Until the Service `web`, by its short name (the namespace's DNS search domain), answers from `pod`."""

    def answer() -> str:
        fetched = node.run(["kubectl", "exec", "-n", NAMESPACE, "probe", "--", "/nodetools", "fetch", "http://web/"],
                           timeout_s=60, check=False)  # fmt: skip
        return fetched.stdout

    _exec(node, "/nodetools", "resolve", "web")  # the probe pod is Ready
    wait_until(
        lambda: answer() == f"200\nserved by {pod}\n\n", WAIT_S, f"the web Service answering from {pod}", 0.2
    )


def test_pods_get_addresses_on_the_nodes_bridge_and_their_logs_are_served(node: RealNode) -> None:
    (web,) = _ready_pods(node, "app=web")
    status = web["status"]
    assert isinstance(status, dict)
    assert ipaddress.ip_address(status["podIP"]) in ipaddress.ip_network(POD_CIDR)
    logs = node.run(["kubectl", "logs", "-n", NAMESPACE, _name(web)], timeout_s=60).stdout
    assert f"nodetools serving on :8080 in {_name(web)}" in logs


def test_a_pod_reaches_the_api_server_through_the_kubernetes_service_with_its_token(node: RealNode) -> None:
    url = f"https://kubernetes.default.svc/api/v1/namespaces/{NAMESPACE}/configmaps/kube-root-ca.crt"
    answer = _exec(node, "/nodetools", "get", url)
    assert answer.startswith("200\n") and '"name":"kube-root-ca.crt"' in answer
    # The same pod, asking for something its ServiceAccount may not read, is refused: the token is what counts.
    refused = node.run(["kubectl", "exec", "-n", NAMESPACE, "probe", "--", "/nodetools", "get",
                        "https://kubernetes.default.svc/api/v1/namespaces/kube-system/secrets"],
                       timeout_s=60, check=False)  # fmt: skip
    assert refused.returncode != 0 and refused.stdout.startswith("403\n"), refused.stdout


def test_cluster_dns_resolves_a_service_and_kube_proxy_routes_its_cluster_ip_to_a_pod(node: RealNode) -> None:
    cluster_ip = node.run(["kubectl", "get", "service", "web", "-n", NAMESPACE, "-o", "jsonpath={.spec.clusterIP}"],
                          timeout_s=30).stdout  # fmt: skip
    resolved = _exec(node, "/nodetools", "resolve", f"web.{NAMESPACE}.svc.cluster.local")
    assert resolved.strip() == f"[{cluster_ip}]"
    (web,) = _ready_pods(node, "app=web")
    answer = _exec(
        node, "/nodetools", "fetch", "http://web/"
    )  # the namespace's search domain, then the ClusterIP
    assert answer == f"200\nserved by {_name(web)}\n\n"


def test_a_killed_deployment_pod_is_recreated_and_becomes_ready_through_its_probe(node: RealNode) -> None:
    (old,) = _ready_pods(node, "app=web")
    node.run(["kubectl", "delete", "pod", "-n", NAMESPACE, _name(old), "--wait=false"], timeout_s=30)
    new = wait_until(
        lambda: [pod for pod in _pods(node, "app=web") if _name(pod) != _name(old) and _ready(pod)] or None,
        WAIT_S,
        "a new web pod Ready",
        0.5,
    )
    assert len(new) == 1
    # Ready means the kubelet's HTTP probe got an answer: the new pod serves, through the Service once kube-proxy
    # has its address (until then, the old address times out or no address is refused, as on any cluster).
    _wait_served_by(node, _name(new[0]))


# --- what a stopped node leaves behind: nothing ------------------------------------------------------------------


def _leftovers(name: str, workdir: Path, netns_inode: int) -> list[str]:
    """Everything of node `name` that could outlive it on this machine, described; [] when there is none."""
    found = [f"netns {name}"] if (NETNS_DIR / name).exists() else []
    found += [f"cgroup {hierarchy / name}" for hierarchy in hierarchies() if (hierarchy / name).exists()]
    found += [
        f"mount {line.split()[4]}"
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        if str(workdir) in line or name in line
    ]
    for proc in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):  # a process that ended meanwhile
            command = proc.joinpath("cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            # the node's own processes, and its containers (in the pods' cgroups)
            if (
                os.stat(proc / "ns" / "net").st_ino == netns_inode
                or str(workdir) in command
                or name in proc.joinpath("cgroup").read_text()
            ):
                found.append(f"process {proc.name}: {command[:120]}")
    # Interfaces and rules in the host's namespace: the node must make none there (podman's, of other tests on
    # this machine, may come and go: only the node's bridge and the kubelet's and kube-proxy's chains count).
    links = subprocess.run(
        ["ip", "-o", "link"], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    found += [f"interface {line}" for line in links.splitlines() if "mlchaos" in line]
    rules = subprocess.run(["iptables-save"], capture_output=True, text=True, timeout=30, check=True).stdout
    found += [f"iptables {line}" for line in rules.splitlines() if "KUBE-" in line]
    return found


def _run_a_pod(node: RealNode) -> None:
    pod = {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "leftover", "namespace": "default"},
        "spec": {"containers": [{"name": "serve", "image": node.node_image, "imagePullPolicy": "Never",
                                 "command": ["/nodetools", "serve", ":8080"]}]},
    }  # fmt: skip
    node.run(["kubectl", "apply", "-f", "-"], timeout_s=60, input=json.dumps(pod))
    node.run(["kubectl", "wait", "--for=condition=Ready", "pod/leftover", f"--timeout={WAIT_S:g}s"],
             timeout_s=WAIT_S + 10)  # fmt: skip


def test_a_stopped_node_leaves_no_process_mount_interface_netns_cgroup_or_rule(
    node: RealNode, tmp_path: Path
) -> None:
    with running_node(tmp_path) as second:  # a second node beside the module's: they do not meet
        _run_a_pod(second)
        name, inode = second.netns, os.stat(NETNS_DIR / second.netns).st_ino
        running = _leftovers(name, tmp_path, inode)
        # the check sees a running node, and its pod in the node's cgroup
        assert any(found.startswith("process") and "/nodetools serve" in found for found in running)
    assert _leftovers(name, tmp_path, inode) == []


def test_a_node_whose_test_process_was_killed_is_gone_and_the_next_start_removes_its_namespace(
    node: RealNode, tmp_path: Path
) -> None:
    program = (
        "import sys, time\nfrom pathlib import Path\nfrom real_node import running_node\n"
        "with running_node(Path(sys.argv[1])) as node:\n"
        "    node.run(['kubectl', 'apply', '-f', sys.argv[2]], timeout_s=60)\n"
        "    node.run(['kubectl', 'wait', '--for=condition=Ready', 'pod/leftover', '--timeout=120s'], timeout_s=130)\n"
        "    print(node.netns, flush=True)\n"
        "    time.sleep(600)\n"
    )
    workdir, manifest = tmp_path / "node", tmp_path / "pod.json"
    workdir.mkdir()
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "leftover"},
           "spec": {"containers": [{"name": "serve", "image": node.node_image, "imagePullPolicy": "Never",
                                    "command": ["/nodetools", "serve", ":8080"]}]}}  # fmt: skip
    manifest.write_text(json.dumps(pod))
    tests = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(tests / p) for p in ("", "k8s", "realnode"))}
    session = subprocess.Popen(
        [sys.executable, "-c", program, str(workdir), str(manifest)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert session.stdout is not None
        netns = session.stdout.readline().strip()  # bounded by the node's own start and wait bounds
        assert netns.startswith(PREFIX), f"the session did not start its node (exit {session.poll()})"
        inode = os.stat(NETNS_DIR / netns).st_ino
    finally:
        session.send_signal(signal.SIGKILL)  # no finally, no atexit: as if the test session was killed
        session.wait(timeout=30)
        if session.stdout is not None:
            session.stdout.close()
    # Its processes die with it (containers and shims too); only the namespace's name and cgroup folders remain ...
    wait_until(
        lambda: not [found for found in _leftovers(netns, workdir, inode) if found.startswith("process")],
        30,
        "the killed session's node processes to die",
        0.2,
    )
    assert (NETNS_DIR / netns).exists()
    # ... until the next start removes them.
    assert netns in remove_stale()
    assert _leftovers(netns, workdir, inode) == []
