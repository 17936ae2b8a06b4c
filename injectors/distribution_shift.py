"""``distribution_shift``: from ``at`` for ``duration``, a share of the requests come from another distribution
— one of:

- ``covariate``: the clean requests' numeric features moved (``scale``, ``offset`` per feature, ``swap`` two
  features) and category features re-drawn with new shares (``categories``), tagged ``shift:covariate``: what a
  drift monitor must notice;
- ``label_prior``: requests re-drawn from the labelled dataset so that ``fraud_share`` of them are fraud (the
  canary mix changes, the features of each request do not), tagged ``shift:label_prior`` with their true labels;
- ``ood``: out-of-distribution inputs that fit the service's request schema (``extreme``, ``impossible``,
  ``garbage``; see :mod:`mlchaos.experiments.inputs.shift`), tagged ``ood:<kind>``: what OOD routing must flag.

Every feature named must be one of the service's request schema (declared or inferred), of the right type:
checked when the scenario is validated, or before the run when part of the schema comes from the service.

Each is its own kind of input (its ``sends``: :mod:`~mlchaos.experiments.inputs.covariate`,
:mod:`~mlchaos.experiments.inputs.label_prior`, :mod:`~mlchaos.experiments.inputs.ood`). The window is programmed
into the load before it starts; ``inject``/``revert`` only mark it in the journal.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mlchaos.experiments.inputs.covariate import CovariateSend
from mlchaos.experiments.inputs.label_prior import LabelPriorSend
from mlchaos.experiments.inputs.ood import OodSend
from mlchaos.experiments.inputs.schema import Choice, RequestSchema
from mlchaos.experiments.inputs.send import Send
from mlchaos.experiments.inputs.shift import OodKind
from mlchaos.experiments.targets import ResponseFields, TargetEndpoints
from mlchaos.injectors.base import FaultPlan, InputFaultSpec, OnRequests, Undo


class Covariate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    scale: dict[str, float] = Field(
        default_factory=dict, description="Numeric feature → factor, e.g. {value_eur: 4}."
    )
    offset: dict[str, float] = Field(
        default_factory=dict, description="Numeric feature → added after scaling."
    )
    swap: tuple[str, str] | None = Field(None, description="Two numeric features whose values trade places.")
    categories: dict[str, dict[Choice, float]] = Field(
        default_factory=dict,
        description="Category feature → {value: share}: re-drawn with these shares, e.g. {channel: {web: 0.2, "
        "phone: 0.8}} (shares are weights, normalised to sum to 1).",
    )


class LabelPrior(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    fraud_share: float = Field(
        ge=0, le=1, description="Share of truly fraudulent requests in the shifted mix."
    )


class DistributionShift(InputFaultSpec):
    type: Literal["distribution_shift"]
    covariate: Covariate | None = None
    label_prior: LabelPrior | None = None
    ood: tuple[OodKind, ...] | None = Field(
        None, min_length=1, description="Kinds of out-of-distribution input."
    )

    @model_validator(mode="after")
    def _one_shift(self) -> DistributionShift:
        given = [name for name in ("covariate", "label_prior", "ood") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                f"distribution_shift needs exactly one of covariate, label_prior or ood (got {given or 'none'})"
            )
        if self.covariate is not None:
            self.send()  # the same check the load applies: it must move something
        return self

    def send(self) -> Send:
        if self.covariate is not None:
            shift = self.covariate
            categories = {name: tuple(shares.items()) for name, shares in shift.categories.items()}
            return CovariateSend(
                scale=shift.scale, offset=shift.offset, swap=shift.swap, categories=categories
            )
        if self.label_prior is not None:
            return LabelPriorSend(fraud_share=self.label_prior.fraud_share)
        assert self.ood is not None
        return OodSend(kinds=self.ood)

    def service_problems(
        self, response: ResponseFields, schema: RequestSchema | None
    ) -> list[tuple[tuple[int | str, ...], str]]:
        """Features the shift names that the request schema lacks (or has with another type), and OOD kinds the
        schema gives nothing to build from."""
        return [] if schema is None else self.send().problems(schema)


class DistributionShiftUndo(Undo):
    service_url: str


class DistributionShiftInjector:
    spec = DistributionShift
    undo = DistributionShiftUndo
    sends = (CovariateSend, LabelPriorSend, OodSend)

    def plan(self, spec: DistributionShift, target: TargetEndpoints) -> FaultPlan[DistributionShiftUndo]:
        send = spec.send()
        return FaultPlan(
            touches=(f"the requests sent to {target.service_url} ({spec.share:.0%} shifted)",),
            description=f"{send.describe()} in {spec.share:.0%} of the requests for {spec.duration:g}s",
            undo=DistributionShiftUndo(service_url=target.service_url),
            acts_on=OnRequests(share=spec.share, send=send),
        )

    def check(self, undo: DistributionShiftUndo) -> None:
        """Nothing to check on the target: the load generator is the harness's own."""

    def inject(self, spec: DistributionShift, undo: DistributionShiftUndo) -> None:
        """The window is already programmed into the load; the journal entry marks its start."""

    def revert(self, undo: DistributionShiftUndo) -> None:
        """The window closes by itself; there is nothing on the target to undo."""


INJECTOR = DistributionShiftInjector()
