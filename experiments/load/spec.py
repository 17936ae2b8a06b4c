"""The contract between the orchestrator and the Locust child process.

The orchestrator writes a :class:`LoadSpec` as JSON; the child
(``python -m mlchaos.experiments.load.child SPEC``) runs Locust in its own process — gevent's monkey-patching
never touches the orchestrator — and streams
:class:`~mlchaos.experiments.records.RequestRecord` batches back on stdout, one JSON line per batch.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mlchaos.experiments.http_bounds import DEFAULT_MAX_RESPONSE_BYTES
from mlchaos.experiments.inputs.schema import RequestSchema
from mlchaos.experiments.inputs.windows import InputWindow

WORKER_EXIT_BUSY = 3
"""A load worker's exit status when the master was already running a load without it."""


class RequestTemplate(BaseModel):
    """One request body the users may send; ``label`` is its true label when known (a canary)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    body: dict[str, Any]
    label: str | None = None


class Stage(BaseModel):
    """From ``at_s`` seconds after the load started, run ``users`` users, ramping at ``spawn_rate`` users/s.

    Stages let a fault change the traffic itself (a spike is two stages: up, then back down). Locust's shape
    worker re-evaluates them once a second, so a stage takes effect within about a second of ``at_s``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    at_s: float = Field(ge=0)
    users: int = Field(ge=0, description="0 pauses the traffic until a later stage.")
    spawn_rate: float = Field(gt=0)


MAX_LOCUSTFILE_BYTES = 512 * 1024
"""A team's locustfile travels inside the spec (to workers elsewhere too); this bounds what a spec carries."""


class Locustfile(BaseModel):
    """A team's own Locust users: the locustfile's text, and which of its User classes to run.

    The text, not a path, so a worker pod that has no copy of the scenario's folder runs the same users; modules
    the locustfile imports from its folder are found there when it exists (on the machine of the run), and must
    be installed in the worker's image otherwise.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(
        description="Where it was read from: for messages, tracebacks and its folder's imports."
    )
    source: str = Field(max_length=MAX_LOCUSTFILE_BYTES)
    user_classes: tuple[str, ...] = Field(
        (),
        description="Names of the User classes to run; empty: every User class it defines, as Locust does.",
    )


class LoadSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str
    path: str = "/predict"
    users: int = Field(ge=1)
    spawn_rate: float = Field(gt=0)
    duration_s: float = Field(
        gt=0, description="Hard stop: the child exits after this long whatever happens."
    )
    wait_min_s: float = Field(0.0, ge=0)
    wait_max_s: float = Field(0.0, ge=0)
    request_timeout_s: float = Field(
        5.0,
        gt=0,
        description="The total deadline of every request the load sends, a locustfile's users' included: past it "
        "the request is abandoned and recorded as a timeout.",
    )
    max_response_bytes: int = Field(
        DEFAULT_MAX_RESPONSE_BYTES,
        ge=1,
        description="The largest answer read (after decompression); a larger one is an error row, its reading "
        "stopped as soon as it passes this.",
    )
    headers: dict[str, str] = Field(default_factory=dict)
    tier_field: str = "tier"
    confidence_field: str = "confidence"
    prediction_field: str = "prediction"
    score_field: str | None = Field(
        None, description="Where the target reports its positive-class score (→ ``score``); None: not read."
    )
    review_field: str | None = Field(
        None, description="Where the target flags an answer for review (→ ``flagged``); None: not read."
    )
    shed_field: str | None = Field(
        None, description="Where the target says it shed a request (→ ``shed``); None: not read."
    )
    requests: tuple[RequestTemplate, ...] = Field(
        default=(), description="Bodies cycled through in order (dataset), each user from its own offset."
    )
    template: dict[str, Any] | None = Field(
        None, description="A body whose string values may be Jinja2 expressions rendered per request."
    )
    locustfile: Locustfile | None = Field(
        None,
        description="The team's own users instead of mlchaos' (no requests, template or inputs with it): every "
        "request they make is recorded, read with the response fields above.",
    )
    allowed_hosts: tuple[str, ...] = Field(
        (),
        description="The target's allowed_hosts: hosts besides base_url's and loopback that requests may go to "
        "(a locustfile's users may name absolute URLs); a request to any other host is refused before it is "
        "sent, and fails the load.",
    )
    allow_production: bool = Field(
        False,
        description="The target's allow_production: an allowed host that looks like production may be used.",
    )
    seed: int = 0
    flush_interval_s: float = Field(0.2, gt=0, description="How often the child flushes a batch of records.")
    template_label: str | None = Field(
        None,
        description="Jinja2 expression giving the true label of each templated request (canary); it sees the "
        "rendered body as ``body``, e.g. \"{{ 'fraud' if body.value > 900 else 'legit' }}\".",
    )
    stages: tuple[Stage, ...] = Field(
        default=(),
        description="Load shape: from each stage's at_s on, its users and spawn_rate replace the current "
        "ones. Before the first stage (and without stages) the run uses users/spawn_rate.",
    )
    inputs: tuple[InputWindow, ...] = Field(
        default=(),
        description="ML input faults: in each window, a share of the requests is replaced by corrupted, "
        "adversarial, shifted, out-of-distribution or metamorphic ones (checked in this order).",
    )
    request_schema: RequestSchema = Field(
        default_factory=RequestSchema,
        description="The service's resolved request schema (the engine completed it before the load): what the "
        "input windows' corrupted, shifted and out-of-distribution requests are built from. (Not `schema`: "
        "that name is a method of every pydantic model.)",
    )
    workers: int = Field(
        0,
        ge=0,
        description="0: one process sends all requests. N: a Locust master hands the users to N workers, which "
        "send the requests and ship every row back to it.",
    )
    worker_bind: str | None = Field(
        None,
        description="HOST:PORT the master listens on for workers started elsewhere (worker pods). None: the "
        "master starts its N workers itself, as local processes on loopback.",
    )
    workers_timeout_s: float = Field(
        60.0, gt=0, description="How long the master waits for its N workers before giving up."
    )
    stop_grace_s: float = Field(
        2.0,
        ge=0,
        description="At the stop (duration_s or SIGTERM) no new request starts; requests in flight get this "
        "long to finish, so every request the target saw is recorded. Bounds how late the child may exit.",
    )

    @field_validator("worker_bind")
    @classmethod
    def _host_port(cls, bind: str | None) -> str | None:
        if bind is not None:
            parse_host_port(bind)
        return bind

    @model_validator(mode="after")
    def _team_users_send_their_own(self) -> LoadSpec:
        if self.locustfile is not None and (self.requests or self.template is not None or self.inputs):
            raise ValueError(
                "a locustfile's users send their own requests: no requests, template or input windows with it"
            )
        return self

    @field_validator("stages")
    @classmethod
    def _stages_in_time_order(cls, stages: tuple[Stage, ...]) -> tuple[Stage, ...]:
        times = [stage.at_s for stage in stages]
        if times != sorted(set(times)):
            raise ValueError(f"stages must have strictly increasing at_s, got {times}")
        return stages


def parse_host_port(text: str) -> tuple[str, int]:
    """``"0.0.0.0:5557"`` → ``("0.0.0.0", 5557)``; ValueError saying what is wrong otherwise."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected HOST:PORT with a port from 1 to 65535, got {text!r}")
    return host.strip("[]"), int(port)
