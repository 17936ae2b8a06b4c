"""``boundary_attack``: a decision-based (HopSkipJump-style) black-box search for adversarial inputs under a hard
query budget.

The target is seen only through ``query`` (one call = one request, answering a prediction). For each clean input:

1. ask the target for its prediction (every clean input first, so that the others can serve as starting points);
2. find a *start*: a point the target labels differently — the attacked features of another clean input with a
   different prediction (nearest first), else random points within the feature ranges;
3. binary-search along the line from the clean input to the start to the decision boundary, keeping the point just
   on the adversarial side;
4. iterate, as HopSkipJump does: estimate the boundary's normal there from a few random probes (+1 where the
   prediction flips, −1 where it does not), step along it (halving the step until the point is still adversarial),
   then binary-search back towards the clean input. The closest adversarial point ever seen is the result.

Only the numeric features named in ``features`` move, within their ranges (integer features rounded); every other
field of the request is copied unchanged, and a feature the clean input lacks (``None``, absent) is left alone.
Feature names are paths into the body (``txn.value``, ``items.0.price``: see
:mod:`mlchaos.experiments.inputs.paths`).
Distances are L2 over the range-normalised attacked features divided by √d: 0 is the clean input, 1 the opposite
corner of the ranges, whatever the number of features. A sample is returned only if the target really answered its
adversarial point with another prediction than the clean one, at a distance ≤ ``max_distance``.

The budget is hard: every call of ``query`` counts (failed ones too) and none is made past ``budget``. After step 1
the rest is shared equally among the clean inputs (what one leaves unused goes to the next), so one hard input
cannot starve the others; a point already asked is not asked again. All randomness comes from a numpy Generator
seeded with ``seed``: the same seed against the same (deterministic) target gives the same samples and the same
number of queries.

Why our own and not adversarial-robustness-toolbox's HopSkipJump: ART pulls in a large dependency tree and wants a
classifier wrapper around numpy arrays, while our target takes JSON requests with mixed field types (identifiers,
booleans, optional fields, integers), and the budget must hold exactly — it is the number of requests the target
sees, which a scenario's tests count at the server.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from mlchaos.experiments.errors import FaultError, RunStopped
from mlchaos.experiments.inputs.paths import get_path, set_path

Vector = npt.NDArray[np.float64]

DEFAULT_MAX_DISTANCE = 0.1
"""A tenth of the feature ranges (normalised L2): beyond that a change is no longer a small perturbation."""
PROBES = 8
"""Random probes per estimate of the boundary's normal at the first iteration; grows with √iteration, as in HSJ."""
START_TRIES = 10
"""Other clean inputs, then random points, tried as a start before giving up on one clean input."""
MAX_ITERATIONS = 50
MAX_BISECTIONS = 20
MAX_HALVINGS = 8
BISECT_TOLERANCE = 1e-3
"""Normalised distance at which a binary search stops: closer than that, the boundary is found."""


class QueryFailedError(FaultError):
    """The target gave no usable answer to one query (an error status, no prediction). It still counts against the
    budget; the attack treats the point as not adversarial."""


@dataclass(frozen=True)
class Answer:
    prediction: str
    score: float | None = None


Query = Callable[[Mapping[str, Any]], Answer]
"""One call = one request to the target."""


@dataclass(frozen=True)
class FeatureRange:
    """A numeric request field the attack may move, and the range it stays in."""

    name: str
    low: float
    high: float
    integer: bool = False

    def __post_init__(self) -> None:
        if not self.high > self.low:
            raise ValueError(f"feature {self.name!r}: high ({self.high}) must be above low ({self.low})")


@dataclass(frozen=True)
class AdversarialSample:
    clean: dict[str, Any]
    adversarial: dict[str, Any]
    clean_prediction: str
    adversarial_prediction: str
    distance: float
    """Normalised L2 over the attacked features (see the module docstring)."""


@dataclass(frozen=True)
class AttackResult:
    samples: tuple[AdversarialSample, ...]
    queries: int
    """Calls of ``query`` made, ≤ ``budget``."""
    budget: int
    seed: int


class _BudgetSpentError(RunStopped):
    """The current share of the budget is used up: the search keeps what it found so far."""


class _Oracle:
    """Asks the target, counts every call, never goes past ``cap``, and never asks the same point twice."""

    def __init__(self, query: Query, budget: int) -> None:
        self._query = query
        self._answers: dict[str, str | None] = {}
        self.queries = 0
        self.cap = budget

    def predict(self, body: Mapping[str, Any]) -> str | None:
        key = json.dumps(body, sort_keys=True, default=repr)
        if key in self._answers:
            return self._answers[key]
        if self.queries >= self.cap:
            raise _BudgetSpentError
        self.queries += 1
        try:
            prediction: str | None = self._query(body).prediction
        except QueryFailedError:
            prediction = None
        self._answers[key] = prediction
        return prediction


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class _Space:
    """The attacked features of one clean input as a point of the unit cube (0 = low, 1 = high)."""

    def __init__(self, clean: Mapping[str, Any], features: Sequence[FeatureRange]) -> None:
        self.clean = dict(clean)
        self.features = tuple(f for f in features if _is_number(get_path(clean, f.name)))
        self.low = np.array([f.low for f in self.features], dtype=float)
        self.span = np.array([f.high - f.low for f in self.features], dtype=float)
        self.origin = self.normalise(clean)

    @property
    def dims(self) -> int:
        return len(self.features)

    def accepts(self, other: Mapping[str, Any]) -> bool:
        return all(_is_number(get_path(other, f.name)) for f in self.features)

    def normalise(self, body: Mapping[str, Any]) -> Vector:
        values = np.array([float(get_path(body, f.name)) for f in self.features], dtype=float)
        point: Vector = (values - self.low) / self.span
        return point

    def body(self, point: Vector) -> dict[str, Any]:
        """The request for ``point``: the clean input with the attacked features moved (clipped, rounded)."""
        values = self.low + np.clip(point, 0.0, 1.0) * self.span
        body = dict(self.clean)
        for feature, value in zip(self.features, values, strict=True):
            if feature.integer:
                lowest, highest = math.ceil(feature.low), math.floor(feature.high)
                body = set_path(body, feature.name, min(max(round(float(value)), lowest), highest))
            else:
                body = set_path(body, feature.name, float(value))
        return body

    def snap(self, point: Vector) -> Vector:
        """The point the target really sees (clipped into the ranges, integers rounded)."""
        return self.normalise(self.body(point))

    def distance(self, point: Vector) -> float:
        return float(np.linalg.norm(point - self.origin) / math.sqrt(self.dims))


class _Search:
    """The search around one clean input; ``best`` is the closest point the target answered differently."""

    def __init__(
        self, space: _Space, clean_prediction: str, oracle: _Oracle, rng: np.random.Generator, probes: int
    ) -> None:
        self.space = space
        self.clean_prediction = clean_prediction
        self.oracle = oracle
        self.rng = rng
        self.probes = probes
        self.best: tuple[Vector, str] | None = None

    def flipped(self, point: Vector) -> Vector | None:
        """The snapped point if the target's prediction there differs from the clean one, else ``None``."""
        snapped = self.space.snap(point)
        prediction = self.oracle.predict(self.space.body(snapped))
        if prediction is None or prediction == self.clean_prediction:
            return None
        if self.best is None or self.space.distance(snapped) < self.space.distance(self.best[0]):
            self.best = (snapped, prediction)
        return snapped

    def run(self, starts: Sequence[Vector]) -> None:
        start = self._start(starts)
        if start is None:
            return
        self._bisect(start)
        for iteration in range(1, MAX_ITERATIONS + 1):
            assert self.best is not None  # set by _start
            boundary = self.best[0]
            distance = self.space.distance(boundary)
            if distance <= BISECT_TOLERANCE:
                return
            direction = self._normal(boundary, distance, iteration)
            step = distance * math.sqrt(self.space.dims) / math.sqrt(iteration)
            for _ in range(MAX_HALVINGS):
                stepped = self.flipped(boundary + step * direction)
                if stepped is not None:
                    self._bisect(stepped)
                    break
                step /= 2

    def _start(self, starts: Sequence[Vector]) -> Vector | None:
        nearest = sorted(starts, key=self.space.distance)[:START_TRIES]
        randoms = (self.rng.random(self.space.dims) for _ in range(START_TRIES))
        for candidate in (*nearest, *randoms):
            found = self.flipped(candidate)
            if found is not None:
                return found
        return None

    def _bisect(self, adversarial: Vector) -> None:
        """Binary search on the segment clean → ``adversarial`` for the boundary (``best`` follows it)."""
        origin = self.space.origin
        length = self.space.distance(adversarial)
        clean_side, adversarial_side = 0.0, 1.0
        for _ in range(MAX_BISECTIONS):
            if (adversarial_side - clean_side) * length <= BISECT_TOLERANCE:
                return
            middle = (clean_side + adversarial_side) / 2
            if self.flipped(origin + middle * (adversarial - origin)) is None:
                clean_side = middle
            else:
                adversarial_side = middle

    def _normal(self, boundary: Vector, distance: float, iteration: int) -> Vector:
        """Unit vector pointing across the boundary, away from the clean class (HSJ's Monte-Carlo estimate)."""
        count = self.probes * math.ceil(math.sqrt(iteration))
        radius = max(0.1 * distance * math.sqrt(self.space.dims), BISECT_TOLERANCE)
        directions = self.rng.standard_normal((count, self.space.dims))
        directions /= np.maximum(np.linalg.norm(directions, axis=1, keepdims=True), 1e-12)
        signs = np.array(
            [1.0 if self.flipped(boundary + radius * d) is not None else -1.0 for d in directions]
        )
        # Subtracting the mean sign is HSJ's baseline: it cancels the bias when most probes land on one side.
        weights = signs - signs.mean() if 0 < (signs > 0).sum() < count else signs
        estimate: Vector = (weights[:, None] * directions).mean(axis=0)
        norm = float(np.linalg.norm(estimate))
        if norm == 0.0:
            fallback: Vector = directions[0]
            return fallback
        return estimate / norm


def boundary_attack(
    clean: Sequence[Mapping[str, Any]],
    features: Sequence[FeatureRange],
    query: Query,
    *,
    budget: int,
    seed: int,
    max_distance: float = DEFAULT_MAX_DISTANCE,
    probes: int = PROBES,
) -> AttackResult:
    """Adversarial versions of ``clean`` inputs, found with at most ``budget`` calls of ``query``.

    Returns only real flips (the target answered the adversarial point differently) within ``max_distance``; clean
    inputs the target could not answer, or for which nothing close enough was found, yield no sample.
    """
    if budget < 0:
        raise ValueError(f"the query budget cannot be negative (got {budget})")
    if not features:
        raise ValueError("name at least one numeric feature (with its range) for the attack to move")
    if probes < 1:
        raise ValueError(f"probes must be at least 1 (got {probes})")
    oracle = _Oracle(query, budget)
    rng = np.random.default_rng(seed)
    labelled: list[tuple[dict[str, Any], str]] = []
    try:
        for body in clean:
            prediction = oracle.predict(body)
            if prediction is not None:
                labelled.append((dict(body), prediction))
    except _BudgetSpentError:
        pass
    samples: list[AdversarialSample] = []
    for index, (body, prediction) in enumerate(labelled):
        space = _Space(body, features)
        if space.dims == 0:
            continue
        oracle.cap = oracle.queries + (budget - oracle.queries) // (len(labelled) - index)
        search = _Search(space, prediction, oracle, rng, probes)
        starts = [
            space.normalise(other)
            for other, label in labelled
            if label != prediction and space.accepts(other)
        ]
        with contextlib.suppress(_BudgetSpentError):
            search.run(starts)
        if search.best is not None and space.distance(search.best[0]) <= max_distance:
            point, adversarial_prediction = search.best
            samples.append(
                AdversarialSample(
                    clean=body,
                    adversarial=space.body(point),
                    clean_prediction=prediction,
                    adversarial_prediction=adversarial_prediction,
                    distance=space.distance(point),
                )
            )
    return AttackResult(tuple(samples), oracle.queries, budget, seed)
