"""Where to look when a verdict fails: each verifier's ways of failing, with the advice written beside each.

A verifier module declares its ways of failing as a :class:`WaysOfFailing` enum, each member a :class:`Way`: what
the measurement shows, and where to look first. Advice is a template filled from what the verdict measured
(``{dependency}``, ``{share}``…), always with the names the scenario and the target declared — never a stack's own
names. A failing verdict carries the :class:`Advice` of the way it failed (``Verdict.advice``); the report, junit.xml,
the console and summary.json show it beside the failure.

Failing for want of data is a way of its own (``UNMEASURED``, which every verifier declares): its advice points at
the measurement — the load, the probe, the target's declaration — never at the service. A verifier that declares
no ways (another package's) still gets advice on its failures: :data:`GENERIC`, said to be generic.
"""

from __future__ import annotations

import enum
import string
from dataclasses import dataclass

UNMEASURED = "unmeasured"
"""The name of the way every verifier declares: nothing valid to measure (the measurement failed, not the service)."""


@dataclass(frozen=True)
class Way:
    """One way a verifier can fail."""

    shows: str
    """What the measurement shows, in a few words (the generated reference lists it)."""
    look: str
    """Where to look first: a template whose ``{fields}`` are filled from the verdict's measured values."""

    def fields(self) -> tuple[str, ...]:
        """The names the template needs."""
        return tuple(name for _, name, _, _ in string.Formatter().parse(self.look) if name)


@dataclass(frozen=True)
class Advice:
    """The advice a failing verdict carries: which way it failed, and where to look."""

    way: str
    """The way's name (its enum member's name in lower case, e.g. ``never_half_opened``)."""
    text: str
    generic: bool = False
    """True when the verifier declares no ways of failing: the text is mlchaos's generic advice, not its own."""


class _Filled(dict[str, object]):
    """Template values; a field the call did not give shows as ``<field>`` rather than stopping a run."""

    def __missing__(self, key: str) -> str:
        return f"<{key}>"


def _shown(value: object) -> object:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, tuple | list):
        return "/".join(str(v) for v in value)
    return value


class WaysOfFailing(enum.Enum):
    """Base of a verifier's enum of ways; members are :class:`Way` values, ``UNMEASURED`` among them."""

    @property
    def way(self) -> Way:
        value = self.value
        assert isinstance(value, Way)
        return value

    @property
    def key(self) -> str:
        return self.name.lower()

    def advise(self, **facts: object) -> Advice:
        """This way's advice, its template filled with ``facts`` (floats to 3 significant digits, tuples joined)."""
        return Advice(self.key, self.way.look.format_map(_Filled({k: _shown(v) for k, v in facts.items()})))


FAULT_NOT_APPLIED = Way(
    "the fault was never applied",
    "the fault '{fault}' never took effect, so nothing was measured: look at the run's journal and `mlchaos plan` "
    "(what the fault touches, its preflight) — not at the service",
)
"""Shared by the verifiers that judge a fault's window; each lists it among its ways."""

GENERIC = Advice(
    "unspecified",
    "generic advice (no way of failing declared for this outcome): compare the measured value and the explanation "
    "with the timeline around the faults, and ask the verifier's authors what this outcome means",
    generic=True,
)
GENERIC_UNMEASURED = Advice(
    UNMEASURED,
    "generic advice (no way of failing declared for this outcome): nothing was measured — check the measurement "
    "(the load reached the phase, the probes read the target's declared signals) before the service",
    generic=True,
)


def fallback_advice(ways: type[WaysOfFailing] | None, measured: float | None) -> Advice:
    """The advice of a failing verdict whose verifier named no way: its declared ``UNMEASURED`` when nothing was
    measured, else mlchaos's generic advice."""
    if measured is None:
        if ways is not None and "UNMEASURED" in ways.__members__:
            return ways["UNMEASURED"].advise()
        return GENERIC_UNMEASURED
    return GENERIC
