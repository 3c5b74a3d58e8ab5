"""metrics.py, measures.py and the split-excluded totals against independent computations: hand-worked numbers and naive per-date Python loops."""

from __future__ import annotations

import math
import random
import statistics
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from positioning_cli import measures as ms
from positioning_cli import metrics as m
from positioning_cli.analytics import engine
from positioning_cli.indices import SplitTotals
from positioning_cli.levels import Levels


@pytest.fixture(autouse=True)
def _no_minimum_observations(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hand cases here check percentile arithmetic on a few reports; the minimum number of
    observations that nulls such short windows is tested in test_min_observations.py."""
    monkeypatch.setattr(ms, "MIN_WINDOW_SHARE", 0.0)


D = date(2024, 1, 15)  # a Monday settlement date


def _levels(
    si: pd.DataFrame,
    members: pd.DataFrame,
    closes: pd.DataFrame | None,
    index: str,
    max_si_pct: float = 100.0,
) -> Levels:
    """The engine's levels of ``index`` (sql/levels.sql) over frames in memory."""
    out = engine.index_levels(engine.LevelInputs(si, members, closes), (), max_si_pct)
    return out[index]


def _day(d: date) -> np.datetime64:
    return np.datetime64(d, "D")


def _members(rows: list[tuple], index: str = "RUT") -> pd.DataFrame:
    """rows: (as_of, symbol, sector, shares_outstanding, float_shares)."""
    return pd.DataFrame(
        {
            "index": [index] * len(rows),
            "as_of": [r[0] for r in rows],
            "symbol": [r[1] for r in rows],
            "name": [f"{r[1]} Inc" for r in rows],
            "sector": [r[2] for r in rows],
            "shares_outstanding": pd.array([r[3] for r in rows], dtype="Int64"),
            "float_shares": pd.array([r[4] for r in rows], dtype="Int64"),
            "weight": [1.0] * len(rows),
        }
    )


def _si(rows: list[tuple]) -> pd.DataFrame:
    """rows: (settlement_date, symbol, short_interest, avg_daily_volume, split_flag, so, float)."""
    return pd.DataFrame(
        {
            "settlement_date": [r[0] for r in rows],
            "symbol": [r[1] for r in rows],
            "short_interest": pd.array([r[2] for r in rows], dtype="Int64"),
            "avg_daily_volume": pd.array([r[3] for r in rows], dtype="Int64"),
            "split_flag": [r[4] for r in rows],
            "shares_outstanding": pd.array([r[5] for r in rows], dtype="Int64"),
            "float_shares": pd.array([r[6] for r in rows], dtype="Int64"),
        }
    )


# --- a hand-worked store ----------------------------------------------------------------------------
# member  SI    SO (members / SI row)  float  ADV   close on d            notes
# A       10    100                    50     5     10 (Fri 12th, 3d old)  a later close (16th) must be ignored
# B       20    1000                   500    40    20                     split-flagged
# C       30    None / 300 (SI row)    200    None  5                      SO from the SI row
# D       1361  1000                   None   10    1                      SI 136.1% of SO -> quarantined
# E       50    1 / None               None   100   2 on the 9th (6d old)  SO of 1 -> quarantined; stale close
# F       -     500                    -      -     -                      constituent without an SI row
# G (SI row only, not a constituent) must not appear anywhere.
HAND_MEMBERS = _members(
    [
        (date(2024, 1, 1), "A", "Tech", 100, 50),
        (date(2024, 1, 1), "B", "Tech", 1000, 500),
        (date(2024, 1, 1), "C", "Energy", None, 200),
        (date(2024, 1, 1), "D", "Energy", 1000, None),
        (date(2024, 1, 1), "E", "Health", 1, None),
        (date(2024, 1, 1), "F", "Health", 500, None),
    ]
)
HAND_SI = _si(
    [
        (D, "A", 10, 5, False, None, None),
        (D, "B", 20, 40, True, None, None),
        (D, "C", 30, None, False, 300, None),
        (D, "D", 1361, 10, False, None, None),
        (D, "E", 50, 100, False, None, None),
        (D, "G", 99999, 1, False, 10, None),
    ]
)
HAND_CLOSES = pd.DataFrame(
    {
        "symbol": ["A", "A", "B", "C", "D", "E", "G"],
        "date": [
            date(2024, 1, 12),
            date(2024, 1, 16),
            D,
            D,
            D,
            date(2024, 1, 9),
            D,
        ],
        "close": [10.0, 999.0, 20.0, 5.0, 1.0, 2.0, 7.0],
    }
)


def test_index_levels_hand_worked() -> None:
    out = _levels(HAND_SI, HAND_MEMBERS, HAND_CLOSES, "RUT")
    assert list(out.days) == [_day(D)]
    row = out.at(D)
    assert row["members"] == 6  # A..F
    assert row["members_with_si"] == 5  # F has no SI row, G is no constituent
    assert row["members_with_denominator"] == 4  # A, B, C (SI-row SO), D; E's SO of 1 is no denominator
    assert row["members_with_price"] == 4  # E's close is 6 days old
    assert row["total_si_shares"] == 10 + 20 + 30 + 1361 + 50  # quarantined D, E still count
    assert row["total_si_value"] == pytest.approx(10 * 10 + 20 * 20 + 30 * 5 + 1361 * 1)
    # SI % SO: A 10, B 2, C 10 (D, E quarantined) -> median 10
    assert row["median_si_pct_so"] == pytest.approx(10.0)
    # 100 * (10*10 + 20*20 + 30*5) / (100*10 + 1000*20 + 300*5) = 100 * 650 / 22500
    assert row["cap_weighted_si_pct_so"] == pytest.approx(100 * 650 / 22500)
    # SI % float: A 20, B 4, C 15 -> 15
    assert row["median_si_pct_float"] == pytest.approx(15.0)
    # ADV > 0: A, B, D, E -> (10 + 20 + 1361 + 50) / (5 + 40 + 10 + 100)
    assert row["agg_days_to_cover"] == pytest.approx(1441 / 155)
    # per member: A 2.0, B 0.5 -> 1.0, D 136.1, E 0.5 -> 1.0 ; median of 1, 1, 2, 136.1 = 1.5
    assert row["median_days_to_cover"] == pytest.approx(1.5)
    assert row["quarantined"] == 2
    assert row["split_flagged"] == 1
    assert row["membership_as_of"] == _day(date(2024, 1, 1))
    assert not row["before_first_snapshot"]


def test_quarantine_threshold_is_a_parameter() -> None:
    row = _levels(HAND_SI, HAND_MEMBERS, HAND_CLOSES, "RUT", max_si_pct=200.0).at(D)
    assert row["quarantined"] == 1  # only the SO of 1 now
    assert row["median_si_pct_so"] == pytest.approx(10.0)  # median of 2, 10, 10, 136.1
    assert row["cap_weighted_si_pct_so"] == pytest.approx(100 * (650 + 1361) / (22500 + 1000))


def test_index_levels_without_closes() -> None:
    row = _levels(HAND_SI, HAND_MEMBERS, None, "RUT").at(D)
    assert row["members_with_price"] == 0
    assert math.isnan(row["total_si_value"])
    assert math.isnan(row["cap_weighted_si_pct_so"])
    assert row["total_si_shares"] == 1471


def test_stock_rows_hand_worked() -> None:
    rows = m.stock_rows(HAND_SI, HAND_MEMBERS, "RUT", pd.Timestamp(D), closes=HAND_CLOSES)
    assert list(rows["symbol"]) == ["A", "B", "C", "D", "E"]
    by = rows.set_index("symbol")
    assert by.loc["A", "si_pct_so"] == pytest.approx(10.0)
    assert by.loc["C", "shares_outstanding"] == 300
    assert by.loc["C", "sector"] == "Energy"
    assert by["days_to_cover"].isna()["C"]
    assert by.loc["B", "days_to_cover"] == 1.0  # FINRA floor
    assert by.loc["A", "close"] == 10.0
    assert by["close"].isna()["E"]
    assert by.loc["D", "quarantine_reason"] == "SI 136.1% of shares outstanding > 100%"
    assert by.loc["E", "quarantine_reason"] == "shares outstanding of 1"
    assert by.loc["A", "quarantine_reason"] is None
    assert bool(by.loc["B", "split_flag"])
    assert m.stock_rows(HAND_SI, HAND_MEMBERS, "RUT", date(2024, 1, 16)).empty


def test_median_of_an_even_count_is_the_mean_of_the_two_middle_values_to_the_bit() -> None:
    """README "Choices": (a + b) / 2, as statistics.median computes it; DuckDB's own median
    (a + (b - a) / 2) gives 0.4 here, one bit away."""
    members = _members([(date(2024, 1, 1), s, "x", 1000, 1000) for s in ("A", "B")])
    si = _si([(D, "A", 1, 1, False, None, None), (D, "B", 7, 1, False, None, None)])
    row = _levels(si, members, None, "RUT").at(D)
    pcts = [100 * 1 / 1000, 100 * 7 / 1000]
    assert row["median_si_pct_so"] == statistics.median(pcts) == row["median_si_pct_float"]
    assert row["median_si_pct_so"] != pcts[0] + (pcts[1] - pcts[0]) / 2


def test_an_index_without_membership_has_no_levels() -> None:
    out = engine.index_levels(engine.LevelInputs(HAND_SI, HAND_MEMBERS))
    assert list(out) == ["RUT"]


# --- membership --------------------------------------------------------------------------------------
SNAP_MEMBERS = pd.concat(
    [
        _members([(date(2024, 1, 1), "A", "x", 10, None), (date(2024, 1, 1), "B", "x", 10, None)]),
        _members([(date(2024, 2, 1), "B", "x", 10, None), (date(2024, 2, 1), "C", "x", 10, None)]),
        _members([(date(2024, 3, 1), "Z", "x", 10, None)], index="NDX"),
    ],
    ignore_index=True,
)


def test_membership_on() -> None:
    rows, as_of, before = m.membership_on(SNAP_MEMBERS, "RUT", date(2024, 1, 31))
    assert (sorted(rows["symbol"]), as_of, before) == (["A", "B"], date(2024, 1, 1), False)
    rows, as_of, before = m.membership_on(SNAP_MEMBERS, "RUT", pd.Timestamp(2024, 2, 1))
    assert (sorted(rows["symbol"]), as_of, before) == (["B", "C"], date(2024, 2, 1), False)
    rows, as_of, before = m.membership_on(SNAP_MEMBERS, "RUT", date(2023, 6, 30))
    assert (sorted(rows["symbol"]), as_of, before) == (["A", "B"], date(2024, 1, 1), True)
    rows, as_of, before = m.membership_on(SNAP_MEMBERS, "SPX", date(2024, 6, 30))
    assert rows.empty and as_of is None


def test_index_levels_follows_membership_changes() -> None:
    si = _si(
        [
            (date(2023, 12, 15), "A", 1, 1, False, None, None),
            (date(2023, 12, 15), "C", 100, 1, False, None, None),
            (date(2024, 2, 15), "A", 7, 1, False, None, None),
            (date(2024, 2, 15), "B", 2, 1, False, None, None),
            (date(2024, 2, 15), "C", 3, 1, False, None, None),
        ]
    )
    out = _levels(si, SNAP_MEMBERS, None, "RUT")
    first, second = out.at(date(2023, 12, 15)), out.at(date(2024, 2, 15))
    assert first["before_first_snapshot"] and first["total_si_shares"] == 1  # Jan list: A, B
    assert first["members"] == 2 and first["members_with_si"] == 1
    assert not second["before_first_snapshot"] and second["total_si_shares"] == 5  # Feb list: B, C
    assert second["membership_as_of"] == _day(date(2024, 2, 1))


# --- naive per-date loop on a random store -----------------------------------------------------------


def _random_store(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rnd = random.Random(seed)
    symbols = [f"S{i:02d}" for i in range(30)]
    dates = [date(2022, 1, 14) + timedelta(days=14 * k) for k in range(20)]
    snapshots = [date(2022, 2, 1), date(2022, 5, 1), date(2022, 8, 1)]  # first settlement date precedes them
    mem_rows = []
    for snap in snapshots:
        for s in rnd.sample(symbols, 20):
            so = rnd.choice([None, 0, 1, rnd.randint(1000, 100000), rnd.randint(1000, 100000)])
            fl = rnd.choice([None, 1, rnd.randint(500, 50000)])
            mem_rows.append((snap, s, rnd.choice("XYZ"), so, fl))
    si_rows = []
    for d in dates:
        for s in symbols:
            if rnd.random() < 0.2:
                continue
            si_val = rnd.choice([rnd.randint(0, 5000), rnd.randint(0, 5000), rnd.randint(100000, 300000)])
            adv = rnd.choice([None, 0, rnd.randint(1, 3000), rnd.randint(1, 3000)])
            so = rnd.choice([None, None, 1, rnd.randint(1000, 100000)])
            fl = rnd.choice([None, rnd.randint(500, 50000)])
            si_rows.append((d, s, si_val, adv, rnd.random() < 0.1, so, fl))
    close_rows = []
    day = date(2022, 1, 1)
    while day <= dates[-1] + timedelta(days=3):
        for s in symbols:
            if rnd.random() < 0.6:
                close_rows.append((s, day, rnd.uniform(1, 50)))
        day += timedelta(days=1)
    closes = pd.DataFrame(close_rows, columns=["symbol", "date", "close"])
    return _si(si_rows), _members(mem_rows), closes


def _naive_levels(si: pd.DataFrame, members: pd.DataFrame, closes: pd.DataFrame, max_pct: float) -> dict:
    def num(v: Any) -> float | None:
        return None if v is None or pd.isna(v) else float(v)

    out = {}
    snaps = sorted(set(members["as_of"]))
    for d in sorted(set(si["settlement_date"])):
        eligible = [s for s in snaps if s <= d]
        snap = eligible[-1] if eligible else snaps[0]
        cons = {r.symbol: r for r in members.itertuples() if r.as_of == snap}
        tot = val = capn = capd = advsi = adv = 0.0
        n_si = n_den = n_px = n_q = n_split = 0
        pcts, fpcts, dtcs = [], [], []
        for r in si.itertuples():
            if r.settlement_date != d or r.symbol not in cons:
                continue
            mrow = cons[r.symbol]
            n_si += 1
            sh = float(r.short_interest)  # type: ignore[arg-type]
            tot += sh
            so_m, so_s = num(mrow.shares_outstanding), num(r.shares_outstanding)
            fl_m, fl_s = num(mrow.float_shares), num(r.float_shares)
            so: float | None
            if so_m is not None and so_m > 1:
                so = so_m
            elif so_s is not None and so_s > 1:
                so = so_s
            else:
                so = so_m if so_m is not None else so_s
            if fl_m is not None and fl_m > 1:
                fl = fl_m
            elif fl_s is not None and fl_s > 1:
                fl = fl_s
            else:
                fl = None
            px = None
            for k in range(6):
                hit = closes[(closes["symbol"] == r.symbol) & (closes["date"] == d - timedelta(days=k))]
                if len(hit):
                    px = float(hit["close"].iloc[0])
                    break
            if px is not None:
                n_px += 1
                val += sh * px
            if r.split_flag:
                n_split += 1
            quarantined = so is not None and (so <= 1 or 100 * sh / so > max_pct)
            n_q += quarantined
            if so is not None and so > 1:
                n_den += 1
            if not quarantined:
                if so is not None:
                    pcts.append(100 * sh / so)
                    if px is not None:
                        capn += sh * px
                        capd += so * px
                if fl is not None:
                    fpcts.append(100 * sh / fl)
            a = num(r.avg_daily_volume)
            if a is not None and a > 0:
                advsi += sh
                adv += a
                dtcs.append(max(sh / a, 1.0))
        nan = math.nan
        out[pd.Timestamp(d)] = {
            "members": len(cons),
            "members_with_si": n_si,
            "members_with_denominator": n_den,
            "members_with_price": n_px,
            "total_si_shares": tot if n_si else nan,
            "total_si_value": val if n_px else nan,
            "median_si_pct_so": statistics.median(pcts) if pcts else nan,
            "cap_weighted_si_pct_so": 100 * capn / capd if capd else nan,
            "median_si_pct_float": statistics.median(fpcts) if fpcts else nan,
            "agg_days_to_cover": advsi / adv if adv else nan,
            "median_days_to_cover": statistics.median(dtcs) if dtcs else nan,
            "quarantined": n_q,
            "split_flagged": n_split,
            "membership_as_of": _day(snap),
            "before_first_snapshot": not eligible,
        }
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_index_levels_matches_naive_loop(seed: int) -> None:
    si, members, closes = _random_store(seed)
    got = _levels(si, members, closes, "RUT", max_si_pct=100.0)
    want = _naive_levels(si, members, closes, 100.0)
    assert list(got.days) == [_day(d) for d in want]
    assert got["before_first_snapshot"][0]  # the store exercises the before-first path
    assert got["quarantined"].sum() > 0 and got["split_flagged"].sum() > 0
    for d, expected in want.items():
        row = got.at(d)
        for col, v in expected.items():
            g = row[col]
            if isinstance(v, float) and math.isnan(v):
                assert math.isnan(g), (d, col, g)
            elif isinstance(v, float):
                assert g == pytest.approx(v, rel=1e-12), (d, col)
            else:
                assert g == v, (d, col)


def test_index_levels_at_scale_keeps_its_shape() -> None:
    rng = np.random.default_rng(0)
    symbols = np.array([f"S{i}" for i in range(2200)])
    dates = pd.date_range("2017-01-13", periods=170, freq="14D")
    n = len(dates) * len(symbols)
    si = pd.DataFrame(
        {
            "settlement_date": np.repeat(dates, len(symbols)),
            "symbol": np.tile(symbols, len(dates)),
            "short_interest": rng.integers(0, 10**7, n),
            "avg_daily_volume": rng.integers(0, 10**6, n),
            "split_flag": rng.random(n) < 0.01,
            "shares_outstanding": pd.array([None] * n, dtype="Int64"),
            "float_shares": pd.array([None] * n, dtype="Int64"),
        }
    )
    snaps = pd.date_range("2017-01-01", periods=9, freq="365D")
    members = pd.DataFrame(
        {
            "index": "RUT",
            "as_of": np.repeat(snaps, 2000),
            "symbol": np.concatenate([rng.choice(symbols, 2000, replace=False) for _ in snaps]),
            "name": "n",
            "sector": "s",
            "shares_outstanding": rng.integers(10**6, 10**9, 2000 * len(snaps)),
            "float_shares": rng.integers(10**6, 10**9, 2000 * len(snaps)),
            "weight": 0.05,
        }
    )
    closes = pd.DataFrame(
        {
            "symbol": np.repeat(symbols, len(dates)),
            "date": np.tile(dates, len(symbols)),
            "close": rng.uniform(1, 100, n),
        }
    )
    # A shape check at scale; speed itself is measured by `make bench`, never in a test.
    out = _levels(si, members, closes, "RUT")
    assert len(out) == 170 and (out["members"] == 2000).all()


# --- changes ------------------------------------------------------------------------------------------
CHANGE_DATES = [
    date(2022, 12, 15),
    date(2022, 12, 30),
    date(2023, 1, 13),
    date(2023, 6, 15),
    date(2023, 12, 29),
    date(2024, 1, 12),
    date(2024, 1, 31),
]


def test_previous_date_by_hand() -> None:
    d = date(2024, 1, 31)
    assert ms.previous_date(CHANGE_DATES, d, "last") == pd.Timestamp(2024, 1, 12)
    assert ms.previous_date(CHANGE_DATES, d, "ytd") == pd.Timestamp(2023, 12, 29)  # last report of 2023
    assert ms.previous_date(CHANGE_DATES, d, "12m") == pd.Timestamp(2023, 1, 13)  # <= 2023-01-31
    d = pd.Timestamp(2024, 1, 12)
    assert ms.previous_date(CHANGE_DATES, d, "12m") == pd.Timestamp(2022, 12, 30)  # <= 2023-01-12
    # d − 365 days lands exactly on an observation: inclusive
    assert ms.previous_date(CHANGE_DATES, date(2024, 1, 13), "12m") == pd.Timestamp(2023, 1, 13)
    assert ms.previous_date(CHANGE_DATES, date(2023, 1, 13), "ytd") == pd.Timestamp(2022, 12, 30)
    assert ms.previous_date(CHANGE_DATES, date(2022, 12, 15), "last") is None
    assert ms.previous_date(CHANGE_DATES, date(2022, 12, 30), "ytd") is None
    assert ms.previous_date(CHANGE_DATES, date(2023, 6, 15), "12m") is None
    with pytest.raises(ValueError):
        ms.previous_date(CHANGE_DATES, d, "5y")


def test_change_by_hand() -> None:
    s = pd.Series([100.0, 80.0, 90.0, 120.0, 200.0, 150.0, 156.0], index=CHANGE_DATES)
    c = ms.change(*_xy(s), date(2024, 1, 31), "last")
    assert c.value == pytest.approx(156 / 150 - 1) and c.base_date == pd.Timestamp(2024, 1, 12)
    assert ms.change(*_xy(s), date(2024, 1, 31), "ytd").value == pytest.approx(156 / 200 - 1)
    assert ms.change(*_xy(s), date(2024, 1, 31), "12m").value == pytest.approx(156 / 90 - 1)
    none = ms.change(*_xy(s), date(2022, 12, 15), "last")
    assert math.isnan(none.value) and none.base_date is None
    assert math.isnan(ms.change(*_xy(s), date(2024, 2, 1), "last").value)  # x(d) missing
    zero = s.copy()
    zero.iloc[5] = 0.0
    assert math.isnan(ms.change(*_xy(zero), date(2024, 1, 31), "last").value)
    gap = s.copy()
    gap.iloc[5] = math.nan  # the base keeps its date; no silent fallback to an older report
    c = ms.change(*_xy(gap), date(2024, 1, 31), "last")
    assert math.isnan(c.value) and c.base_date == pd.Timestamp(2024, 1, 12)


def _xy(series: pd.Series) -> tuple[Any, np.ndarray]:
    """A pandas series as measures' (days, values) pair."""
    return series.index, series.to_numpy(dtype="float64")


# --- split exclusion ----------------------------------------------------------------------------------
T0, T1, T2 = date(2024, 1, 12), date(2024, 1, 31), date(2024, 2, 15)
SPLIT_MEMBERS = _members([(date(2024, 1, 1), s, "x", 1000, None) for s in ("A", "B", "C")])


def _split_si(flags: dict[tuple[date, str], bool]) -> pd.DataFrame:
    values = {"A": (100, 110, 120), "B": (50, 60, 130), "C": (10, 10, 10), "X": (5, 5, 5)}
    return _si(
        [
            (t, s, v[i], 1, flags.get((t, s), False), None, None)
            for s, v in values.items()
            for i, t in enumerate((T0, T1, T2))
        ]
    )


def _split_change(
    si: pd.DataFrame, members: pd.DataFrame, index: str, d: Any, base: Any
) -> tuple[float, int]:
    """indices.SplitTotals on these frames, each date against the snapshot its levels used."""
    levels = _levels(si, members, None, index)
    matched = SplitTotals.from_frames(si, members).change(index, levels, ms.day(d), ms.day(base))
    return matched.value, len(matched.split)


def test_split_excluded_change_by_hand() -> None:
    si = _split_si({(T2, "B"): True, (T1, "X"): True})  # X is no constituent: not counted
    value, n = _split_change(si, SPLIT_MEMBERS, "RUT", T2, T0)
    assert value == pytest.approx((120 + 10) / (100 + 10) - 1)
    assert n == 1
    # B's flag on the base date itself is outside (base, d]
    value, n = _split_change(si, SPLIT_MEMBERS, "RUT", T1, T0)
    assert value == pytest.approx((110 + 60 + 10) / (100 + 50 + 10) - 1) and n == 0
    flagged_base = _split_si({(T0, "B"): True})
    assert _split_change(flagged_base, SPLIT_MEMBERS, "RUT", T2, T0)[1] == 0


def test_split_and_reconstitution_by_hand() -> None:
    """Base T1 uses the snapshot of 2024-01-01 (A, B), d = T2 that of 2024-02-01 (A, C, D): the change
    is over A, C, D; a split flag counts only for one of them."""
    members = _members(
        [(date(2024, 1, 1), s, "x", 1000, None) for s in ("A", "B")]
        + [(date(2024, 2, 1), s, "x", 1000, None) for s in ("A", "C", "D")]
    )
    values = {T1: {"A": 100, "B": 50, "C": 30, "D": 10}, T2: {"A": 120, "B": 500, "C": 90, "D": 25}}

    def frame(flagged: str) -> pd.DataFrame:
        return _si(
            [
                (t, s, v, 1, (t, s) == (T2, flagged), None, None)
                for t, row in values.items()
                for s, v in row.items()
            ]
        )

    value, n = _split_change(frame("B"), members, "RUT", T2, T1)  # B is no constituent on d
    assert value == pytest.approx((120 + 90 + 25) / (100 + 30 + 10) - 1) and n == 0
    assert value != pytest.approx((120 + 90 + 25) / (100 + 50) - 1)  # the levels' own memberships
    value, n = _split_change(frame("C"), members, "RUT", T2, T1)
    assert value == pytest.approx((120 + 25) / (100 + 10) - 1) and n == 1


@pytest.mark.parametrize("seed", [4, 5])
def test_like_for_like_equals_plain_change_when_nothing_moves(seed: int) -> None:
    """Without split flags, with one membership snapshot and every member reporting on both dates, the
    like-for-like change is the change of the level (tests/test_like_for_like.py: when they differ)."""
    si, members, _ = _random_store(seed)
    si["split_flag"] = False
    members = members[members["as_of"] == members["as_of"].min()]
    dates = sorted(set(si["settlement_date"]))
    for d, base in [(dates[-1], dates[-2]), (dates[-1], dates[0]), (dates[10], dates[3])]:
        on = si[si["settlement_date"].isin([d, base])]
        both = on.groupby("symbol")["settlement_date"].transform("size") == 2
        pair = on[both.to_numpy()].reset_index(drop=True)
        levels = _levels(pair, members, None, "RUT")
        total = levels.floats("total_si_shares")
        plain = total[levels.pos(ms.day(d))] / total[levels.pos(ms.day(base))] - 1
        value, n = _split_change(pair, members, "RUT", d, base)
        assert n == 0 and value == pytest.approx(plain, rel=1e-12)


# --- percentiles --------------------------------------------------------------------------------------


def test_percentile_by_hand() -> None:
    idx = pd.to_datetime(["2023-01-13", "2023-06-15", "2023-09-15", "2023-12-15", "2024-01-12", "2024-02-15"])
    s = pd.Series([5.0, 3.0, 7.0, 3.0, 4.0, 100.0], index=idx)
    # 1Y window ending 2024-01-12: (2023-01-12, 2024-01-12] holds all 5; <= 4: 3, 3, 4 -> 60
    p = ms.percentile(*_xy(s), date(2024, 1, 12), 365)
    assert p.value == pytest.approx(60.0) and p.n_obs == 5
    assert p.first_obs == pd.Timestamp(2023, 1, 13) and p.covered_days == 364
    assert p.window_complete  # first obs 2023-01-13 <= window start + 16 days
    # ties count as <=: x = 3 among 5, 3, 7, 3 -> 2 of 4
    assert ms.percentile(*_xy(s), date(2023, 12, 15), None).value == pytest.approx(50.0)
    # highest in the window is 100; the 2024-02-15 value after d is ignored (point in time)
    assert ms.percentile(*_xy(s), date(2023, 9, 15), None).value == pytest.approx(100.0)
    # 6-month window ending 2024-01-12: (2023-07-16, 2024-01-12] = 7, 3, 4 -> 4 ranks 2 of 3
    p = ms.percentile(*_xy(s), date(2024, 1, 12), 180)
    assert p.value == pytest.approx(200 / 3) and p.n_obs == 3 and p.first_obs == pd.Timestamp(2023, 9, 15)
    assert p.window_complete  # history reaches back far enough
    # d not in the series -> NaN value, the window still described: (2023-01-13, 2024-01-13] drops the first
    q = ms.percentile(*_xy(s), date(2024, 1, 13), 365)
    assert math.isnan(q.value) and q.n_obs == 4


def test_percentile_partial_window() -> None:
    idx = pd.to_datetime(["2023-06-15", "2023-09-15", "2024-01-12"])
    s = pd.Series([1.0, 2.0, 3.0], index=idx)
    p = ms.percentile(*_xy(s), date(2024, 1, 12), 365 * 5)
    assert not p.window_complete and p.n_obs == 3 and p.covered_days == 211
    assert p.value == 100.0
    assert ms.percentile(*_xy(s), date(2024, 1, 12), None).window_complete
    # first observation 16 days after the 1Y window start is still "complete", 17 is not
    start = pd.Timestamp(2024, 1, 12) - pd.Timedelta(days=365)
    for lag, ok in [(16, True), (17, False)]:
        t = pd.Series([1.0, 2.0], index=[start + pd.Timedelta(days=lag), pd.Timestamp(2024, 1, 12)])
        assert ms.percentile(*_xy(t), date(2024, 1, 12), 365).window_complete is ok


def _naive_percentile(values: dict[date, float], d: date, w: int | None) -> tuple[float, int]:
    x = values.get(d)
    window = [v for k, v in values.items() if k <= d and (w is None or k > d - timedelta(days=w))]
    if x is None or not window:
        return math.nan, len(window)
    return 100.0 * sum(1 for v in window if v <= x) / len(window), len(window)


@pytest.mark.parametrize("seed", range(5))
def test_percentile_matches_naive_loop(seed: int) -> None:
    rnd = random.Random(seed)
    days = sorted(rnd.sample(range(3000), 150))
    values = {date(2015, 1, 1) + timedelta(days=k): float(rnd.randint(0, 20)) for k in days}
    s = pd.Series(values)
    for d in rnd.sample(sorted(values), 20) + [date(2016, 1, 1)]:
        for w in (30, 365, 1825, None):
            got = ms.percentile(*_xy(s), d, w)
            want, n = _naive_percentile(values, d, w)
            assert got.n_obs == n
            assert (math.isnan(want) and math.isnan(got.value)) or got.value == pytest.approx(want)


# --- prices -------------------------------------------------------------------------------------------
PX = pd.Series(
    [100.0, 102.0, 101.0, 110.0, 99.0],
    index=[date(2024, 1, 2), date(2024, 1, 5), date(2024, 1, 12), date(2024, 1, 16), date(2024, 2, 15)],
)


def test_price_return_by_hand() -> None:
    assert ms.price_return(*_xy(PX), date(2024, 1, 5), date(2024, 1, 16)) == pytest.approx(110 / 102 - 1)
    # Sunday 2024-01-07 uses Friday's close; end 2024-01-13 (Saturday) uses the 12th
    assert ms.price_return(*_xy(PX), date(2024, 1, 7), date(2024, 1, 13)) == pytest.approx(101 / 102 - 1)
    assert math.isnan(
        ms.price_return(*_xy(PX), date(2023, 12, 29), date(2024, 1, 16))
    )  # no close before start
    # start close 8 days old -> NaN; 7 days old is still accepted
    assert math.isnan(ms.price_return(*_xy(PX), date(2024, 1, 24), date(2024, 2, 15)))
    assert ms.price_return(*_xy(PX), date(2024, 1, 23), date(2024, 2, 15)) == pytest.approx(99 / 110 - 1)


def test_price_percentile_by_hand() -> None:
    p = ms.price_percentile(*_xy(PX), date(2024, 1, 16), 365)
    # closes in the window: 100, 102, 101, 110 -> 110 is the highest
    assert p.value == 100.0 and p.n_obs == 4 and not p.window_complete
    p = ms.price_percentile(*_xy(PX), date(2024, 1, 13), 10)  # (2024-01-03, 2024-01-13]: 102, 101 ; x = 101
    assert p.value == pytest.approx(50.0) and p.n_obs == 2 and p.window_complete
    assert p.first_obs == pd.Timestamp(2024, 1, 5)


# --- quadrant and score -------------------------------------------------------------------------------


def test_quadrants() -> None:
    assert ms.quadrant(0.05, 0.02) == "shorts pressing into strength"
    assert ms.quadrant(0.05, -0.02) == "shorts confirmed"
    assert ms.quadrant(-0.05, 0.02) == "short-covering rally"
    assert ms.quadrant(-0.05, -0.02) == "shorts exiting weakness"
    for a, b in [(math.nan, 0.1), (0.1, math.nan), (0.0, 0.1), (0.1, 0.0)]:
        assert ms.quadrant(a, b) is None
    assert ms.QUADRANT_KEYS == {
        "shorts pressing into strength": "pressing_into_strength",
        "shorts confirmed": "shorts_confirmed",
        "short-covering rally": "short_covering_rally",
        "shorts exiting weakness": "exiting_weakness",
    }


def test_divergence_score_by_hand() -> None:
    assert ms.divergence_score(100.0, 100.0) == 100.0
    assert ms.divergence_score(25.0, 64.0) == pytest.approx(40.0)
    assert ms.divergence_score(0.0, 100.0) == 0.0
    assert ms.divergence_score(100.0, 99.0) < 100.0
    assert math.isnan(ms.divergence_score(math.nan, 50.0))
    assert math.isnan(ms.divergence_score(50.0, math.nan))


pct = st.floats(min_value=0.0, max_value=100.0)


@given(pct, pct, pct)
def test_divergence_score_bounded_and_monotone(a: float, b: float, c: float) -> None:
    s = ms.divergence_score(a, b)
    assert 0.0 <= s <= 100.0
    assert min(a, b) - 1e-9 <= s <= max(a, b) + 1e-9  # a mean of the two percentiles
    lo, hi = sorted((a, c))
    assert ms.divergence_score(lo, b) <= ms.divergence_score(hi, b) + 1e-12
    assert ms.divergence_score(b, lo) <= ms.divergence_score(b, hi) + 1e-12
