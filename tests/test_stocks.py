"""stocks.py: a hand-worked store with every number written out, identities, and a naive per-stock loop."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from positioning_cli import measures as ms
from positioning_cli import stocks as st
from positioning_cli.stocks import GateConfig


@pytest.fixture(autouse=True, scope="module")
def _no_minimum_observations() -> Iterator[None]:
    """The hand cases here check percentile arithmetic on a few reports; the minimum number of
    observations that nulls such short windows is tested in test_min_observations.py. Module scope:
    the hand tables are module fixtures, computed before any function-scoped patch."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ms, "MIN_WINDOW_SHARE", 0.0)
        yield


D1, D2, D3, D4 = date(2024, 2, 15), date(2024, 2, 29), date(2024, 3, 15), date(2024, 3, 28)
DATES = (D1, D2, D3, D4)

# symbol: sector, shares outstanding, float, SI per date, ADV on d, closes per date (None: no prices)
HAND: dict[str, tuple[str, int, int | None, tuple[int, ...] | None, int, tuple[float, ...] | None]] = {
    "AAA": (
        "Information Technology",
        10_000_000,
        8_000_000,
        (400_000, 450_000, 500_000, 600_000),
        200_000,
        (20.0, 22.0, 25.0, 24.0),
    ),
    # 2:1 split in the cycle ending D3 (flag on D3): SI roughly doubles, the close halves
    "BBB": (
        "Information Technology",
        5_000_000,
        5_000_000,
        (100_000, 110_000, 240_000, 250_000),
        150_000,
        (40.0, 42.0, 20.0, 21.0),
    ),
    # 1,360,000 / 1,000,000 = 136% of shares outstanding on d -> quarantined (90% on D3: fine then)
    "CCC": (
        "Industrials",
        1_000_000,
        None,
        (800_000, 850_000, 900_000, 1_360_000),
        500_000,
        (10.0, 10.0, 10.0, 10.0),
    ),
    # ADV 12,000 < 100,000 and dollar volume 12,000 × 50 = 600,000 < 1,000,000
    "DDD": (
        "Industrials",
        2_000_000,
        None,
        (30_000, 30_000, 30_000, 30_000),
        12_000,
        (50.0, 50.0, 50.0, 50.0),
    ),
    # no prices at all: price gates unchecked, ADV exactly at the threshold passes
    "EEE": ("Health Care", 5_000_000, None, (300_000, 300_000, 200_000, 250_000), 100_000, None),
    # a member without any short-interest row
    "FFF": ("Health Care", 3_000_000, None, None, 0, None),
}


def _hand_frames() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    mem = pd.DataFrame(
        {
            "index": "RUT",
            "as_of": pd.Timestamp("2024-01-02"),
            "symbol": list(HAND),
            "name": [f"{s} Corp" for s in HAND],
            "sector": [v[0] for v in HAND.values()],
            "shares_outstanding": pd.array([v[1] for v in HAND.values()], dtype="Int64"),
            "float_shares": pd.array([v[2] for v in HAND.values()], dtype="Int64"),
            "weight": 1.0,
        }
    )
    si_rows: list[dict[str, Any]] = []
    px_rows: list[dict[str, Any]] = []
    for sym, (_, _, _, sis, adv, closes) in HAND.items():
        for k, d in enumerate(DATES):
            if sis is not None:
                si_rows.append(
                    {
                        "settlement_date": pd.Timestamp(d),
                        "symbol": sym,
                        "short_interest": sis[k],
                        "avg_daily_volume": adv if k == 3 else 100_000,
                        "split_flag": sym == "BBB" and d == D3,
                        "shares_outstanding": None,
                        "float_shares": None,
                    }
                )
            if closes is not None:
                px_rows.append({"symbol": sym, "date": pd.Timestamp(d), "close": closes[k]})
    # Not a member: must not appear anywhere.
    si_rows.append(
        {
            "settlement_date": pd.Timestamp(D4),
            "symbol": "ZZZ",
            "short_interest": 5,
            "avg_daily_volume": 10,
            "split_flag": False,
            "shares_outstanding": None,
            "float_shares": None,
        }
    )
    si = pd.DataFrame(si_rows)
    for c in ("short_interest", "avg_daily_volume", "shares_outstanding", "float_shares"):
        si[c] = pd.array(si[c], dtype="Int64")
    return si, mem, pd.DataFrame(px_rows)


@pytest.fixture(scope="module")
def hand() -> tuple[pd.DataFrame, pd.DataFrame]:
    si, mem, px = _hand_frames()
    return st.stock_table(si, mem, px, "RUT", D4, GateConfig(), prev_d=D3)


def test_hand_columns_and_ranks(hand: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    rows, _ = hand
    assert list(rows.columns) == st.STOCK_TABLE_COLUMNS
    # AAA sqrt(100 × 75) = 86.6 > BBB sqrt(100 × 50) = 70.7 > EEE (no price percentile: NaN, last)
    assert list(rows["symbol"]) == ["AAA", "BBB", "EEE"]
    assert list(rows["rank"]) == [1, 2, 3]
    # On D3 (ADV 100,000 for all, so DDD passes then): AAA, CCC, DDD all at sqrt(100 × 100) = 100 (ties
    # by symbol: 1, 2, 3), BBB sqrt(100 × 33.3) = 57.7 -> 4, EEE NaN -> 5
    assert list(rows["prev_rank"]) == [1, 4, 5]
    assert set(rows["index"]) == {"RUT"} and set(rows["indices"]) == {"RUT"}
    assert set(rows["settlement_date"]) == {"2024-03-28"}
    assert set(rows["si_base_last"]) == {"2024-03-15"} and set(rows["si_base_3"]) == {"2024-02-15"}
    assert rows["si_base_12m"].isna().all() and rows["si_change_12m"].isna().all()


def test_hand_excluded(hand: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, excl = hand
    assert list(excl.columns) == st.EXCLUDED_COLUMNS
    got = [(r.symbol, r.gate, r.reason) for r in excl.itertuples()]
    assert got == [
        ("CCC", "quarantine", "SI 136.0% of shares outstanding > 100%"),
        ("DDD", "min_avg_daily_volume", "avg daily volume 12,000 < 100,000"),
        ("DDD", "min_dollar_volume", "dollar volume 600,000 < 1,000,000"),
        ("FFF", "no_short_interest", "no short interest report on 2024-03-28"),
    ]


def _row(rows: pd.DataFrame, sym: str) -> dict[str, Any]:
    return st.to_records(rows[rows["symbol"] == sym])[0]


def test_hand_aaa(hand: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    r = _row(hand[0], "AAA")
    assert r["short_interest"] == 600_000 and r["avg_daily_volume"] == 200_000
    assert r["si_pct_so"] == pytest.approx(6.0)  # 600,000 / 10,000,000
    assert r["si_pct_float"] == pytest.approx(7.5)  # 600,000 / 8,000,000
    assert r["days_to_cover"] == pytest.approx(3.0)  # 600,000 / 200,000
    assert r["si_change_last"] == pytest.approx(0.2)  # 600 / 500 − 1
    assert r["si_change_3"] == pytest.approx(0.5)  # 600 / 400 − 1
    # 1Y window holds all four reports; 600k is the highest -> 100, window not covered
    assert (r["si_pct_1y"], r["si_pct_1y_obs"], r["si_pct_1y_complete"]) == (100.0, 4, False)
    assert r["close"] == 24.0
    assert r["price_return_last"] == pytest.approx(24 / 25 - 1)
    assert r["price_return_3"] == pytest.approx(24 / 20 - 1)
    # closes 20, 22, 25, 24: three are <= 24 -> 75
    assert (r["price_pct_1y"], r["price_pct_1y_obs"], r["price_pct_1y_complete"]) == (75.0, 4, False)
    assert r["quadrant"] == "shorts confirmed" and r["quadrant_key"] == "shorts_confirmed"
    assert r["divergence_score"] == pytest.approx(math.sqrt(100 * 75))
    # $: 600k × 24 − 500k × 25 = 1.9M = quantity 100k × 25 (2.5M) + price 600k × (24 − 25) (−0.6M)
    assert (r["short_interest_prev"], r["close_prev"]) == (500_000, 25.0)
    assert r["si_dollar_change_last"] == pytest.approx(1_900_000)
    assert r["si_dollar_quantity_effect"] == pytest.approx(2_500_000)
    assert r["si_dollar_price_effect"] == pytest.approx(-600_000)
    assert r["change_note"] is None and r["split_flag"] is False
    assert (r["price_gates"], r["volume_gates"]) == ("passed", "passed")


def test_hand_split_flagged(hand: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    r = _row(hand[0], "BBB")
    # the flag is on D3: inside (D1, D4] (the 3-report window) but not inside (D3, D4]
    assert r["si_change_last"] == pytest.approx(250 / 240 - 1)
    assert r["price_return_last"] == pytest.approx(21 / 20 - 1)
    assert r["si_change_3"] is None and r["price_return_3"] is None
    assert (
        r["change_note"]
        == "split in window (3): changes nulled; 1Y SI percentile from the split on 2024-03-15"
    )
    # SI percentile only over post-split reports (240k, 250k) -> 100 of 2, flagged incomplete
    assert (r["si_pct_1y"], r["si_pct_1y_obs"], r["si_pct_1y_complete"]) == (100.0, 2, False)
    assert r["price_pct_1y"] == 50.0  # closes 40, 42, 20, 21: two <= 21
    assert r["quadrant_key"] == "pressing_into_strength"
    assert r["si_dollar_change_last"] == pytest.approx(250_000 * 21 - 240_000 * 20)
    assert r["si_dollar_quantity_effect"] == pytest.approx(10_000 * 20)
    assert r["si_dollar_price_effect"] == pytest.approx(250_000 * 1)
    assert r["days_to_cover"] == pytest.approx(250 / 150)


def test_hand_no_prices(hand: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    r = _row(hand[0], "EEE")
    assert (r["price_gates"], r["volume_gates"]) == ("unchecked", "passed")
    assert r["close"] is None and r["price_return_last"] is None and r["price_pct_1y"] is None
    assert r["si_change_last"] == pytest.approx(0.25) and r["si_change_3"] == pytest.approx(250 / 300 - 1)
    assert r["si_pct_1y"] == 50.0  # 300, 300, 200, 250: two <= 250
    assert r["quadrant"] is None and r["divergence_score"] is None
    assert r["si_dollar_change_last"] is None


def test_split_not_excluded_when_gate_off() -> None:
    si, mem, px = _hand_frames()
    rows, _ = st.stock_table(si, mem, px, "RUT", D4, GateConfig(exclude_split_flagged=False))
    r = _row(rows, "BBB")
    assert r["si_change_3"] == pytest.approx(250 / 100 - 1)
    assert r["si_pct_1y_obs"] == 4 and r["si_pct_1y"] == 100.0
    assert r["change_note"] == "split in window (3): changes computed across it"


def test_gates_can_be_relaxed() -> None:
    si, mem, px = _hand_frames()
    rows, excl = st.stock_table(si, mem, px, "RUT", D4, GateConfig(0, 0, 0, 200.0))
    assert set(rows["symbol"]) == {"AAA", "BBB", "CCC", "DDD", "EEE"}
    assert list(excl["symbol"]) == ["FFF"]
    assert rows["prev_rank"].isna().all()  # no prev_d


def test_union_of_indices_lists_memberships() -> None:
    si, mem, px = _hand_frames()
    ndx = mem[mem["symbol"].isin(["AAA", "EEE"])].assign(index="NDX", sector="Tech (NDX)")
    rows, _ = st.stock_table(si, pd.concat([mem, ndx], ignore_index=True), px, None, D4)
    got = dict(zip(rows["symbol"], rows["indices"], strict=True))
    assert got == {"AAA": "NDX,RUT", "BBB": "RUT", "EEE": "NDX,RUT"}
    assert rows["index"].isna().all()
    # first index in sorted order (NDX) supplies name/sector
    assert _row(rows, "AAA")["sector"] == "Tech (NDX)"


def test_dollar_identity_random() -> None:
    rng = np.random.default_rng(7)
    s0, s1 = rng.integers(0, 10**9, 1000).astype(float), rng.integers(0, 10**9, 1000).astype(float)
    p0, p1 = rng.uniform(1, 500, 1000), rng.uniform(1, 500, 1000)
    total = s1 * p1 - s0 * p0
    qty, prc = (s1 - s0) * p0, s1 * (p1 - p0)
    np.testing.assert_allclose(qty + prc, total, rtol=1e-9, atol=1e-3)
    # and on the table
    si, mem, px = _hand_frames()
    rows, _ = st.stock_table(si, mem, px, "RUT", D4, GateConfig(0, 0, 0, 200.0))
    ok = rows["si_dollar_change_last"].notna()
    assert ok.sum() == 4
    np.testing.assert_allclose(
        (rows["si_dollar_quantity_effect"] + rows["si_dollar_price_effect"])[ok],
        rows["si_dollar_change_last"][ok],
    )


# --- sectors --------------------------------------------------------------------------------------------
def test_sector_table_by_hand() -> None:
    si, mem, px = _hand_frames()
    out = st.sector_table(si, mem, px, "RUT", D4, GateConfig(), prev_d=D3)
    assert list(out.columns) == st.SECTOR_TABLE_COLUMNS
    recs = {r["sector"]: r for r in st.to_records(out)}
    it, ind, hc = recs["Information Technology"], recs["Industrials"], recs["Health Care"]
    # IT medians of SI % SO per date: (4, 2) 3.0; (4.5, 2.2) 3.35; (5, 4.8) 4.9; (6, 5) 5.5 -> 100th pct
    assert (it["members"], it["members_with_si"], it["members_with_denominator"]) == (2, 2, 2)
    assert it["median_si_pct_so"] == pytest.approx(5.5)
    assert it["total_si_shares"] == 850_000
    # BBB's flag (D3) is not inside (D3, D4]: no exclusion; 850k / (500k + 240k) − 1
    assert it["si_change_last"] == pytest.approx(850 / 740 - 1) and it["split_excluded_symbols"] == 0
    assert it["si_base_ytd"] is None and it["si_change_ytd"] is None and it["si_change_12m"] is None
    assert (it["si_pct_1y"], it["si_pct_1y_obs"], it["si_pct_1y_complete"]) == (100.0, 4, False)
    # cap-weighted chain: 430/400, 350/430, 345/350 -> levels 1, 1.075, 0.875, 0.8625
    assert it["members_with_price"] == 2
    assert it["price_return_last"] == pytest.approx(345 / 350 - 1)
    assert it["price_pct_1y"] == 25.0
    assert it["quadrant_key"] == "shorts_confirmed"
    assert it["divergence_score"] == pytest.approx(50.0)
    # Industrials: CCC quarantined on d (136%): kept out of the median, its shares still in the total
    assert (ind["members"], ind["members_with_si"], ind["quarantined"]) == (2, 2, 1)
    assert ind["median_si_pct_so"] == pytest.approx(1.5)
    assert ind["total_si_shares"] == 1_390_000
    # medians 40.75, 43.25, 45.75 (CCC 80/85/90% with DDD 1.5%), then 1.5 -> lowest of 4 -> 25
    assert ind["si_pct_1y"] == 25.0
    assert ind["price_return_last"] == 0.0 and ind["quadrant"] is None  # DDD flat at 50; CCC has no weight
    # Health Care: FFF has no SI; EEE 6, 6, 4, 5% -> 50; no prices -> price fields, quadrant, score null
    assert (hc["members"], hc["members_with_si"], hc["median_si_pct_so"]) == (2, 1, 5.0)
    assert hc["si_pct_1y"] == 50.0
    assert hc["price_return_last"] is None and hc["price_pct_1y"] is None and hc["members_with_price"] == 0
    assert hc["quadrant"] is None and hc["divergence_score"] is None
    assert [r["sector"] for r in st.to_records(out)] == [
        "Information Technology",
        "Health Care",
        "Industrials",
    ]
    assert list(out["rank"]) == [1, 2, 3]
    # On D3: IT medians 3.0, 3.35, 4.9 -> 100; Industrials 40.75, 43.25, 45.75 -> 100; HC 6, 6, 4 -> 33.3
    assert (it["prev_rank"], ind["prev_rank"], hc["prev_rank"]) == (2, 1, 3)


def test_sector_split_excluded_from_both_sums() -> None:
    si, mem, px = _hand_frames()
    out = st.sector_table(si, mem, px, "RUT", D3, GateConfig())
    it = {r["sector"]: r for r in st.to_records(out)}["Information Technology"]
    # BBB flagged on D3 is inside (D2, D3]: AAA alone, 500k / 450k − 1
    assert it["si_change_last"] == pytest.approx(500 / 450 - 1) and it["split_excluded_symbols"] == 1


# --- randomised: stock_table against a naive per-stock loop ----------------------------------------------
def _random_store(seed: int, n_sym: int, n_dates: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = random.Random(seed)
    syms = [f"S{i:03d}" for i in range(n_sym)]
    start = date(2022, 1, 14)
    dates = [start + timedelta(days=15 * k) for k in range(n_dates)]
    mem_rows = []
    for as_of, share in ((date(2021, 6, 1), 0.8), (dates[n_dates // 2], 0.8)):
        for s in syms:
            if rng.random() < share:
                so = rng.choice([1, 1_000, 5_000_000, 20_000_000, 80_000_000, None])
                mem_rows.append(("RUT", as_of, s, f"{s} Inc", rng.choice(["A", "B", "C", None]), so, None))
    mem = pd.DataFrame(
        mem_rows, columns=["index", "as_of", "symbol", "name", "sector", "shares_outstanding", "float_shares"]
    )
    mem["as_of"] = pd.to_datetime(mem["as_of"])
    mem["shares_outstanding"] = pd.array(mem["shares_outstanding"], dtype="Int64")
    mem["float_shares"] = pd.array(mem["float_shares"], dtype="Int64")
    si_rows = []
    for d in dates:
        for s in syms:
            if rng.random() < 0.9:
                si_rows.append(
                    (
                        pd.Timestamp(d),
                        s,
                        rng.randrange(0, 3_000_000),
                        rng.choice([0, 5_000, 150_000, 900_000]),
                        rng.random() < 0.03,
                    )
                )
    si = pd.DataFrame(
        si_rows, columns=["settlement_date", "symbol", "short_interest", "avg_daily_volume", "split_flag"]
    )
    si["short_interest"] = pd.array(si["short_interest"], dtype="Int64")
    si["avg_daily_volume"] = pd.array(si["avg_daily_volume"], dtype="Int64")
    px_rows = []
    day0 = start - timedelta(days=400)
    for s in syms:
        if rng.random() < 0.15:
            continue  # no prices
        p = rng.uniform(2, 80)
        t = day0
        while t <= dates[-1]:
            if t.weekday() < 5 and rng.random() < 0.95:
                p = max(0.5, p * (1 + rng.gauss(0, 0.02)))
                px_rows.append((s, pd.Timestamp(t), round(p, 2)))
            t += timedelta(days=1)
    px = pd.DataFrame(px_rows, columns=["symbol", "date", "close"])
    return si, mem, px


def _naive(si: pd.DataFrame, mem: pd.DataFrame, px: pd.DataFrame, d: date, g: GateConfig) -> tuple[dict, set]:
    """Everything per stock in plain Python over dicts, from the definitions in stocks.py's docstring."""
    dts = pd.Timestamp(d)
    snaps = sorted(set(mem["as_of"]))
    snap = max([s for s in snaps if s <= dts], default=snaps[0])
    cons = {r.symbol: r for r in mem[mem["as_of"] == snap].itertuples()}
    si_by: dict[str, dict[pd.Timestamp, tuple[float, float, bool]]] = {}
    for r in si.itertuples():
        if r.settlement_date <= dts:
            si_by.setdefault(r.symbol, {})[r.settlement_date] = (
                float(r.short_interest),
                float(r.avg_daily_volume),
                bool(r.split_flag),
            )
    all_dates = sorted({r.settlement_date for r in si.itertuples() if r.settlement_date <= dts})
    before = [x for x in all_dates if x < dts]
    b_last = before[-1] if before else None
    b_3 = before[-3] if len(before) >= 3 else None
    b_12 = max([x for x in all_dates if x <= dts - pd.Timedelta(days=365)], default=None)
    closes: dict[str, list[tuple[pd.Timestamp, float]]] = {}
    for r in px.itertuples():
        if r.date <= dts:
            closes.setdefault(r.symbol, []).append((r.date, r.close))
    close_map = {sym: dict(v) for sym, v in closes.items()}

    def close_at(sym: str, t: pd.Timestamp | None) -> float:
        if t is None:
            return math.nan
        by_day = close_map.get(sym, {})
        for back in range(6):  # t, t − 1 day, ..., t − 5 days
            if t - pd.Timedelta(days=back) in by_day:
                return by_day[t - pd.Timedelta(days=back)]
        return math.nan

    rows: dict[str, dict[str, Any]] = {}
    excluded: set[tuple[str, str]] = set()
    start = dts - pd.Timedelta(days=365)
    for sym, mr in cons.items():
        hist = si_by.get(sym, {})
        if dts not in hist:
            excluded.add((sym, "no_short_interest"))
            continue
        s1, adv, _ = hist[dts]
        so = float(mr.shares_outstanding) if not pd.isna(mr.shares_outstanding) else math.nan
        pct = 100 * s1 / so if so > 1 else math.nan
        c1 = close_at(sym, dts)
        fails = []
        if (not math.isnan(so) and so <= 1) or pct > g.max_si_pct:
            fails.append("quarantine")
        if adv < g.min_avg_daily_volume:
            fails.append("min_avg_daily_volume")
        if not math.isnan(c1) and c1 < g.min_price:
            fails.append("min_price")
        if not math.isnan(c1) and adv * c1 < g.min_dollar_volume:
            fails.append("min_dollar_volume")
        if fails:
            excluded.update((sym, f) for f in fails)
            continue
        row: dict[str, Any] = {
            "si_pct_so": pct,
            "days_to_cover": max(s1 / adv, 1.0) if adv > 0 else math.nan,
            "close": c1,
        }
        for kind, b in (("last", b_last), ("3", b_3), ("12m", b_12)):
            split = b is not None and any(f for (x, (_, _, f)) in hist.items() if b < x <= dts)
            s0 = hist[b][0] if b is not None and b in hist else math.nan
            c0 = close_at(sym, b)
            row[f"si_change_{kind}"] = math.nan if split or not s0 else s1 / s0 - 1
            row[f"price_return_{kind}"] = math.nan if split or not c0 else c1 / c0 - 1
            if kind == "last":
                row["dq"] = math.nan if split else (s1 - s0) * c0
                row["dp"] = math.nan if split else s1 * (c1 - c0)
        last_split = max([x for (x, (_, _, f)) in hist.items() if f and x > start], default=None)
        lo = max(start, last_split - pd.Timedelta(days=1)) if last_split is not None else start
        win = [v for (x, (v, _, _)) in hist.items() if lo < x <= dts]
        row["si_pct_1y"] = 100 * sum(v <= s1 for v in win) / len(win)
        row["si_pct_1y_obs"] = len(win)
        pw = [c for (x, c) in closes.get(sym, []) if start < x <= dts]
        row["price_pct_1y"] = (
            100 * sum(c <= c1 for c in pw) / len(pw) if pw and not math.isnan(c1) else math.nan
        )
        sp, pp = row["si_pct_1y"], row["price_pct_1y"]
        row["divergence_score"] = math.sqrt(sp * pp) if not (math.isnan(sp) or math.isnan(pp)) else math.nan
        rows[sym] = row
    return rows, excluded


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_stock_table_matches_naive_loop(seed: int) -> None:
    si, mem, px = _random_store(seed, 40, 36)
    dates = sorted(set(si["settlement_date"]))
    gates = GateConfig(min_avg_daily_volume=10_000, min_price=5.0, min_dollar_volume=100_000)
    for d in (dates[-1].date(), dates[20].date(), dates[2].date()):
        rows, excl = st.stock_table(si, mem, px, "RUT", d, gates)
        want, want_excl = _naive(si, mem, px, d, gates)
        assert set(zip(excl["symbol"], excl["gate"], strict=True)) == want_excl
        assert set(rows["symbol"]) == set(want)
        for rec in st.to_records(rows):
            w = want[rec["symbol"]]
            for k, v in w.items():
                got = {"dq": rec["si_dollar_quantity_effect"], "dp": rec["si_dollar_price_effect"]}.get(
                    k, rec.get(k)
                )
                got = math.nan if got is None else got
                assert (math.isnan(v) and math.isnan(got)) or got == pytest.approx(v, rel=1e-9), (
                    seed,
                    d,
                    rec["symbol"],
                    k,
                )
        # ranks: divergence desc, NaN last, ties by symbol
        order = sorted(
            want,
            key=lambda s: (
                math.isnan(want[s]["divergence_score"]),
                -want[s]["divergence_score"] if not math.isnan(want[s]["divergence_score"]) else 0,
                s,
            ),
        )
        assert list(rows["symbol"]) == order
