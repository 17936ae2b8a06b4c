"""Each kind of input by its name, as a load spec names it: read from the fault registry, where every input
fault — mlchaos's own, or one an installed package registers through the ``mlchaos.faults`` entry points — names
the :class:`~mlchaos.experiments.inputs.send.Send` models it sends (its injector's ``sends``).

The load child reads a spec written by another process, perhaps on another machine: it finds the kinds the same
way the process that planned the run did, so a kind that is not installed where the load runs is refused when
the spec is read, naming it, before anything is sent. The registry is read only when a spec has an input window
(a load without input faults does not import the faults).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from mlchaos.experiments.errors import MlchaosError
from mlchaos.experiments.inputs.send import Send


@functools.cache
def input_kinds() -> Mapping[str, type[Send]]:
    """Every kind of input a registered fault sends, by its ``kind`` (raises ``PluginError`` when a package's
    entry point does not load)."""
    # The one import of the faults from below them (an import-linter exception, in pyproject.toml): the kinds
    # are registered with the faults that send them, and nowhere else.
    from mlchaos.injectors import input_kinds as registered  # only when a spec has inputs

    return registered()


def send_model(kind: object) -> type[Send]:
    """The model of the input kind ``kind``; a ``ValueError`` (a located problem in the spec) when no installed
    fault sends it, or the registry cannot be read."""
    try:
        kinds = input_kinds()
    except MlchaosError as exc:  # a package's entry point that does not load: say so, in the spec's terms
        raise ValueError(f"the input kinds could not be read: {exc}") from exc
    model = kinds.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise ValueError(
            f"unknown input kind {kind!r}; the installed faults send: {', '.join(kinds) or 'none'} (is the "
            "package that registers it installed where the load runs?)"
        )
    return model
