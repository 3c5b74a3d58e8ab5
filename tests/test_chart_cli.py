"""`positioning chart` and `positioning report` on the sample data: goldens, files, errors.

SVG goldens are structural (axes, texts, points, bars), so a matplotlib upgrade that moves a
pixel does not fail them while a missing title, label, point or bar does. Regenerate with
``UPDATE_GOLDEN=1`` and review the diff.
"""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import run_cli

GOLDEN = Path(__file__).parent / "golden" / "charts"
SVG_CASES = {
    "history_rut": ["chart", "history", "--index", "RUT"],
    "quadrant_rut": ["chart", "quadrant", "--index", "RUT"],
    "sectors_spx": ["chart", "sectors", "--index", "SPX"],
    "cot_spx": ["chart", "cot", "--index", "SPX"],
    "stock_zphy": ["chart", "stock", "ZPHY"],
}
NS = "{http://www.w3.org/2000/svg}"


def structure(svg: Path) -> dict[str, object]:
    root = ET.parse(svg).getroot()
    groups = [g.get("id", "") for g in root.iter(f"{NS}g")]
    points = sum(
        len(list(g.iter(f"{NS}use")))
        for g in root.iter(f"{NS}g")
        if g.get("id", "").startswith("PathCollection")
    )
    return {
        "axes": sum(1 for g in groups if re.fullmatch(r"axes_\d+", g)),
        "lines": sum(1 for g in groups if g.startswith("line2d")),
        "filled_bands": sum(1 for g in groups if g.startswith("FillBetweenPolyCollection") or g.startswith("PolyCollection")),
        "patches": sum(1 for g in groups if g.startswith("patch")),
        "points": points,
        "texts": [t.text for t in root.iter(f"{NS}text") if t.text and not re.fullmatch(r"[\d.,−\-e+%]+", t.text)],
    }  # fmt: skip


@pytest.mark.parametrize("name", sorted(SVG_CASES))
def test_chart_svg_matches_golden_structure(name: str, demo_store: Path, tmp_path: Path) -> None:
    out = tmp_path / f"{name}.svg"
    r = run_cli(*SVG_CASES[name], "--out", str(out), store=demo_store)
    assert r.code == 0, r.err
    assert r.out == "" and f"wrote {out}" in r.err
    got = structure(out)
    path = GOLDEN / f"{name}.json"
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(got, indent=1, ensure_ascii=False) + "\n")
    assert got == json.loads(path.read_text())


@pytest.mark.parametrize("args", [["quadrant", "--index", "NDX"], ["stock", "ZPHY", "--years", "1"]])
def test_chart_png_is_complete(args: list[str], demo_store: Path, tmp_path: Path) -> None:
    from PIL import Image

    out = tmp_path / "q.png"
    r = run_cli("chart", *args, "--out", str(out), store=demo_store)
    assert r.code == 0, r.err
    assert out.stat().st_size > 20_000
    with Image.open(out) as img:
        assert img.width > 600 and len(img.convert("L").getcolors(1_000_000) or []) > 20


def test_terminal_chart_in_a_pipe_matches_golden(demo_store: Path) -> None:
    r = run_cli("chart", "history", "--index", "RUT", "--years", "3", store=demo_store, env={"COLUMNS": "80"})
    assert r.code == 0, r.err
    assert "\x1b[" not in r.out and max(len(line) for line in r.out.splitlines()) <= 80
    path = GOLDEN / "history_rut_terminal.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(r.out)
    assert r.out == path.read_text()


def test_stock_chart_plots_the_rows_stock_json_carries(demo_store: Path) -> None:
    from positioning_cli import pictures
    from positioning_cli.charts.model import LinePanel

    rows = json.loads(run_cli("stock", "zphy", "-f", "json", store=demo_store).out)["rows"]
    drawn = pictures.chart(demo_store, pictures.ChartQuery("stock", symbol="ZPHY"))
    assert len(rows) == 24  # `positioning stock`'s default window, which the chart keeps
    for panel, key in zip(drawn.panels, ("short_interest", "days_to_cover", "close"), strict=True):
        assert isinstance(panel, LinePanel)
        assert [d.isoformat() for d in panel.days] == [r["settlement_date"] for r in rows]
        assert list(panel.values) == [r[key] for r in rows]
    assert drawn.caption.startswith(f"{rows[0]['settlement_date']} to {rows[-1]['settlement_date']}")


def test_stock_chart_in_a_pipe_and_unknown_symbol(demo_store: Path) -> None:
    r = run_cli("chart", "stock", "ZPHY", store=demo_store, env={"COLUMNS": "80"})
    assert r.code == 0, r.err
    assert max(len(line) for line in r.out.splitlines()) <= 80
    for title in ("ZPHY short interest (shares)", "ZPHY days to cover (days)", "(USD)"):
        assert title in r.out
    missing = run_cli("chart", "stock", "ZZZ", store=demo_store)
    same = run_cli("stock", "ZZZ", store=demo_store)
    assert missing.code == same.code == 4 and "Traceback" not in missing.err
    assert missing.err == same.err and "ZZZ: not a member of any index held" in missing.err


def test_terminal_chart_falls_back_to_ascii(demo_store: Path) -> None:
    r = run_cli("chart", "sectors", "--index", "RUT", store=demo_store, env={"PYTHONIOENCODING": "latin-1"})
    assert r.code == 0, r.err
    r.out.encode("ascii")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["chart", "pie"], "unknown chart 'pie'"),
        (["chart", "history", "--out", "x.jpg"], ".png or .svg"),
        (["chart", "history", "--index", "DAX"], "--index 'DAX'"),
        (["chart", "stock"], "needs a SYMBOL"),
        (["chart", "stock", "ZPHY", "--years", "-1"], "--years -1: expected 0"),
    ],
)
def test_chart_usage_errors(args: list[str], message: str, demo_store: Path, tmp_path: Path) -> None:
    r = run_cli(*args, store=demo_store)
    assert r.code == 2 and message in r.err and "Traceback" not in r.err
    assert not (Path.cwd() / "x.jpg").exists()


def test_chart_file_gets_the_umask_mode_not_a_temporary_files(demo_store: Path, tmp_path: Path) -> None:
    out = tmp_path / "h.svg"
    r = run_cli("chart", "sectors", "--index", "SPX", "--out", str(out), store=demo_store)
    assert r.code == 0, r.err
    assert out.stat().st_mode & 0o777 == 0o666 & ~_umask()
    assert [p.name for p in tmp_path.iterdir()] == ["h.svg"]  # no temporary left beside it


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
