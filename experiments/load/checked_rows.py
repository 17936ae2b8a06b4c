"""What a distributed load's master checks in each batch of rows a worker ships, before writing any of it.

Only authenticated team members get this far (:mod:`~mlchaos.experiments.load.secure_rpc`,
:mod:`~mlchaos.experiments.load.distributed`); still, a row is data the verdicts rest on, so its shape, types and
ranges are checked, and its start must lie within the load (a worker's clock may differ from the master's by up
to :data:`CLOCK_SLACK_S`). A batch with a bad row is not written at all and fails the load, saying which row and
why. Stdlib and pydantic only (no Locust): its tests run without gevent.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import Field, StrictBool, StrictFloat, StrictInt, StrictStr, TypeAdapter, ValidationError

from mlchaos.experiments.errors import LoadFailure
from mlchaos.experiments.load import wire

CLOCK_SLACK_S = 2.0

_Time = Annotated[StrictFloat, Field(allow_inf_nan=False)]
_Latency = Annotated[StrictFloat, Field(ge=0, allow_inf_nan=False)]
_Status = Annotated[StrictInt, Field(ge=0, le=999)]
_Text = StrictStr | None
_Number = StrictFloat | None  # a target may report NaN: recorded as it was read
_Flag = StrictBool | None

_Row = tuple[
    _Time, _Latency, _Status, _Text, _Number, _Text, _Text, _Text, _Text, _Text, _Text, _Number, _Flag, _Flag
]
"""One row in :data:`~mlchaos.experiments.load.wire.COLUMNS` order (a test keeps the two the same length)."""
ROWS = TypeAdapter(list[_Row])


class BadRows(ValueError, LoadFailure):
    """A batch that cannot be written: the message names the row and what is wrong with it."""


def checked(batch: Any, *, started: float, duration_s: float, stop_grace_s: float) -> list[wire.Row]:
    """``batch`` as rows, if every one is well-formed and inside the load's window; :class:`BadRows` if not."""
    try:
        rows = ROWS.validate_python(batch)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"][:2]) or "the batch"
        raise BadRows(f"row {where}: {error['msg']} (got {error.get('input')!r:.80})") from None
    earliest, latest = started - CLOCK_SLACK_S, started + duration_s + CLOCK_SLACK_S
    longest_ms = (duration_s + stop_grace_s + CLOCK_SLACK_S) * 1000
    for index, row in enumerate(rows):
        start, latency_ms = row[0], row[1]
        if not earliest <= start <= latest:
            raise BadRows(
                f"row {index}: starts at {start:.3f}, outside the load ({started:.3f} + {duration_s:g}s, "
                f"± {CLOCK_SLACK_S:g}s for clocks)"
            )
        if latency_ms > longest_ms or math.isnan(latency_ms):
            raise BadRows(f"row {index}: latency {latency_ms:g} ms is longer than the whole load")
    return [list(row) for row in rows]
