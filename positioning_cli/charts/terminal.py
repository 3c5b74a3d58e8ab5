"""Charts drawn as terminal text: braille dots for lines and points, shades for bands.

Fits the width it is given; plain ASCII when the terminal cannot encode Unicode; ANSI colour only
when the caller allows it (a terminal without NO_COLOR). Pure string building: no I/O, no imports
beyond the standard library, so it costs nothing on the paths that do not draw.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from positioning_cli.charts.model import BarPanel, Chart, LinePanel, Panel, ScatterPanel, compact

# Braille dot bits by (column 0..1, row 0..3) inside a 2x4 cell (Unicode block U+2800).
_DOT = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))
GUTTER = 10  # y-axis labels
LINE_ROWS = 8
SCATTER_ROWS = 16


@dataclass(frozen=True)
class Style:
    color: bool
    ascii_only: bool

    def paint(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color and text.strip() else text

    @property
    def shades(self) -> tuple[str, str]:  # outer band, inner band
        return (".", ":") if self.ascii_only else ("░", "▒")


def draw(chart: Chart, width: int, *, color: bool = False, ascii_only: bool = False) -> str:
    style = Style(color, ascii_only)
    width = max(width, GUTTER + 20)
    out = [style.paint(line, "1") for line in textwrap.wrap(chart.title, width)]
    for panel in chart.panels:
        out.append("")
        out.extend(_panel(panel, width, style))
    out.append("")
    out.extend(textwrap.wrap(chart.caption, width))
    return "\n".join(out) + "\n"


def _header(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width) or [""]


def _panel(panel: Panel, width: int, style: Style) -> list[str]:
    if isinstance(panel, LinePanel):
        return _line_panel(panel, width, style)
    if isinstance(panel, ScatterPanel):
        return _scatter_panel(panel, width, style)
    return _bar_panel(panel, width, style)


class _Canvas:
    """A grid of cells; each holds braille dots, a shade level or a text character."""

    def __init__(self, cols: int, rows: int) -> None:
        self.cols, self.rows = cols, rows
        self.dots = [[0] * cols for _ in range(rows)]
        self.shade = [[0] * cols for _ in range(rows)]
        self.text: dict[tuple[int, int], str] = {}

    def dot(self, px: int, py: int) -> None:
        """Set a dot; py counts from the bottom."""
        col, row = px // 2, self.rows - 1 - py // 4
        if 0 <= col < self.cols and 0 <= row < self.rows:
            self.dots[row][col] |= _DOT[px % 2][3 - py % 4]

    def segment(self, a: tuple[int, int], b: tuple[int, int]) -> None:
        steps = max(abs(b[0] - a[0]), abs(b[1] - a[1]), 1)
        for i in range(steps + 1):
            self.dot(round(a[0] + (b[0] - a[0]) * i / steps), round(a[1] + (b[1] - a[1]) * i / steps))

    def is_free(self, col: int, row: int, length: int) -> bool:
        return (
            col >= 0
            and col + length <= self.cols
            and 0 <= row < self.rows
            and not any((row, c) in self.text for c in range(col, col + length))
        )

    def write(self, col: int, row: int, text: str) -> None:
        for i, ch in enumerate(text):
            if 0 <= col + i < self.cols and 0 <= row < self.rows:
                self.text[(row, col + i)] = ch

    def lines(self, style: Style, dot_color: str = "36") -> list[str]:
        out = []
        for r in range(self.rows):
            cells = []
            for c in range(self.cols):
                if (r, c) in self.text:  # labels stay readable: a dot under a label is hidden
                    cells.append(self.text[(r, c)])
                elif self.dots[r][c]:
                    ch = "*" if style.ascii_only else chr(0x2800 + self.dots[r][c])
                    cells.append(style.paint(ch, dot_color))
                elif self.shade[r][c]:
                    cells.append(style.paint(style.shades[self.shade[r][c] - 1], "2"))
                else:
                    cells.append(" ")
            out.append("".join(cells))
        return out


def _line_panel(panel: LinePanel, width: int, style: Style) -> list[str]:
    cols = width - GUTTER
    canvas = _Canvas(cols, LINE_ROWS)
    known = [(d, v) for d, v in zip(panel.days, panel.values, strict=True) if v is not None]
    header = f"{panel.title} ({panel.unit})"
    if not known:
        return [*_header(header, width), "  (no data)"]
    extremes = [v for _, v in known] + [
        x for band in panel.bands for x in (*band.lo, *band.hi) if x is not None
    ]
    lo, hi = min(extremes), max(extremes)
    if panel.zero_line:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    span = (hi - lo) or 1.0
    first, last = panel.days[0].toordinal(), panel.days[-1].toordinal()

    def px(d: date) -> int:
        return round((d.toordinal() - first) / ((last - first) or 1) * (cols * 2 - 1))

    def py(v: float) -> int:
        return round((v - lo) / span * (LINE_ROWS * 4 - 1))

    columns = [px(d) // 2 for d in panel.days]
    for level, band in enumerate(panel.bands, start=1):
        i = 0
        for col in range(cols):  # each column shows the band as of its last date (no gaps)
            while i + 1 < len(columns) and columns[i + 1] <= col:
                i += 1
            b_lo, b_hi = band.lo[i], band.hi[i]
            if b_lo is None or b_hi is None or columns[i] > col:
                continue
            for row in range(LINE_ROWS - 1 - py(b_hi) // 4, LINE_ROWS - py(b_lo) // 4):
                canvas.shade[row][col] = max(canvas.shade[row][col], level)
    if panel.zero_line and lo < 0 < hi:
        zero_row = LINE_ROWS - 1 - py(0.0) // 4
        for col in range(cols):
            canvas.text.setdefault((zero_row, col), "-" if style.ascii_only else "─")
    points = [(px(d), py(v)) for d, v in known]
    for a, b in zip(points, points[1:], strict=False):
        canvas.segment(a, b)
    canvas.dot(*points[-1])
    axis = "|" if style.ascii_only else "┤"
    labels = {0: compact(hi), LINE_ROWS // 2: compact(lo + span / 2), LINE_ROWS - 1: compact(lo)}
    body = [f"{labels.get(r, ''):>{GUTTER - 2}} {axis}{line}" for r, line in enumerate(canvas.lines(style))]
    legend = ", ".join(f"{style.shades[i]} {b.label}" for i, b in enumerate(panel.bands))
    return [*_header(header + (f"   {legend}" if legend else ""), width), *body, _date_axis(panel.days, cols)]


def _date_axis(days: Sequence[date], cols: int) -> str:
    left, right = days[0].isoformat(), days[-1].isoformat()
    middle = days[len(days) // 2].isoformat()
    line = [" "] * cols
    for start, text in ((0, left), ((cols - len(middle)) // 2, middle), (cols - len(right), right)):
        if start >= 0 and all(c == " " for c in line[max(start - 1, 0) : start + len(text) + 1]):
            line[start : start + len(text)] = text
    return " " * GUTTER + "".join(line).rstrip()


def _scatter_panel(panel: ScatterPanel, width: int, style: Style) -> list[str]:
    cols = width - GUTTER
    canvas = _Canvas(cols, SCATTER_ROWS)
    mid_col, mid_row = cols // 2, SCATTER_ROWS // 2
    tr, br, tl, bl = panel.quadrant_labels
    inside = len(tl) + len(tr) + 2 <= cols and len(bl) + len(br) + 2 <= cols
    if inside:
        canvas.write(cols - len(tr), 0, tr)
        canvas.write(cols - len(br), SCATTER_ROWS - 1, br)
        canvas.write(0, 0, tl)
        canvas.write(0, SCATTER_ROWS - 1, bl)

    def place(p_x: float, p_y: float) -> tuple[int, int]:
        clamp = min(max(p_x, 0.0), 100.0), min(max(p_y, 0.0), 100.0)
        return round(clamp[0] / 100 * (cols * 2 - 1)), round(clamp[1] / 100 * (SCATTER_ROWS * 4 - 1))

    for p in panel.points:
        canvas.dot(*place(p.x, p.y))
    for p in panel.points:
        if p.annotate:
            x, y = place(p.x, p.y)
            row = SCATTER_ROWS - 1 - y // 4
            spots = [(r, c) for r in (row, row + 1, row - 1) for c in (x // 2 + 1, x // 2 - len(p.label))]
            for r, c in spots:
                if canvas.is_free(c, r, len(p.label)):
                    canvas.write(c, r, p.label)
                    break
    v, h = ("|", "-") if style.ascii_only else ("│", "─")
    for r in range(SCATTER_ROWS):  # the quadrant lines, under everything else
        if not canvas.dots[r][mid_col]:
            canvas.text.setdefault((r, mid_col), v)
    for c in range(cols):
        if not canvas.dots[mid_row][c]:
            canvas.text.setdefault((mid_row, c), h)
    axis = "|" if style.ascii_only else "┤"
    labels = {0: "100", mid_row: "50", SCATTER_ROWS - 1: "0"}
    body = [f"{labels.get(r, ''):>{GUTTER - 2}} {axis}{line}" for r, line in enumerate(canvas.lines(style))]
    x_axis = " " * GUTTER + "0" + " " * (mid_col - 1) + "50" + " " * max(cols - mid_col - 5, 1) + "100"
    title = f"{panel.title}: {panel.y_label} (y) against {panel.x_label} (x)"
    legend = (
        []
        if inside
        else _header(f"top right: {tr}; bottom right: {br}; top left: {tl}; bottom left: {bl}", width)
    )
    return [*_header(title, width), *body, x_axis, *legend]


def _bar_panel(panel: BarPanel, width: int, style: Style) -> list[str]:
    if not panel.bars:
        return [*_header(f"{panel.title} ({panel.unit})", width), "  (no data)"]
    name_w = min(max(len(b.label) for b in panel.bars), 26)
    note_w = max(len(f"{b.value:.2f} {b.note}".rstrip()) for b in panel.bars)
    bar_w = max(width - name_w - note_w - 3, 5)
    top = max(abs(b.value) for b in panel.bars) or 1.0
    block = "#" if style.ascii_only else "█"
    out = _header(f"{panel.title} ({panel.unit})", width)
    for b in panel.bars:
        n = round(abs(b.value) / top * bar_w)
        name = b.label if len(b.label) <= name_w else b.label[: name_w - 1] + "~"
        text = f"{b.value:.2f} {b.note}".rstrip()
        out.append(f"{name:<{name_w}} {style.paint(block * n, '36')}{' ' * (bar_w - n)} {text}")
    return out
