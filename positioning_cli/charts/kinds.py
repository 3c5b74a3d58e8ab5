"""Each chart kind, built from the rows the JSON of a read command carries (never recomputed here).

The only figure made here is a display band: the lowest and highest value of the same series in the
trailing window the percentiles use ((d - W, d], README "What scan computes"), so the line's place
inside the band is what its percentile says.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta

from positioning_cli.charts.model import Band, Bar, BarPanel, Chart, LinePanel, Point, ScatterPanel

Row = Mapping[str, object]
ONE_YEAR, FIVE_YEARS = 365, 5 * 365
# Percentile quadrants (x: SI percentile, y: price percentile), named as the scan's quadrants are.
QUADRANT_LABELS = (
    "shorts pressing into strength",
    "shorts confirmed",
    "short-covering rally",
    "shorts exiting weakness",
)


def _day(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and value == value else None


def trailing_range(
    days: Sequence[date], values: Sequence[float | None], window_days: int
) -> tuple[tuple[float | None, ...], tuple[float | None, ...]]:
    """Per date d, the lowest and highest value held in (d - window, d]."""
    lo: list[float | None] = []
    hi: list[float | None] = []
    for d in days:
        inside = [
            v
            for e, v in zip(days, values, strict=True)
            if v is not None and d - timedelta(window_days) < e <= d
        ]
        lo.append(min(inside) if inside else None)
        hi.append(max(inside) if inside else None)
    return tuple(lo), tuple(hi)


def _series_panel(title: str, unit: str, rows: Sequence[Row], key: str, *, bands: bool = True) -> LinePanel:
    days = tuple(_day(r["settlement_date"]) for r in rows)
    values = tuple(_num(r[key]) for r in rows)
    shaded: tuple[Band, ...] = ()
    if bands:
        five = trailing_range(days, values, FIVE_YEARS)
        one = trailing_range(days, values, ONE_YEAR)
        shaded = (Band("5Y range", *five), Band("1Y range", *one))
    return LinePanel(title, unit, days, values, shaded)


def _caption(days: Sequence[date], source: str) -> str:
    span = f"{min(days).isoformat()} to {max(days).isoformat()}" if days else "no dates"
    return f"{span}; source: {source}"


def history_chart(
    index: str,
    total_rows: Sequence[Row],
    median_rows: Sequence[Row],
    price: tuple[str, Sequence[date], Sequence[float]] | None,
) -> Chart:
    """``history`` rows (metric total_si_shares, then median_si_pct_so) and the proxy's closes."""
    panels: list[LinePanel] = [
        _series_panel(f"{index} total short interest", "shares", total_rows, "value"),
        _series_panel(f"{index} median SI", "% of shares outstanding", median_rows, "value"),
    ]
    if price is not None:
        symbol, days, closes = price
        span = panels[0].days  # the price over the same dates as the short interest, so panels align
        kept = [(d, c) for d, c in zip(days, closes, strict=True) if not span or span[0] <= d <= span[-1]]
        panels.append(
            LinePanel(
                f"{symbol} close (price proxy of {index})",
                "USD",
                tuple(d for d, _ in kept),
                tuple(c for _, c in kept),
            )
        )
    days = [d for p in panels for d in p.days]
    return Chart(
        f"{index}: short interest against price",
        _caption(days, "FINRA short interest, index membership, daily prices in the store"),
        tuple(panels),
    )


def quadrant_chart(index: str, stock_rows: Sequence[Row], annotate: int = 10) -> Chart:
    """``scan --by stock`` rows (ranked): SI percentile against price percentile, the top names named."""
    points = []
    for r in stock_rows:
        x, y = _num(r.get("si_pct_1y")), _num(r.get("price_pct_1y"))
        if x is None or y is None:
            continue
        rank = _num(r.get("rank"))
        points.append(Point(str(r["symbol"]), x, y, rank is not None and rank <= annotate))
    days = [_day(r["settlement_date"]) for r in stock_rows]
    return Chart(
        f"{index} constituents: where positioning and price sit in their own year",
        _caption(days, f"scan --by stock --index {index}; {len(points)} stocks with both percentiles"),
        (ScatterPanel(index, "SI percentile 1Y", "price percentile 1Y", tuple(points), QUADRANT_LABELS),),
    )


def sectors_chart(sector_rows: Sequence[Row]) -> Chart:
    """``scan --by sector`` rows: median SI % of shares outstanding per sector, per index."""
    by_index: dict[str, list[Bar]] = {}
    for r in sector_rows:
        value = _num(r.get("median_si_pct_so"))
        if value is None:
            continue
        pct = _num(r.get("si_pct_1y"))
        note = "" if pct is None else f"p{pct:.0f}"
        by_index.setdefault(str(r.get("index") or "all"), []).append(Bar(str(r["sector"]), value, note))
    panels = tuple(
        BarPanel(f"{idx} sectors: median SI (pNN = 1Y percentile)", "% of shares outstanding", tuple(bars))
        for idx, bars in sorted(by_index.items())
    )
    days = [_day(r["settlement_date"]) for r in sector_rows]
    return Chart("Sector short interest", _caption(days, "scan --by sector"), panels)


def cot_chart(contract: str, rows: Sequence[Row]) -> Chart:
    """Weekly CFTC rows (report_date, lev_net, asset_mgr_net): net positions with the 52-week range."""
    days = tuple(_day(r["report_date"]) for r in rows)
    panels = []
    for key, who in (("lev_net", "Leveraged funds"), ("asset_mgr_net", "Asset managers")):
        values = tuple(_num(r.get(key)) for r in rows)
        lo, hi = trailing_range(days, values, 364)
        panels.append(
            LinePanel(
                f"{who} net, {contract}",
                "contracts",
                days,
                values,
                (Band("52-week range", lo, hi),),
                zero_line=True,
            )
        )
    return Chart(
        f"{contract} futures positioning (CFTC Traders in Financial Futures)",
        _caption(
            list(days), "CFTC TFF; leveraged-fund shorts are partly basis trades, offset by asset managers"
        ),
        tuple(panels),
    )


def stock_chart(symbol: str, rows: Sequence[Row]) -> Chart:
    """``positioning stock`` rows: short interest, days to cover and close per settlement date
    (a quarantined date has short interest only: its other panels show a gap there)."""
    panels = (
        _series_panel(f"{symbol} short interest", "shares", rows, "short_interest", bands=False),
        _series_panel(f"{symbol} days to cover", "days", rows, "days_to_cover", bands=False),
        _series_panel(f"{symbol} close on the settlement date", "USD", rows, "close", bands=False),
    )
    days = [_day(r["settlement_date"]) for r in rows]
    return Chart(
        f"{symbol}: short interest, days to cover and price",
        _caption(
            days,
            f"FINRA short interest, index membership, daily prices in the store (positioning stock {symbol})",
        ),
        panels,
    )
