"""The HTML report: self-contained, and in a real browser its numbers are the JSON's."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from positioning_cli.charts.files import svg_markup
from positioning_cli.charts.kinds import history_chart
from positioning_cli.report import INT, PCT_LEVEL, PCTILE, Column, Figure, Report, Section, render_html
from tests.browser import CHROMIUM_FLAGS, chromium_path, playwright_or_skip
from tests.conftest import run_cli

ARTEFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
ROWS = [
    {"index": "RUT", "median_si_pct_so": 5.500002, "total_si_shares": 1_234_567_890, "si_pct_1y": 100.0},
    {"index": "SPX", "median_si_pct_so": None, "total_si_shares": 987_654_321, "si_pct_1y": 42.9},
]


def sample_report() -> Report:
    days = [date(2024, 1, 15) + timedelta(days=15 * i) for i in range(24)]
    total = [{"settlement_date": d.isoformat(), "value": 1e9 + 1e7 * i} for i, d in enumerate(days)]
    median = [{"settlement_date": d.isoformat(), "value": 5 + 0.1 * i} for i, d in enumerate(days)]
    chart = history_chart("RUT", total, median, None)
    section = Section(
        "Indices",
        ROWS,
        [
            Column("index", "Index", lambda v: str(v)),
            Column("median_si_pct_so", "Median SI %", PCT_LEVEL),
            Column("total_si_shares", "Total SI", INT),
            Column("si_pct_1y", "SI pct 1Y", PCTILE),
        ],
        "index",
    )
    return Report(
        as_of=date(2024, 12, 31),
        generated_at=datetime(2025, 1, 2, 6, 0, tzinfo=UTC),
        store="/tmp/store",
        sentences=["Short interest across RUT constituents is at the 100th percentile versus the past 1Y."],
        blocks=[section, Figure(chart.title, svg_markup(chart))],
        provenance=[{"table": "short_interest", "source_file": "shrt20241231.csv", "ingested_at": "2025-01-02T05:59:00+00:00", "rows": 22000}],
    )  # fmt: skip


def test_report_is_self_contained() -> None:
    page = render_html(sample_report())
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    for fetches in ("<script", "<link", "@import", 'src="', 'href="http', 'xlink:href="http'):
        assert fetches not in page
    assert not re.search(r"url\((?!#)", page)  # only references inside the page (SVG clip paths)
    assert page.count("<svg") == 1
    assert 'data-key="median_si_pct_so" data-value="null">–<' in page
    assert 'data-key="total_si_shares" data-value="1234567890">1,234,567,890<' in page


def test_report_in_headless_chromium(tmp_path: Path) -> None:
    chromium = chromium_path()
    sync_playwright = playwright_or_skip()
    from PIL import Image

    report = tmp_path / "report.html"
    report.write_text(render_html(sample_report()), encoding="utf-8")
    ARTEFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
        errors: list[str] = []
        requests: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(report.as_uri())
        page.wait_for_load_state("load")
        page.screenshot(path=str(ARTEFACTS / "report-phone.png"), full_page=True)
        cells = page.eval_on_selector_all(
            "td[data-key]",
            "els => els.map(e => [e.closest('tr').dataset.index, e.dataset.key, e.dataset.value, e.innerText])",
        )
        charts = page.query_selector_all("figure svg")
        shots = [chart.screenshot() for chart in charts]
        boxes = [chart.bounding_box() for chart in charts]
        browser.close()
    assert errors == []
    assert requests == [report.as_uri()]  # the page itself, nothing else
    by_index = {r["index"]: r for r in ROWS}
    numbers = [(i, k, v, t) for i, k, v, t in cells if i in by_index and k != "index"]
    assert len(numbers) == 6
    for index, key, value, _text in numbers:
        assert json.loads(value) == by_index[index][key]
    assert len(shots) == 1 and boxes[0] is not None and boxes[0]["width"] > 300
    with Image.open(io.BytesIO(shots[0])) as img:
        grey = img.convert("L")
        dark = sum(grey.histogram()[:200])
    assert dark > 0.01 * grey.width * grey.height  # lines, axes and text drawn, not a blank box


def _json(store: Path, *args: str) -> list[dict[str, object]]:
    r = run_cli(*args, "-f", "json", store=store)
    assert r.code == 0, r.err
    rows: list[dict[str, object]] = json.loads(r.out)["rows"]
    return rows


def test_report_of_the_demo_store_shows_the_json_numbers_in_chromium(
    demo_store: Path, tmp_path: Path
) -> None:
    """The report the command writes, opened in a real browser: every table cell is the value the
    matching read command gives as JSON, row for row; every chart is drawn; nothing is fetched."""
    chromium = chromium_path()
    sync_playwright = playwright_or_skip()
    from PIL import Image

    out = tmp_path / "report.html"
    r = run_cli("report", "--index", "RUT,SPX", "--top", "5", "--out", str(out), store=demo_store)
    assert r.code == 0, r.err
    expected = {
        "scan": _json(demo_store, "scan", "--index", "RUT,SPX"),
        "cot": _json(demo_store, "cot"),
    }
    for idx in ("RUT", "SPX"):
        expected[f"sectors-{idx}"] = _json(demo_store, "scan", "--by", "sector", "--index", idx)
        expected[f"stocks-{idx}"] = _json(demo_store, "scan", "--by", "stock", "--index", idx, "--top", "5")
    ARTEFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        requests: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda req: requests.append(req.url))
        page.goto(out.as_uri())
        page.wait_for_load_state("load")
        page.screenshot(path=str(ARTEFACTS / "report-demo.png"), full_page=True)
        tables = page.eval_on_selector_all(
            "section[data-section]",
            """els => els.map(s => [s.dataset.section, [...s.querySelectorAll('tbody tr')].map(
                   tr => [...tr.querySelectorAll('td[data-key]')].map(
                       td => [td.dataset.key, td.dataset.value, td.innerText]))])""",
        )
        shots = [svg.screenshot() for svg in page.query_selector_all("figure svg")]
        browser.close()
    assert errors == []
    assert requests == [out.as_uri()]
    shown = dict(tables)
    assert set(shown) == {*expected, "provenance"}
    for name, rows in expected.items():
        assert len(shown[name]) == len(rows) > 0, name
        for cells, row in zip(shown[name], rows, strict=True):
            for key, value, text in cells:
                assert json.loads(value) == row[key], (name, key)
                assert text.strip(), (name, key)  # a value is printed, or a dash for a missing one
    assert len(shots) >= 4  # history, sectors and quadrant per index, and the futures charts
    for shot in shots:
        with Image.open(io.BytesIO(shot)) as img:
            grey = img.convert("L")
            assert sum(grey.histogram()[:200]) > 0.01 * grey.width * grey.height
