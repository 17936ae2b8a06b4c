"""Refusals that come before anything is touched: a namespace outside the allowlist, or a cluster that looks like
production.

"Looks like production" means that ``prod``, ``production``, ``prd`` or ``live`` appears as a whole word or
segment (split on anything that is not a letter or digit) of the context name, the API server's host or the
namespace: ``gke_acme_europe-west1_prod-eu``, ``api.live.example.com`` and ``fraud-prd`` match; ``product-search``
and ``delivery`` do not. The override is deliberate and explicit: ``--allow-production`` on the command line or
``allow_production: true`` in the target. The same rule (:func:`production_words`) refuses, at validation, every
host and Service name a target's URLs name (:mod:`mlchaos.experiments.hosts`).

In the cluster (``in_cluster: true``, the chart's CronJob) there is no context, and the API server is reached
through the ``kubernetes.default.svc`` Service at an address (``10.96.0.1``) that is the same in every cluster:
neither says which cluster this is. So an in-cluster target must *declare* it: ``cluster_name`` is required with
``in_cluster`` (validation refuses the target without it) and the chart fills it from a value its templates
``required`` — it cannot be installed without naming its cluster. The rule is applied to that name in place of
the context's (at validation and again when connecting). A declared name is only as true as its author, so what
the cluster itself says it is — the UID of its ``kube-system`` namespace, which no other cluster shares, when
the identity may read it, else the API server's address — is read when the run connects and recorded in its
journal (``run_started``) and report, for an audit to compare
(:func:`~mlchaos.experiments.kubernetes.client.cluster_identity`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from mlchaos.experiments.errors import TargetUnusable

PRODUCTION_WORDS = frozenset({"prod", "production", "prd", "live"})


class Refused(TargetUnusable):
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


def production_matches(
    *, context: str, server: str, namespaces: Iterable[str], cluster_name: str | None = None
) -> list[Match]:
    """Everything that makes this cluster look like production, as (what, value, matched word). ``cluster_name``
    is the target's declared name: in the cluster it is what names the cluster (the context is ``in-cluster``)."""
    host = urlsplit(server).hostname or server
    named = [("context", context), ("API server", host), *(("namespace", n) for n in namespaces)]
    if cluster_name is not None:
        named.insert(0, ("cluster name", cluster_name))
    return [Match(what, value, word) for what, value in named for word in production_words(value)]


def refuse_production(
    *,
    context: str,
    server: str,
    namespaces: Iterable[str],
    allowed: bool,
    cluster_name: str | None = None,
) -> None:
    matches = production_matches(
        context=context, server=server, namespaces=namespaces, cluster_name=cluster_name
    )
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
