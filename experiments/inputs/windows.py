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
    """Inputs that pass the schema but lie far outside the training data (tag ``ood:<name>``)."""

    EXTREME = "extreme"
    """Amounts of 10⁶..10⁹, thousands of times any amount seen in training."""
    IMPOSSIBLE = "impossible"
    """A purchase of (almost) nothing — 0 to 0.01 — at the riskiest merchant, abroad, at 3 am."""
    GARBAGE = "garbage"
    """Every field drawn uniformly over its whole schema range (amount log-uniform over 10⁻²..10⁹), for an
    entity the feature store does not know."""


class Relation(enum.StrEnum):
    """What a metamorphic transformation must do to the answer."""

    SAME = "same"
    """The prediction must not change."""
    HIGHER = "higher"
    """The fraud score must not go down."""
    LOWER = "lower"
    """The fraud score must not go up."""


class Transformation(enum.StrEnum):
    """A metamorphic test: the original request and a transformed one, sent back to back by one user."""

    KEY_ORDER = "key_order"
    """The JSON keys in reverse order: irrelevant to any reader of JSON (relation ``same``)."""
    WHITESPACE = "whitespace"
    """The same JSON, pretty-printed with indentation and spaces (``same``)."""
    AMOUNT_AS_FLOAT = "amount_as_float"
    """The amount as a whole number, written ``100`` in the original and ``100.0`` in the transformed request: a
    unit-preserving rewrite (``same``)."""
    MERCHANT_RISK_UP = "merchant_risk_up"
    """``merchant_risk`` raised by 0.5 (capped at 1): a riskier merchant must not lower the fraud score
    (``higher``)."""
    FOREIGN_ON = "foreign_on"
    """``is_foreign`` false → true: a card used abroad must not lower the fraud score (``higher``)."""

    @property
    def relation(self) -> Relation:
        return _RELATIONS[self]


_RELATIONS = {
    Transformation.KEY_ORDER: Relation.SAME,
    Transformation.WHITESPACE: Relation.SAME,
    Transformation.AMOUNT_AS_FLOAT: Relation.SAME,
    Transformation.MERCHANT_RISK_UP: Relation.HIGHER,
    Transformation.FOREIGN_ON: Relation.HIGHER,
}


class CorruptSend(BaseModel):
    """Clean requests corrupted by one of ``mutators`` each (drawn per request)."""

    model_config = _MODEL

    kind: Literal["corrupt"] = "corrupt"
    mutators: tuple[Mutator, ...] = Field(min_length=1)
    field: str = Field(
        "amount",
        min_length=1,
        description="The field that field-level mutators (null, NaN, ±Inf, wrong type, out of range, missing, "
        "renamed, deeply nested) corrupt.",
    )
    oversize_bytes: int = Field(
        1_100_000, ge=1, description="Whitespace appended by `oversized`: past a 1 MiB body limit."
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
    """Clean requests with their feature distributions moved: ``value × scale + offset``, then ``swap``.

    Integer fields stay integers (rounded); fields a request does not carry are left out, not invented.
    """

    model_config = _MODEL

    kind: Literal["covariate"] = "covariate"
    scale: dict[str, float] = Field(default_factory=dict)
    offset: dict[str, float] = Field(default_factory=dict)
    swap: tuple[str, str] | None = Field(None, description="Two fields whose values trade places.")

    @model_validator(mode="after")
    def _does_something(self) -> CovariateSend:
        if not self.scale and not self.offset and self.swap is None:
            raise ValueError("a covariate shift needs at least one of scale, offset or swap")
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
    """Metamorphic pairs: a clean request and its transformation, back to back (drawn per pair)."""

    model_config = _MODEL

    kind: Literal["metamorphic"] = "metamorphic"
    transformations: tuple[Transformation, ...] = Field(min_length=1)


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
