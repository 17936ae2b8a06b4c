"""The service's input contract: what it must reject, and what it may accept, of the requests ``corrupted_inputs``
sends. A lenient but correct service (extra fields ignored, any content type parsed as JSON) is then no false
alarm, and a strict one is still held to its word.

Each corrupted request is tagged in its record with what the contract expects of it (``expected``):

- ``reject``: the service must refuse it (a JSON 4xx) or answer it flagged / from a lower tier;
- ``accept``: the contract allows it: it is judged as clean traffic (a 2xx answer);
- ``either``: the contract does not say: a JSON 4xx and a 2xx are both fine (never a 5xx or a hang).
"""

from __future__ import annotations

import enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Expectation(enum.StrEnum):
    REJECT = "reject"
    ACCEPT = "accept"
    EITHER = "either"


class InputContract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    extra_fields: Literal["reject", "ignore", "either"] = Field(
        "either", description="An unknown field: refused (reject), answered as if absent (ignore), or either."
    )
    content_type: Literal["strict", "lenient", "either"] = Field(
        "either",
        description="A JSON body sent as another content type: refused (strict), parsed (lenient), or either.",
    )
    max_body_bytes: int | None = Field(
        None,
        ge=1,
        description="The service's body size limit: larger bodies must be refused. Unset: no declared limit, "
        "and an oversized body may be answered or refused.",
    )
