"""Refusals that come before anything is touched: a namespace outside the allowlist, or a cluster that looks like
production.

"Looks like production" means that ``prod``, ``production``, ``prd`` or ``live`` appears as a whole word or
segment (split on anything that is not a letter or digit) of the context name, the API server's host or the
namespace: ``gke_acme_europe-west1_prod-eu``, ``api.live.example.com`` and ``fraud-prd`` match; ``product-search``
and ``delivery`` do not. The override is deliberate and explicit: ``--allow-production`` on the command line or
``allow_production: true`` in the target. The same rule (:func:`production_words`) refuses, at validation, every
host and Service name a target's URLs name (:mod:`mlchaos.experiments.hosts`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

PRODUCTION_WORDS = frozenset({"prod", "production", "prd", "live"})


class Refused(Exception):
    """mlchaos will not act on this cluster or namespace; the message says why and how to override, if one can."""


@dataclass(frozen=True)
class Match:
    what: str
    value: str
    word: str

    def __str__(self) -> str:
        return f"{self.what} '{self.value}' contains '{self.word}'"


def production_words(text: str) -> list[str]:
    segments = re.split(r"[^a-z0-9]+", text.lower())
    return [segment for segment in segments if segment in PRODUCTION_WORDS]


def production_matches(*, context: str, server: str, namespaces: Iterable[str]) -> list[Match]:
    """Everything that makes this cluster look like production, as (what, value, matched word)."""
    host = urlsplit(server).hostname or server
    named = [("context", context), ("API server", host), *(("namespace", n) for n in namespaces)]
    return [Match(what, value, word) for what, value in named for word in production_words(value)]


def refuse_production(*, context: str, server: str, namespaces: Iterable[str], allowed: bool) -> None:
    matches = production_matches(context=context, server=server, namespaces=namespaces)
    if matches and not allowed:
        found = "; ".join(str(m) for m in matches)
        raise Refused(
            f"refusing to run against what looks like production: {found}. If this really is a staging "
            "cluster, pass --allow-production or set `allow_production: true` in the kubernetes target"
        )


def refuse_outside_allowlist(namespace: str, allowed: Iterable[str], *, where: str) -> None:
    allowed = tuple(allowed)
    if namespace not in allowed:
        raise Refused(
            f"{where}: namespace '{namespace}' is not in the target's allowed_namespaces "
            f"({', '.join(allowed)}); add it there to allow faults in it"
        )
