"""Charts written to PNG or SVG with matplotlib (imported here only, by the commands that draw).

Output is deterministic for the same chart (fixed SVG ids, no creation date), so SVGs can be
compared with goldens, and the file appears whole or not at all (written aside, then renamed).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from positioning_cli.charts.model import BarPanel, Chart, LinePanel, ScatterPanel, compact
from positioning_cli.errors import UsageError
from positioning_cli.outfile import write_atomically

if TYPE_CHECKING:
    from matplotlib.axes import Axes

FORMATS = {".png": "png", ".svg": "svg"}
LINE_COLOR = "#1f5fa8"
BAND_COLORS = ("#c9d9ee", "#8fb1dc")  # outer (e.g. 5Y) and inner (1Y) ranges


def chart_format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UsageError(f"--out {path}: the extension must be .png or .svg")
    return fmt


def save(chart: Chart, path: Path) -> None:
    """Draw ``chart`` into ``path`` (PNG or SVG by its extension)."""
    fmt = chart_format(path)
    write_atomically(path, lambda out: _draw(chart, out, fmt))


def svg_markup(chart: Chart) -> str:
    """The chart as an inline ``<svg>`` element (no XML prolog), for an HTML page."""
    buffer = io.BytesIO()
    _draw(chart, buffer, "svg")
    text = buffer.getvalue().decode("utf-8")
    return text[text.index("<svg") :]


def _draw(chart: Chart, out: BinaryIO, fmt: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    heights = [_height(p) for p in chart.panels]
    with matplotlib.rc_context({"svg.hashsalt": "positioning", "svg.fonttype": "none", "font.size": 9}):
        fig = Figure(figsize=(9, 1.0 + 2.0 * sum(heights)), layout="constrained")
        axes = fig.subplots(len(chart.panels), 1, squeeze=False, height_ratios=heights)[:, 0]
        for ax, panel in zip(axes, chart.panels, strict=True):
            if isinstance(panel, LinePanel):
                _line(ax, panel)
            elif isinstance(panel, ScatterPanel):
                _scatter(ax, panel)
            else:
                _bars(ax, panel)
        fig.suptitle(chart.title, fontweight="bold")
        fig.supxlabel(chart.caption, fontsize=7, color="#555555")
        metadata = {"Date": None} if fmt == "svg" else {"Software": None}
        fig.savefig(out, format=fmt, dpi=110, metadata=metadata)


def _height(panel: LinePanel | ScatterPanel | BarPanel) -> float:
    if isinstance(panel, LinePanel):
        return 1.7
    if isinstance(panel, ScatterPanel):
        return 3.2
    return 0.5 + 0.16 * len(panel.bars)


def _line(ax: Axes, panel: LinePanel) -> None:
    from matplotlib.dates import date2num

    days = date2num(list(panel.days))
    for band, color in zip(panel.bands, BAND_COLORS, strict=False):
        lo = [float("nan") if x is None else x for x in band.lo]
        hi = [float("nan") if x is None else x for x in band.hi]
        ax.fill_between(days, lo, hi, color=color, linewidth=0, label=band.label)
    values = [float("nan") if v is None else v for v in panel.values]
    ax.plot(days, values, color=LINE_COLOR, linewidth=1.4, label=panel.title)
    if panel.zero_line:
        ax.axhline(0, color="#777777", linewidth=0.8)
    ax.xaxis_date()
    if max((abs(v) for v in panel.values if v is not None), default=0.0) >= 1e4:
        from matplotlib.ticker import FuncFormatter

        # 900M, not "9.0" under a "1e8" offset: the axis reads in the unit its label names.
        ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _pos: compact(y)))
    ax.set_title(panel.title, loc="left", fontsize=9)
    ax.set_ylabel(panel.unit)
    ax.grid(True, linewidth=0.3, alpha=0.6)
    if panel.bands:
        ax.legend(loc="upper left", fontsize=7, frameon=False)


def _scatter(ax: Axes, panel: ScatterPanel) -> None:
    ax.axvline(50, color="#999999", linewidth=0.8)
    ax.axhline(50, color="#999999", linewidth=0.8)
    ax.scatter([p.x for p in panel.points], [p.y for p in panel.points], s=10, color=LINE_COLOR, alpha=0.7)
    for p in panel.points:
        if p.annotate:
            ax.annotate(p.label, (p.x, p.y), xytext=(3, 3), textcoords="offset points", fontsize=7)
    tr, br, tl, bl = panel.quadrant_labels
    for (x, y, ha, va), text in zip(
        ((0.99, 0.99, "right", "top"), (0.99, 0.01, "right", "bottom"), (0.01, 0.99, "left", "top"),
         (0.01, 0.01, "left", "bottom")),
        (tr, br, tl, bl),
        strict=True,
    ):  # fmt: skip
        ax.text(x, y, text, transform=ax.transAxes, ha=ha, va=va, fontsize=8, color="#555555")
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 100)
    ax.set_xlabel(panel.x_label)
    ax.set_ylabel(panel.y_label)
    ax.set_title(panel.title, loc="left", fontsize=9)


def _bars(ax: Axes, panel: BarPanel) -> None:
    labels = [b.label for b in panel.bars][::-1]
    values = [b.value for b in panel.bars][::-1]
    ax.barh(labels, values, color=LINE_COLOR)
    for i, b in enumerate(panel.bars[::-1]):
        ax.text(b.value, i, f" {b.value:.2f} {b.note}".rstrip(), va="center", fontsize=7)
    ax.set_xlabel(panel.unit)
    ax.set_title(panel.title, loc="left", fontsize=9)
    ax.margins(x=0.15)
