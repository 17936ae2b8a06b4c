"""Covariate shift (``distribution_shift`` with ``covariate``): clean requests with their feature distributions
moved, tagged ``shift:covariate`` — what a drift monitor must notice.
:func:`~mlchaos.experiments.inputs.shift.covariate` moves one request."""

from __future__ import annotations

import json
from typing import Literal

from pydantic import Field, model_validator

from mlchaos.experiments.inputs import shift
from mlchaos.experiments.inputs.outgoing import Outgoing
from mlchaos.experiments.inputs.schema import Choice, FeatureType, RequestSchema
from mlchaos.experiments.inputs.send import DECLARE, Loc, Problem, Send, UserInputs, known


class CovariateSend(Send):
    """Clean requests with their feature distributions moved: ``value × scale + offset``, then ``swap``, then
    each of ``categories`` re-drawn with its new shares.

    Integer features stay integers (rounded), scaled and offset numbers within their declared bounds (swapped
    values trade places as they are); features a request does not carry are left out, not invented.
    """

    kind: Literal["covariate"] = "covariate"
    scale: dict[str, float] = Field(default_factory=dict)
    offset: dict[str, float] = Field(default_factory=dict)
    swap: tuple[str, str] | None = Field(None, description="Two numeric features whose values trade places.")
    categories: dict[str, tuple[tuple[Choice, float], ...]] = Field(
        default_factory=dict,
        description="Category feature → (value, share) pairs: its value re-drawn with these shares (weights, "
        "normalised to sum to 1). Pairs, not a mapping: JSON would turn a category's number keys into strings.",
    )

    @model_validator(mode="after")
    def _does_something(self) -> CovariateSend:
        if not self.scale and not self.offset and self.swap is None and not self.categories:
            raise ValueError("a covariate shift needs at least one of scale, offset, swap or categories")
        for name, pairs in self.categories.items():
            shares = [share for _, share in pairs]
            if not shares or any(share < 0 for share in shares) or sum(shares) <= 0:
                raise ValueError(f"categories.{name}: shares must be ≥ 0 with at least one above 0")
        return self

    def describe(self) -> str:
        moves = [f"{name} ×{factor:g}" for name, factor in self.scale.items()]
        moves += [f"{name} {offset:+g}" for name, offset in self.offset.items()]
        moves += [f"swap {self.swap[0]}↔{self.swap[1]}"] if self.swap else []
        moves += [
            f"{name} re-drawn ({', '.join(f'{value}: {share:g}' for value, share in pairs)})"
            for name, pairs in self.categories.items()
        ]
        return "covariate shift: " + ", ".join(moves)

    def make(self, raw: bytes, user: UserInputs) -> Outgoing:
        return shift.covariate(json.loads(raw), self, user.schema, user.rng)

    def problems(self, schema: RequestSchema) -> list[Problem]:
        """Features the shift names that the request schema lacks, or has with another type."""
        problems: list[Problem] = []
        moved: list[tuple[Loc, str]] = [(("scale", name), name) for name in self.scale]
        moved += [(("offset", name), name) for name in self.offset]
        moved += [(("swap", i), name) for i, name in enumerate(self.swap or ())]
        numeric = ", ".join(schema.numeric()) or "none"
        for loc, name in moved:
            feature = schema.features.get(name)
            if feature is None or not feature.numeric:
                what = (
                    "not a feature of the request" if feature is None else f"a {feature.type.value} feature"
                )
                message = (
                    f"'{name}' is {what}; a covariate shift moves numeric features: {numeric} "
                    f"({known(schema)}) — name one of them, or {DECLARE}"
                )
                problems.append((("covariate", *loc), message))
        for name, pairs in self.categories.items():
            feature = schema.features.get(name)
            if feature is None or feature.type is not FeatureType.CATEGORY:
                categories = ", ".join(
                    p for p, f in schema.features.items() if f.type is FeatureType.CATEGORY
                )
                message = (
                    f"'{name}' is not a category feature; the category features are: {categories or 'none'} "
                    f"({known(schema)})"
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
