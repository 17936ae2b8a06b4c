"""The real node's files: keys and certificates, the admin kubeconfig, and the configuration of containerd, the CNI
bridge, the kubelet and CoreDNS. Addresses and ranges live only inside the node's network namespace:

    node (API server :6443, kubelet :10250, CoreDNS :53)   10.250.0.1 on loopback
    pods                                                  10.244.0.0/24 on the bridge mlchaos-br0 (gateway .1)
    Services                                              10.96.0.0/24 (`kubernetes` is 10.96.0.1), kube-proxy
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml
from k8s_cluster import TestenvError, write_kubeconfig
from node_namespaces import NODE_IP

POD_CIDR = "10.244.0.0/24"
KUBERNETES_SERVICE_IP = "10.96.0.1"
NODE_NAME = "mlchaos-node"
API_PORT = 6443
CLUSTER_DOMAIN = "cluster.local"
KUBECONFIG_CONTEXT = "mlchaos-test"  # the context k8s_cluster.write_kubeconfig names
CNI_BIN = Path("/usr/lib/cni")  # Debian's containernetworking-plugins


@dataclass(frozen=True)
class NodeFiles:
    workdir: Path
    state: Path
    """A tmpfs mounted only inside the node's mount namespace: etcd, containerd's images, kubelet's volumes."""
    run: Path
    """containerd's socket: on the host's file system, so `ctr` reaches it from outside the namespaces too."""
    logs: Path
    pki: Path
    kubeconfig: Path
    token: str

    @property
    def ca(self) -> Path:
        return self.pki / "ca.crt"

    @property
    def containerd_socket(self) -> Path:
        return self.run / "containerd.sock"


def write_node_files(workdir: Path, cgroup_root: str, sandbox_image: str) -> NodeFiles:
    files = NodeFiles(
        workdir=workdir, state=workdir / "state", run=workdir / "run", logs=workdir / "logs", pki=workdir / "pki",
        kubeconfig=workdir / "kubeconfig", token=secrets.token_hex(16),
    )  # fmt: skip
    for folder in (files.state, files.run, files.logs, files.pki, workdir / "cni"):
        folder.mkdir(mode=0o700)
    _write_pki(files)
    write_kubeconfig(files.kubeconfig, f"https://{NODE_IP}:{API_PORT}", files.ca, files.token)
    files.kubeconfig.chmod(0o600)
    _write_containerd(files, sandbox_image)
    _write_cni(files)
    _write_kubelet(files, cgroup_root)
    (workdir / "Corefile").write_text(_corefile(files))
    # Pods with dnsPolicy Default get this; there is nothing upstream to forward to.
    (workdir / "resolv.conf").write_text(f"nameserver {NODE_IP}\n")
    return files


def _openssl(*args: str) -> None:
    if shutil.which("openssl") is None:
        raise TestenvError("the openssl command makes the node's keys; install it (apt-get install openssl)")
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def _write_pki(files: NodeFiles) -> None:
    """One CA signing the API server's serving certificate (valid for every name pods use) and its client
    certificate towards the kubelet (logs, exec); the ServiceAccount signing key; a static admin token."""
    pki = files.pki
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl("req", "-x509", *ec, "-days", "2", "-subj", "/CN=mlchaos-node-ca",
             "-keyout", str(pki / "ca.key"), "-out", str(files.ca))  # fmt: skip
    service = "kubernetes.default.svc"
    names = [f"IP:{NODE_IP}", f"IP:{KUBERNETES_SERVICE_IP}", "IP:127.0.0.1", "DNS:localhost", "DNS:kubernetes",
             "DNS:kubernetes.default", f"DNS:{service}", f"DNS:{service}.{CLUSTER_DOMAIN}"]  # fmt: skip
    leaves = {
        "apiserver": (
            "/CN=kube-apiserver",
            f"subjectAltName={','.join(names)}\nextendedKeyUsage=serverAuth\n",
        ),
        "kubelet-client": (
            "/O=system:masters/CN=kube-apiserver-kubelet-client",
            "extendedKeyUsage=clientAuth\n",
        ),
    }
    for serial, (name, (subject, extensions)) in enumerate(leaves.items(), start=1):
        (pki / f"{name}.ext").write_text(extensions)
        _openssl(
            "req",
            *ec,
            "-subj",
            subject,
            "-keyout",
            str(pki / f"{name}.key"),
            "-out",
            str(pki / f"{name}.csr"),
        )
        _openssl("x509", "-req", "-in", str(pki / f"{name}.csr"), "-CA", str(files.ca), "-CAkey", str(pki / "ca.key"),
                 "-set_serial", str(serial), "-days", "2", "-extfile", str(pki / f"{name}.ext"),
                 "-out", str(pki / f"{name}.crt"))  # fmt: skip
    _openssl(
        "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(pki / "sa.key")
    )
    _openssl("pkey", "-in", str(pki / "sa.key"), "-pubout", "-out", str(pki / "sa.pub"))
    (pki / "tokens.csv").write_text(f'{files.token},mlchaos-admin,mlchaos-admin,"system:masters"\n')


def _write_containerd(files: NodeFiles, sandbox_image: str) -> None:
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    (files.workdir / "containerd.toml").write_text(f"""\
version = 2
root = "{files.state}/containerd"
# /run is a tmpfs of the node's own mount namespace: runc's and the shims' state vanish with it.
state = "/run/containerd"
# opt would create /opt/containerd on the host; the others are snapshotters this node does not use.
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "{files.containerd_socket}"
[ttrpc]
  address = "{files.containerd_socket}.ttrpc"
[metrics]
  address = ""
[{cri}]
  sandbox_image = "{sandbox_image}"
  # The machine grants no CAP_SYS_RESOURCE: lowering a container's OOM score adjustment would fail.
  restrict_oom_score_adj = true
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [{cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [{cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [{cri}.containerd.runtimes.runc.options]
        SystemdCgroup = false
  [{cri}.cni]
    bin_dir = "{CNI_BIN}"
    conf_dir = "{files.workdir / "cni"}"
    max_conf_num = 1
""")


def _write_cni(files: NodeFiles) -> None:
    bridge = {
        "type": "bridge",
        "bridge": "mlchaos-br0",
        "isGateway": True,
        "ipMasq": False,  # nothing is routed off the namespace, so there is nothing to masquerade for
        "hairpinMode": True,  # a pod reaching itself through its Service
        "ipam": {
            "type": "host-local",
            "ranges": [[{"subnet": POD_CIDR}]],
            "routes": [{"dst": "0.0.0.0/0"}],
            "dataDir": str(files.state / "cni-ipam"),
        },
    }
    conflist = {"cniVersion": "1.0.0", "name": "mlchaos-node", "plugins": [bridge]}
    (files.workdir / "cni" / "10-mlchaos-node.conflist").write_text(json.dumps(conflist, indent=2))


def _write_kubelet(files: NodeFiles, cgroup_root: str) -> None:
    config = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "containerRuntimeEndpoint": f"unix://{files.containerd_socket}",
        # cgroupfs (no systemd as init here), under the node's own cgroup (named after the test process, so that
        # a killed session's folders are found by the next start); node allocatable is not enforced: no limits.
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": cgroup_root,
        "enforceNodeAllocatable": [],
        "address": NODE_IP,
        "readOnlyPort": 0,
        "healthzPort": 0,
        # Only the API server (its client certificate, signed by the node's CA) may call the kubelet.
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": False},
            "x509": {"clientCAFile": str(files.ca)},
        },
        "authorization": {"mode": "AlwaysAllow"},
        "clusterDNS": [NODE_IP],
        "clusterDomain": CLUSTER_DOMAIN,
        "resolvConf": str(files.workdir / "resolv.conf"),
        "failSwapOn": False,
        # The host's disk is shared with everything else on the machine: never evict or garbage-collect images
        # because of it (the images were imported, nothing could pull them again).
        "evictionHard": {"memory.available": "1Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "serializeImagePulls": False,
    }
    (files.workdir / "kubelet.yaml").write_text(yaml.safe_dump(config))


def _corefile(files: NodeFiles) -> str:
    # Only cluster.local and reverse lookups: names outside are refused, there is nowhere to forward them.
    return f"""\
.:53 {{
    bind {NODE_IP}
    errors
    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
        kubeconfig {files.kubeconfig} {KUBECONFIG_CONTEXT}
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }}
    cache 5
}}
"""
