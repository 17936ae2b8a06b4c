"""The node's images work the way the charts run them: as uid 10001 with no capabilities on a read-only root
filesystem with a writable /tmp; redis and toxiproxy started as charts/ml-staging starts them, and answering.

podman runs them (through scripts/k8s-images.sh, with its storage and configuration) with no network but their own
loopback (`--network none`); a client talks to a server from a second container joining the server's network
namespace. About 8 s in all.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest
from images import IMAGES_SCRIPT, NodeImage, NodeImages
from support.waiting import wait_until

pytestmark = pytest.mark.timeout(180)

# charts/ml-staging's podSecurityContext and securityContext, as podman flags.
AS_IN_THE_CHARTS = (
    "--read-only", "--tmpfs", "/tmp", "--user", "10001:10001", "--cap-drop", "all",
    "--security-opt", "no-new-privileges",
)  # fmt: skip
NO_NETWORK = ("--network", "none")


def podman(*args: str, timeout_s: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(IMAGES_SCRIPT), "podman", *args], capture_output=True, text=True, timeout=timeout_s, check=False
    )
    if check and done.returncode != 0:
        raise AssertionError(
            f"podman {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
    return done


@pytest.fixture
def containers() -> Iterator[list[str]]:
    """Names of the containers a test starts; all removed at teardown, whatever happened."""
    names: list[str] = []
    yield names
    if names:
        podman("rm", "--force", "--time", "0", *names, check=False)


def start(
    containers: list[str],
    name: str,
    image: NodeImage,
    options: tuple[str, ...] = (),
    command: tuple[str, ...] = (),
) -> str:
    """Starts `image` in the background as the charts run it, without a network; returns the container's name."""
    container = f"mlchaos-test-{name}-{os.getpid()}"
    containers.append(container)
    podman(
        "run",
        "--detach",
        "--name",
        container,
        *AS_IN_THE_CHARTS,
        *NO_NETWORK,
        *options,
        image.reference,
        *command,
    )
    return container


def test_mlchaos_runs_its_cli_and_renders_charts_on_a_read_only_root(node_images: NodeImages) -> None:
    script = (
        "id -u && mlchaos --help >/dev/null && echo cli-ok"
        " && python -c 'import matplotlib.pyplot as p; p.plot([1, 2]); p.savefig(\"/tmp/f.svg\")'"
        " && ls /tmp/matplotlib"
    )
    image = node_images.mlchaos.reference
    ran = podman("run", "--rm", *AS_IN_THE_CHARTS, *NO_NETWORK, "--entrypoint", "sh", image, "-c", script)
    uid, cli, *cache = ran.stdout.split()
    assert (uid, cli) == ("10001", "cli-ok"), ran.stdout + ran.stderr
    # matplotlib keeps its font cache in MPLCONFIGDIR (under /tmp) rather than a throwaway one made at every start.
    assert any(name.startswith("fontlist-") for name in cache), ran.stdout + ran.stderr
    assert "temporary cache directory" not in ran.stderr


def test_redis_starts_from_a_config_written_by_sh_and_answers(
    node_images: NodeImages, containers: list[str]
) -> None:
    # As charts/ml-staging/templates/redis.yaml does: sh writes the config into /tmp, the password from the env.
    script = (
        "umask 077\ncat > /tmp/redis.conf <<EOF\nport 6379\nprotected-mode yes\n"
        'requirepass "$REDIS_PASSWORD"\nsave ""\nappendonly no\ndir /tmp\nrename-command CONFIG ""\nEOF\n'
        "exec redis-server /tmp/redis.conf\n"
    )
    options = ("--env", "REDIS_PASSWORD=test-only", "--entrypoint", "sh")
    redis = start(containers, "redis", node_images.redis, options, ("-c", script))
    cli = ("exec", redis, "redis-cli", "--no-auth-warning", "-a", "test-only")
    wait_until(lambda: podman(*cli, "ping", check=False).stdout.strip() == "PONG", 30, "redis to answer PING")
    assert "unknown command" in podman(*cli, "config", "get", "dir").stdout.lower()


def test_toxiproxy_starts_with_the_charts_args_and_answers(
    node_images: NodeImages, containers: list[str]
) -> None:
    proxy = start(containers, "toxiproxy", node_images.toxiproxy, command=("-host=127.0.0.1", "-port=8474"))
    url = "http://127.0.0.1:8474/version"
    get_version = f"import urllib.request as u; print(u.urlopen('{url}', timeout=2).read().decode())"
    client = (
        "run", "--rm", *AS_IN_THE_CHARTS, "--network", f"container:{proxy}", "--entrypoint", "python",
        node_images.mlchaos.reference, "-c", get_version,
    )  # fmt: skip
    version = wait_until(lambda: podman(*client, check=False).stdout.strip(), 30, "toxiproxy's API to answer")
    assert "2.12.0" in version
