"""What an ML input fault sends: the models shared by the injectors (which declare it), the engine (which places
it on the load's clock) and the load child (which sends it).

An :class:`InputWindow` says: from ``start_s`` to ``end_s`` after the load started, replace ``share`` of the
requests with what ``send`` describes. The child draws that share per request from a generator seeded with
``(spec.seed, user index)``, so a given user sends the same mix on every run with the same seed.

Every request sent in a window is tagged in its record (``input``, ``pair``, ``expected``; see
:class:`~mlchaos.experiments.records.RequestRecord`); requests outside a window, or not drawn into its share,
are clean (``input`` is ``None``).
"""

from __future__ import annotations

import enum
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mlchaos.experiments.inputs.contract import InputContract
from mlchaos.experiments.inputs.relations import Relation
from mlchaos.experiments.inputs.schema import Choice

_MODEL = ConfigDict(extra="forbid", frozen=True)


class Mutator(enum.StrEnum):
    """How a corrupted request differs from the clean one it was made from (tag ``corrupt:<name>``)."""

    NULL_FIELD = "null_field"
    NAN = "nan"
    POS_INF = "pos_inf"
    NEG_INF = "neg_inf"
    WRONG_TYPE = "wrong_type"
    OUT_OF_RANGE = "out_of_range"
    MISSING_FIELD = "missing_field"
    EXTRA_FIELD = "extra_field"
    RENAMED_FIELD = "renamed_field"
    EMPTY_BODY = "empty_body"
    MALFORMED_JSON = "malformed_json"
    TRUNCATED_JSON = "truncated_json"
    OVERSIZED = "oversized"
    DEEPLY_NESTED = "deeply_nested"
    CONTROL_CHARS = "control_chars"
    WRONG_CONTENT_TYPE = "wrong_content_type"


class OodKind(enum.StrEnum):
    """Inputs that fit the service's request schema but lie far outside its training data (tag ``ood:<name>``);
    built from the resolved schema (:mod:`~mlchaos.experiments.inputs.shift` says exactly how)."""

    EXTREME = "extreme"
    """The numeric features far beyond their typical range, within their declared bounds."""
    IMPOSSIBLE = "impossible"
    """Values each typical but jointly implausible: numeric features at the far end of their typical range,
    bools flipped, categories at their rarest value."""
    GARBAGE = "garbage"
    """Every feature drawn over its whole valid range, with ids the service does not know."""


class CorruptSend(BaseModel):
    """Clean requests corrupted by one of ``mutators`` each (drawn per request), each tagged with what the
    service's input ``contract`` expects of it (see :mod:`~mlchaos.experiments.inputs.mutators`)."""

    model_config = _MODEL

    kind: Literal["corrupt"] = "corrupt"
    mutators: tuple[Mutator, ...] = Field(min_length=1)
    field: str | None = Field(
        None,
        min_length=1,
        description="The feature (path) that field-level mutators (null, NaN, ±Inf, wrong type, out of range, "
        "missing, renamed, deeply nested) corrupt; default: the first numeric feature of the request schema.",
    )
    oversize_bytes: int | None = Field(
        None,
        ge=1,
        description="Size of the body `oversized` sends (valid JSON padded with whitespace); default: 1 KiB "
        "past the contract's max_body_bytes, or 1.1 MB without one.",
    )
    contract: InputContract = Field(
        default_factory=InputContract, description="The service's input contract: what each mutation expects."
    )
    nest_depth: int = Field(
        5_000, ge=2, description="Depth of the nested arrays `deeply_nested` puts in the field."
    )


class ReplaySample(BaseModel):
    """One prepared request body and how to tag it (an adversarial sample, say)."""

    model_config = _MODEL

    body: dict[str, Any]
    input: str = Field(pattern=r"^[a-z_]+:[a-z0-9_]+$")
    pair: str | None = None
    expected: str | None = None
    label: str | None = None


class ReplaySend(BaseModel):
    """Prepared samples, sent in turn (each user from its own starting point)."""

    model_config = _MODEL

    kind: Literal["replay"] = "replay"
    samples: tuple[ReplaySample, ...] = Field(
        (), description="Empty when an attack found nothing to replay: the window then sends clean requests."
    )


class CovariateSend(BaseModel):
    """Clean requests with their feature distributions moved: ``value × scale + offset``, then ``swap``, then
    each of ``categories`` re-drawn with its new shares.

    Integer features stay integers (rounded), scaled and offset numbers within their declared bounds (swapped
    values trade places as they are); features a request does not carry are left out, not invented.
    """

    model_config = _MODEL

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


class LabelPriorSend(BaseModel):
    """Requests re-drawn from the labelled dataset so that ``fraud_share`` of them are truly ``positive``."""

    model_config = _MODEL

    kind: Literal["label_prior"] = "label_prior"
    fraud_share: float = Field(ge=0, le=1)
    positive_label: str = "fraud"


class OodSend(BaseModel):
    """Out-of-distribution requests of the given kinds (drawn per request)."""

    model_config = _MODEL

    kind: Literal["ood"] = "ood"
    kinds: tuple[OodKind, ...] = Field(min_length=1)


class MetamorphicSend(BaseModel):
    """Metamorphic pairs: a clean request and its transformation by one of the declared ``relations`` (drawn
    per pair), back to back."""

    model_config = _MODEL

    kind: Literal["metamorphic"] = "metamorphic"
    relations: tuple[Relation, ...] = Field(min_length=1)


InputSend = Annotated[
    Union[CorruptSend, ReplaySend, CovariateSend, LabelPriorSend, OodSend, MetamorphicSend],  # noqa: UP007
    Field(discriminator="kind"),
]


class InputWindow(BaseModel):
    """From ``start_s`` to ``end_s`` (seconds after the load started), ``share`` of the requests are ``send``."""

    model_config = _MODEL

    fault_id: str
    start_s: float = Field(ge=0)
    end_s: float
    share: float = Field(gt=0, le=1)
    send: InputSend

    @model_validator(mode="after")
    def _ends_after_start(self) -> InputWindow:
        if self.end_s <= self.start_s:
            raise ValueError(f"window '{self.fault_id}' ends ({self.end_s:g}s) before it starts")
        return self

    def is_open(self, elapsed_s: float) -> bool:
        return self.start_s <= elapsed_s < self.end_s and not (
            isinstance(self.send, ReplaySend) and not self.send.samples
        )
