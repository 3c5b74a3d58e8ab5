"""Chart kinds are built from the rows the JSON carries: checked on small hand-made rows."""

from __future__ import annotations

from datetime import date

from positioning_cli.charts.kinds import (
    cot_chart,
    history_chart,
    quadrant_chart,
    sectors_chart,
    stock_chart,
    trailing_range,
)
from positioning_cli.charts.model import BarPanel, LinePanel, ScatterPanel

D = date.fromisoformat


def test_trailing_range_by_hand() -> None:
    days = [D("2024-01-01"), D("2024-06-01"), D("2024-12-31"), D("2025-01-02"), D("2025-06-02")]
    values = [5.0, None, 1.0, 3.0, 4.0]
    lo, hi = trailing_range(days, values, 365)
    # 2024 is a leap year: on 2024-12-31 the window is (2024-01-01, 2024-12-31], without the 5.0
    assert lo == (5.0, 5.0, 1.0, 1.0, 1.0)
    assert hi == (5.0, 5.0, 1.0, 3.0, 4.0)


def test_history_chart_panels_and_caption() -> None:
    total = [{"settlement_date": "2024-01-15", "value": 10}, {"settlement_date": "2024-01-31", "value": 12}]
    median = [
        {"settlement_date": "2024-01-15", "value": 2.5},
        {"settlement_date": "2024-01-31", "value": None},
    ]
    price = (
        "IWM",
        [D("2023-12-29"), D("2024-01-15"), D("2024-01-31"), D("2024-02-01")],
        [190.0, 195.0, 199.0, 200.0],
    )
    chart = history_chart("RUT", total, median, price)
    first, second, third = chart.panels
    assert isinstance(first, LinePanel) and first.values == (10.0, 12.0) and first.unit == "shares"
    assert isinstance(second, LinePanel) and second.values == (2.5, None)
    assert isinstance(third, LinePanel)
    assert third.days == (D("2024-01-15"), D("2024-01-31"))  # the span of the SI dates
    assert chart.caption.startswith("2024-01-15 to 2024-01-31")


def test_quadrant_chart_names_the_top_ranked_and_skips_rows_without_percentiles() -> None:
    rows = [
        {
            "rank": 1,
            "symbol": "AAA",
            "si_pct_1y": 95.0,
            "price_pct_1y": 90.0,
            "settlement_date": "2024-01-31",
        },
        {
            "rank": 2,
            "symbol": "BBB",
            "si_pct_1y": None,
            "price_pct_1y": 50.0,
            "settlement_date": "2024-01-31",
        },
        {
            "rank": 30,
            "symbol": "CCC",
            "si_pct_1y": 10.0,
            "price_pct_1y": 20.0,
            "settlement_date": "2024-01-31",
        },
    ]
    (panel,) = quadrant_chart("RUT", rows, annotate=10).panels
    assert isinstance(panel, ScatterPanel)
    assert [(p.label, p.x, p.y, p.annotate) for p in panel.points] == [
        ("AAA", 95.0, 90.0, True),
        ("CCC", 10.0, 20.0, False),
    ]


def test_sectors_chart_one_panel_per_index() -> None:
    rows = [
        {
            "index": "SPX",
            "sector": "Energy",
            "median_si_pct_so": 2.0,
            "si_pct_1y": 93.4,
            "settlement_date": "2024-01-31",
        },
        {
            "index": "RUT",
            "sector": "Energy",
            "median_si_pct_so": 5.5,
            "si_pct_1y": None,
            "settlement_date": "2024-01-31",
        },
        {"index": "RUT", "sector": "Utilities", "median_si_pct_so": None, "settlement_date": "2024-01-31"},
    ]
    rut, spx = sectors_chart(rows).panels
    assert isinstance(rut, BarPanel) and isinstance(spx, BarPanel)
    assert [(b.label, b.value, b.note) for b in rut.bars] == [("Energy", 5.5, "")]
    assert [(b.label, b.value, b.note) for b in spx.bars] == [("Energy", 2.0, "p93")]


def test_cot_chart_bands_are_the_52_week_range() -> None:
    rows = [
        {"report_date": "2024-01-02", "lev_net": -10, "asset_mgr_net": 20},
        {"report_date": "2024-06-04", "lev_net": -30, "asset_mgr_net": 25},
        {"report_date": "2025-01-07", "lev_net": -20, "asset_mgr_net": 10},
    ]
    lev, am = cot_chart("ES", rows).panels
    assert isinstance(lev, LinePanel) and lev.zero_line
    assert lev.bands[0].lo == (-10.0, -30.0, -30.0) and lev.bands[0].hi == (-10.0, -10.0, -20.0)
    assert isinstance(am, LinePanel) and am.values == (20.0, 25.0, 10.0)


def test_stock_chart_three_panels_with_units_and_gaps() -> None:
    rows = [
        {"settlement_date": "2024-01-12", "short_interest": 1000, "days_to_cover": 2.0, "close": 10.5},
        # a quarantined date: short interest only
        {"settlement_date": "2024-01-31", "short_interest": 1500, "days_to_cover": None, "close": None},
    ]
    chart = stock_chart("AAA", rows)
    si, dtc, close = chart.panels
    assert isinstance(si, LinePanel) and si.unit == "shares" and si.values == (1000.0, 1500.0)
    assert isinstance(dtc, LinePanel) and dtc.unit == "days" and dtc.values == (2.0, None)
    assert isinstance(close, LinePanel) and close.unit == "USD" and close.values == (10.5, None)
    assert si.days == (D("2024-01-12"), D("2024-01-31")) and not si.bands
    assert chart.caption.startswith("2024-01-12 to 2024-01-31; source: FINRA short interest")
    assert "positioning stock AAA" in chart.caption
