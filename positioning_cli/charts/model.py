"""What a chart shows, independent of where it is drawn (terminal text, PNG or SVG).

A chart is built from the same rows the JSON carries; the drawing code never computes a number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class Band:
    """A shaded range under a line, e.g. the trailing 1Y low..high of the same series."""

    label: str
    lo: tuple[float | None, ...]
    hi: tuple[float | None, ...]


@dataclass(frozen=True)
class LinePanel:
    """One series over time, on its own y axis (stacked panels share the dates)."""

    title: str
    unit: str  # shown on the y axis: "shares", "% of shares outstanding", "USD", "contracts"
    days: tuple[date, ...]
    values: tuple[float | None, ...]
    bands: tuple[Band, ...] = ()  # drawn widest first
    zero_line: bool = False


@dataclass(frozen=True)
class Point:
    label: str
    x: float
    y: float
    annotate: bool = False


@dataclass(frozen=True)
class ScatterPanel:
    """Points in a 0..100 x 0..100 square split in quadrants at 50 (percentile against percentile)."""

    title: str
    x_label: str
    y_label: str
    points: tuple[Point, ...]
    quadrant_labels: tuple[str, str, str, str]  # top-right, bottom-right, top-left, bottom-left


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    note: str = ""  # e.g. "p93": shown next to the bar


@dataclass(frozen=True)
class BarPanel:
    title: str
    unit: str
    bars: tuple[Bar, ...]


Panel = LinePanel | ScatterPanel | BarPanel


@dataclass(frozen=True)
class Chart:
    title: str
    caption: str  # the data's date range and source
    panels: tuple[Panel, ...] = field(default_factory=tuple)


def compact(x: float) -> str:
    """A number in at most 7 characters: 1.23B, 45.6M, 7.89K, 12.35, -0.31."""
    for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(x) >= size:
            return f"{x / size:.2f}{suffix}"
    return f"{x:.2f}"
