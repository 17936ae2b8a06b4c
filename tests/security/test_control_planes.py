"""Issue 13, item 3: the embedded stack's control planes, tried by another local user as the attack was tried.

Before: supervisord's XML-RPC listened on a loopback TCP port without credentials (any local user could
``stopProcess`` the gateway mid-run), and redis had no password (``CONFIG SET dir`` + ``SAVE`` wrote a root-owned
file wherever the attacker chose). Now supervisord answers only on a unix socket inside the 0700 workdir, redis
requires a generated password and knows no CONFIG, SAVE & co. even with it, and the workdir's whole tree is the
owner's only. One stack for the module, started in a chosen, pre-existing, world-readable directory (as
``mlchaos staging up --workdir`` would be): it must come out private too.

An external supervisord that requires credentials is reached with the ones its target declares (never written in
the target, the plan or the journal).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import xmlrpc.client
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml
from other_user import other_uid, python_as_other_user, require_root
from support.waiting import wait_until

from mlchaos.experiments.targets import ExternalTarget, SupervisorAuth, TargetEndpoints
from mlchaos.injectors.backends.supervisor import SupervisorClient
from mlchaos.injectors.base import TargetMisconfigured
from mlchaos.injectors.pod_kill import INJECTOR as POD_KILL
from mlchaos.injectors.pod_kill import PodKill
from mlchaos.staging.config import CONFIG_FILE, StackConfig
from mlchaos.staging.endpoints import StackEndpoints
from mlchaos.staging.options import StackOptions
from mlchaos.staging.stack import EmbeddedStack, StackStartError
from mlchaos.staging.supervisor import find_supervisord, free_ports, supervisor_proxy

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = tmp_path_factory.mktemp("stack")
    chosen.chmod(0o755)  # as a user's directory often is: the stack must make it private
    return chosen


@pytest.fixture(scope="module")
def stack(workdir: Path) -> Iterator[StackEndpoints]:
    require_root()
    with EmbeddedStack(StackOptions(), workdir=workdir) as running:
        yield running.endpoints


def _as_other_user(source: str) -> Any:
    """Runs the attack ``source`` as the other user; it prints one JSON value, returned here."""
    done = python_as_other_user(source)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


_XMLRPC_OVER_UNIX = """
import http.client, json, socket, xmlrpc.client
class Connection(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(5)
        self.sock.connect({path!r})
class Transport(xmlrpc.client.Transport):
    def make_connection(self, host):
        return Connection("localhost", timeout=5)
outcome = {{}}
for call, args in (("getAllProcessInfo", ()), ("stopProcess", ("gateway",))):
    try:
        proxy = xmlrpc.client.ServerProxy("http://localhost/RPC2", transport=Transport())
        getattr(proxy.supervisor, call)(*args)
        outcome[call] = "allowed"
    except Exception as exc:
        outcome[call] = type(exc).__name__
print(json.dumps(outcome))
"""


def test_another_user_cannot_stop_a_program(stack: StackEndpoints) -> None:
    supervisor = SupervisorClient(stack.supervisor_url)
    before = supervisor.program("gateway")
    socket_path = stack.supervisor_url.removeprefix("unix://")
    refused = _as_other_user(_XMLRPC_OVER_UNIX.format(path=socket_path))
    assert refused == {"getAllProcessInfo": "PermissionError", "stopProcess": "PermissionError"}
    # No TCP port left to try instead: supervisord listens on nothing but its socket.
    assert psutil.Process(stack.supervisord_pid).net_connections(kind="inet") == []
    after = supervisor.program("gateway")  # the stack's owner still drives it
    assert (after.state, after.pid) == ("RUNNING", before.pid)


_REDIS_ATTACK = """
import json, socket
def command(*words):
    encoded = [str(w).encode() for w in words]
    return b"*%d\\r\\n" % len(encoded) + b"".join(b"$%d\\r\\n%s\\r\\n" % (len(w), w) for w in encoded)
def attack(port, password):
    replies = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        answers = conn.makefile("rb")
        steps = ([("AUTH", password)] if password else []) + [("DBSIZE",),
            ("CONFIG", "SET", "dir", {target!r}), ("CONFIG", "SET", "dbfilename", "planted"), ("SAVE",),
            ("BGSAVE",), ("FLUSHALL",), ("REPLICAOF", "127.0.0.1", "9"), ("DEBUG", "SLEEP", "0"), ("MODULE", "LIST"),
        ]
        for step in steps:
            conn.sendall(command(*step))
            replies.append(answers.readline().decode().strip())
    return replies
print(json.dumps({{str(port): [attack(port, None), attack(port, {password!r})] for port in {ports!r}}}))
"""


def test_another_user_cannot_make_redis_write_a_file(stack: StackEndpoints, tmp_path: Path) -> None:
    """Directly and through the feature store's proxy; without the password, and even with it (leaked)."""
    config = StackConfig.read(stack.workdir / CONFIG_FILE)
    target = tmp_path / "attacker-chose-this"
    target.mkdir()
    ports = [config.redis_port, config.proxy_port("feature_store")]
    source = _REDIS_ATTACK.format(target=str(target), password=stack.redis_password, ports=ports)
    for port, (without, with_password) in _as_other_user(source).items():
        # redis 6.2 looks a command up before it asks for AUTH: the disabled ones are unknown even then.
        assert without[0].startswith("-NOAUTH"), (port, without)  # DBSIZE: nothing without the password
        assert all(r.startswith(("-NOAUTH", "-ERR unknown command")) for r in without[1:]), (port, without)
        assert with_password[0] == "+OK" and int(with_password[1][1:]) > 0, (port, with_password)
        refused = with_password[2:]  # the password works, and yet none of those commands exists
        assert all(reply.startswith("-ERR unknown command") for reply in refused), (port, refused)
    assert list(target.iterdir()) == []


def test_the_workdir_is_private_and_no_secret_is_in_a_command_line(stack: StackEndpoints) -> None:
    workdir = stack.workdir
    peek = f"""
import json, os
outcome = {{}}
for path in ({str(workdir)!r}, {str(workdir / CONFIG_FILE)!r}, {str(workdir / "redis.conf")!r},
             {str(workdir / "logs" / "gateway.log")!r}):
    try:
        os.listdir(path) if os.path.basename(path) == {workdir.name!r} else open(path).read()
        outcome[path] = "read"
    except Exception as exc:
        outcome[path] = type(exc).__name__
print(json.dumps(outcome))
"""
    assert set(_as_other_user(peek).values()) == {"PermissionError"}
    assert stat.S_IMODE(workdir.stat().st_mode) == 0o700  # made private, though chosen 0755
    loose = [
        f"{path.relative_to(workdir)} {stat.S_IMODE(path.lstat().st_mode):o}"
        for path in [workdir, *workdir.rglob("*")]
        if path.lstat().st_mode & 0o077
    ]
    assert loose == []  # directories, socket, configs, logs, redis' snapshot: the owner's only
    password = stack.redis_password
    assert password and password not in repr(stack)
    processes = [psutil.Process(stack.supervisord_pid), *psutil.Process(stack.supervisord_pid).children(True)]
    assert all(password not in " ".join(p.cmdline()) for p in processes)


def test_a_workdir_of_another_user_is_refused(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    os.chown(theirs, *other_uid())
    with pytest.raises(StackStartError, match="not a directory of this user's"):
        EmbeddedStack(StackOptions(), workdir=theirs).start(timeout_s=10)
    assert list(theirs.iterdir()) == []  # nothing written into it


# -- an external supervisord that requires credentials ------------------------------------------------------


@pytest.fixture()
def guarded_supervisord(tmp_path: Path) -> Iterator[str]:
    """A supervisord with ``[inet_http_server]`` username/password, running one program (``sleeper``)."""
    port = free_ports(1)[0]
    conf = tmp_path / "supervisord.conf"
    conf.write_text(
        f"""[supervisord]
nodaemon=true
logfile={tmp_path}/supervisord.log
pidfile={tmp_path}/supervisord.pid
childlogdir={tmp_path}

[inet_http_server]
port=127.0.0.1:{port}
username=chaos
password=s3cret-for-the-test

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[program:sleeper]
command={sys.executable} -c "import time; time.sleep(600)"
startsecs=0
autorestart=true
"""
    )
    process = subprocess.Popen([str(find_supervisord()), "-n", "-c", str(conf)], stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/RPC2"

    def listening() -> bool:
        try:
            with supervisor_proxy(url, 1.0) as proxy:
                proxy.system.listMethods()  # 401 once it listens
        except xmlrpc.client.ProtocolError:  # 401: it listens
            pass
        return True

    try:
        wait_until(listening, 15, "supervisord to listen", interval_s=0.1, ignoring=(OSError,))
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_an_external_supervisord_is_reached_with_the_declared_credentials(
    guarded_supervisord: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(TargetMisconfigured, match=r"HTTP 401.*supervisor_auth"):
        SupervisorClient(guarded_supervisord).programs()
    monkeypatch.setenv("SUPERVISOR_PASSWORD", "s3cret-for-the-test")
    target = ExternalTarget.model_validate(
        yaml.safe_load(f"""
kind: external
service_url: http://127.0.0.1:9
supervisor_url: {guarded_supervisord}
supervisor_auth: {{username: chaos, password_env: SUPERVISOR_PASSWORD}}
programs: [sleeper]
""")
    )
    endpoints = TargetEndpoints(
        service_url=target.service_url,
        supervisor_url=target.supervisor_url,
        supervisor_auth=target.supervisor_auth,
        programs=target.programs,
    )
    spec = PodKill(id="kill-sleeper", type="pod_kill", duration=1, program="sleeper")
    plan = POD_KILL.plan(spec, endpoints)
    assert "s3cret" not in plan.undo.model_dump_json()  # what the journal keeps: where to read it, not it
    client = plan.undo.client()
    POD_KILL.check(plan.undo)
    before = client.program("sleeper").pid
    POD_KILL.inject(spec, plan.undo)
    wait_until(lambda: client.program("sleeper").pid not in (0, before), 10, "supervisord to restart it")
    POD_KILL.revert(plan.undo)

    password_file = tmp_path / "password"
    password_file.write_text("wrong\n")
    wrong = SupervisorAuth(username="chaos", password_file=str(password_file))
    with pytest.raises(TargetMisconfigured, match="HTTP 401"):
        SupervisorClient(guarded_supervisord, auth=wrong).programs()
    monkeypatch.delenv("SUPERVISOR_PASSWORD")
    with pytest.raises(TargetMisconfigured, match=r"\$SUPERVISOR_PASSWORD is not set"):
        plan.undo.client().programs()


# -- the ml-staging chart ----------------------------------------------------------------------------------------

REPO = Path(__file__).resolve().parents[2]


def _render(tmp_path: Path, chart: str, *args: str) -> list[dict[str, Any]]:
    """``helm template`` with the pinned helm (scripts/k8s-testenv.sh; `make test` builds it)."""
    located = subprocess.run(
        [str(REPO / "scripts" / "k8s-testenv.sh"), "env"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    paths = dict(line.split("=", 1) for line in located.stdout.splitlines() if "=" in line)
    assert "HELM" in paths, f"helm not built: {located.stderr} (`make test` builds it)"
    env = {
        **os.environ,
        **{f"HELM_{d}_HOME": str(tmp_path / "helm" / d) for d in ("CACHE", "CONFIG", "DATA")},
    }
    rendered = subprocess.run(
        [paths["HELM"], "template", chart, str(REPO / "charts" / chart), "--namespace", "staging", *args],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert rendered.returncode == 0, rendered.stderr
    return [doc for doc in yaml.safe_load_all(rendered.stdout) if doc]


def _named(docs: list[dict[str, Any]], kind: str, suffix: str) -> dict[str, Any]:
    [found] = [d for d in docs if d["kind"] == kind and d["metadata"]["name"].endswith(suffix)]
    return found


def _pod(docs: list[dict[str, Any]], suffix: str) -> dict[str, Any]:
    template: dict[str, Any] = _named(docs, "Deployment", suffix)["spec"]["template"]
    return template


def _secret_env(container: dict[str, Any], name: str) -> dict[str, str]:
    [ref] = [e["valueFrom"]["secretKeyRef"] for e in container.get("env", []) if e["name"] == name]
    return dict(ref)


def test_the_chart_keeps_redis_behind_a_password_and_a_network_policy(tmp_path: Path) -> None:
    docs = _render(tmp_path, "ml-staging")
    secret = _named(docs, "Secret", "-redis")
    assert len(secret["data"]["password"]) >= 40  # 32 random characters, base64-encoded
    redis_pod = _pod(docs, "-redis")
    redis_container = redis_pod["spec"]["containers"][0]
    script = "\n".join(redis_container["args"])
    assert 'requirepass "$REDIS_PASSWORD"' in script and "protected-mode yes" in script
    assert 'rename-command CONFIG ""' in script and "--protected-mode" not in script
    expected = {"name": secret["metadata"]["name"], "key": "password"}
    assert _secret_env(redis_container, "REDIS_PASSWORD") == expected
    gateway_pod = _pod(docs, "-gateway")
    for container in (*gateway_pod["spec"]["initContainers"], gateway_pod["spec"]["containers"][0]):
        assert _secret_env(container, "MLCHAOS_REDIS_PASSWORD") == expected, container["name"]

    # Only the gateway's pod reaches redis ...
    redis_policy = _named(docs, "NetworkPolicy", "-redis")["spec"]
    assert redis_policy["podSelector"]["matchLabels"].items() <= redis_pod["metadata"]["labels"].items()
    [rule] = redis_policy["ingress"]
    [peer] = rule["from"]
    pods = {suffix: _pod(docs, suffix)["metadata"]["labels"] for suffix in ("-gateway", "-primary", "-redis")}
    admitted = [
        s for s, labels in pods.items() if peer["podSelector"]["matchLabels"].items() <= labels.items()
    ]
    assert admitted == ["-gateway"] and rule["ports"] == [{"port": "redis"}]
    # ... and only mlchaos' suite pods reach toxiproxy's API, on the gateway's pod; its service port stays open.
    gateway_policy = _named(docs, "NetworkPolicy", "-gateway")["spec"]
    open_rule, toxiproxy_rule = gateway_policy["ingress"]
    assert open_rule == {"ports": [{"port": "http"}]} and toxiproxy_rule["ports"] == [{"port": "toxiproxy"}]
    mlchaos = _render(tmp_path, "mlchaos", "--set", "target.cluster_name=kwok-staging")
    [suite] = [d for d in mlchaos if d["kind"] == "CronJob"]
    suite_labels = suite["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    [client] = toxiproxy_rule["from"]
    assert client["podSelector"]["matchLabels"].items() <= suite_labels.items()


def test_the_chart_uses_an_existing_secret_when_named(tmp_path: Path) -> None:
    docs = _render(
        tmp_path,
        "ml-staging",
        "--set",
        "redis.auth.existingSecret=team-redis",
        "--set",
        "redis.auth.secretKey=pw",
    )
    assert [d for d in docs if d["kind"] == "Secret"] == []
    container = _pod(docs, "-gateway")["spec"]["containers"][0]
    assert _secret_env(container, "MLCHAOS_REDIS_PASSWORD") == {"name": "team-redis", "key": "pw"}
