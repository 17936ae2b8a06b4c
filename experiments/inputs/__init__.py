"""ML input faults as the load sends them: corrupted, adversarial, shifted, out-of-distribution and
metamorphic requests, each kind a :class:`~mlchaos.experiments.inputs.send.Send` in its own module (its model,
the checks against the request schema, and how it makes a request). Shared by the injectors (which declare
them), the engine and the load child (which sends them); pure Python, no I/O."""

from mlchaos.experiments.inputs.corrupt import CorruptSend
from mlchaos.experiments.inputs.covariate import CovariateSend
from mlchaos.experiments.inputs.label_prior import LabelPriorSend
from mlchaos.experiments.inputs.metamorphic import MetamorphicSend
from mlchaos.experiments.inputs.mutators import Mutator
from mlchaos.experiments.inputs.ood import OodSend
from mlchaos.experiments.inputs.outgoing import Outgoing
from mlchaos.experiments.inputs.relations import Effect, Relation
from mlchaos.experiments.inputs.replay import ReplaySample, ReplaySend
from mlchaos.experiments.inputs.send import Send, UserInputs
from mlchaos.experiments.inputs.shift import OodKind
from mlchaos.experiments.inputs.windows import InputWindow

__all__ = [
    "CorruptSend",
    "CovariateSend",
    "Effect",
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
    "Send",
    "UserInputs",
]
