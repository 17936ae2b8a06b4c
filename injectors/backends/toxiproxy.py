"""The one place mlchaos talks to toxiproxy.

We use toxiproxy-python, which has two shortcomings this module papers over:

- it keeps the API host and port as class attributes of ``APIConsumer`` (one global server per process), and
- it calls ``requests`` without a timeout, so a hung toxiproxy-server would hang the harness — and its rollback.

Each call therefore binds the global host/port and swaps in a timeout-enforcing stand-in for ``requests`` under a
process-wide lock, and translates the library's errors into :class:`TargetUnreachable` / :class:`TargetMisconfigured`.

The toxics mlchaos adds are named after the fault *and the run* (:func:`toxic_name`, ``mlchaos_<fault>_<run id>``),
so a run's revert — or ``mlchaos rollback`` of an old run directory — removes only that run's toxics, never one
another run added for a fault of the same id. Every name starts with :data:`TOXIC_PREFIX`, which is how a toxic
left behind by any run, of any version, is recognised.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Self
from urllib.parse import urlsplit

import requests
from toxiproxy import api as toxiproxy_api
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists
from toxiproxy.server import Toxiproxy

from mlchaos.injectors.base import InjectorError, TargetMisconfigured, TargetUnreachable, Undo

_GLOBAL_CLIENT_LOCK = threading.Lock()

TOXIC_PREFIX = "mlchaos_"
"""Every toxic mlchaos adds has a name that starts so; any toxic named so is one mlchaos left."""
_RUN_SUFFIX = re.compile(r"_([0-9a-f]{8})$")


def toxic_name(fault_id: str, run_id: str) -> str:
    """The toxic of fault ``fault_id`` in run ``run_id``: ``mlchaos_<fault>_<run id>``."""
    return f"{TOXIC_PREFIX}{fault_id}_{run_id}"


def toxic_run(name: str) -> str | None:
    """The id of the run that named a toxic so; ``None`` for a name without one (mlchaos before run ids)."""
    found = _RUN_SUFFIX.search(name) if name.startswith(TOXIC_PREFIX) else None
    return found.group(1) if found else None


class ToxicUndo(Undo):
    """Undoing a fault that adds a toxic to a toxiproxy proxy: the proxy, and the toxic's name."""

    toxiproxy_url: str
    proxy: str
    toxic: str
    """``mlchaos_<fault>`` as planned; ``mlchaos_<fault>_<run id>`` once made the run's own (:meth:`for_run`).
    A journal of an older mlchaos has the first form, and its rollback removes that name."""

    def for_run(self, run_id: str) -> Self:
        return self.model_copy(update={"toxic": f"{self.toxic}_{run_id}"})


class _TimeoutRequests:
    """Stands in for the ``requests`` module inside ``toxiproxy.api``: the same calls, always with a timeout, and
    never following a redirect (it could lead to a host the target does not allow)."""

    def __init__(self, timeout_s: float) -> None:
        self._timeout_s = timeout_s

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return _not_redirected(requests.get(url, timeout=self._timeout_s, allow_redirects=False, **kwargs))

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        return _not_redirected(requests.post(url, timeout=self._timeout_s, allow_redirects=False, **kwargs))

    def delete(self, url: str, **kwargs: Any) -> requests.Response:
        return _not_redirected(requests.delete(url, timeout=self._timeout_s, allow_redirects=False, **kwargs))


def _not_redirected(response: requests.Response) -> requests.Response:
    if response.is_redirect:
        where = response.headers.get("location", "?")
        raise TargetMisconfigured(
            f"toxiproxy at {response.url} answered HTTP {response.status_code}: redirect to {where}, not followed"
        )
    return response


@dataclass(frozen=True)
class ProxyState:
    name: str
    enabled: bool
    listen: str
    upstream: str
    toxics: tuple[str, ...]


class ToxiproxyClient:
    """A toxiproxy-server at ``api_url``; every call gives up after ``timeout_s``."""

    def __init__(self, api_url: str, *, timeout_s: float = 3.0) -> None:
        parts = urlsplit(api_url)
        if not parts.hostname or not parts.port:
            raise TargetMisconfigured(f"toxiproxy URL {api_url!r} needs a host and a port")
        self.api_url = api_url
        self._host, self._port = parts.hostname, parts.port
        self._timeout_s = timeout_s

    @contextmanager
    def _bound(self, what: str) -> Iterator[Toxiproxy]:
        with _GLOBAL_CLIENT_LOCK:
            saved = (toxiproxy_api.APIConsumer.host, toxiproxy_api.APIConsumer.port, toxiproxy_api.requests)
            toxiproxy_api.APIConsumer.host, toxiproxy_api.APIConsumer.port = self._host, self._port
            toxiproxy_api.requests = _TimeoutRequests(self._timeout_s)
            try:
                yield Toxiproxy()
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise TargetUnreachable(
                    f"toxiproxy at {self.api_url} did not answer within {self._timeout_s:g}s while {what}"
                ) from exc
            except NotFound as exc:
                raise TargetMisconfigured(f"toxiproxy at {self.api_url}: not found while {what}") from exc
            except (InvalidToxic, ProxyExists) as exc:
                raise InjectorError(f"toxiproxy at {self.api_url} refused {what}: {exc}") from exc
            finally:
                toxiproxy_api.APIConsumer.host, toxiproxy_api.APIConsumer.port, toxiproxy_api.requests = saved

    def proxy(self, name: str) -> ProxyState:
        """The proxy's current state; :class:`TargetMisconfigured` listing the known proxies if it does not exist."""
        with self._bound(f"reading proxy '{name}'") as server:
            proxies = server.proxies()
            if name not in proxies:
                known = ", ".join(sorted(proxies)) or "none"
                raise TargetMisconfigured(
                    f"toxiproxy at {self.api_url} has no proxy '{name}' (it has: {known})"
                )
            proxy = proxies[name]
            return ProxyState(
                name=name,
                enabled=bool(proxy.enabled),
                listen=str(proxy.listen),
                upstream=str(proxy.upstream),
                toxics=tuple(sorted(proxy.toxics())),
            )

    def add_toxic(
        self,
        proxy: str,
        name: str,
        kind: str,
        attributes: dict[str, float | int],
        *,
        stream: str = "downstream",
        toxicity: float = 1.0,
    ) -> None:
        with self._bound(f"adding toxic '{name}' to proxy '{proxy}'") as server:
            found = server.get_proxy(proxy)
            if found is None:
                raise NotFound(proxy)
            found.add_toxic(name=name, type=kind, stream=stream, toxicity=toxicity, attributes=attributes)

    def remove_toxic(self, proxy: str, name: str) -> bool:
        """Remove a toxic; ``False`` if it was not there (so reverting twice is harmless)."""
        with self._bound(f"removing toxic '{name}' from proxy '{proxy}'") as server:
            found = server.get_proxy(proxy)
            if found is None or found.get_toxic(name) is None:
                return False
            found.destroy_toxic(name)
            return True

    def set_enabled(self, proxy: str, enabled: bool) -> None:
        verb = "enabling" if enabled else "disabling"
        with self._bound(f"{verb} proxy '{proxy}'") as server:
            found = server.get_proxy(proxy)
            if found is None:
                raise NotFound(proxy)
            if enabled:
                found.enable()
            else:
                found.disable()


def require_pristine(client: ToxiproxyClient, proxy: str) -> ProxyState:
    """The proxy's state, if it is enabled and carries no toxic left by an mlchaos run (any run: a toxic of
    another run of this one's is still on the proxy it would measure)."""
    state = client.proxy(proxy)
    leftovers = [t for t in state.toxics if t.startswith(TOXIC_PREFIX)]
    if not state.enabled:
        raise TargetMisconfigured(
            f"toxiproxy proxy '{proxy}' at {client.api_url} is disabled before the fault — an earlier run may "
            "have been killed; undo it with `mlchaos rollback RUN_DIR`"
        )
    if leftovers:
        found = ", ".join(f"{name} ({_left_by(name)})" for name in leftovers)
        raise TargetMisconfigured(
            f"toxiproxy proxy '{proxy}' at {client.api_url} still has toxic(s) {found} before the fault — that "
            "run may still be going (runs of other users are not locked out), or was killed; its run directory's "
            f"journal names the toxic (`grep -l {leftovers[0]} OUTPUT/*/journal.jsonl`): undo it with "
            "`mlchaos rollback RUN_DIR`"
        )
    return state


def _left_by(name: str) -> str:
    run = toxic_run(name)
    return f"left by run {run}" if run else "left by a run of an older mlchaos"
