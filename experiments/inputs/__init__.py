"""ML input faults as the load sends them: corrupted, adversarial, shifted, out-of-distribution and
metamorphic requests. Shared by the injectors (which declare them), the engine and the load child (which sends
them); pure Python, no I/O."""

from mlchaos.experiments.inputs.outgoing import Outgoing
from mlchaos.experiments.inputs.relations import Effect, Relation
from mlchaos.experiments.inputs.windows import (
    CorruptSend,
    CovariateSend,
    InputSend,
    InputWindow,
    LabelPriorSend,
    MetamorphicSend,
    Mutator,
    OodKind,
    OodSend,
    ReplaySample,
    ReplaySend,
)

__all__ = [
    "CorruptSend",
    "CovariateSend",
    "Effect",
    "InputSend",
    "InputWindow",
    "LabelPriorSend",
    "MetamorphicSend",
    "Mutator",
    "OodKind",
    "OodSend",
    "Outgoing",
    "Relation",
    "ReplaySample",
    "ReplaySend",
]
