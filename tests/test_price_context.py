"""Price context (analytics/sql/price_context.sql) against a hand-worked case and a plain-Python oracle."""

from __future__ import annotations

import csv
import json
import random
from datetime import date, timedelta
from pathlib import Path

import pytest

from positioning_cli.analytics.price_context import CORRECTION, PriceContext, price_context
from positioning_cli.indices import price_context_sentence
from tests.conftest import SAMPLE, run_cli

D = date.fromisoformat

# Dec 29 (Fri) 99 | wk Jan 1: 100..104 new highs | wk Jan 8: falls to 92 (11.5% below 104)
# wk Jan 15: 98, 103, 105 = the breakout (first close above 104 after a >=10% fall), 106, 104
# wk Jan 22: 105, 103 (-0.96% on the week) | wk Jan 29: 107 (Mon), 108 (Thu Feb 1; +4.85%)
# wk Feb 5: 109 on Monday = as_of (week to date +0.93%)
HAND = [
    ("2023-12-29", 99), ("2024-01-01", 100), ("2024-01-02", 101), ("2024-01-03", 102),
    ("2024-01-04", 103), ("2024-01-05", 104), ("2024-01-08", 100), ("2024-01-09", 95),
    ("2024-01-10", 93), ("2024-01-11", 92), ("2024-01-12", 94), ("2024-01-15", 98),
    ("2024-01-16", 103), ("2024-01-17", 105), ("2024-01-18", 106), ("2024-01-19", 104),
    ("2024-01-22", 105), ("2024-01-23", 103), ("2024-01-29", 107), ("2024-02-01", 108),
    ("2024-02-05", 109),
]  # fmt: skip


def _run(rows: list[tuple[str, float]], as_of: str, symbol: str = "X") -> PriceContext:
    (ctx,) = price_context([symbol] * len(rows), [D(d) for d, _ in rows], [c for _, c in rows], D(as_of))
    return ctx


def test_hand_worked_case() -> None:
    ctx = _run(HAND, "2024-02-05")
    assert ctx.close == 109 and ctx.close_date == D("2024-02-05")
    assert ctx.all_time_high == 109 and ctx.at_all_time_high and ctx.pct_from_all_time_high == 0
    assert ctx.breakout_date == D("2024-01-17")
    assert ctx.weeks_since_breakout == 2  # the weeks of Jan 22 and Jan 29; Feb 5 is to date
    assert ctx.down_weeks_since_breakout == 1
    assert ctx.down_week_returns == pytest.approx((100 * (103 / 104 - 1),))
    assert ctx.week_to_date_return == pytest.approx(100 * (109 / 108 - 1))
    assert ctx.monthly_streak == 1  # January up on December; December has no month before it held
    assert ctx.month_to_date_return == pytest.approx(100 * (109 / 107 - 1))  # Jan 29 ends January


def test_hand_worked_case_one_week_earlier() -> None:
    ctx = _run(HAND, "2024-01-26")  # as_of on a Friday with no close: the Jan 23 close stands
    assert ctx.close_date == D("2024-01-23") and ctx.close == 103
    assert ctx.all_time_high == 106 and ctx.all_time_high_date == D("2024-01-18")
    assert not ctx.at_all_time_high
    assert ctx.pct_from_all_time_high == pytest.approx(100 * (103 / 106 - 1))
    assert ctx.weeks_since_breakout == 0 and ctx.down_week_returns == ()
    assert ctx.week_to_date_return == pytest.approx(100 * (103 / 104 - 1))
    assert ctx.monthly_streak == 0  # December is the only complete month and has no base


def test_no_correction_no_breakout() -> None:
    rows = [(str(D("2024-01-01") + timedelta(i)), 100 + i) for i in range(30)]
    ctx = _run(rows, "2024-01-30")
    assert ctx.breakout_date is None and ctx.weeks_since_breakout == 0
    assert ctx.at_all_time_high and ctx.at_52w_high


def oracle(rows: list[tuple[date, float]], as_of: date, correction: float) -> dict[str, object]:
    """README "Price context", written again as plain loops."""
    s = sorted((d, c) for d, c in rows if d <= as_of and c > 0)
    last_d, last_c = s[-1]
    ath = max(c for _, c in s)
    year = [(d, c) for d, c in s if d > as_of - timedelta(365)]
    high52 = max((c for _, c in year), default=None)
    breakout = None
    high = low = s[0][1]
    for d, c in s[1:]:
        if c > high:
            if low <= high * (1 - correction):
                breakout = d
            high = low = c
        else:
            low = min(low, c)
    intact = None
    if breakout is not None:
        intact, running = True, 0.0
        for d, c in s:
            if d > breakout and c <= running * (1 - correction):
                intact = False
            running = max(running, c)

    def runs(key: object) -> list[tuple[object, float | None]]:
        last: dict[object, float] = {}
        for d, c in s:
            last[key(d)] = c  # type: ignore[operator]
        keys = sorted(last)
        return [(k, None if i == 0 else last[k] / last[keys[i - 1]] - 1) for i, k in enumerate(keys)]

    def week(d: date) -> date:
        return d - timedelta(d.weekday())

    weeks = runs(week)
    after = [r for w, r in weeks if breakout and week(breakout) < w < week(as_of)]  # type: ignore[operator]
    wtd = [r for w, r in weeks if w == week(as_of)]
    months = runs(lambda d: (d.year, d.month))
    complete = [r for m, r in months if m < (as_of.year, as_of.month)][::-1]  # type: ignore[operator]
    streak = 0
    if complete and complete[0] is not None:
        sign = (complete[0] > 0) - (complete[0] < 0)
        for r in complete:
            if r is None or (r > 0) - (r < 0) != sign:
                break
            streak += 1
        streak *= sign
    mtd = [r for m, r in months if m == (as_of.year, as_of.month)]
    return {
        "close_date": last_d,
        "close": last_c,
        "all_time_high": ath,
        "all_time_high_date": min(d for d, c in s if c == ath),
        "high_52w": high52,
        "high_52w_date": min((d for d, c in year if c == high52), default=None),
        "pct_from_52w_high": None if high52 is None else 100 * (last_c / high52 - 1),
        "breakout_date": breakout,
        "breakout_run_intact": intact,
        "weeks_since_breakout": len(after),
        "down_week_returns": tuple(100 * r for r in after if r is not None and r < 0),
        "week_to_date_return": 100 * wtd[0] if wtd and wtd[0] is not None else None,
        "monthly_streak": streak,
        "month_to_date_return": 100 * mtd[0] if mtd and mtd[0] is not None else None,
    }


@pytest.mark.parametrize("seed", range(12))
def test_random_walks_match_plain_python(seed: int) -> None:
    rng = random.Random(seed)
    rows: list[tuple[str, date, float]] = []
    for sym in ("A", "B", "C"):
        d, c = date(2019, 1, 1) + timedelta(rng.randrange(30)), 100.0
        for _ in range(rng.randrange(40, 900)):
            d += timedelta(rng.choice((1, 1, 1, 1, 3)))
            c *= 1 + rng.gauss(0.0004, 0.015)
            rows.append((sym, d, round(c, 2)))
    as_of = max(d for _, d, _ in rows) - timedelta(rng.randrange(60))
    got = price_context([s for s, _, _ in rows], [d for _, d, _ in rows], [c for _, _, c in rows], as_of)
    for ctx in got:
        want = oracle([(d, c) for s, d, c in rows if s == ctx.symbol], as_of, CORRECTION)
        for key, value in want.items():
            have = getattr(ctx, key)
            if isinstance(value, float | tuple):
                assert have == pytest.approx(value, rel=1e-12, abs=1e-12), (ctx.symbol, key)
            else:
                assert have == value, (ctx.symbol, key)


# ------------------------------------------------------------- in scan rows and summary sentences
def test_scan_rows_carry_the_proxys_highs_by_plain_python(demo_store: Path) -> None:
    """The highs in `scan -f json` against the proxy's CSV read with the csv module."""
    r = run_cli("scan", "-f", "json", store=demo_store)
    assert r.code == 0, r.err
    for row in json.loads(r.out)["rows"]:
        with (SAMPLE / "prices" / f"{row['price_symbol']}.csv").open() as f:
            closes = [(D(x["Date"]), float(x["Close"])) for x in csv.DictReader(f)]
        d = D(row["settlement_date"])
        held = [(day, c) for day, c in closes if day <= d]
        close = held[-1][1]
        ath_day, ath = max(held, key=lambda x: (x[1], x[0].toordinal() * -1))  # the first day of the high
        year = [(day, c) for day, c in held if day > d - timedelta(days=365)]
        high_day, high = max(year, key=lambda x: (x[1], -x[0].toordinal()))
        assert row["price_all_time_high"] == ath and row["price_all_time_high_date"] == ath_day.isoformat()
        assert row["price_vs_all_time_high"] == pytest.approx(close / ath - 1)
        assert row["price_high_52w"] == high and row["price_high_52w_date"] == high_day.isoformat()
        assert row["price_vs_52w_high"] == pytest.approx(close / high - 1)
        assert row["price_at_all_time_high"] is (close >= ath)
        n = row["price_down_weeks_since_breakout"]
        assert n is None or n == len(row["price_down_week_returns"]) <= row["price_weeks_since_breakout"]


def test_summary_says_the_price_context_in_words(demo_store: Path) -> None:
    r = run_cli("summary", "-f", "json", store=demo_store)
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    for idx, sentences in doc["text"].items():
        ctx = doc["price_context"][idx]
        said = [s for s in sentences if "52-week high" in s or "all-time high" in s]
        assert len(said) == 1, sentences
        assert f"{ctx['price_vs_52w_high'] * 100:+.1f}%" in said[0]


CTX = {
    "price_all_time_high": 110.0,
    "price_all_time_high_date": "2024-03-01",
    "price_at_all_time_high": False,
    "price_vs_all_time_high": -0.02,
    "price_high_52w": 110.0,
    "price_high_52w_date": "2024-03-01",
    "price_vs_52w_high": -0.02,
    "price_breakout_date": "2024-01-17",
    "price_breakout_run_intact": True,
    "price_weeks_since_breakout": 9,
    "price_down_weeks_since_breakout": 2,
    "price_down_week_returns": [-0.0031, -0.025],
    "price_monthly_streak": 7,
    "price_month_to_date": 0.01,
}


def test_price_context_sentence_as_the_commentary_quotes_it() -> None:
    assert price_context_sentence("SPY", CTX) == (
        "SPY is -2.0% from its 52-week high (2024-03-01); since breaking to a new high on 2024-01-17 it has"
        " posted 2 weekly losses (-0.31%, -2.50%) in 9 complete weeks; it has risen 7 months in a row, on"
        " pace for an 8th consecutive monthly gain."
    )
    # in a correction the breakout run is over: not said; a month going the other way is no "pace"
    worse = {
        **CTX,
        "price_breakout_run_intact": False,
        "price_vs_52w_high": -0.15,
        "price_month_to_date": -0.01,
    }
    assert (
        price_context_sentence("SPY", worse)
        == "SPY is -15.0% from its 52-week high (2024-03-01); it has risen 7 months in a row."
    )
    at_high = {
        **CTX,
        "price_at_all_time_high": True,
        "price_down_weeks_since_breakout": 0,
        "price_monthly_streak": 1,
    }
    assert price_context_sentence("QQQ", at_high) == (
        "QQQ closed at an all-time high in the history held; since breaking to a new high on 2024-01-17 it has"
        " posted no weekly loss in 9 complete weeks."
    )
    assert price_context_sentence("IWM", dict.fromkeys(CTX)) is None
