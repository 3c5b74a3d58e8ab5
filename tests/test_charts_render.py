"""Chart drawing: terminal text that fits and degrades, PNG/SVG files that are complete and stable."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from pathlib import Path

import pytest

from positioning_cli.charts.files import save
from positioning_cli.charts.model import Band, Bar, BarPanel, Chart, LinePanel, Point, ScatterPanel
from positioning_cli.charts.terminal import compact, draw
from positioning_cli.errors import UsageError

ANSI = re.compile(r"\x1b\[[0-9;]*m")
DAYS = tuple(date(2024, 1, 15) + timedelta(14 * i) for i in range(30))
VALUES = tuple(float(100 + (i % 7) * 10 + i) for i in range(30))


def chart() -> Chart:
    line = LinePanel(
        "Total short interest", "shares", DAYS, VALUES,
        bands=(Band("1Y range", tuple(v - 5 for v in VALUES), tuple(v + 5 for v in VALUES)),),
    )  # fmt: skip
    scatter = ScatterPanel(
        "RUT stocks", "SI percentile 1Y", "price percentile 1Y",
        (Point("AAA", 90, 95, True), Point("BBB", 10, 5, True), Point("CCC", 60, 20)),
        ("pressing into strength", "shorts confirmed", "covering rally", "exiting weakness"),
    )  # fmt: skip
    bars = BarPanel("Sectors", "% of shares outstanding", (Bar("Energy", 5.5, "p93"), Bar("Utilities", 1.1)))
    return Chart("RUT", "2024-01-15 to 2025-02-17; source: test", (line, scatter, bars))


@pytest.mark.parametrize("width", [40, 60, 80, 132])
def test_terminal_chart_fits_the_width(width: int) -> None:
    text = draw(chart(), width)
    assert max(len(line) for line in text.splitlines()) <= width
    assert "AAA" in text and "BBB" in text  # annotated points keep their labels
    assert "pressing into strength" in text and "Energy" in text


def test_terminal_chart_no_color_has_no_escape_codes_and_color_has_them() -> None:
    assert not ANSI.search(draw(chart(), 80, color=False))
    coloured = draw(chart(), 80, color=True)
    assert ANSI.search(coloured)
    assert ANSI.sub("", coloured) == draw(chart(), 80, color=False)


def test_terminal_chart_ascii_fallback_encodes_as_ascii() -> None:
    draw(chart(), 80, ascii_only=True).encode("ascii")  # no box drawing, braille or blocks


def test_line_panel_scales_between_its_extremes() -> None:
    text = draw(Chart("t", "c", (LinePanel("x", "u", DAYS, VALUES),)), 60)
    labels = [line.split("┤")[0].strip() for line in text.splitlines() if "┤" in line]
    assert labels[0] == compact(max(VALUES)) and labels[-1] == compact(min(VALUES))


def test_compact_numbers() -> None:
    assert [compact(x) for x in (1.234e9, 45.6e6, 7890, 12.345, -0.31)] == [
        "1.23B", "45.60M", "7.89K", "12.35", "-0.31",
    ]  # fmt: skip


def test_svg_is_deterministic_and_carries_titles_and_caption(tmp_path: Path) -> None:
    a, b = tmp_path / "a.svg", tmp_path / "b.svg"
    save(chart(), a)
    save(chart(), b)
    assert a.read_bytes() == b.read_bytes()
    texts = " ".join(t.text or "" for t in ET.parse(a).iter() if t.tag.endswith("text"))
    for expected in ("RUT", "Total short interest", "shares", "AAA", "source: test", "Energy"):
        assert expected in texts


def test_png_is_complete_and_not_blank(tmp_path: Path) -> None:
    from PIL import Image

    out = tmp_path / "c.png"
    save(chart(), out)
    assert out.stat().st_size > 10_000
    with Image.open(out) as img:
        colours = img.convert("L").getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 10


def test_unknown_extension_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"\.png or \.svg"):
        save(chart(), tmp_path / "c.jpg")
    assert list(tmp_path.iterdir()) == []
