"""A real single-node Kubernetes cluster for the tests: etcd, kube-apiserver, controller-manager, scheduler, a kubelet
on containerd + runc, kube-proxy (iptables), CoreDNS and a CNI bridge, pods that really run.

    with running_node(workdir) as node:
        node.import_image(archive)                      # a docker/OCI archive (podman save): no registry here
        node.run(["helm", "install", ...], timeout_s=120)   # kubectl, helm, crictl: pinned, inside the namespace
        node.run(["kubectl", "get", "pods", "-A"], timeout_s=30).stdout

Isolation, so that nothing outlives the node, not even after a killed test session:
- a network namespace `mlchaos-node-<pid>` (node_namespaces.py) holds every address: the node's, the pods' bridge,
  the Service range and kube-proxy's iptables rules; nothing in it is routed anywhere else;
- every process runs in one PID namespace whose init dies with the test process (PR_SET_PDEATHSIG through
  `unshare --kill-child`): the kernel then kills all of them, containers and containerd's shims included;
- they share one private mount namespace: /run and the node's state are tmpfs there, /var/lib and /var/log are
  overlays with a tmpfs upper layer (CNI's cache, the pods' logs), so every mount and file they make vanishes
  with it;
- what remains on the host is the namespace's name and the pods' cgroup folders; the next start removes those of
  a dead pid.

Run it as a script (`scripts/k8s-node.sh up`) for a node in the foreground to poke at.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from k8s_cluster import ProcessGroup, TestenvError, stop_like_ctrl_c, testenv_paths, wait_started
from node_config import API_PORT, NODE_NAME, POD_CIDR, NodeFiles, write_node_files
from node_images import node_image
from node_namespaces import (
    NETNS_DIR,
    NODE_IP,
    SERVICE_CIDR,
    alive,
    create_cgroups,
    create_netns,
    name_for,
    remove,
    remove_stale,
)
from support.local_processes import die_with_parent
from support.waiting import wait_until

_NODES = itertools.count()
START_TIMEOUT_S = 180.0
"""A start takes ~30 s on 2 busy cores; the bound only stops a hang."""
HIDDEN = (Path("/run"), Path("/var/lib"), Path("/var/log"))
"""Replaced inside the node's mount namespace (see the module's docstring)."""

# PID 1 of the node's PID namespace: mounts the node's private file systems, says so, then reaps orphans (the
# shims daemonize) until it is killed, which kills every other process in the namespace.
INIT = r"""
import os, subprocess, sys, time
state, ready = sys.argv[1], sys.argv[2]
def mount(*args):
    subprocess.run(["mount", *args], check=True)
mount("-t", "tmpfs", "-o", "mode=0755", "mlchaos-node", "/run")
mount("-t", "tmpfs", "-o", "mode=0700", "mlchaos-node", state)
for name in ("lib", "log"):
    upper, work = f"{state}/var-{name}/upper", f"{state}/var-{name}/work"
    os.makedirs(upper)
    os.makedirs(work)
    layers = f"lowerdir=/var/{name},upperdir={upper},workdir={work}"
    mount("-t", "overlay", "-o", layers, "mlchaos-node", f"/var/{name}")
open(ready, "w").close()
while True:
    try:
        os.wait()
    except ChildProcessError:
        time.sleep(1)
"""


@dataclass(frozen=True)
class NodeBinaries:
    etcd: Path
    kube_apiserver: Path
    kube_controller_manager: Path
    kube_scheduler: Path
    kubelet: Path
    kube_proxy: Path
    coredns: Path
    kubectl: Path
    helm: Path
    crictl: Path

    @classmethod
    def locate(cls) -> NodeBinaries:
        paths = testenv_paths()
        return cls(**{field: paths[field.upper()] for field in cls.__dataclass_fields__})


class NodeCommandError(subprocess.CalledProcessError):
    """A command run in the node failed; unlike CalledProcessError, its message carries what it printed."""

    def __str__(self) -> str:
        return f"{super().__str__()}\nstdout:\n{_last(self.stdout)}\nstderr:\n{_last(self.stderr)}"


def _last(text: str | None, lines: int = 30) -> str:
    return "\n".join((text or "").splitlines()[-lines:])


@dataclass(frozen=True)
class RealNode:
    """A running node (see the module's docstring). Pods' hostPath volumes are shared with this machine's file
    system, except under /run, /var/lib and /var/log, which are the node's own."""

    netns: str
    """The network namespace's name (`ip netns exec NAME ...` works too)."""
    kubeconfig: Path
    """A cluster admin's; its server, https://10.250.0.1:6443, is reachable only inside the namespace."""
    workdir: Path
    node_image: str
    """`localhost/mlchaos-nodetools:<hash>`, imported: the pods' sandbox, and `/nodetools serve|get|fetch|resolve`."""
    containerd_socket: Path
    logs: Path

    def run(
        self, argv: list[str], timeout_s: float, check: bool = True, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run argv inside the node's network namespace with KUBECONFIG set; `kubectl`, `helm` and `crictl` are the
        pinned ones. `check`: a non-zero exit raises NodeCommandError quoting its output."""
        home = self.workdir / "home"  # kubectl's and helm's caches and settings stay with the node
        env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "PATH": f"{self.workdir / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(home),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "CONTAINER_RUNTIME_ENDPOINT": f"unix://{self.containerd_socket}",
        }
        done = subprocess.run(
            ["nsenter", f"--net={NETNS_DIR / self.netns}", "--", *argv],
            capture_output=True, text=True, env=env, input=input, timeout=timeout_s, check=False,
        )  # fmt: skip
        if check and done.returncode != 0:
            raise NodeCommandError(done.returncode, argv, done.stdout, done.stderr)
        return done

    def import_image(self, archive: Path) -> None:
        """Load a docker or OCI archive into the runtime's image store; pods then use it by its tag (with
        imagePullPolicy Never or IfNotPresent: there is no registry to pull from)."""
        done = subprocess.run(
            ["ctr", f"--address={self.containerd_socket}", "--namespace=k8s.io", "images", "import", str(archive)],
            capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise NodeCommandError(
                done.returncode, ["ctr", "images", "import", str(archive)], done.stdout, done.stderr
            )

    def logs_tail(self, lines: int = 15) -> str:
        """The last lines of every component's log, for a failure message."""
        parts = []
        for log in sorted(self.logs.glob("*.log")):
            parts.append(
                f"--- {log.name} (last {lines} lines)\n{_last(log.read_text(errors='replace'), lines)}"
            )
        return "\n".join(parts)


@contextlib.contextmanager
def running_node(workdir: Path) -> Iterator[RealNode]:
    """Start the node in `workdir` (files and logs; kept afterwards), ready for pods; stop and remove it on exit.
    A failed start is a TestenvError naming what never happened and quoting the logs."""
    if any(workdir.resolve().is_relative_to(hidden) for hidden in HIDDEN):
        raise TestenvError(f"the node's workdir {workdir} may not be under {', '.join(map(str, HIDDEN))}")
    binaries = NodeBinaries.locate()
    image = node_image()
    remove_stale()
    name = name_for(os.getpid(), next(_NODES))
    files = write_node_files(workdir, cgroup_root=f"/{name}", sandbox_image=image.reference)
    _link_tools(workdir / "bin", binaries)
    node = RealNode(
        netns=name, kubeconfig=files.kubeconfig, workdir=workdir, node_image=image.reference,
        containerd_socket=files.containerd_socket, logs=files.logs,
    )  # fmt: skip
    processes = ProcessGroup(files.logs)
    init: tuple[subprocess.Popen[bytes], int] | None = None
    try:
        create_netns(name)
        create_cgroups(name)
        init = _start_init(name, files)
        init_pid = init[1]
        enter = ["nsenter", f"--target={init_pid}", "--pid", "--mount", "--net", "--"]
        _start_control_plane(processes, enter, binaries, files)
        processes.start("containerd", [*enter, "containerd", f"--config={workdir / 'containerd.toml'}"])
        _wait(
            node,
            processes,
            "containerd's socket",
            lambda: _answers(["ctr", f"--address={files.containerd_socket}", "version"]),
        )
        node.import_image(image.archive)
        _start_node_agents(processes, enter, binaries, files)
        _wait_ready(node, processes)
        yield node
    finally:
        if init is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(init[1], signal.SIGKILL)  # the kernel kills every other process in the namespace
            init[0].wait(timeout=30)
        processes.stop()
        remove(name)


def _link_tools(folder: Path, binaries: NodeBinaries) -> None:
    folder.mkdir()
    for tool in (binaries.kubectl, binaries.helm, binaries.crictl):
        (folder / tool.name).symlink_to(tool)


def _start_init(name: str, files: NodeFiles) -> tuple[subprocess.Popen[bytes], int]:
    """Start the namespaces' PID 1; return its `unshare` parent and its pid as this machine sees it, once its
    mounts are made."""
    ready = files.workdir / "init.ready"
    with open(files.logs / "init.log", "wb") as log:
        unshare = subprocess.Popen(
            ["nsenter", f"--net={NETNS_DIR / name}", "--",
             "unshare", "--pid", "--mount-proc", "--propagation=private", "--kill-child",
             sys.executable, "-c", INIT, str(files.state), str(ready)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=die_with_parent(signal.SIGKILL),
        )  # fmt: skip
    children = Path(f"/proc/{unshare.pid}/task/{unshare.pid}/children")

    def init_pid() -> int | None:
        if unshare.poll() is not None:
            text = (files.logs / "init.log").read_text(errors="replace")
            raise TestenvError(
                f"the node's namespaces could not be made (exit {unshare.returncode}):\n{text}"
            )
        pids = children.read_text().split() if children.exists() else []
        return int(pids[0]) if pids and ready.exists() else None

    try:
        return unshare, wait_until(init_pid, 30, "the node's namespaces (PID 1 mounting its file systems)")
    except AssertionError as timeout:
        raise TestenvError(str(timeout)) from None


def _start_control_plane(
    processes: ProcessGroup, enter: list[str], b: NodeBinaries, files: NodeFiles
) -> None:
    pki, state = files.pki, files.state
    etcd = "http://127.0.0.1:2379"
    processes.start("etcd", [
        *enter, str(b.etcd), "--name=mlchaos-node", f"--data-dir={state / 'etcd'}", "--unsafe-no-fsync",
        f"--listen-client-urls={etcd}", f"--advertise-client-urls={etcd}",
        "--listen-peer-urls=http://127.0.0.1:2380", "--initial-advertise-peer-urls=http://127.0.0.1:2380",
        "--initial-cluster=mlchaos-node=http://127.0.0.1:2380",
    ])  # fmt: skip
    processes.start("kube-apiserver", [
        *enter, str(b.kube_apiserver), f"--etcd-servers={etcd}",
        "--bind-address=0.0.0.0", f"--advertise-address={NODE_IP}", f"--secure-port={API_PORT}",
        f"--tls-cert-file={pki / 'apiserver.crt'}", f"--tls-private-key-file={pki / 'apiserver.key'}",
        f"--client-ca-file={files.ca}", f"--token-auth-file={pki / 'tokens.csv'}", "--authorization-mode=Node,RBAC",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={pki / 'sa.pub'}", f"--service-account-signing-key-file={pki / 'sa.key'}",
        f"--service-cluster-ip-range={SERVICE_CIDR}", "--allow-privileged=true",
        f"--kubelet-client-certificate={pki / 'kubelet-client.crt'}",
        f"--kubelet-client-key={pki / 'kubelet-client.key'}", "--kubelet-preferred-address-types=InternalIP",
    ])  # fmt: skip
    processes.start("kube-controller-manager", [
        *enter, str(b.kube_controller_manager), f"--kubeconfig={files.kubeconfig}", "--leader-elect=false",
        "--secure-port=0", f"--service-account-private-key-file={pki / 'sa.key'}", f"--root-ca-file={files.ca}",
        "--use-service-account-credentials=false",
    ])  # fmt: skip
    processes.start("kube-scheduler", [
        *enter, str(b.kube_scheduler), f"--kubeconfig={files.kubeconfig}", "--leader-elect=false", "--secure-port=0",
    ])  # fmt: skip


def _start_node_agents(processes: ProcessGroup, enter: list[str], b: NodeBinaries, files: NodeFiles) -> None:
    workdir = files.workdir
    processes.start("kubelet", [
        *enter, str(b.kubelet), f"--config={workdir / 'kubelet.yaml'}", f"--kubeconfig={files.kubeconfig}",
        f"--root-dir={files.state / 'kubelet'}", f"--hostname-override={NODE_NAME}", f"--node-ip={NODE_IP}",
    ])  # fmt: skip
    # conntrack's limits are global sysctls, read-only in a namespace: leave them as they are (0).
    processes.start("kube-proxy", [
        *enter, str(b.kube_proxy), f"--kubeconfig={files.kubeconfig}", f"--hostname-override={NODE_NAME}",
        "--proxy-mode=iptables", f"--cluster-cidr={POD_CIDR}", "--conntrack-max-per-core=0",
        "--conntrack-tcp-timeout-established=0", "--conntrack-tcp-timeout-close-wait=0",
        "--metrics-bind-address=127.0.0.1:10249", "--healthz-bind-address=127.0.0.1:10256",
    ])  # fmt: skip
    processes.start("coredns", [*enter, str(b.coredns), "-conf", str(workdir / "Corefile")])


def _answers(argv: list[str]) -> bool:
    return subprocess.run(argv, capture_output=True, timeout=20, check=False).returncode == 0


def _wait(node: RealNode, processes: ProcessGroup, what: str, ready: Callable[[], bool]) -> None:
    """Until `ready`; a node process that died, or START_TIMEOUT_S passing, is a TestenvError quoting the logs."""
    wait_started(what, ready, processes, START_TIMEOUT_S, 0.5, (subprocess.TimeoutExpired,), node.logs_tail)


def _wait_ready(node: RealNode, processes: ProcessGroup) -> None:
    """Until pods can run and use what a cluster gives them: the API, a Ready node, the default ServiceAccount
    with its CA bundle, and kube-proxy's rules for the `kubernetes` Service."""

    def succeeds(argv: list[str]) -> bool:
        return node.run(argv, timeout_s=20, check=False).returncode == 0

    def output(argv: list[str]) -> str:
        return node.run(argv, timeout_s=20, check=False).stdout

    _wait(node, processes, "kube-apiserver /readyz", lambda: succeeds(["kubectl", "get", "--raw", "/readyz"]))
    ready = '{.status.conditions[?(@.type=="Ready")].status}'
    _wait(node, processes, f"node {NODE_NAME} Ready",
          lambda: output(["kubectl", "get", "node", NODE_NAME, "-o", f"jsonpath={ready}"]) == "True")  # fmt: skip
    _wait(node, processes, "the default ServiceAccount and kube-root-ca.crt (controller-manager running)",
          lambda: succeeds(["kubectl", "get", "serviceaccount/default", "configmap/kube-root-ca.crt"]))  # fmt: skip
    _wait(node, processes, "kube-proxy's rules for the kubernetes Service",
          lambda: "default/kubernetes:https" in output(["iptables-save", "-t", "nat"]))  # fmt: skip


def main() -> None:
    """`scripts/k8s-node.sh up`: a node in the foreground until Ctrl-C."""
    signal.signal(signal.SIGTERM, stop_like_ctrl_c)  # `kill PID` cleans up like Ctrl-C
    for old in Path(tempfile.gettempdir()).glob("mlchaos-node-up-*-*"):  # of an `up` that was killed
        if not alive(name_for(int(old.name.split("-")[3]), 0)):
            shutil.rmtree(old, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix=f"mlchaos-node-up-{os.getpid()}-") as tmp:
        started = time.monotonic()
        with running_node(Path(tmp)) as node:
            print(f"node up in {time.monotonic() - started:.1f} s in network namespace {node.netns}")
            print(
                f"  ip netns exec {node.netns} env KUBECONFIG={node.kubeconfig} {node.workdir}/bin/kubectl get pods -A"
            )
            print(f"logs in {node.logs}; Ctrl-C stops everything and removes {tmp}", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                signal.pause()


if __name__ == "__main__":
    main()
