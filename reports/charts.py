"""The timeline chart: matplotlib, rendered to SVG and inlined into the HTML report.

Why matplotlib → inline SVG: the report must open offline, from ``file://`` or as a CI artifact, with no network
and no JavaScript. A JS charting library would have to be inlined (hundreds of kB) and run in the viewer's
browser; matplotlib draws at report time, is already in the scientific-Python stack mlchaos uses, and its SVG is
small (vector paths; text kept as ``<text>`` with ``svg.fonttype = none``), sharp at any zoom, and searchable.
Inputs are resampled (:mod:`mlchaos.reports.series`), so the SVG's size does not grow with the run.

Matplotlib escapes the text it writes into SVG (``<`` → ``&lt;``), so labels taken from the run (dependency
names, fault ids) cannot inject markup; ``text.parse_math`` is off so a ``$`` in a label is just a dollar sign.
The figure API is used without pyplot: no global figure registry, no GUI backend.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Sequence
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter
from matplotlib.typing import RcKeyType

from mlchaos.reports.series import NO_ANSWER, NOT_READY, READY, UNKNOWN, UNKNOWN_TIER, Timeline

TIER_PALETTE = (
    "#2f6fb3",
    "#3aa17e",
    "#e0a526",
    "#8a63c9",
    "#8795a8",
    "#2aa5b8",
    "#c96a9b",
    "#7d8f2f",
    "#b7754a",
    "#5a6fd6",
)
"""Tier colours by place on the target's ladder, best first (the reference stack's five are the first five); a
longer ladder repeats them."""
BAND_COLORS = {UNKNOWN_TIER: "#c5cbd3", NO_ANSWER: "#d64545"}
STATE_COLORS = {
    "closed": "#b7e4c7",
    "half_open": "#f6c667",
    "open": "#e76f6f",
    UNKNOWN: "#d5d9df",
    READY: "#b7e4c7",
    NOT_READY: "#e76f6f",
}
INK, MUTED, FAULT, FAULT_BAR = "#1f2933", "#616e7c", "#d64545", "#f4b4b4"
PHASE_COLORS = ("#e4e9f0", "#d3dbe6")
GAUGE_COLOR, GAUGE_HEIGHT, GAUGE_RATIO = "#0f766e", 1.0, 1.1
"""A gauge's row: its line colour, the inches it adds to the figure, its height next to the others'."""
WARMUP, WARMUP_COLOR = "warmup", "#f1f2f4"
"""The warm-up phase (``load.warmup``): drawn apart, hatched and labelled as not judged."""
RC: dict[RcKeyType, Any] = {
    "svg.fonttype": "none",
    "text.parse_math": False,
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica"],
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#9aa5b1",
    "axes.labelcolor": INK,
    "axes.titlesize": 9.5,
    "axes.titleweight": "bold",
    "axes.titlecolor": INK,
    "axes.grid": True,
    "grid.color": "#e4e7eb",
    "grid.linewidth": 0.7,
    "xtick.color": MUTED,
    "ytick.color": MUTED,
    "legend.fontsize": 8,
    "legend.frameon": False,
}
Window = tuple[str, float, float]
"""``(label, start, end)`` in seconds after the run's zero."""


def timeline_svg(
    timeline: Timeline, *, phases: Sequence[Window], faults: Sequence[Window], label: str
) -> str:
    """The run's timeline as an ``<svg>`` element (no XML prolog), sized by the page (``width=100%``)."""
    # Salted by the label: two charts in one page get different clip-path ids, each run the same ones.
    with mpl.rc_context({**RC, "svg.hashsalt": label}):
        rows = 1 + len(timeline.breakers)
        strip = 1 + len(faults)
        gauges = len(timeline.gauges)  # one small row each, under the others (none: as without gauges)
        height = 7.9 + 0.22 * (rows + strip) + GAUGE_HEIGHT * gauges
        figure = Figure(figsize=(11.5, height), layout="constrained")
        ratios = [0.55 + 0.3 * strip, 3, 3, 2.6, 0.8 + 0.35 * rows, *[GAUGE_RATIO] * gauges]
        axes = figure.subplots(5 + gauges, 1, sharex=True, gridspec_kw={"height_ratios": ratios})
        _strip(axes[0], phases, faults)
        _traffic(axes[1], timeline)
        _latency(axes[2], timeline)
        _tiers(axes[3], timeline)
        _bands(axes[4], timeline)
        for ax, (name, values) in zip(axes[5:], timeline.gauges.items(), strict=True):
            _gauge(ax, timeline, name, values)
        for ax in axes[1:]:
            _windows(ax, phases, faults)
        for ax in axes:
            ax.set_xlim(*timeline.span)
        axes[-1].set_xlabel("seconds since the baseline started")
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return inline_svg(buffer.getvalue(), label)


def inline_svg(svg: str, label: str) -> str:
    """Drop the XML prolog and fixed size; keep the viewBox so the chart scales with the page."""
    svg = svg[svg.index("<svg") :]
    head_end = svg.index(">") + 1
    head = re.sub(r'\s(width|height)="[^"]*"', "", svg[:head_end])
    attributes = f' width="100%" class="chart" role="img" aria-label="{html.escape(label, quote=True)}"'
    return head[:-1] + attributes + ">" + svg[head_end:]


def _legend(ax: Axes, handles: Sequence[Any] | None = None, ncol: int = 4) -> None:
    kwargs: dict[str, Any] = {"loc": "lower right", "bbox_to_anchor": (1.0, 1.0), "ncol": ncol}
    if handles is not None:
        kwargs["handles"] = handles
    ax.legend(borderaxespad=0.2, handlelength=1.4, columnspacing=1.2, **kwargs)


def _traffic(ax: Axes, timeline: Timeline) -> None:
    x = timeline.centers
    ax.set_title("Throughput and errors", loc="left")
    ax.fill_between(x, timeline.rps, color="#2f6fb3", alpha=0.12, linewidth=0)
    ax.plot(x, timeline.rps, color="#2f6fb3", linewidth=1.3, label="requests/s")
    ax.set_ylabel("requests/s")
    ax.set_ylim(bottom=0, top=max(1.0, float(np.nanmax(timeline.rps, initial=0)) * 1.15))
    errors = ax.twinx()
    errors.spines["right"].set_visible(True)
    errors.grid(False)
    rate = timeline.error_rate * 100
    errors.plot(x, rate, color=FAULT, linewidth=1.2, label="error rate (5xx, timeout, refused)")
    errors.set_ylabel("error rate %", color=FAULT)
    errors.tick_params(axis="y", colors=FAULT)
    errors.set_ylim(0, max(5.0, float(np.nanmax(rate, initial=0)) * 1.15))
    _legend(ax, [*ax.get_lines(), *errors.get_lines()])


def _latency(ax: Axes, timeline: Timeline) -> None:
    x = timeline.centers
    ax.set_title("Latency", loc="left")
    ax.plot(x, timeline.p99_ms, color="#c2410c", linewidth=1.3, label="p99")
    ax.plot(x, timeline.p50_ms, color="#475569", linewidth=1.2, label="p50")
    ax.set_ylabel("ms")
    low, high = np.nanmin(timeline.p50_ms, initial=np.inf), np.nanmax(timeline.p99_ms, initial=0)
    if (
        np.isfinite(low) and low > 0 and high / low > 30
    ):  # a spread of orders of magnitude: timeouts vs cache hits
        ax.set_yscale("log")
        # Plain numbers (1, 2, 5, 10, 20 …): the default log labels are mathtext, which parse_math=False disables.
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
    else:
        ax.set_ylim(bottom=0, top=max(1.0, float(high) * 1.15))
    _legend(ax)


def _tiers(ax: Axes, timeline: Timeline) -> None:
    ax.set_title("Who answered (share of requests by tier)", loc="left")
    names = list(timeline.tiers)
    if names:
        values = np.vstack([timeline.tiers[n] * 100 for n in names])
        colors = [_tier_color(n, timeline.ladder) for n in names]
        ax.stackplot(timeline.centers, values, labels=names, colors=colors, linewidth=0, step="mid")
    ax.set_ylim(0, 100)
    ax.set_ylabel("%")
    ax.grid(False)
    _legend(ax, ncol=len(names) or 1)


def _tier_color(name: str, ladder: tuple[str, ...]) -> str:
    if name in ladder:
        return TIER_PALETTE[ladder.index(name) % len(TIER_PALETTE)]
    return BAND_COLORS.get(name, BAND_COLORS[UNKNOWN_TIER])


def _bands(ax: Axes, timeline: Timeline) -> None:
    ax.set_title("Readiness and circuit breakers (from probes)", loc="left")
    rows = [("ready", timeline.ready), *((f"breaker {d}", b) for d, b in timeline.breakers.items())]
    for row, (_, bands) in enumerate(rows):
        for state in dict.fromkeys(s for _, _, s in bands):
            spans = [(start, width) for start, width, s in bands if s == state]
            ax.broken_barh(
                spans, (row - 0.38, 0.76), facecolors=STATE_COLORS.get(state, STATE_COLORS[UNKNOWN])
            )
    ax.set_yticks(range(len(rows)), [name for name, _ in rows])
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.grid(False)
    ax.tick_params(axis="y", length=0)
    seen = dict.fromkeys(s for _, bands in rows for _, _, s in bands)
    order = [s for s in (READY, NOT_READY, "closed", "half_open", "open", UNKNOWN) if s in seen]
    handles = [Patch(color=STATE_COLORS[s], label=s.replace("_", "-")) for s in order]
    _legend(ax, handles, ncol=len(handles) or 1)


def _gauge(ax: Axes, timeline: Timeline, name: str, values: np.ndarray) -> None:
    """A declared gauge (``signals.gauges``) as a line of its per-bin means; gaps where it was not read."""
    ax.set_title(f"gauge {name} (from probes)", loc="left")
    ax.plot(timeline.centers, values, color=GAUGE_COLOR, linewidth=1.2)
    if np.isfinite(values).any():
        ax.yaxis.set_major_locator(MaxNLocator(3))
    else:  # declared, but every reading failed
        ax.text(0.5, 0.5, "never read", transform=ax.transAxes, ha="center", va="center", color=MUTED)
        ax.set_yticks([])


def _strip(ax: Axes, phases: Sequence[Window], faults: Sequence[Window]) -> None:
    """The journal's timeline on top: phases as labelled segments, one row per fault window."""
    ax.set_title("Phases and faults (from the journal)", loc="left")
    judged = [phase for phase in phases if phase[0] != WARMUP]
    for i, (name, start, end) in enumerate(judged):
        ax.broken_barh([(start, end - start)], (-0.4, 0.8), facecolors=PHASE_COLORS[i % 2], edgecolor="white")
        ax.text((start + end) / 2, 0, name, ha="center", va="center", color=INK, fontsize=8, clip_on=True)
    for _, start, end in (phase for phase in phases if phase[0] == WARMUP):
        ax.broken_barh(
            [(start, end - start)], (-0.4, 0.8), facecolors=WARMUP_COLOR, edgecolor="#9aa5b1", hatch="//"
        )
        label = "warm-up (not judged)"
        ax.text((start + end) / 2, 0, label, ha="center", va="center", color=MUTED, fontsize=8, clip_on=True)
    for row, (_, start, end) in enumerate(faults, start=1):
        ax.broken_barh([(start, end - start)], (row - 0.4, 0.8), facecolors=FAULT_BAR, edgecolor=FAULT)
    labels = ["phase", *(f"fault {name}" for name, _, _ in faults)]
    ax.set_yticks(range(len(labels)), labels)
    ax.set_ylim(len(labels) - 0.5, -0.5)
    ax.grid(False)
    ax.tick_params(axis="y", length=0)
    ax.spines["left"].set_visible(False)


def _windows(ax: Axes, phases: Sequence[Window], faults: Sequence[Window]) -> None:
    """Fault windows shaded and phase starts as dotted lines, so every panel lines up with the strip on top."""
    for _, start, _ in phases:
        ax.axvline(start, color="#7b8794", linewidth=0.8, linestyle=(0, (2, 2)), zorder=1)
    for _, start, end in faults:
        ax.axvspan(start, end, color=FAULT, alpha=0.08, linewidth=0, zorder=0)
    for _, start, end in (phase for phase in phases if phase[0] == WARMUP):
        ax.axvspan(start, end, color="#7b8794", alpha=0.08, linewidth=0, zorder=0)
