"""Whether an ML input fault can be built from the service's request schema — checked before anything is sent
(when the run is planned, and again once the schema is complete), so a fault never sends requests that name
features the service does not have, or nonsense where nothing fits.

Each problem is the place of the setting in the fault as a scenario writes it (``("covariate", "scale",
"price")``; the loader shows it at its line) and one sentence: what the schema has instead, and what to do.
"""

from __future__ import annotations

from mlchaos.experiments.inputs import mutators, shift
from mlchaos.experiments.inputs.schema import FeatureType, RequestSchema
from mlchaos.experiments.inputs.windows import (
    CorruptSend,
    CovariateSend,
    InputSend,
    Mutator,
    OodKind,
    OodSend,
)

DECLARE = "declare it under the target's request.features"
Loc = tuple[int | str, ...]
Problem = tuple[Loc, str]


def input_problems(send: InputSend, schema: RequestSchema) -> list[Problem]:
    """What stops ``send`` from being built from ``schema``; empty when nothing does."""
    if isinstance(send, CorruptSend):
        return _corrupt(send, schema)
    if isinstance(send, OodSend):
        return _ood(send, schema)
    if isinstance(send, CovariateSend):
        return _covariate(send, schema)
    return []


def _known(schema: RequestSchema) -> str:
    return f"the request schema's features: {schema.describe()}"


def _corrupt(send: CorruptSend, schema: RequestSchema) -> list[Problem]:
    if send.field is not None and send.field not in schema.features:
        message = f"'{send.field}' is not a feature of the request ({_known(schema)}); name one of them, or {DECLARE}"
        return [(("field",), message)]
    needs_field = mutators.FIELD_MUTATORS | {Mutator.CONTROL_CHARS}
    field = mutators.corrupted_field(send, schema)
    if field is None and needs_field.intersection(send.mutators):
        wanted = ", ".join(m.value for m in send.mutators if m in needs_field)
        message = (
            f"{wanted} corrupt a feature, and no feature of the request is known: set `field`, or declare "
            "request.features in the target (or give the load a dataset to infer them from)"
        )
        return [(("mutators",), message)]
    feature = schema.features.get(field) if field is not None else None
    if Mutator.OUT_OF_RANGE in send.mutators and feature is not None and not feature.numeric:
        message = (
            f"out_of_range needs a numeric field, and '{field}' is {feature.type.value} ({_known(schema)}): "
            "set `field` to a number or integer feature, or leave out_of_range out"
        )
        return [(("mutators", send.mutators.index(Mutator.OUT_OF_RANGE)), message)]
    return []


def _ood(send: OodSend, schema: RequestSchema) -> list[Problem]:
    problems: list[Problem] = []
    for i, kind in enumerate(send.kinds):
        if any(shift.changes(kind, feature) for feature in schema.features.values()):
            continue
        if kind is OodKind.EXTREME:
            message = (
                "'extreme' needs a numeric feature with a typical range (from the dataset, or declared "
                "`typical`) and room beyond it within its declared min/max — at least one typical span; "
                f"{_known(schema)}"
            )
        else:
            message = (
                f"'{kind.value}' would change no feature ({_known(schema)}): declare request.features with "
                "their ranges or choices, or give the load a dataset to infer them from"
            )
        problems.append((("ood", i), message))
    return problems


def _covariate(send: CovariateSend, schema: RequestSchema) -> list[Problem]:
    problems: list[Problem] = []
    moved: list[tuple[Loc, str]] = [(("scale", name), name) for name in send.scale]
    moved += [(("offset", name), name) for name in send.offset]
    moved += [(("swap", i), name) for i, name in enumerate(send.swap or ())]
    numeric = ", ".join(schema.numeric()) or "none"
    for loc, name in moved:
        feature = schema.features.get(name)
        if feature is None or not feature.numeric:
            what = "not a feature of the request" if feature is None else f"a {feature.type.value} feature"
            message = (
                f"'{name}' is {what}; a covariate shift moves numeric features: {numeric} "
                f"({_known(schema)}) — name one of them, or {DECLARE}"
            )
            problems.append((("covariate", *loc), message))
    for name, pairs in send.categories.items():
        feature = schema.features.get(name)
        if feature is None or feature.type is not FeatureType.CATEGORY:
            categories = ", ".join(p for p, f in schema.features.items() if f.type is FeatureType.CATEGORY)
            message = (
                f"'{name}' is not a category feature; the category features are: {categories or 'none'} "
                f"({_known(schema)})"
            )
            problems.append((("covariate", "categories", name), message))
            continue
        for value, _ in pairs:
            if value not in feature.choices:
                message = (
                    f"{value!r} is not one of {name}'s values ({', '.join(map(repr, feature.choices))}): the "
                    "service would refuse the request, not drift"
                )
                problems.append((("covariate", "categories", name, str(value)), message))
    return problems
