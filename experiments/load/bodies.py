"""Request bodies for the load users: a dataset cycled in order, or a Jinja2 template rendered per request.

Pure Python, no Locust: the orchestrator checks a spec with :func:`body_source` before it spawns the child (so
a broken template fails fast, in the caller's process, with the field that broke), the child builds its users
from it, and tests exercise rendering without starting any load.

Each user gets its own iterator of ``(json_bytes, label)``. Bodies are serialised here rather than by Locust
so a dataset is encoded once, not once per request.

Determinism: everything random is drawn from a ``random.Random`` seeded with ``(spec.seed, user index)``, so a
given user sends the same sequence on every run with the same seed (which user index gets which wall-clock
slot is up to the scheduler).
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, Undefined

from mlchaos.experiments.errors import InvalidInput
from mlchaos.experiments.load.spec import LoadSpec
from mlchaos.experiments.load.template_sandbox import (
    MAX_BODY_BYTES,
    MAX_TEMPLATE_CHARS,
    BodySandbox,
    TemplateLimit,
    structure_problem,
    value_size,
)

Body = tuple[bytes, str | None]
"""One request: its JSON body, already encoded, and its true label (``None`` unless it is a canary)."""

_VALIDATION_RENDERS = 5
"""How many bodies :func:`body_source` renders up front; rarer random branches can still fail mid-run."""


class BodyError(ValueError, InvalidInput):
    """The spec's bodies cannot be built: no source, two sources, or a template that does not render JSON."""


class BodySource(Protocol):
    def for_user(self, index: int) -> Iterator[Body]:
        """The endless body sequence of the ``index``-th user spawned (0-based)."""
        ...


def entity(n: int) -> str:
    """The id of entity ``n`` as the reference stack's feature store names it: ``entity(7) == "u0007"``."""
    return f"u{int(n):04d}"


def _encode(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":"), allow_nan=False).encode()


def _max_users(spec: LoadSpec) -> int:
    return max([spec.users, *(stage.users for stage in spec.stages)])


class DatasetBodies:
    """Cycles through ``spec.requests`` in order; user ``i`` starts ``i/max_users`` of the way round.

    Spreading the offsets means N users cover N different parts of the dataset at once instead of sending the
    same body in lock-step; the seed shifts the whole pattern so different seeds hit different rows first.
    """

    def __init__(self, spec: LoadSpec) -> None:
        self._items: list[Body] = [(_encode(r.body), r.label) for r in spec.requests]
        self._base = random.Random(spec.seed).randrange(len(self._items))
        self._max_users = _max_users(spec)

    def offset(self, index: int) -> int:
        n = len(self._items)
        return (self._base + index * n // self._max_users) % n

    def for_user(self, index: int) -> Iterator[Body]:
        start = self.offset(index)
        return itertools.cycle(self._items[start:] + self._items[:start])


class NoBodies:
    """The bodies of a load whose users are a team's locustfile: none, they make their own requests."""

    def for_user(self, index: int) -> Iterator[Body]:
        del index
        return iter(())


class _Field:
    """One templated string of the body, remembering where it sits so a failure names it."""

    __slots__ = ("path", "template")

    def __init__(self, path: str, template: Template) -> None:
        self.path = path
        self.template = template

    def render(self, context: Mapping[str, Any]) -> Any:
        try:
            value = self.template.render(context)
            if isinstance(value, Undefined):  # native rendering returns a bare undefined instead of raising
                value._fail_with_undefined_error()
        except (TemplateError, ArithmeticError, LookupError, TypeError, ValueError) as exc:
            # TemplateLimit (a ValueError) is among them: the sandbox refused something too large.
            raise BodyError(f"template field {self.path}: {type(exc).__name__}: {exc}") from exc
        return value


class _Const:
    """A subtree without any template: returned as is, never walked again."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


_Node = _Field | _Const | dict[str, "_Node"] | list["_Node"]


def _is_template(text: str) -> bool:
    return "{{" in text or "{%" in text


def _compile_field(env: BodySandbox, text: str) -> Template:
    """One templated string, compiled; :class:`TemplateError` or :class:`ValueError` saying what is wrong.

    The structure is checked on the parsed template, before Jinja's optimizer folds any constant in it."""
    if len(text) > MAX_TEMPLATE_CHARS:
        raise ValueError(f"a template of {len(text):,} characters; at most {MAX_TEMPLATE_CHARS:,}")
    parsed = env.parse(text)
    problem = structure_problem(parsed, env.filters)
    if problem is not None:
        raise ValueError(problem)
    return env.from_string(parsed)


def _compile(env: BodySandbox, value: Any, path: str) -> _Node:
    try:
        if isinstance(value, str) and _is_template(value):
            return _Field(path, _compile_field(env, value))
    except (TemplateError, ValueError) as exc:  # ValueError: also an integer literal too long to read
        raise BodyError(f"template field {path}: {type(exc).__name__}: {exc}") from exc
    if isinstance(value, dict):
        nodes: dict[str, _Node] = {k: _compile(env, v, f"{path}.{k}") for k, v in value.items()}
        if all(isinstance(n, _Const) for n in nodes.values()):
            return _Const(value)
        return nodes
    if isinstance(value, list):
        items = [_compile(env, v, f"{path}[{i}]") for i, v in enumerate(value)]
        return _Const(value) if all(isinstance(n, _Const) for n in items) else items
    return _Const(value)


class _Budget:
    """What is left of :data:`MAX_BODY_BYTES` while one body's fields render: checked after each field, so that
    many fields each within the limits cannot add up to a body held in memory far past it."""

    __slots__ = ("left",)

    def __init__(self) -> None:
        self.left = MAX_BODY_BYTES

    def spend(self, path: str, value: Any) -> Any:
        self.left -= value_size(value, self.left)
        if self.left < 0:
            raise BodyError(f"template field {path}: the body is larger than {MAX_BODY_BYTES:,} characters")
        return value


def _render(node: _Node, context: Mapping[str, Any], budget: _Budget) -> Any:
    if isinstance(node, _Const):
        return node.value
    if isinstance(node, _Field):
        return budget.spend(node.path, node.render(context))
    if isinstance(node, dict):
        return {k: _render(v, context, budget) for k, v in node.items()}
    return [_render(v, context, budget) for v in node]


class TemplateBodies:
    """Renders ``spec.template`` per request: strings holding ``{{ }}``/``{% %}`` are Jinja2, the rest kept.

    Names a template sees: ``randint(a, b)``, ``uniform(a, b)``, ``choice(seq)``, ``gauss(mu, sigma)``,
    ``random()`` (all drawn from the user's seeded generator), ``entity(n)`` (``"u%04d"``), ``user`` (the user
    index) and ``seq`` (the request's index within its user). ``spec.template_label`` also sees ``body``.
    """

    def __init__(self, spec: LoadSpec) -> None:
        assert spec.template is not None
        env = BodySandbox(undefined=StrictUndefined)
        self._seed = spec.seed
        self._root = _compile(env, spec.template, "body")
        label = _compile(env, spec.template_label, "template_label") if spec.template_label else None
        # A label without {{ }} is a constant: rendered as a template all the same, as it always was.
        if isinstance(label, _Const):
            label = _Field("template_label", env.from_string(str(label.value)))
        assert label is None or isinstance(label, _Field)
        self._label = label

    def for_user(self, index: int) -> Iterator[Body]:
        return _Rendering(self._root, self._label, index, random.Random(f"{self._seed}/{index}"))


class _Rendering:
    """One user's endless rendered bodies. An iterator object rather than a generator: a generator that raised
    once is finished for good, whereas a render that fails on one random draw must not end the user."""

    def __init__(self, root: _Node, label: _Field | None, index: int, rng: random.Random) -> None:
        self._root = root
        self._label = label
        self._seq = 0
        self._context = _helpers(rng, index)

    def __iter__(self) -> _Rendering:
        return self

    def __next__(self) -> Body:
        context = self._context
        context["seq"] = self._seq
        self._seq += 1
        body = _render(self._root, context, _Budget())
        label = None
        if self._label is not None:
            value = self._label.render({**context, "body": body})
            label = None if value is None else str(value)
        try:
            encoded = _encode(body)
        except (TypeError, ValueError) as exc:
            raise BodyError(f"template rendered a body that is not JSON ({exc}): {body!r}"[:1000]) from exc
        if len(encoded) > MAX_BODY_BYTES:
            raise BodyError(f"template rendered a body of {len(encoded):,} bytes; at most {MAX_BODY_BYTES:,}")
        return encoded, label


def _helpers(rng: random.Random, index: int) -> dict[str, Any]:
    """The names a body template sees besides ``seq`` (and ``body``, for a label)."""
    return {
        "randint": rng.randint,
        "uniform": rng.uniform,
        "choice": rng.choice,
        "gauss": rng.gauss,
        "random": rng.random,
        "entity": entity,
        "user": index,
    }


def template_problem(text: str) -> str | None:
    """What is wrong with one templated string of a body, or ``None``: for ``mlchaos validate``, which shows
    it at the string's line. The string is compiled in the body sandbox and rendered once (as user 0's first
    request), so that limits an expression breaks whatever is drawn (``7**100000``) are found before a run."""
    env = BodySandbox(undefined=StrictUndefined)
    try:
        field = _Field("", _compile_field(env, text))
    except TemplateSyntaxError as exc:
        where = f" (line {exc.lineno} of the template)" if "\n" in text else ""
        return f"template syntax error: {exc.message}{where}"
    except RecursionError:
        return "template nested too deeply to compile"
    except (TemplateError, ValueError) as exc:
        return f"template: {exc}"
    try:
        _encode(_Budget().spend("", field.render({**_helpers(random.Random(0), 0), "seq": 0})))
    except BodyError as exc:
        cause = exc.__cause__
        if isinstance(cause, TemplateLimit):
            return f"template too large: {cause}"
        if cause is None:  # the body's budget
            return f"template too large: renders more than {MAX_BODY_BYTES:,} characters"
        return f"template: {type(cause).__name__}: {cause}" if cause is not None else f"template: {exc}"
    except (TypeError, ValueError) as exc:
        return f"template renders a value that is not JSON ({exc})"
    return None


def body_source(spec: LoadSpec) -> BodySource:
    """The spec's bodies, checked: raises :class:`BodyError` with a message naming what to fix.

    A template is rendered a few times here (with throw-away generators), so syntax errors, unknown names,
    sandbox violations and non-JSON values surface before any load is sent.
    """
    if spec.requests and spec.template is not None:
        raise BodyError("LoadSpec has both `requests` and `template`: give one source of request bodies")
    if spec.locustfile is not None:  # the spec itself refuses bodies next to a locustfile
        return NoBodies()
    if spec.requests:
        return DatasetBodies(spec)
    if spec.template is None:
        raise BodyError(
            "LoadSpec needs request bodies: set `requests` (a dataset) or `template` (Jinja2), or a `locustfile`"
        )
    source = TemplateBodies(spec)
    for _ in itertools.islice(source.for_user(0), _VALIDATION_RENDERS):
        pass
    return source


def first_bodies(source: BodySource, index: int, count: int) -> list[tuple[Any, str | None]]:
    """The first ``count`` bodies of user ``index``, decoded: for tests, and for showing people a sample."""
    return [(json.loads(raw), label) for raw, label in itertools.islice(source.for_user(index), count)]


__all__ = [
    "Body",
    "BodyError",
    "BodySource",
    "DatasetBodies",
    "NoBodies",
    "TemplateBodies",
    "body_source",
    "entity",
    "first_bodies",
    "template_problem",
]
