"""A real Kubernetes control plane on loopback for the tests: etcd, kube-apiserver (RBAC on), controller-manager,
scheduler, and kwok standing in for the kubelets of a few fake nodes.

The binaries come from `scripts/k8s-testenv.sh build`; `scripts/k8s-testenv.sh env` says where they are, so the
pinned versions live in one place. Every process runs in a temporary directory with its own log, in its own process
group, and dies with the process that started it (PR_SET_PDEATHSIG), so nothing outlives a test session, not even a
killed one.

Run it as a script (`scripts/k8s-testenv.sh up`) for a cluster in the foreground to poke at with kubectl.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import requests
import yaml
from kubernetes import client as k8s
from support.local_processes import die_with_parent, free_port
from support.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
TESTENV_SCRIPT = REPO / "scripts" / "k8s-testenv.sh"
FAKE_NODE_ANNOTATION = "kwok.x-k8s.io/node"
START_TIMEOUT_S = 90.0
"""A cold start takes ~10 s on 2 busy cores; the bound only stops a hang."""


class TestenvError(RuntimeError):
    """The test cluster could not be started; the message says why and what to run."""


@dataclass(frozen=True)
class TestenvBinaries:
    kube_apiserver: Path
    kube_controller_manager: Path
    kube_scheduler: Path
    etcd: Path
    kwok: Path
    helm: Path

    @classmethod
    def locate(cls) -> TestenvBinaries:
        paths = testenv_paths()
        return cls(**{field: paths[field.upper()] for field in cls.__dataclass_fields__})


def testenv_paths() -> dict[str, Path]:
    """Ask the build script where the pinned binaries are (NAME -> path); it fails naming the missing ones."""
    found = subprocess.run(
        [str(TESTENV_SCRIPT), "env"], capture_output=True, text=True, check=False, timeout=30
    )
    if found.returncode != 0:
        raise TestenvError(f"{found.stderr.strip()}\n(`make test` builds it before running the tests.)")
    return {
        name: Path(path)
        for name, _, path in (line.partition("=") for line in found.stdout.splitlines())
        if path
    }


@dataclass(frozen=True)
class KubeCluster:
    """A running test cluster. `api` is authenticated as a cluster admin (group system:masters)."""

    kubeconfig: Path
    server: str
    api: k8s.ApiClient
    nodes: tuple[str, ...]
    binaries: TestenvBinaries
    workdir: Path


class ProcessGroup:
    """The control plane's processes; stop() ends them all, newest first, and is safe to call twice."""

    def __init__(self, logs: Path) -> None:
        self._logs = logs
        self._running: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, argv: list[str]) -> None:
        with open(self._logs / f"{name}.log", "wb") as log:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent(signal.SIGKILL),
            )
        self._running.append((name, process))

    def check_alive(self) -> None:
        for name, process in self._running:
            if process.poll() is not None:
                raise TestenvError(
                    f"{name} exited with code {process.returncode} while the cluster started; "
                    f"last lines of {self._logs / f'{name}.log'}:\n{self.tail(name)}"
                )

    def tail(self, name: str, lines: int = 15) -> str:
        text = (self._logs / f"{name}.log").read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        while self._running:
            _, process = self._running.pop()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def wait_started(
    what: str,
    ready: Callable[[], bool],
    processes: ProcessGroup,
    timeout_s: float = START_TIMEOUT_S,
    interval_s: float = 0.2,
    ignoring: tuple[type[BaseException], ...] = (requests.RequestException, k8s.ApiException),
    logs: Callable[[], str] = lambda: "",
) -> None:
    """Until ``ready`` (the ``ignoring`` exceptions — by default refused connections and API errors — mean "not
    yet"). A process of the group that died, or a start outlasting ``timeout_s``, is a TestenvError (with
    ``logs()`` appended): the fixture reports it without a traceback."""

    def alive_and_ready() -> bool:
        processes.check_alive()
        return ready()

    try:
        wait_until(alive_and_ready, timeout_s, what, interval_s=interval_s, ignoring=ignoring)
    except AssertionError as timeout:
        raise TestenvError("\n".join(filter(None, (str(timeout), logs())))) from None


def _openssl(*args: str) -> None:
    if shutil.which("openssl") is None:
        raise TestenvError(
            "the openssl command makes the test cluster's keys; install it (apt-get install openssl)"
        )
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def write_credentials(pki: Path) -> str:
    """A serving certificate for 127.0.0.1, the service-account signing key, and an admin token (returned)."""
    pki.mkdir()
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=mlchaos-test-apiserver",
        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        "-keyout", str(pki / "apiserver.key"), "-out", str(pki / "apiserver.crt"),
    )  # fmt: skip
    _openssl("genrsa", "-out", str(pki / "service-accounts.key"), "2048")
    _openssl(
        "rsa", "-in", str(pki / "service-accounts.key"), "-pubout", "-out", str(pki / "service-accounts.pub")
    )
    token = secrets.token_hex(16)
    # Static token auth keeps the fixture simple; controllers use the admin identity, the RBAC tests use
    # SubjectAccessReview for service accounts, which this does not affect.
    (pki / "tokens.csv").write_text(f'{token},mlchaos-admin,mlchaos-admin,"system:masters"\n')
    return token


def write_kubeconfig(path: Path, server: str, ca: Path, token: str) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "mlchaos-test", "cluster": {"server": server, "certificate-authority": str(ca)}}
        ],
        "users": [{"name": "mlchaos-admin", "user": {"token": token}}],
        "contexts": [
            {"name": "mlchaos-test", "context": {"cluster": "mlchaos-test", "user": "mlchaos-admin"}}
        ],
        "current-context": "mlchaos-test",
    }
    path.write_text(yaml.safe_dump(config))


def admin_client(server: str, ca: Path, token: str) -> k8s.ApiClient:
    configuration = k8s.Configuration()
    configuration.host = server
    configuration.ssl_ca_cert = str(ca)
    configuration.api_key = {"authorization": f"Bearer {token}"}
    return k8s.ApiClient(configuration)


def fake_node(name: str) -> k8s.V1Node:
    capacity = {"cpu": "32", "memory": "256Gi", "pods": "110"}
    return k8s.V1Node(
        metadata=k8s.V1ObjectMeta(
            name=name,
            annotations={FAKE_NODE_ANNOTATION: "fake"},
            labels={"type": "kwok", "kubernetes.io/hostname": name},
        ),
        status=k8s.V1NodeStatus(capacity=capacity, allocatable=capacity),
    )


def _node_ready(node: k8s.V1Node) -> bool:
    conditions = (node.status.conditions if node.status else None) or []
    return any(c.type == "Ready" and c.status == "True" for c in conditions)


@contextlib.contextmanager
def running_cluster(workdir: Path, node_count: int = 3) -> Iterator[KubeCluster]:
    """Start the control plane and `node_count` Ready fake nodes in `workdir`; stop everything on exit."""
    binaries = TestenvBinaries.locate()
    pki, logs, etcd_data = workdir / "pki", workdir / "logs", workdir / "etcd"
    logs.mkdir()
    token = write_credentials(pki)
    ca = pki / "apiserver.crt"
    etcd_port, etcd_peer_port, api_port, kwok_port = free_port(), free_port(), free_port(), free_port()
    server = f"https://127.0.0.1:{api_port}"
    kubeconfig = workdir / "kubeconfig"
    write_kubeconfig(kubeconfig, server, ca, token)
    processes = ProcessGroup(logs)
    try:
        etcd_url = f"http://127.0.0.1:{etcd_port}"
        peer_url = f"http://127.0.0.1:{etcd_peer_port}"
        processes.start("etcd", [
            str(binaries.etcd), "--name", "mlchaos-test", "--data-dir", str(etcd_data),
            "--listen-client-urls", etcd_url, "--advertise-client-urls", etcd_url,
            "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
            "--initial-cluster", f"mlchaos-test={peer_url}", "--unsafe-no-fsync",
        ])  # fmt: skip
        wait_started("etcd", lambda: requests.get(f"{etcd_url}/health", timeout=2).ok, processes)
        processes.start("kube-apiserver", [
            str(binaries.kube_apiserver), "--etcd-servers", etcd_url,
            "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", str(api_port),
            "--tls-cert-file", str(ca), "--tls-private-key-file", str(pki / "apiserver.key"),
            "--token-auth-file", str(pki / "tokens.csv"), "--authorization-mode", "Node,RBAC",
            "--service-account-issuer", "https://kubernetes.default.svc",
            "--service-account-key-file", str(pki / "service-accounts.pub"),
            "--service-account-signing-key-file", str(pki / "service-accounts.key"),
            "--service-cluster-ip-range", "10.96.0.0/16", "--allow-privileged=true",
        ])  # fmt: skip
        api = admin_client(server, ca, token)
        headers = {"Authorization": f"Bearer {token}"}
        wait_started(
            "kube-apiserver /readyz",
            lambda: requests.get(f"{server}/readyz", headers=headers, verify=str(ca), timeout=2).ok,
            processes,
        )
        processes.start("kube-controller-manager", [
            str(binaries.kube_controller_manager), "--kubeconfig", str(kubeconfig), "--leader-elect=false",
            "--secure-port", "0", "--service-account-private-key-file", str(pki / "service-accounts.key"),
            "--root-ca-file", str(ca), "--use-service-account-credentials=false",
        ])  # fmt: skip
        processes.start("kube-scheduler", [
            str(binaries.kube_scheduler), "--kubeconfig", str(kubeconfig), "--leader-elect=false",
            "--secure-port", "0",
        ])  # fmt: skip
        (workdir / "kwok.yaml").touch()  # an empty configuration: never read ~/.kwok/kwok.yaml
        # kwok plays the kubelet of every node annotated as fake: with no Stage configuration it applies its
        # default stages, so nodes turn Ready and scheduled pods become Running and Ready.
        processes.start("kwok", [
            str(binaries.kwok), "--kubeconfig", str(kubeconfig),
            "--manage-nodes-with-annotation-selector", f"{FAKE_NODE_ANNOTATION}=fake",
            "--cidr", "10.244.0.1/16", "--node-ip", "10.0.0.1", "--server-address", f"127.0.0.1:{kwok_port}",
            "--node-lease-duration-seconds", "40", "--config", str(workdir / "kwok.yaml"),
        ])  # fmt: skip
        core = k8s.CoreV1Api(api)
        nodes = tuple(f"kwok-node-{index}" for index in range(node_count))
        for name in nodes:
            core.create_node(fake_node(name))
        wait_started(
            f"{node_count} fake nodes Ready",
            lambda: all(_node_ready(core.read_node(name)) for name in nodes),
            processes,
        )
        # Pods cannot be admitted into a namespace before its default ServiceAccount exists.
        wait_started(
            "the default ServiceAccount (controller-manager running)",
            lambda: core.read_namespaced_service_account("default", "default") is not None,
            processes,
        )
        yield KubeCluster(
            kubeconfig=kubeconfig, server=server, api=api, nodes=nodes, binaries=binaries, workdir=workdir
        )
    finally:
        processes.stop()


def stop_like_ctrl_c(signum: int, frame: object) -> None:
    """A SIGTERM handler: `kill PID` cleans up like Ctrl-C."""
    raise KeyboardInterrupt


def main() -> None:
    """`scripts/k8s-testenv.sh up`: a cluster in the foreground until Ctrl-C."""
    signal.signal(signal.SIGTERM, stop_like_ctrl_c)  # `kill PID` cleans up like Ctrl-C
    with tempfile.TemporaryDirectory(prefix="mlchaos-k8s-") as tmp:
        started = time.monotonic()
        with running_cluster(Path(tmp)) as cluster:
            print(f"cluster up in {time.monotonic() - started:.1f} s at {cluster.server}")
            print(f"export KUBECONFIG={cluster.kubeconfig}")
            print(f"logs in {cluster.workdir / 'logs'}; Ctrl-C stops everything and removes {tmp}")
            with contextlib.suppress(KeyboardInterrupt):
                signal.pause()


if __name__ == "__main__":
    main()
