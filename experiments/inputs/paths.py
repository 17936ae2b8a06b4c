"""Feature paths into JSON request bodies: ``price`` is a top-level field, ``txn.price`` a nested one, and
``items.0.price`` the ``price`` of the first element of the list ``items`` (a numeric segment indexes a list; in an
object it is an ordinary key).

Every input generator reads and writes features through these helpers, so a service with nested bodies gets the
same faults as one with flat bodies. Writers never change the body they are given: they return a modified copy.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any, Final


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
"""What :func:`get_path` returns where the body has no such feature."""


def segments(path: str) -> list[str]:
    return path.split(".")


def _child(container: Any, segment: str) -> Any:
    if isinstance(container, dict):
        return container.get(segment, MISSING)
    if isinstance(container, list) and segment.isdigit():
        index = int(segment)
        return container[index] if index < len(container) else MISSING
    return MISSING


def get_path(body: Any, path: str) -> Any:
    """The value at ``path`` in ``body``, or :data:`MISSING`."""
    node = body
    for segment in segments(path):
        node = _child(node, segment)
        if node is MISSING:
            return MISSING
    return node


def has_path(body: Any, path: str) -> bool:
    return get_path(body, path) is not MISSING


def _parent(body: dict[str, Any], path: str, *, create: bool) -> tuple[Any, str] | None:
    """The container holding ``path``'s last segment inside ``body`` (a copy the caller owns), creating missing
    objects on the way when ``create``; ``None`` when the path cannot exist there (a scalar or a too-short list in
    the way)."""
    *inner, last = segments(path)
    node: Any = body
    for segment in inner:
        child = _child(node, segment)
        if child is MISSING:
            if not (create and isinstance(node, dict)):
                return None
            child = node[segment] = {}
        elif not isinstance(child, dict | list):
            return None
        node = child
    return node, last


def set_path(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``body`` with ``value`` at ``path``; missing objects on the way are created. A path that cannot
    exist in this body (it goes through a scalar, or past the end of a list) leaves the copy unchanged."""
    made = copy.deepcopy(body)
    put_path(made, path, value)
    return made


def put_path(body: dict[str, Any], path: str, value: Any) -> bool:
    """:func:`set_path` in place, on a body the caller owns (one copy for many features: a body may hold hundreds);
    whether the value was put."""
    found = _parent(body, path, create=True)
    if found is None:
        return False
    node, last = found
    if isinstance(node, dict):
        node[last] = value
        return True
    if last.isdigit() and int(last) < len(node):
        node[int(last)] = value
        return True
    return False


def delete_path(body: dict[str, Any], path: str) -> dict[str, Any]:
    """A copy of ``body`` without the object member at ``path`` (a list element is set to ``None`` instead, so
    that the other elements keep their positions)."""
    made = copy.deepcopy(body)
    found = _parent(made, path, create=False)
    if found is not None:
        node, last = found
        if isinstance(node, dict):
            node.pop(last, None)
        elif last.isdigit() and int(last) < len(node):
            node[int(last)] = None
    return made


def rename_path(body: dict[str, Any], path: str, new_name: str) -> dict[str, Any]:
    """A copy of ``body`` whose member at ``path`` is called ``new_name`` instead, in the same place among its
    siblings (a renamed column upstream). Unchanged if ``path`` is not an object member of the body."""
    made = copy.deepcopy(body)
    found = _parent(made, path, create=False)
    if found is None or not isinstance(found[0], dict) or found[1] not in found[0]:
        return made
    node, last = found
    renamed = {(new_name if key == last else key): value for key, value in node.items()}
    node.clear()
    node.update(renamed)
    return made


def leaves(body: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every scalar in ``body`` with its path, in document order (``None`` counts as a scalar)."""
    if isinstance(body, dict):
        items: Iterator[tuple[str, Any]] = ((str(k), v) for k, v in body.items())
    elif isinstance(body, list):
        items = ((str(i), v) for i, v in enumerate(body))
    else:
        yield prefix, body
        return
    for key, value in items:
        yield from leaves(value, f"{prefix}.{key}" if prefix else key)
