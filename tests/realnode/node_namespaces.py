"""The real node's place on this machine: a network namespace named after the test process, and the cgroup folders
its pods get; creating them, and removing them again, also after a test session that was killed.

Every name starts with PREFIX and ends with the pid of the process that made it: the next start removes whatever a
dead pid left behind (`remove_stale`), and never touches a live process's node. Everything else the node makes
(mounts, pod network namespaces, processes) lives in namespaces that the kernel removes when the node's processes
die (real_node.py), so these two are all there is to clean.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

from k8s_cluster import TestenvError

PREFIX = "mlchaos-node-"
NETNS_DIR = Path("/run/netns")
NODE_IP = "10.250.0.1"
"""The node's address inside its namespace: the API server, the kubelet and CoreDNS listen on it."""
SERVICE_CIDR = "10.96.0.0/24"
REMOVE_TIMEOUT_S = 20.0


class NodeSetupError(TestenvError):
    """The node's namespace could not be made; the message says why."""


def name_for(pid: int, index: int) -> str:
    """The `index`th node of process `pid` (a test session may run two at once)."""
    return f"{PREFIX}{pid}-{index}"


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)
    if done.returncode != 0:
        raise NodeSetupError(f"`ip {' '.join(args)}` failed: {done.stderr.strip()}")


def create_netns(name: str) -> None:
    """A network namespace with loopback and the node's address, and no route out of it."""
    _ip("netns", "add", name)
    _ip("-n", name, "link", "set", "lo", "up")
    # On loopback (this kernel has no dummy device): reachable from the pods through their gateway, and nowhere else.
    _ip("-n", name, "addr", "add", f"{NODE_IP}/32", "dev", "lo")
    # Locally sent packets to a Service IP need a route before kube-proxy's DNAT rewrites them; there is no other.
    _ip("-n", name, "route", "add", SERVICE_CIDR, "dev", "lo")
    # Both are per network namespace: routing between the pods' bridge and the node's address, and iptables seeing
    # bridged pod-to-pod packets (a Service's reply coming back from a pod on the same bridge).
    sysctl = subprocess.run(
        ["nsenter", f"--net={NETNS_DIR / name}", "sysctl", "-q", "-w",
         "net.ipv4.ip_forward=1", "net.bridge.bridge-nf-call-iptables=1"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    if sysctl.returncode != 0:
        raise NodeSetupError(
            f"setting sysctls in the node's namespace failed: {sysctl.stderr.strip()} (is br_netfilter loaded?)"
        )


def hierarchies() -> list[Path]:
    """The mounted cgroup hierarchies: one per controller on cgroup v1 (and the unified one of a hybrid set-up),
    or the single cgroup v2 tree."""
    mounts = (line.split(" - ") for line in Path("/proc/self/mountinfo").read_text().splitlines())
    return sorted(
        {Path(left.split()[4]) for left, right in mounts if right.split()[0] in ("cgroup", "cgroup2")}
    )


def create_cgroups(name: str) -> None:
    """The node's cgroup `/<name>` in every hierarchy: the kubelet's cgroup root, so that every pod's cgroup lands
    in a folder found by name (the kubelet refuses a root that does not exist)."""
    for hierarchy in hierarchies():
        folder = hierarchy / name
        folder.mkdir()
        for cpuset in ("cpuset.cpus", "cpuset.mems"):  # cgroup v1's cpuset starts empty: no task could join
            if (hierarchy / cpuset).exists() and (folder / cpuset).exists():
                (folder / cpuset).write_text((hierarchy / cpuset).read_text())


def remove(name: str) -> None:
    """Remove the namespace `name` and the node's cgroup folders: processes still in them are killed first."""
    netns = NETNS_DIR / name
    if netns.exists():
        pids = subprocess.run(
            ["ip", "netns", "pids", name], capture_output=True, text=True, timeout=30, check=False
        )
        _kill(int(pid) for pid in pids.stdout.split())
        subprocess.run(["ip", "netns", "delete", name], capture_output=True, timeout=30, check=False)
    _remove_cgroups(name)
    _unmount_empty_netns_dir()


def remove_stale() -> list[str]:
    """Remove every node left by a process that is gone (a killed test session); return their names."""
    found = {entry.name for entry in NETNS_DIR.glob(f"{PREFIX}*")} if NETNS_DIR.is_dir() else set()
    found |= {folder.name for hierarchy in hierarchies() for folder in hierarchy.glob(f"{PREFIX}*")}
    stale = sorted(name for name in found if not alive(name))
    for name in stale:
        remove(name)
    return stale


def alive(name: str) -> bool:
    """Whether the process that made node `name` still runs (a name not of this form counts as alive)."""
    match = re.fullmatch(re.escape(PREFIX) + r"(\d+)-\d+", name)
    if match is None:
        return True  # not one of ours: never touched
    try:
        os.kill(int(match.group(1)), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill(pids: Iterable[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _remove_cgroups(name: str) -> None:
    """Each hierarchy's `<name>` folder, deepest first. A folder empties a moment after its last process died, so
    removal is retried within a bound; what still fails is reported, not ignored."""
    deadline = time.monotonic() + REMOVE_TIMEOUT_S
    for top in (hierarchy / name for hierarchy in hierarchies()):
        if not top.is_dir():
            continue
        deepest_first = sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts))
        for folder in [*deepest_first, top]:
            while True:
                with contextlib.suppress(FileNotFoundError):
                    _kill(int(pid) for pid in (folder / "cgroup.procs").read_text().split())
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as error:
                    if time.monotonic() > deadline:
                        raise NodeSetupError(f"could not remove the cgroup {folder}: {error}") from None
                    time.sleep(0.1)


def _unmount_empty_netns_dir() -> None:
    """`ip netns add` makes /run/netns a mount point of its own; once no namespace is left in it, undo that so the
    node leaves no mount behind (another tool's namespace in it keeps it as it is)."""
    if not NETNS_DIR.is_dir() or any(NETNS_DIR.iterdir()):
        return
    for _ in range(4):  # it may be mounted on itself more than once
        if not any(
            line.split()[4] == str(NETNS_DIR)
            for line in Path("/proc/self/mountinfo").read_text().splitlines()
        ):
            break
        subprocess.run(["umount", str(NETNS_DIR)], capture_output=True, timeout=30, check=False)
    with contextlib.suppress(OSError):
        NETNS_DIR.rmdir()
