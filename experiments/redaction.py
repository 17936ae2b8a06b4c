"""Secrets in URLs, masked in everything mlchaos writes or prints; the real URL is still the one requested.

A target may carry a credential in a URL — ``/predict?token=…``, ``?api_key=…``, a signed URL's ``X-Amz-Signature``
— and URLs are shown everywhere: the console, the plan, the journal, the copy of the scenario in the run directory,
error messages (which quote the path and query of the request that failed), the reports. So masking works on
text, not on known fields: :func:`redact_text` finds every query parameter whose *name* looks secret and every
``user:password@`` in a string, wherever it comes from, and replaces the value with :data:`MASK`. A value without
a secret-looking name (``?model=v2``) is kept: it is what makes a report readable.

The header values a target declares are masked separately (they are known exactly: ``Redactor`` in
:mod:`mlchaos.reports.run`, which applies this too).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

MASK = "**********"

SECRET_NAME_PARTS = (
    "token",
    "secret",
    "passw",
    "pwd",
    "auth",
    "credential",
    "signature",
    "apikey",
    "session",
    "jwt",
    "private",
)
"""A parameter whose name contains one of these (case-insensitively) holds a secret."""

SECRET_NAME_WORDS = frozenset({"key", "sig", "pass", "code", "sas", "otp"})
"""…or whose name has one of these as a word (``api_key``, ``X-Goog-Key``, ``sig``): as words only, so that
``monkey`` or ``design`` stay readable."""

# `?name=value` or `&name=value` (also `;`): the value runs to the next separator, quote, bracket or space.
_PARAMETER = re.compile(r"(?P<lead>[?&;](?P<name>[^=&;#?\s\"'<>\[\]]{1,128})=)(?P<value>[^&;#\s\"'<>\[\]]*)")
# `scheme://user[:password]@host`: the whole user information goes, a user name can be a token too.
_USERINFO = re.compile(r"(?P<lead>\b[a-zA-Z][a-zA-Z0-9+.-]{0,31}://)(?P<userinfo>[^/?#@\s\"'<>\[\]]+)@")
_WORD = re.compile(r"[a-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def secret_name(name: str) -> bool:
    """Whether a query parameter called ``name`` holds a secret (see :data:`SECRET_NAME_PARTS`)."""
    lowered = name.lower()
    if any(part in lowered for part in SECRET_NAME_PARTS):
        return True
    words = _WORD.findall(_CAMEL.sub("_", name).lower())
    return any(word in SECRET_NAME_WORDS for word in words)


def _parameter(match: re.Match[str]) -> str:
    if not match["value"] or match["value"] == MASK or not secret_name(match["name"]):
        return match[0]
    return match["lead"] + MASK


def redact_text(text: str) -> str:
    """``text`` with the value of every secret-looking query parameter and every URL's user information masked."""
    if "=" in text:
        text = _PARAMETER.sub(_parameter, text)
    if "@" in text:
        text = _USERINFO.sub(lambda m: m["lead"] + MASK + "@", text)
    return text


def redact_data(data: Any) -> Any:
    """``data`` (JSON-like: mappings, lists, strings) with :func:`redact_text` applied to every string in it, keys
    included; for documents written whole, such as the copy of a scenario in the run directory."""
    if isinstance(data, str):
        return redact_text(data)
    if isinstance(data, Mapping):
        return {redact_data(key): redact_data(value) for key, value in data.items()}
    if isinstance(data, Sequence) and not isinstance(data, bytes | bytearray):
        return [redact_data(item) for item in data]
    return data


__all__ = ["MASK", "redact_data", "redact_text", "secret_name"]
