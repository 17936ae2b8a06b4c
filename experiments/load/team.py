"""A team's own Locust users: its locustfile, imported in the load child (or a worker) from the spec's copy.

The file's text travels in the spec, so a worker elsewhere imports exactly what the run was validated with. It
is executed as a module named after the file (as Locust names it); its folder goes on ``sys.path`` when it
exists here, so helper modules next to it import as they do under ``locust -f``. Which classes run is Locust's
rule — every runnable ``User`` class in the module's namespace — unless the scenario names them.

The users run as the team wrote them, with two things set by mlchaos: their host is the target's service URL,
and :mod:`~mlchaos.experiments.load.guard` checks each request (the deadline, the hosts, redirects).
"""

from __future__ import annotations

# isort: off
import locust  # noqa: F401 - first: it monkey-patches for gevent, which must precede every other import

# isort: on
import logging
import sys
import types
from pathlib import Path

from locust import User
from locust.util.load_locustfile import is_shape_class, is_user_class

from mlchaos.experiments.errors import InvalidInput
from mlchaos.experiments.load import wire
from mlchaos.experiments.load.spec import Locustfile

logger = logging.getLogger("mlchaos.load.team")


class TeamUsersError(ValueError, InvalidInput):
    """The locustfile cannot be imported, or does not have the User classes the scenario names."""


def team_user_classes(locustfile: Locustfile) -> list[type[User]]:
    """The User classes of ``locustfile`` to run; :class:`TeamUsersError` saying what is wrong otherwise."""
    module = _imported(locustfile)
    found = {name: value for name, value in vars(module).items() if is_user_class(value)}
    if any(is_shape_class(value) for value in vars(module).values()):
        logger.warning(
            "locustfile %s defines a LoadTestShape: ignored, the scenario's users and its traffic faults shape "
            "the load",
            locustfile.path,
        )
    if not locustfile.user_classes:
        if not found:
            raise TeamUsersError(
                f"locustfile {locustfile.path} defines no Locust User class to run (a subclass of HttpUser, "
                "FastHttpUser or User whose `abstract` is not True)"
            )
        return list(found.values())
    classes = []
    for name in locustfile.user_classes:
        if name not in found:
            what = "is not a runnable Locust User class" if name in vars(module) else "is not defined"
            runnable = ", ".join(found) or "none"
            raise TeamUsersError(
                f"'{name}' {what} in locustfile {locustfile.path} (its User classes: {runnable})"
            )
        classes.append(found[name])
    return classes


def _imported(locustfile: Locustfile) -> types.ModuleType:
    path = Path(locustfile.path)
    name = path.stem if path.stem.isidentifier() and path.stem not in sys.modules else "mlchaos_locustfile"
    module = types.ModuleType(name)
    module.__file__ = str(path)
    sys.modules[name] = module  # classes defined in it name it as their module (pickling, dataclasses)
    folder = str(path.parent)
    if path.parent.is_dir() and folder not in sys.path:
        sys.path.insert(0, folder)
    try:
        # the team's own code, run as `locust -f` would run it
        exec(compile(locustfile.source, str(path), "exec"), module.__dict__)
    except (Exception, SystemExit) as exc:
        logger.error("importing locustfile %s failed", path, exc_info=True)
        raise TeamUsersError(f"locustfile {path} failed to import: {wire.describe(exc)}") from exc
    return module
