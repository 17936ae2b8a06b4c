"""The load a scenario's plan asks for, as the load child takes it (:class:`~mlchaos.experiments.load.spec.LoadSpec`):
the target's address and response fields, the scenario's users and wait, the dataset or body template, the shape
traffic faults give the users, and the windows in which input faults send their requests — all on the load's own
clock, which starts with the ramp-up, then the warm-up; the plan's offset 0 (the baseline) comes after both.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Mapping

from mlchaos.experiments.file_limits import MAX_DATASET_BYTES, MAX_DATASET_ROWS, read_limited
from mlchaos.experiments.inputs import InputWindow, Send
from mlchaos.experiments.inputs.schema import RequestSchema
from mlchaos.experiments.load.spec import LoadSpec, Locustfile, RequestTemplate, Stage
from mlchaos.experiments.plan import Plan
from mlchaos.experiments.verifiers.base import Phase
from mlchaos.injectors.base import OnPreparedRequests, OnRequests, OnTraffic


def load_spec(
    plan: Plan,
    duration_s: float,
    prepared: Mapping[str, Send] | None = None,
    *,
    worker_bind: str | None = None,
    schema: RequestSchema | None = None,
) -> LoadSpec:
    """The load of ``plan``; ``schema`` is the resolved request schema (default: the target's declaration)."""
    load, target = plan.scenario.load, plan.target
    requests = dataset_requests(plan)
    return LoadSpec(
        base_url=target.service_url,
        path=load.path or target.predict_path,
        users=load.users,
        spawn_rate=load.spawn_rate or float(load.users),
        duration_s=duration_s,
        wait_min_s=load.wait[0],
        wait_max_s=load.wait[1],
        request_timeout_s=load.request_timeout,
        max_response_bytes=load.max_response_bytes,
        headers=target.headers,
        tier_field=target.response.tier,
        confidence_field=target.response.confidence,
        prediction_field=target.response.prediction,
        score_field=target.response.score,
        review_field=target.response.review,
        shed_field=target.response.shed,
        requests=requests,
        template=load.body,
        locustfile=_locustfile(plan),
        # the scenario's target is the one it runs on (--target replaces it when the scenario is loaded)
        allowed_hosts=plan.scenario.target.declaration.allowed_hosts,
        allow_production=plan.scenario.target.declaration.allow_production,
        stages=_load_stages(plan),
        inputs=_input_windows(plan, prepared or {}),
        request_schema=target.request if schema is None else schema,
        seed=load_seed(plan),
        workers=load.workers,
        worker_bind=worker_bind if load.workers else None,
    )


def baseline_s(plan: Plan) -> float:
    """Seconds from the load's start to the baseline's (the plan's offset 0): the ramp, then the warm-up."""
    return _ramp_s(plan) + plan.warmup


def dataset_requests(plan: Plan) -> tuple[RequestTemplate, ...]:
    dataset = plan.scenario.load.dataset
    if dataset is None:
        return ()
    # Validated within its caps; read bounded all the same, should it have grown since.
    lines = read_limited(dataset, MAX_DATASET_BYTES).decode("utf-8").splitlines()[:MAX_DATASET_ROWS]
    return tuple(RequestTemplate.model_validate(json.loads(line)) for line in lines if line.strip())


def load_seed(plan: Plan) -> int:
    # Stable across runs of one scenario (hash() is salted per process): runs stay comparable.
    return zlib.crc32(plan.scenario.name.encode())


def _ramp_s(plan: Plan) -> float:
    """Seconds the load takes to reach its users; the warm-up (or the baseline) starts after it."""
    load = plan.scenario.load
    return load.users / (load.spawn_rate or load.users)


def _load_stages(plan: Plan) -> tuple[Stage, ...]:
    """The load shape: the scenario's users, multiplied while traffic faults (spikes) are on."""
    load = plan.scenario.load
    spawn_rate = load.spawn_rate or float(load.users)
    windows = [
        (plan.phase_start(Phase.FAULT) + p.spec.at, p.spec.duration, p.plan.acts_on.multiplier)
        for p in plan.faults
        if isinstance(p.plan.acts_on, OnTraffic)
    ]
    if not windows:
        return ()
    ramp = baseline_s(plan)
    boundaries = sorted({t for start, duration, _ in windows for t in (start, start + duration)})
    stages = []
    for at in boundaries:
        factor = math.prod(m for start, duration, m in windows if start <= at < start + duration)
        users = round(load.users * factor)
        stages.append(Stage(at_s=ramp + at, users=users, spawn_rate=max(spawn_rate, users - load.users)))
    return tuple(stages)


def _input_windows(plan: Plan, prepared: Mapping[str, Send]) -> tuple[InputWindow, ...]:
    """ML input faults on the load's clock: what each sends from its ``at`` for its ``duration``.

    Faults that make their inputs before the load (attacks) are in ``prepared`` by fault id; until then they have
    no window."""
    windows = []
    for planned in plan.faults:
        spec, acts_on = planned.spec, planned.plan.acts_on
        if isinstance(acts_on, OnRequests):
            send = acts_on.send
        elif isinstance(acts_on, OnPreparedRequests) and spec.id in prepared:
            send = prepared[spec.id]
        else:
            continue
        start = baseline_s(plan) + plan.phase_start(Phase.FAULT) + spec.at
        windows.append(
            InputWindow(
                fault_id=spec.id,
                start_s=start,
                end_s=start + spec.duration,
                share=acts_on.share,
                send=send,
            )
        )
    return tuple(windows)


def _locustfile(plan: Plan) -> Locustfile | None:
    """The team's locustfile as the load child gets it: its text travels in the spec (to workers elsewhere too)."""
    load = plan.scenario.load
    if load.locustfile is None:
        return None
    source = load.locustfile.read_text(encoding="utf-8")
    return Locustfile(path=str(load.locustfile), source=source, user_classes=load.user_classes or ())
