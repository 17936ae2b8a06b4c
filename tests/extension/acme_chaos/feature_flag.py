"""``feature_flag``: turn one of the service's feature flags to a value for a window, through the JSON flags file
the service reads, and back afterwards.

A fault acting on the target, like ``pod_kill``: ``plan`` reads nothing, ``check`` looks (read-only) that the
file holds the flag, ``inject`` and ``revert`` rewrite the file. The undo names the file, the flag and the value
to restore, so ``mlchaos rollback`` can restore it after the run was killed; restoring twice is harmless.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal, Self

from pydantic import Field

from mlchaos.experiments.targets import TargetEndpoints
from mlchaos.injectors.base import FaultPlan, FaultSpec, TargetMisconfigured, Undo


class FeatureFlag(FaultSpec):
    type: Literal["feature_flag"]
    file: Path = Field(description="The service's JSON flags file, relative to the scenario.")
    flag: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="The flag to set during the fault.")
    value: bool = Field(False, description="Its value during the fault; the opposite is restored after.")

    def with_files_under(self, base: Path) -> Self:
        return self.model_copy(update={"file": (base / self.file).resolve()})


class FeatureFlagUndo(Undo):
    file: Path
    flag: str
    restore: bool


def _set(file: Path, flag: str, value: bool) -> None:
    flags = json.loads(file.read_text(encoding="utf-8"))
    flags[flag] = value
    written = file.with_suffix(".tmp")
    written.write_text(json.dumps(flags), encoding="utf-8")
    os.replace(written, file)  # the service never reads a half-written file


class FeatureFlagInjector:
    spec = FeatureFlag
    undo = FeatureFlagUndo

    def plan(self, spec: FeatureFlag, target: TargetEndpoints) -> FaultPlan[FeatureFlagUndo]:
        return FaultPlan(
            touches=(f"flag '{spec.flag}' in {spec.file} (read by {target.service_url})",),
            description=f"set feature flag '{spec.flag}' to {str(spec.value).lower()}",
            undo=FeatureFlagUndo(file=spec.file, flag=spec.flag, restore=not spec.value),
        )

    def check(self, undo: FeatureFlagUndo) -> None:
        try:
            flags = json.loads(undo.file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise TargetMisconfigured(f"flags file {undo.file} cannot be read as JSON: {exc}") from exc
        if undo.flag not in flags:
            raise TargetMisconfigured(f"flags file {undo.file} has no flag '{undo.flag}'")

    def inject(self, spec: FeatureFlag, undo: FeatureFlagUndo) -> None:
        _set(undo.file, undo.flag, spec.value)

    def revert(self, undo: FeatureFlagUndo) -> None:
        _set(undo.file, undo.flag, undo.restore)


INJECTOR = FeatureFlagInjector()
