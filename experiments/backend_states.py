"""The toxiproxy proxies and supervisord programs a target declares, as found now (``mlchaos target check``):
one read each, through the injectors' own clients (their timeouts, their error vocabulary). A proxy or program
that cannot be read is a :class:`Backend` that is not ``ok``, saying why."""

from __future__ import annotations

from dataclasses import dataclass

from mlchaos.experiments.targets import TargetEndpoints
from mlchaos.injectors.backends.supervisor import SupervisorClient
from mlchaos.injectors.backends.toxiproxy import TOXIC_PREFIX, ToxiproxyClient
from mlchaos.injectors.base import InjectorError


@dataclass(frozen=True)
class Backend:
    """A declared toxiproxy proxy or supervisord program, as found."""

    kind: str
    name: str
    state: str
    ok: bool
    detail: str = ""


def backend_states(endpoints: TargetEndpoints, *, deadline_s: float) -> list[Backend]:
    """Every proxy and program the target declares, as its toxiproxy and supervisord show it now."""
    found: list[Backend] = []
    if endpoints.proxies and endpoints.toxiproxy_url is None:
        names = ", ".join(endpoints.proxies.values())
        found.append(Backend("toxiproxy", names, "—", False, "proxies are declared but no toxiproxy_url"))
    elif endpoints.proxies and endpoints.toxiproxy_url is not None:
        toxiproxy = ToxiproxyClient(endpoints.toxiproxy_url, timeout_s=deadline_s)
        for dependency, name in endpoints.proxies.items():
            try:
                proxy = toxiproxy.proxy(name)
            except InjectorError as exc:
                found.append(Backend("proxy", name, "unreadable", False, str(exc)))
                continue
            state = "enabled" if proxy.enabled else "DISABLED"
            toxics = ", ".join(proxy.toxics) or "no toxics"
            detail = f"{dependency}: {proxy.upstream}; {toxics}"
            if not proxy.enabled or any(t.startswith(TOXIC_PREFIX) for t in proxy.toxics):
                detail += " — a run would refuse it: an earlier run left it so? (mlchaos rollback RUN_DIR)"
            found.append(Backend("proxy", name, state, True, detail))
    if endpoints.programs and endpoints.supervisor_url is None:
        names = ", ".join(endpoints.programs)
        found.append(Backend("supervisord", names, "—", False, "programs are declared but no supervisor_url"))
    elif endpoints.programs and endpoints.supervisor_url is not None:
        supervisor = SupervisorClient(
            endpoints.supervisor_url, auth=endpoints.supervisor_auth, timeout_s=deadline_s
        )
        for name in endpoints.programs:
            try:
                program = supervisor.program(name)
            except InjectorError as exc:
                found.append(Backend("program", name, "unreadable", False, str(exc)))
                continue
            found.append(Backend("program", name, program.state, True, f"pid {program.pid}"))
    return found
