"""Geometry of server-side SVG bar charts (issue 15): the numbers here, the drawing in
templates/_macros/charts.html (presentation attributes only; the CSP forbids style attributes and inline script).

A horizontal bar chart: one row per item, the label in a gutter on the left, the value's text in a gutter on the
right, the bars in between from a zero axis (negative values to its left), an optional target as a vertical
line and a few round ticks. Coordinates are in the viewBox's units; the SVG is drawn at width 100 %, so it
scales down to a phone's 390 px.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

#: Left gutter for the labels, right gutter for the values' text.
LABEL_GUTTER = 160
VALUE_GUTTER = 90
#: Space above the first bar, between bars and under the last one (for the tick labels).
TOP = 8
GAP = 8
BOTTOM = 24
LABEL_CHARS = 24

Number = int | float | Decimal


def _default_text(value) -> str:
    return "—" if value is None else f"{value}"


def _coord(value: float) -> float:
    return round(value, 1)


@dataclass(frozen=True)
class Bar:
    label: str
    label_text: str
    value: Number | None
    value_text: str
    x: float
    y: float
    width: float
    height: float
    #: The marked part of the bar (e.g. revenue at risk), drawn over the bar's outer end; width 0 when none.
    mark_x: float = 0.0
    mark_width: float = 0.0
    mark_text: str = ""

    @property
    def negative(self) -> bool:
        return self.value is not None and self.value < 0

    @property
    def mid_y(self) -> float:
        return _coord(self.y + self.height / 2)


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass
class BarChart:
    width: int
    height: int
    left: float
    right: float
    zero_x: float
    plot_top: float
    plot_bottom: float
    bars: list[Bar] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)
    target: Number | None = None
    target_x: float | None = None

    @property
    def empty(self) -> bool:
        """Nothing to draw: no item, or every value 0 or none."""
        return not any(bar.value for bar in self.bars)

    @property
    def value_x(self) -> float:
        """Where the values' text ends (right-aligned)."""
        return self.width - 4


def _step(span: float, count: int = 5) -> float:
    """A round tick step (1, 2 or 5 × 10ⁿ) giving about `count` intervals over `span`."""
    raw = span / count
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude  # pragma: no cover


def _tick_label(value: float) -> str:
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def bar_chart(items: Sequence[tuple[str, Number | None]], *, target: Number | None = None,
              max_value: Number | None = None, width: int = 640, bar_height: int = 18,
              marks: Sequence[Number | None] | None = None,
              value_text: Callable[[Number | None], str] = _default_text,
              mark_text: Callable[[Number | None], str] = _default_text) -> BarChart:
    """Bars of `items` (label, value; a value of None draws no bar and shows "—"); the axis runs from
    min(0, smallest value) to max(0, largest value, target, max_value). `marks`, one per item, is the part of
    each bar to mark (drawn at the bar's outer end, never longer than the bar)."""
    left = float(LABEL_GUTTER)
    right = float(width - VALUE_GUTTER)
    plot = right - left
    values = [None if value is None else float(value) for _, value in items]
    known = [v for v in values if v is not None]
    low = min([0.0, *known])
    high = max([0.0, *known, *([float(target)] if target is not None else []),
                *([float(max_value)] if max_value is not None else [])])
    if high == low:
        high = low + 1.0
    scale = plot / (high - low)
    zero_x = left - low * scale

    def x_of(value: float) -> float:
        return _coord(zero_x + value * scale)

    pitch = bar_height + GAP
    bars = []
    for index, ((label, original), value) in enumerate(zip(items, values, strict=True)):
        y = float(TOP + index * pitch)
        v = value or 0.0
        bar_x = x_of(min(v, 0.0))
        bar_width = _coord(abs(v) * scale)
        mark_x = mark_width = 0.0
        marked = None if marks is None else marks[index]
        if marked and v:
            mark_width = _coord(min(abs(float(marked)), abs(v)) * scale)
            mark_x = _coord(bar_x + bar_width - mark_width) if v > 0 else bar_x
        label = str(label)
        label_text = label if len(label) <= LABEL_CHARS else label[:LABEL_CHARS - 1] + "…"
        bars.append(Bar(label=label, label_text=label_text, value=original, value_text=value_text(original),
                        x=bar_x, y=y, width=bar_width, height=float(bar_height), mark_x=mark_x,
                        mark_width=mark_width, mark_text=mark_text(marked) if marked else ""))
    plot_bottom = float(TOP + len(items) * pitch - GAP + 4)
    step = _step(high - low)
    ticks = []
    tick = math.ceil(low / step) * step
    while tick <= high + 1e-9:
        ticks.append(Tick(x=x_of(tick), label=_tick_label(tick)))
        tick += step
    return BarChart(width=width, height=int(plot_bottom + BOTTOM), left=left, right=right, zero_x=_coord(zero_x),
                    plot_top=float(TOP - 4), plot_bottom=plot_bottom, bars=bars, ticks=ticks, target=target,
                    target_x=None if target is None else x_of(float(target)))
