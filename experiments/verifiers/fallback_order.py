"""``fallback_order``: while a fault is applied, answers come from the best tier the fault left healthy.

The fault makes the tiers in ``unavailable`` unusable (default: the first, best tier of the target's ladder). The
*expected* tier is the best one on the ladder not among them. Counted: 2xx answers to requests started between
``injected + within`` (the grace a breaker needs) and the revert.

- measured: the share of those answers that came from a tier *worse* than the expected one — they skipped a
  healthy, better tier (e.g. the static default while the fallback model is fine); pass when ≤
  ``max_skip_share``. An answer from a tier not on the ladder ranks worst (nothing says a better tier answered):
  it counts as skipping, and is named;
- also counted: answers *from* an unavailable tier. They should be impossible (a best-tier answer while the
  feature store it needs is down is a mislabelled answer), so their share must be ≤ ``max_impossible_share``
  (default 0: any one of them fails the verifier).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from mlchaos.experiments.durations import Seconds
from mlchaos.experiments.service_declaration import TierName
from mlchaos.experiments.verifiers import advice, needs
from mlchaos.experiments.verifiers.advice import Way, WaysOfFailing
from mlchaos.experiments.verifiers.base import Recording, Verdict, Verifier, VerifierSpec
from mlchaos.experiments.verifiers.frames import selected
from mlchaos.experiments.verifiers.phases import answered, fault_end, fault_judged, fault_not_applied
from mlchaos.experiments.verifiers.tiers import Loc, labels, ranks, unknown_tiers, with_unknown


class Failing(WaysOfFailing):
    FAULT_NOT_APPLIED = advice.FAULT_NOT_APPLIED
    UNMEASURED = Way(
        "no 2xx answer during the fault (or no tier left to expect)",
        "nothing to rank: no request was answered with a 2xx during '{fault}' after {within}s (see the "
        "availability verdicts), or `unavailable` names every tier of the target's ladder",
    )
    IMPOSSIBLE_TIER = Way(
        "answers claimed a tier the fault made unavailable",
        "{impossible} answers claim {unavailable}, which could not answer during '{fault}': a cached or default "
        "answer is labelled as {unavailable} — look at where the fallback path sets the tier it reports",
    )
    SKIPPED_TIER = Way(
        "answers skipped the best healthy tier",
        "{skipped} answers came from tiers worse than {expected}, which '{fault}' left healthy: the chain skipped "
        "it — look at {expected}'s own errors and timeouts under the fault, and the order the chain tries tiers in",
    )


class FallbackOrder(VerifierSpec):
    type: Literal["fallback_order"]
    fault: str = Field(description="Id of the fault in the timeline.")
    unavailable: tuple[TierName, ...] | None = Field(
        None,
        min_length=1,
        description="Tiers the fault makes unavailable; default: the first (best) tier of the target's ladder.",
    )
    within: Seconds = Field(2.0, description="Grace period after the injection before answers are counted.")
    max_skip_share: float = Field(
        0.01, ge=0, le=1, description="Largest share of answers below the expected tier."
    )
    max_impossible_share: float = Field(0.0, ge=0, le=1, description="Largest share from unavailable tiers.")

    tier_fields: ClassVar[tuple[str, ...]] = ("unavailable",)

    def unavailable_on(self, ladder: tuple[str, ...]) -> tuple[str, ...]:
        return self.unavailable if self.unavailable is not None else ladder[:1]

    def expected(self, ladder: tuple[str, ...]) -> str | None:
        """The best tier of ``ladder`` the fault leaves healthy; ``None`` if it names every one."""
        unavailable = self.unavailable_on(ladder)
        return next((tier for tier in ladder if tier not in unavailable), None)

    def ladder_problems(self, ladder: tuple[str, ...]) -> list[tuple[Loc, str]]:
        problems = super().ladder_problems(ladder)
        if not problems and self.expected(ladder) is None:
            message = f"names every tier ({', '.join(ladder)}); at least one must remain to answer"
            problems.append((("unavailable",), message))
        return problems


def verify(recording: Recording, spec: FallbackOrder) -> Verdict:
    ladder = recording.tiers
    expected, unavailable = spec.expected(ladder), spec.unavailable_on(ladder)
    name = f"fallback_order ({spec.fault} → {expected})"
    target = f"≤ {spec.max_skip_share:.1%} below {expected}"
    if expected is None:  # the loader refuses this; a recording of another target could still meet it
        explanation = f"'unavailable' names every tier of the ladder ({', '.join(ladder)})"
        return Verdict.unmeasured(
            verifier=spec.type,
            name=name,
            target=target,
            unit="%",
            explanation=explanation,
            advice=Failing.UNMEASURED.advise(fault=spec.fault, within=spec.within),
        )
    fault = recording.fault(spec.fault)
    if fault is None:
        return fault_not_applied(spec.type, name, target, "%", spec.fault)
    during = recording.requests_between(fault.injected_at + spec.within, fault_end(recording, fault))
    answers = selected(during, answered(during), ["tier"])  # all it reads: a long fault is not copied whole
    if answers.empty:
        return Verdict.unmeasured(
            verifier=spec.type,
            name=name,
            target=target,
            unit="%",
            explanation=f"no answered (2xx) requests from {spec.within:g}s after the injection to the revert "
            f"({len(during)} requests in all)",
            advice=Failing.UNMEASURED.advise(fault=spec.fault, within=spec.within),
            judged=fault_judged(recording, fault),
        )
    # Answers without a tier on the ladder rank worst (tiers.ranks): they count as skipping.
    skipped = int((ranks(answers, ladder) > ladder.index(expected)).sum())
    impossible = int(answers["tier"].isin(unavailable).sum())
    skip_share, impossible_share = skipped / len(answers), impossible / len(answers)
    failed = []
    if skip_share > spec.max_skip_share:
        failed.append(f"{skip_share:.2%} skipped {expected} (> {spec.max_skip_share:.1%})")
    if impossible_share > spec.max_impossible_share:
        failed.append(f"{impossible} answers claim an unavailable tier ({'/'.join(unavailable)})")
    shares = labels(answers).value_counts(normalize=True)
    seen = ", ".join(f"{tier} {share:.1%}" for tier, share in shares.items())
    unknown = unknown_tiers(answers, ladder)
    explanation = with_unknown(
        f"{skipped} of {len(answers)} answers during '{spec.fault}' ({skip_share:.2%}) came from a tier worse "
        f"than {expected}; {impossible} from an unavailable tier (seen: {seen})",
        unknown,
    )
    if failed:
        explanation += " — " + "; ".join(failed)
    details: dict[str, float | str | None] = {
        "answered": float(len(answers)),
        "expected_tier": expected,
        "skipped": float(skipped),
        "impossible": float(impossible),
        "impossible_share": impossible_share,
        **unknown.details(),
    }
    way = Failing.IMPOSSIBLE_TIER if impossible_share > spec.max_impossible_share else Failing.SKIPPED_TIER
    hint = way.advise(
        impossible=impossible, unavailable=unavailable, fault=spec.fault, skipped=skipped, expected=expected
    )
    return Verdict(
        verifier=spec.type,
        name=name,
        passed=not failed,
        measured=skip_share * 100,
        target=target,
        unit="%",
        explanation=explanation,
        details=details,
        advice=hint if failed else None,
        judged=fault_judged(recording, fault),
    )


VERIFIER = Verifier(FallbackOrder, verify, needs=needs.tiers, ways=Failing)
