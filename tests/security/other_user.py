"""Acting as another local user of the machine: the attacks of tests/security are tried as an unprivileged user
(``nobody``) would try them, against files and ports a root run of mlchaos owns.

The tests run as root in CI (as they do here); a run as a user who cannot switch users fails saying so, since the
attacks cannot be reproduced without a second user.
"""

from __future__ import annotations

import os
import pwd
import subprocess
from collections.abc import Sequence

OTHER_USER = "nobody"


def other_uid() -> tuple[int, int]:
    """The uid and gid of the other user."""
    entry = pwd.getpwnam(OTHER_USER)
    return entry.pw_uid, entry.pw_gid


def require_root() -> None:
    """Fails the calling test when it cannot act as another user."""
    if os.geteuid() != 0:
        raise AssertionError(
            "tests/security acts as another local user: run the test suite as root (as CI does), "
            f"so that it can switch to {OTHER_USER!r}"
        )


def as_other_user() -> None:
    """A ``preexec_fn``: the child drops to the other user between fork and exec."""
    uid, gid = other_uid()
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)


def run_as_other_user(
    argv: Sequence[str], *, timeout_s: float = 30.0, input_text: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Runs ``argv`` as the other user (from ``/``, with an empty environment but PATH) and returns what it did."""
    require_root()
    return subprocess.run(
        list(argv),
        preexec_fn=as_other_user,
        cwd="/",
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/nonexistent"},
        input=input_text,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


SYSTEM_PYTHON = "/usr/bin/python3"
"""The other user's Python: the virtualenv's interpreter lives under root's home, which the other user cannot
read — so programs run as the other user use the standard library only (xmlrpc.client, socket, os)."""


def python_as_other_user(source: str, *, timeout_s: float = 30.0) -> subprocess.CompletedProcess[str]:
    """Runs the standard-library Python program ``source`` as the other user (``-I``: no user site, no cwd)."""
    return run_as_other_user([SYSTEM_PYTHON, "-I", "-c", source], timeout_s=timeout_s)
