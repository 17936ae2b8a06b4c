"""The service's request schema, as ML input faults need it: which features a request carries, of which type, over
which range or choices.

A target declares what it knows (``request.features``); the rest is inferred before the run — from the service's
OpenAPI spec when it publishes one (``request.openapi``), then from the scenario's dataset (observed ranges and
categories): see :mod:`mlchaos.experiments.inputs.inference`. Out-of-distribution kinds, field-level mutators,
covariate shift, metamorphic relations and the boundary attack are all built from the resolved schema, so no code
outside the reference stack names a feature.

Feature names are paths into the JSON body: ``price`` is a top-level field, ``txn.price`` a nested one,
``items.0.price`` one inside a list (see :mod:`mlchaos.experiments.inputs.paths`). The order of ``features`` matters:
the first numeric feature is what field-level mutators corrupt unless the scenario names another.
"""

from __future__ import annotations

import enum
import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

_MODEL = ConfigDict(extra="forbid", frozen=True)

FEATURE_PATH = re.compile(r"^[A-Za-z0-9_$@-]+(\.[A-Za-z0-9_$@-]+)*$")
FeaturePath = Annotated[str, Field(pattern=FEATURE_PATH.pattern, max_length=200)]
Choice = str | int | bool


class FeatureType(enum.StrEnum):
    NUMBER = "number"
    INTEGER = "integer"
    BOOL = "bool"
    CATEGORY = "category"
    """One of a few known values (``choices``)."""
    ID = "id"
    """An identifier or free text: any string (an unknown one is out of distribution)."""


class Feature(BaseModel):
    """One request feature. ``min``/``max`` bound what the service accepts (its contract); ``typical`` is the
    range seen in normal traffic (inferred from the dataset unless declared). Both are optional."""

    model_config = _MODEL

    type: FeatureType
    min: float | None = Field(None, description="Least valid value (number, integer).")
    max: float | None = Field(None, description="Greatest valid value (number, integer).")
    typical: tuple[float, float] | None = Field(
        None, description="[low, high] of normal traffic (number, integer); default: observed in the dataset."
    )
    choices: tuple[Choice, ...] = Field(
        (),
        description="The valid values of a category, most common first (the last is the rarest); default: "
        "observed in the dataset, by frequency.",
    )
    required: bool = Field(
        True,
        description="Whether every request must carry it. An optional feature may be left out: a request "
        "without it is valid (default: optional when the OpenAPI spec does not require it or some dataset "
        "requests lack it).",
    )

    @model_validator(mode="after")
    def _fits_type(self) -> Feature:
        numeric = self.type in (FeatureType.NUMBER, FeatureType.INTEGER)
        if not numeric and (self.min is not None or self.max is not None or self.typical is not None):
            raise ValueError(f"min, max and typical apply to number and integer features, not {self.type}")
        if self.type is not FeatureType.CATEGORY and self.choices:
            raise ValueError(f"choices apply to category features, not {self.type}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min:g}) is above max ({self.max:g})")
        if self.typical is not None and self.typical[0] > self.typical[1]:
            raise ValueError(
                f"typical is [low, high], got low {self.typical[0]:g} > high {self.typical[1]:g}"
            )
        return self

    @property
    def numeric(self) -> bool:
        return self.type in (FeatureType.NUMBER, FeatureType.INTEGER)

    @property
    def textual(self) -> bool:
        """An id, or a category of strings: where a string value goes."""
        return self.type is FeatureType.ID or (
            self.type is FeatureType.CATEGORY and all(isinstance(c, str) for c in self.choices)
        )


class RequestSchema(BaseModel):
    """What a request to the service carries. Declared features win over inferred ones, feature by feature."""

    model_config = _MODEL

    features: dict[FeaturePath, Feature] = Field(
        default_factory=dict, description="Feature path → type and range; undeclared ones are inferred."
    )
    openapi: str | None = Field(
        None,
        description="Path of the service's OpenAPI spec (e.g. /openapi.json) to infer the request body's "
        "features from: types, minimum/maximum, enum.",
    )
    infer_from_dataset: bool = Field(
        True, description="Infer undeclared features, ranges and categories from the scenario's dataset."
    )

    def numeric(self) -> list[str]:
        """The number and integer features, in schema order."""
        return [path for path, feature in self.features.items() if feature.numeric]

    def describe(self) -> str:
        """``price (number), channel (category), …`` — for messages that name the known features."""
        if not self.features:
            return "none"
        return ", ".join(f"{path} ({feature.type.value})" for path, feature in self.features.items())
