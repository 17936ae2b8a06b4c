"""The Jinja2 environment body templates run in: sandboxed, and bounded in the time and memory a template may use.

Body templates come from scenario files — and, with distributed load, from the master over the network — so a
template is untrusted code run once per request. Jinja's sandbox stops it reaching Python's internals but not
from computing something huge: ``{{ 7**100000 }}`` (folded into a constant when the template is compiled, and
then too long to print), ``{{ 3**2000000000 }}`` (folding never ends), ``{{ 'x' * 10**10 }}``,
``{{ 'x'|center(10**9) }}``, nested loops over ``range(100000)``. What is bounded here, and how:

- **No folding of arithmetic at compile time.** Every binary operator is *intercepted* (``intercepted_binops``),
  which also stops Jinja's optimizer from evaluating it while compiling; it runs at render time through
  :meth:`BodySandbox.call_binop`, which refuses ``**`` and ``*`` whose result would be larger than the limits
  before computing it, checks every other result, and refuses string formatting with ``%`` (its field widths
  would allocate at will).
- **Every value a template computes is small**: at most :data:`MAX_VALUE_SIZE` characters or items (counted
  through nested lists and dicts, so ``[s] * n`` counts ``s`` ``n`` times) and integers of at most
  :data:`MAX_INT_BITS` bits — checked after every operator, call and filter.
- **No loops, no definitions**: only ``{{ expressions }}`` and ``{% if %}`` (a body field is one value; loops are
  what would let a short template run for hours). See :func:`structure_problem`.
- **A short list of names**: the helpers the load passes in, ``range`` (at most :data:`MAX_VALUE_SIZE` numbers)
  and ``dict``; the filters in :data:`FILTERS` (those whose result is at most about as large as their input, and
  ``join``/``replace`` checked before they run); on strings, lists and dicts only the methods in
  :data:`METHODS`, which never grow their input (no ``format``, ``center``, ``ljust``, ``zfill``, ``join``).
- **A template string is at most** :data:`MAX_TEMPLATE_CHARS` characters, so with the limits above the largest
  thing one field can build is bounded (about ``MAX_TEMPLATE_CHARS / 8 * MAX_VALUE_SIZE``); the rendered body as a
  whole is capped by the caller (:data:`MAX_BODY_BYTES`).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import nodes
from jinja2.nativetypes import NativeEnvironment
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from mlchaos.experiments.errors import InvalidInput

MAX_TEMPLATE_CHARS = 16 * 1024
"""The longest templated string of a body."""
MAX_VALUE_SIZE = 64 * 1024
"""The most characters (of a string) or items (of a list or dict, nested ones counted) any value may have."""
MAX_INT_BITS = 4096
"""The largest integer a template may compute (about 1,200 digits)."""
MAX_BODY_BYTES = 1024 * 1024
"""The largest request body, as JSON, a template may render."""

FILTERS = (
    "abs",
    "capitalize",
    "count",
    "d",
    "default",
    "dictsort",
    "first",
    "float",
    "int",
    "items",
    "join",
    "last",
    "length",
    "list",
    "lower",
    "max",
    "min",
    "random",
    "replace",
    "reverse",
    "round",
    "sort",
    "string",
    "title",
    "tojson",
    "trim",
    "unique",
    "upper",
)
"""The filters body templates may use."""

METHODS = frozenset(
    {
        "capitalize", "endswith", "get", "isdigit", "items", "keys", "lower", "lstrip", "rstrip", "split",
        "startswith", "strip", "title", "upper", "values",
    }
)  # fmt: skip
"""The methods of strings, lists and dicts body templates may call."""

_STATEMENTS = (nodes.Output, nodes.If)
_TAGS = {
    "Assign": "set",
    "AssignBlock": "set",
    "CallBlock": "call",
    "FilterBlock": "filter",
    "FromImport": "from",
}


class TemplateLimit(ValueError, InvalidInput):
    """A template computed, or was about to compute, something larger than the limits allow."""


def value_size(value: Any, budget: int = MAX_VALUE_SIZE) -> int:
    """The size of ``value`` (string characters plus list and dict items, nested ones counted each time they
    appear); stops counting once past ``budget``, so a huge shared structure costs no more than the budget."""
    total, stack = 0, [value]
    while stack and total <= budget:
        item = stack.pop()
        if isinstance(item, str | bytes):
            total += len(item)
        elif isinstance(item, list | tuple | set | frozenset):
            total += len(item)
            stack.extend(item)
        elif isinstance(item, dict):
            total += len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, range):
            total += len(item)
        else:
            total += 1
    return total


def checked(value: Any) -> Any:
    """``value`` if it is within the limits, else :class:`TemplateLimit`."""
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise TemplateLimit(f"an integer of {value.bit_length():,} bits; at most {MAX_INT_BITS:,} bits")
    if value_size(value) > MAX_VALUE_SIZE:
        raise TemplateLimit(f"a value of more than {MAX_VALUE_SIZE:,} characters or items")
    return value


def _power(base: Any, exponent: Any) -> Any:
    if _is_int(base) and _is_int(exponent) and exponent > 0 and abs(base) > 1:
        bits = (abs(base).bit_length() - 1) * exponent  # a lower bound of the result's size
        if bits > MAX_INT_BITS:
            raise TemplateLimit(
                f"{base} ** {exponent} would be an integer of about {bits:,} bits; at most {MAX_INT_BITS:,} bits"
            )
    return operator.pow(base, exponent)


def _times(left: Any, right: Any) -> Any:
    if _is_int(left) and _is_int(right):
        bits = left.bit_length() + right.bit_length()
        if bits > MAX_INT_BITS + 1:
            raise TemplateLimit(f"a product of about {bits:,} bits; at most {MAX_INT_BITS:,} bits")
    for sequence, times in ((left, right), (right, left)):
        repeated = _is_int(times) and isinstance(sequence, str | bytes | list | tuple) and times > 1
        if repeated and value_size(sequence, MAX_VALUE_SIZE // times) * times > MAX_VALUE_SIZE:
            raise TemplateLimit(
                f"repeating a value {times:,} times would make more than {MAX_VALUE_SIZE:,} characters or items"
            )
    return operator.mul(left, right)


def _modulo(left: Any, right: Any) -> Any:
    if isinstance(left, str | bytes):
        raise TemplateLimit(
            "string formatting with % is not available in body templates; join strings with ~"
        )
    return operator.mod(left, right)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def bounded_range(*args: int) -> range:
    """``range`` for templates: at most :data:`MAX_VALUE_SIZE` numbers."""
    numbers = range(*args)
    if len(numbers) > MAX_VALUE_SIZE:
        raise TemplateLimit(f"range of {len(numbers):,} numbers; at most {MAX_VALUE_SIZE:,}")
    return numbers


def _join(filter_: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(filter_)
    def join(eval_ctx: Any, value: Any, d: str = "", attribute: Any = None) -> Any:
        items = list(value)
        if len(str(d)) * max(len(items) - 1, 0) > MAX_VALUE_SIZE:
            raise TemplateLimit(f"joining {len(items):,} items with that separator would be too long")
        return checked(filter_(eval_ctx, items, d, attribute))

    return join


def _replace(filter_: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(filter_)
    def replace(eval_ctx: Any, s: Any, old: Any, new: Any, count: int | None = None) -> Any:
        text, old_text, new_text = str(s), str(old), str(new)
        found = text.count(old_text) if old_text else len(text) + 1
        if count is not None and count >= 0:
            found = min(found, count)
        if len(text) + found * (len(new_text) - len(old_text)) > MAX_VALUE_SIZE:
            raise TemplateLimit(
                f"replacing {found:,} times would make more than {MAX_VALUE_SIZE:,} characters"
            )
        return checked(filter_(eval_ctx, s, old, new, count))

    return replace


def _checked_filter(filter_: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(filter_)  # keeps jinja's pass_context/pass_eval_context marker
    def bounded(*args: Any, **kwargs: Any) -> Any:
        return checked(filter_(*args, **kwargs))

    return bounded


_PRECHECKED: Mapping[str, Callable[[Callable[..., Any]], Callable[..., Any]]] = {
    "join": _join,
    "replace": _replace,
}


class BodySandbox(ImmutableSandboxedEnvironment, NativeEnvironment):
    """Sandboxed and bounded (see the module), native (``"{{ randint(1, 9) }}"`` renders an int)."""

    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.binop_table.update({"*": _times, "**": _power, "%": _modulo})
        self.globals = {"range": bounded_range, "dict": dict}
        self.filters = {name: _PRECHECKED.get(name, _checked_filter)(self.filters[name]) for name in FILTERS}

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        return checked(self.binop_table[operator](left, right))

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        return checked(super().call(context, obj, *args, **kwargs))

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if callable(value) and attr not in METHODS:
            return False
        return super().is_safe_attribute(obj, attr, value)

    def wrap_str_format(self, value: Any) -> None:
        # The sandbox hands out a checked `str.format`, whose field widths (`{:999999999}`) would still
        # allocate at will; it is refused like any other method not in METHODS.
        del value


def structure_problem(template: nodes.Template, filters: Mapping[str, Any]) -> str | None:
    """Why a parsed body template may not run (a loop, a definition, an unknown filter), or ``None``."""
    for statement in template.find_all(nodes.Stmt):
        if not isinstance(statement, _STATEMENTS):
            name = type(statement).__name__
            tag = _TAGS.get(name, name.lower())
            return (
                f"{{% {tag} %}} is not available in body templates: only {{{{ expressions }}}} and {{% if %}} "
                "(a body field is one value, computed anew for each request)"
            )
    for used in template.find_all(nodes.Filter):
        if used.name not in filters:
            return f"no filter '{used.name}' in body templates; they have: {', '.join(sorted(filters))}"
    return None


__all__ = [
    "FILTERS",
    "MAX_BODY_BYTES",
    "MAX_INT_BITS",
    "MAX_TEMPLATE_CHARS",
    "MAX_VALUE_SIZE",
    "METHODS",
    "BodySandbox",
    "TemplateLimit",
    "bounded_range",
    "checked",
    "structure_problem",
    "value_size",
]
