"""The runs index's trend chart: one scenario's resilience score run after run, as a small inline SVG.

Drawn like the report's timeline (:mod:`mlchaos.reports.charts`: matplotlib without pyplot, the same rc settings,
text kept as escaped ``<text>``), so the index stays one self-contained file with no script. Runs are placed one
step apart, not by date: monthly runs are what people compare, and a skipped month should not squeeze the rest.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib as mpl
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from mlchaos.reports.charts import INK, MUTED, RC, inline_svg

STATUS_COLORS = {
    "passed": "#1f8a5b",
    "failed": "#c53030",
    "rollback_failed": "#c53030",
    "aborted": "#b7791f",
    "invalid": "#52606d",
}
"""The report's status colours (report.css ``--pass``, ``--fail``, ``--warn``, ``--grey``)."""


@dataclass(frozen=True)
class TrendPoint:
    label: str
    """Under the point: when the run started (``2026-11-01``)."""
    score: float | None
    """0..1; ``None``: not judged (drawn as a cross on the axis, not as a zero score)."""
    status: str


def score_trend_svg(points: Sequence[TrendPoint], *, label: str) -> str:
    """The scores of ``points`` (oldest first) as an ``<svg>`` element scaled by the page."""
    with mpl.rc_context({**RC, "svg.hashsalt": label, "axes.grid.axis": "y"}):
        figure = Figure(figsize=(max(4.6, 1.2 + 0.6 * len(points)), 2.0), layout="constrained")
        ax = figure.subplots()
        xs = range(len(points))
        judged = [(x, p.score) for x, p in zip(xs, points, strict=True) if p.score is not None]
        if judged:
            ax.plot([x for x, _ in judged], [s for _, s in judged], color=MUTED, linewidth=1.2, zorder=1)
        for x, point in zip(xs, points, strict=True):
            color = STATUS_COLORS.get(point.status, MUTED)
            if point.score is None:
                ax.scatter([x], [0.0], marker="x", s=40, color=color, zorder=2)
            else:
                ax.scatter([x], [point.score], s=42, color=color, edgecolors="white", zorder=2)
        ax.set_ylim(-0.06, 1.08)
        ax.set_xlim(-0.5, len(points) - 0.5)
        ax.set_yticks([0, 0.5, 1.0])
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0%}"))
        ax.set_xticks(list(xs), [p.label for p in points], fontsize=7.5, color=INK)
        ax.set_ylabel("score")
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return inline_svg(buffer.getvalue(), label)
