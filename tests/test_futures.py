"""futures.py on hand-made series (numbers worked out by hand or with statistics), and the
cftc-tff parser on bad input (one-line InputError naming the file and line)."""

from __future__ import annotations

import dataclasses
import datetime
import math
import random
import statistics
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from positioning_cli import futures
from positioning_cli import measures as ms
from positioning_cli.errors import InputError
from positioning_cli.ingest import parse_file
from positioning_cli.schema import COT


@pytest.fixture(autouse=True)
def _no_minimum_observations(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hand cases here check percentile arithmetic on a few reports; the minimum number of
    observations that nulls such short windows is tested in test_min_observations.py."""
    monkeypatch.setattr(ms, "MIN_WINDOW_SHARE", 0.0)


TUE = datetime.date(2020, 1, 7)  # a Tuesday
_VALUE_COLUMNS = ("open_interest", "lev_money_long", "lev_money_short", "asset_mgr_long", "asset_mgr_short")


def _table(records: list[dict]) -> pa.Table:
    """A ``cot`` table (the store's types) of the given rows; missing or None values are null."""
    fields = [COT.schema.field(n) for n in ("report_date", "contract_code", "market_name", "futures_only")]
    fields += [COT.schema.field(n) for n in _VALUE_COLUMNS]
    schema = pa.schema([f.with_nullable(True) for f in fields])
    return pa.table({f.name: [r.get(f.name) for r in records] for f in fields}, schema=schema)


def _cot(rows: list[tuple]) -> pa.Table:
    """rows: (report_date, code, lev_long, lev_short[, open_interest[, futures_only]])."""
    out = []
    for r in rows:
        d, code, lev_long, lev_short = r[:4]
        oi = r[4] if len(r) > 4 else 1000
        fut = r[5] if len(r) > 5 else True
        out.append(
            {
                "report_date": d,
                "contract_code": code,
                "market_name": "X",
                "futures_only": fut,
                "open_interest": oi,
                "lev_money_long": lev_long,
                "lev_money_short": lev_short,
                "asset_mgr_long": 2 * lev_long,
                "asset_mgr_short": lev_short,
            }
        )
    return _table(out)


def _weekly(nets: list[float], start: datetime.date = TUE, code: str = "13874A") -> futures.FuturesSeries:
    """An ES series with the given lev nets on consecutive Tuesdays (long = net + 500, short = 500)."""
    rows = [(start + datetime.timedelta(weeks=i), code, n + 500, 500) for i, n in enumerate(nets)]
    return futures.series(_cot(rows), "ES")


def _drop(ser: futures.FuturesSeries, position: int) -> futures.FuturesSeries:
    """``ser`` without its row at ``position`` (a missing weekly report)."""
    return dataclasses.replace(
        ser, **{f.name: np.delete(getattr(ser, f.name), position) for f in dataclasses.fields(ser)}
    )


# ---------------------------------------------------------------- contracts and series


def test_resolve_contract() -> None:
    assert futures.resolve_contract("es") == ("ES", ("13874A",))
    assert futures.resolve_contract(" nq ") == ("NQ", ("209742",))
    assert futures.resolve_contract("RTY") == ("RTY", ("239742", "23977A"))
    assert futures.resolve_contract("rut") == ("RTY", ("239742", "23977A"))
    assert futures.resolve_contract("13874a") == ("13874A", ("13874A",))
    assert futures.resolve_contract("13874+") == ("13874+", ("13874+",))
    for bad in ("", "SPY", "1387", "13874AA", "S&P 500"):
        with pytest.raises(ValueError):
            futures.resolve_contract(bad)


def test_series_net_and_pct_and_filters() -> None:
    d = TUE
    cot = _cot(
        [
            (d, "13874A", 300, 800, 2000),
            (d, "13874+", 9999, 1, 5000),  # consolidated: never mixed in
            (d, "13874A", 100, 100, 3000, False),  # combined file row
            (d, "209742", 1, 2, 10),
        ]
    )
    es = futures.series(cot, "ES")
    assert len(es) == 1 and not es.empty
    assert es.report_date.dtype == np.dtype("datetime64[D]") and es.report_date[0] == np.datetime64(d)
    assert es.lev_net[0] == -500
    assert es.lev_net_pct_oi[0] == pytest.approx(-25.0)
    assert es.asset_mgr_net[0] == 600 - 800
    assert es.asset_mgr_net_pct_oi[0] == pytest.approx(-10.0)
    assert es.contract_code[0] == "13874A"
    assert not es.venue_break[0]
    combined = futures.series(cot, "ES", futures_only=False)
    assert combined.open_interest[0] == 3000
    plus = futures.series(cot, "13874+")
    assert plus.lev_net[0] == 9998
    assert futures.series(cot, "RTY").empty and len(futures.series(cot, "RTY")) == 0
    assert futures.series(cot.slice(0, 0), "ES").empty


def test_series_blanks_zero_oi_padded_codes_and_duplicates() -> None:
    week = datetime.timedelta(weeks=1)
    cot = _table(
        [
            {"report_date": TUE, "contract_code": " 13874A ", "futures_only": True, "open_interest": 0}
            | {"lev_money_long": 5, "lev_money_short": 2, "asset_mgr_long": None, "asset_mgr_short": 1},
            {"report_date": TUE + week, "contract_code": "13874A", "futures_only": True, "open_interest": 10}
            | {"lev_money_long": 1, "lev_money_short": 1, "asset_mgr_long": 1, "asset_mgr_short": 1},
            {"report_date": TUE, "contract_code": "13874A", "futures_only": None, "open_interest": 10}
            | {"lev_money_long": 99, "lev_money_short": 1},  # futures_only unknown: neither file
            {"report_date": TUE + week, "contract_code": "13874A", "futures_only": True, "open_interest": 20}
            | {"lev_money_long": 7, "lev_money_short": 1, "asset_mgr_long": 3, "asset_mgr_short": 1},
            {"report_date": TUE, "contract_code": None, "futures_only": True, "open_interest": 1},
        ]
    )
    es = futures.series(cot, "ES")
    assert es.report_date.tolist() == [TUE, TUE + week]
    assert es.contract_code.tolist() == ["13874A", "13874A"]  # stripped
    assert es.lev_net[0] == 3 and math.isnan(es.lev_net_pct_oi[0])  # OI 0: no pct
    assert math.isnan(es.asset_mgr_net[0]) and math.isnan(es.asset_mgr_net_pct_oi[0])  # blank cell
    assert es.open_interest[1] == 20 and es.lev_net[1] == 6  # the last row of a (date, code) wins
    assert es.lev_net_pct_oi[1] == pytest.approx(30.0) and es.asset_mgr_net[1] == 2
    assert not futures.series(cot, "ES", futures_only=False).report_date.tolist()


def test_rty_stitching_and_venue_break() -> None:
    cut = futures.RTY_CME_START
    week = datetime.timedelta(weeks=1)
    rows = [
        (cut - 3 * week, "23977A", 10, 0),
        (cut - 2 * week, "23977A", 20, 0),
        (cut - 2 * week, "239742", 25, 0),  # CME row before the start: it wins over ICE that day
        (cut - 1 * week, "23977A", 30, 0),
        (cut, "23977A", 999, 0),  # ICE kept trading: ignored from the CME start on
        (cut, "239742", 40, 0),
        (cut + week, "23977A", 999, 0),
        (cut + week, "239742", 50, 0),
    ]
    rty = futures.series(_cot(rows), "RTY")
    assert rty.lev_net.tolist() == [10, 25, 30, 40, 50]
    assert rty.contract_code.tolist() == ["23977A", "239742", "23977A", "239742", "239742"]
    # A break wherever the venue (code) changes from the previous report, shown, never silent.
    assert rty.venue_break.tolist() == [False, True, True, True, False]
    assert futures.read(rty, cut + week, "lev").venue_break_in_window
    later = cut + datetime.timedelta(days=400)
    rows.append((later, "239742", 60, 0))
    rty = futures.series(_cot(rows), "RTY")
    assert not futures.read(rty, later, "lev").venue_break_in_window
    # A raw code is that code only.
    assert futures.series(_cot(rows), "23977A").lev_net.tolist() == [10, 20, 30, 999, 999]


# ---------------------------------------------------------------- read()


def test_percentile_and_windows() -> None:
    nets = [5, 3, 8, 1, 9, 2, 7, 4, 6, 5]  # today 5: <= 5 are 5, 3, 1, 2, 4, 5 -> 6 of 10
    ser = _weekly(nets)
    r = futures.read(ser, TUE + datetime.timedelta(weeks=9), "lev")
    assert r.net == 5
    assert r.pct_all.pct == pytest.approx(60.0)
    assert r.pct_all.n_obs == 10 and r.pct_all.window_complete
    assert r.pct_1y.pct == pytest.approx(60.0) and r.pct_1y.n_obs == 10
    assert not r.pct_1y.window_complete  # 10 weeks held, not a year
    assert not r.pct_3y.window_complete
    assert r.pct_1y.first_date == TUE and type(r.pct_1y.first_date) is datetime.date


def test_window_complete_and_window_edges() -> None:
    nets = list(range(60))  # 60 weekly reports, increasing: today is the highest
    ser = _weekly(nets)
    r = futures.read(ser, TUE + datetime.timedelta(weeks=59), "lev")
    # (d - 365, d] holds 53 Tuesdays when the year is complete (d itself and 52 before, the first 364 days back).
    assert r.pct_1y.n_obs == 53 and r.pct_1y.window_complete
    assert r.pct_1y.pct == 100.0
    assert r.weeks_since_lower == 1
    # A missing report inside the window makes it incomplete even though history starts early enough.
    gappy = _drop(ser, 40)
    r2 = futures.read(gappy, TUE + datetime.timedelta(weeks=59), "lev")
    assert r2.pct_1y.n_obs == 52 and not r2.pct_1y.window_complete
    # The rule at the edge: history starting exactly W - 7 days back is complete, a day later is not.
    end = TUE + datetime.timedelta(weeks=60)
    for first_gap_days, complete in ((358, True), (357, False)):
        start = end - datetime.timedelta(days=first_gap_days)
        dates = [start + datetime.timedelta(weeks=i) for i in range(52)] + [end]
        dates = sorted(set(d for d in dates if d <= end))
        s = futures.series(_cot([(d, "13874A", 600, 500) for d in dates]), "ES")
        assert futures.read(s, end, "lev").pct_1y.window_complete is complete, first_gap_days


def test_cot_index_and_zscore_over_last_52() -> None:
    nets = [1000.0] * 8 + [float((i * 37) % 101 - 50) for i in range(52)]  # the first 8 are outside
    ser = _weekly(nets)
    r = futures.read(ser, TUE + datetime.timedelta(weeks=59), "lev")
    last = nets[-52:]
    today = last[-1]
    assert r.n_obs_52w == 52
    assert r.cot_index_52w == pytest.approx(100 * (today - min(last)) / (max(last) - min(last)))
    assert r.zscore_52w == pytest.approx((today - statistics.mean(last)) / statistics.stdev(last))
    flat = futures.read(_weekly([7.0] * 10), TUE + datetime.timedelta(weeks=9), "lev")
    assert math.isnan(flat.cot_index_52w) and math.isnan(flat.zscore_52w)
    one = futures.read(_weekly([7.0]), TUE, "lev")
    assert math.isnan(one.zscore_52w) and one.n_obs_52w == 1


def test_weeks_since_lower() -> None:
    # today -40; last lower (-50) was 4 weeks ago -> "largest net short in 4 weeks"
    r = futures.read(_weekly([-10, -50, -20, -30, -35, -40]), TUE + datetime.timedelta(weeks=5), "lev")
    assert r.weeks_since_lower == 4
    never = futures.read(_weekly([-10, -20, -5, -60]), TUE + datetime.timedelta(weeks=3), "lev")
    assert never.weeks_since_lower is None  # never lower in the history held
    equal = futures.read(_weekly([-60, -10, -60]), TUE + datetime.timedelta(weeks=2), "lev")
    assert equal.weeks_since_lower is None  # equal is not lower


def test_changes_1w_4w() -> None:
    ser = _weekly([10, 20, 30, 40, 55])
    r = futures.read(ser, TUE + datetime.timedelta(weeks=4), "lev")
    assert r.change_1w == 15 and r.change_4w == 45
    short = futures.read(ser, TUE + datetime.timedelta(weeks=2), "lev")
    assert short.change_1w == 10 and math.isnan(short.change_4w)
    gappy = _drop(ser, 3)  # the report one week before today is missing
    g = futures.read(gappy, TUE + datetime.timedelta(weeks=4), "lev")
    assert math.isnan(g.change_1w) and g.change_4w == 45
    # A holiday Monday report counts as the week's report.
    dates = [TUE, TUE + datetime.timedelta(days=6), TUE + datetime.timedelta(days=14)]
    s = futures.series(
        _cot([(d, "13874A", 500 + n, 500) for d, n in zip(dates, (1, 2, 4), strict=True)]), "ES"
    )
    assert futures.read(s, dates[-1], "lev").change_1w == 2


def test_point_in_time() -> None:
    ser = _weekly([10, 20, 30, -999])
    friday = TUE + datetime.timedelta(weeks=2, days=3)
    r = futures.read(ser, friday, "lev")
    assert r.report_date == TUE + datetime.timedelta(weeks=2) and type(r.report_date) is datetime.date
    assert r.net == 30 and r.pct_all.n_obs == 3 and r.weeks_since_lower == 1
    # Every accepted form of the date gives the same read; the time of day is dropped.
    same = [
        pd.Timestamp(friday),
        pd.Timestamp(friday.isoformat() + " 23:59", tz="America/New_York"),  # its own wall clock
        np.datetime64(friday),
        np.datetime64(friday.isoformat() + "T18:30:00"),
        friday.isoformat(),
        f" {friday.isoformat()}T09:00:00+05:00",
        datetime.datetime.combine(friday, datetime.time(12)),
    ]
    for when in same:
        assert futures.read(ser, when, "lev") == r, when
    for bad in ("2020-13-01", "soon", pd.NaT, np.datetime64("NaT")):
        with pytest.raises(ValueError):
            futures.read(ser, bad, "lev")
    with pytest.raises(ValueError):
        futures.read(ser, TUE - datetime.timedelta(days=1), "lev")
    with pytest.raises(ValueError):
        futures.read(ser, friday, "dealers")


def test_asset_mgr_group() -> None:
    ser = _weekly([10, 20])  # asset_mgr long = 2 * (net + 500), short = 500
    r = futures.read(ser, TUE + datetime.timedelta(weeks=1), "asset_mgr")
    assert r.net == 2 * 520 - 500 and r.change_1w == 20
    assert r.net_pct_oi == pytest.approx(100 * 540 / 1000)


def test_caveat_text() -> None:
    assert "basis trade" in futures.BASIS_TRADE_CAVEAT and "asset managers" in futures.BASIS_TRADE_CAVEAT
    assert "\n" not in futures.BASIS_TRADE_CAVEAT


# ---------------------------------------------------------------- against a pandas reference
# The pandas implementation futures.py had before it moved to numpy (same rules, other library).


def _ref_series(cot: pd.DataFrame, contract: str, futures_only: bool = True) -> pd.DataFrame:
    _, codes = futures.resolve_contract(contract)
    frame = cot.loc[
        cot["contract_code"].astype("string").str.strip().isin(codes).fillna(False).to_numpy(dtype=bool)
        & (cot["futures_only"].astype("boolean").fillna(not futures_only) == futures_only).to_numpy(
            dtype=bool
        )
    ]
    out = pd.DataFrame(
        {
            "report_date": pd.to_datetime(frame["report_date"].astype("object")).to_numpy(),
            "contract_code": frame["contract_code"].astype("string").str.strip().to_numpy(dtype=object),
        }
    )
    for column in _VALUE_COLUMNS:
        out[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64").to_numpy()
    out = out.drop_duplicates(["report_date", "contract_code"], keep="last")
    if len(codes) > 1:
        primary, predecessors = codes[0], codes[1:]
        main = out[out["contract_code"] == primary]
        start = pd.Timestamp(futures.RTY_CME_START)
        older = out[
            out["contract_code"].isin(predecessors)
            & (out["report_date"] < start)
            & ~out["report_date"].isin(main["report_date"])
        ].drop_duplicates("report_date", keep="first")
        out = pd.concat([older, main])
    out = out.sort_values("report_date", kind="stable").set_index("report_date")
    for group in ("lev", "asset_mgr"):
        long_col = "lev_money_long" if group == "lev" else "asset_mgr_long"
        short_col = "lev_money_short" if group == "lev" else "asset_mgr_short"
        net = out[long_col] - out[short_col]
        oi = out["open_interest"].where(out["open_interest"] > 0)
        out[f"{group}_net"] = net
        out[f"{group}_net_pct_oi"] = 100.0 * net / oi
    previous = out["contract_code"].shift(1)
    out["venue_break"] = (previous.notna() & (out["contract_code"] != previous)).to_numpy(dtype=bool)
    return out


def _ref_percentile(nets: pd.Series, today: float, end: pd.Timestamp, days: int | None) -> tuple:
    if days is None:
        window, complete = nets, True
    else:
        start = end - pd.Timedelta(days=days)
        window = nets[nets.index > start]
        offsets = (pd.DatetimeIndex(window.index) - start).days.to_numpy()
        edges = np.diff(np.concatenate([[0], offsets]))
        complete = bool(nets.index[0] <= start + pd.Timedelta(days=7)) and bool(edges.max() <= 10)
    values = window.to_numpy(dtype=float)
    pct = float(100.0 * np.count_nonzero(values <= today) / len(values))
    return (pct, len(values), complete, window.index[0].date())


def _ref_change(nets: pd.Series, today: float, end: pd.Timestamp, weeks: int) -> float:
    gap = np.abs((pd.DatetimeIndex(nets.index) - (end - pd.Timedelta(days=7 * weeks))).days.to_numpy())
    near = np.flatnonzero(gap <= 3)
    return math.nan if len(near) == 0 else float(today - nets.iloc[near[np.argmin(gap[near])]])


def _ref_read(ser: pd.DataFrame, d: pd.Timestamp, group: str) -> tuple | None:
    column = futures.GROUPS[group]
    held = ser[ser.index <= d]
    held = held[held[column].notna()]
    if held.empty:
        return None
    nets = held[column].astype("float64")
    end, today, last = nets.index[-1], float(nets.iloc[-1]), held.iloc[-1]
    recent = nets[nets.index > end - pd.Timedelta(days=7 * 52)].iloc[-52:]
    lo, hi = float(recent.min()), float(recent.max())
    std = float(recent.std(ddof=1)) if len(recent) >= 2 else math.nan
    lower = np.flatnonzero(nets.iloc[:-1].to_numpy(dtype=float) < today)
    in_year = held.index > end - pd.Timedelta(days=365)
    return (
        str(last["contract_code"]),
        group,
        end.date(),
        float(last["open_interest"]),
        today,
        float(last[f"{column}_pct_oi"]),
        _ref_change(nets, today, end, 1),
        _ref_change(nets, today, end, 4),
        _ref_percentile(nets, today, end, 365),
        _ref_percentile(nets, today, end, 3 * 365),
        _ref_percentile(nets, today, end, None),
        math.nan if hi == lo else 100.0 * (today - lo) / (hi - lo),
        math.nan if not std or math.isnan(std) else (today - float(recent.mean())) / std,
        len(recent),
        round((end - nets.index[lower[-1]]).days / 7) if len(lower) else None,
        bool(held.loc[in_year, "venue_break"].any()),
    )


def _as_tuple(r: futures.FuturesRead) -> tuple:
    windows = [(p.pct, p.n_obs, p.window_complete, p.first_date) for p in (r.pct_1y, r.pct_3y, r.pct_all)]
    return (
        r.contract_code,
        r.group,
        r.report_date,
        r.open_interest,
        r.net,
        r.net_pct_oi,
        r.change_1w,
        r.change_4w,
        *windows,
        r.cot_index_52w,
        r.zscore_52w,
        r.n_obs_52w,
        r.weeks_since_lower,
        r.venue_break_in_window,
    )


def _random_cot(rng: random.Random) -> list[dict]:
    """Weekly rows for ES, RTY (ICE then CME, overlapping) and a consolidated code, with holiday
    Mondays, missing weeks and years, blank cells, zero open interest, combined-file rows and
    repeated keys, in shuffled order."""
    first = datetime.date(2015, 1, 6) + datetime.timedelta(weeks=rng.randrange(0, 150))
    cme_from = futures.RTY_CME_START - datetime.timedelta(weeks=rng.randrange(0, 6))
    ice_until = futures.RTY_CME_START + datetime.timedelta(weeks=rng.randrange(0, 6))
    scale = rng.choice([10, 1000, 200_000])
    noise = rng.choice([0.0, 0.003, 0.05])  # the rate of gaps and blanks: complete windows need few
    rows = []
    tuesday = first
    for _ in range(rng.randrange(20, 320)):
        gap = rng.random() < noise
        tuesday += datetime.timedelta(weeks=rng.choice([2, 3, 53]) if gap else 1)
        if rng.random() < noise:
            continue
        d = tuesday - datetime.timedelta(days=1) if rng.random() < 0.05 else tuesday
        codes = ["13874A", "13874+"]
        if d <= ice_until:
            codes.append("23977A")
        if d >= cme_from:
            codes.append("239742")
        for code in codes:
            for fut in (True, False) if rng.random() < 0.2 else (True,):
                row = {"report_date": d, "contract_code": code, "futures_only": fut}
                for column in _VALUE_COLUMNS:
                    value = rng.randrange(0, scale) if column != "open_interest" else rng.randrange(scale)
                    row[column] = None if rng.random() < noise else value
                if rng.random() < max(noise, 0.01):
                    row["open_interest"] = 0
                if rng.random() < 0.03:
                    row["lev_money_long"] = row["lev_money_short"]  # ties in the percentiles
                rows.append(row)
                if rng.random() < 0.03:
                    rows.append(row | {"lev_money_long": rng.randrange(scale)})  # the same key again
    rng.shuffle(rows)
    return rows


@pytest.mark.parametrize("seed", range(10))
def test_matches_pandas_reference(seed: int) -> None:
    rng = random.Random(seed)
    records = _random_cot(rng)
    table = _table(records)
    frame = table.to_pandas()
    for contract in ("ES", "RTY", "23977A", "13874+"):
        for futures_only in (True, False):
            ser = futures.series(table, contract, futures_only)
            ref = _ref_series(frame, contract, futures_only)
            assert ser.report_date.tolist() == [t.date() for t in ref.index]
            for column in ref.columns:
                got, want = getattr(ser, column), ref[column].to_numpy()
                if column in ("contract_code", "venue_break"):
                    assert got.tolist() == want.tolist(), column
                else:
                    assert got.dtype == np.float64
                    assert np.array_equal(got, want, equal_nan=True), column  # bit for bit
            if ser.empty:
                continue
            first, last = ref.index[0], ref.index[-1]
            asked = rng.sample(list(ref.index), min(len(ref), 12)) + [last + pd.Timedelta(days=30)]
            asked += [
                first + pd.Timedelta(days=rng.randrange(-10, (last - first).days + 1)) for _ in range(8)
            ]
            for d in asked:
                for group in ("lev", "asset_mgr"):
                    want_read = _ref_read(ref, d, group)
                    if want_read is None:
                        with pytest.raises(ValueError):
                            futures.read(ser, d.date(), group)
                        continue
                    got_read = _as_tuple(futures.read(ser, d.date(), group))
                    # repr: floats equal to the last bit, NaN where NaN
                    assert repr(got_read) == repr(want_read), (contract, futures_only, d, group)


def test_no_pandas_import() -> None:
    code = """
import datetime, sys
import numpy as np
import pyarrow as pa
from positioning_cli import arrays, futures


days = np.array([17379, 17386, 17393, 17400, 17407], dtype=np.int32)  # Tuesdays from 2017-08-01
table = pa.table(
    {
        "report_date": pa.Array.from_buffers(pa.date32(), 5, [None, pa.py_buffer(days)]),
        "contract_code": arrays.strings(["23977A", "23977A", "239742", "239742", "13874A"]),
        "futures_only": arrays.from_numpy(np.array([True, True, True, True, True])),
        "open_interest": arrays.from_numpy(np.array([10, 10, 0, 10, 10])),
        "lev_money_long": arrays.from_numpy(np.array([1, 2, 3, 4, 5]), np.array([0, 0, 0, 1, 0], bool)),
        "lev_money_short": arrays.from_numpy(np.array([0, 0, 0, 0, 0])),
        "asset_mgr_long": arrays.from_numpy(np.array([1.0, 2.0, 3.0, 4.0, 5.0])),
        "asset_mgr_short": arrays.from_numpy(np.array([0, 0, 0, 0, 0])),
    }
)
ser = futures.series(table, "RTY")
assert ser.contract_code.tolist() == ["23977A", "23977A", "239742", "239742"], ser
r = futures.read(ser, "2017-08-25", "lev")
assert (r.net, r.report_date, r.change_1w) == (3.0, datetime.date(2017, 8, 15), 1.0), r
assert r.venue_break_in_window and r.net_pct_oi != r.net_pct_oi
futures.read(ser, datetime.date(2017, 8, 25), "asset_mgr")
futures.read(ser, np.datetime64("2017-08-25"), "lev")
loaded = sorted(m for m in sys.modules if m == "pandas" or m.startswith("pandas."))
assert not loaded, loaded
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr


# ---------------------------------------------------------------- parser, hand-made files

HEADER = (
    '"Market_and_Exchange_Names","As_of_Date_In_Form_YYMMDD","Report_Date_as_YYYY-MM-DD",'
    '"CFTC_Contract_Market_Code","CFTC_Market_Code","Open_Interest_All",'
    '"Dealer_Positions_Long_All","Dealer_Positions_Short_All","Asset_Mgr_Positions_Long_All",'
    '"Asset_Mgr_Positions_Short_All","Lev_Money_Positions_Long_All","Lev_Money_Positions_Short_All",'
    '"Other_Rept_Positions_Long_All","Other_Rept_Positions_Short_All","NonRept_Positions_Long_All",'
    '"NonRept_Positions_Short_All","Contract_Units","CFTC_Contract_Market_Code_Quotes","FutOnly_or_Combined"'
)


def _line(
    date: str, code: str, oi: str = " 3061310", lev_short: str = "  570387", kind: str = "FutOnly"
) -> str:
    yymmdd = date[2:4] + date[5:7] + date[8:10]
    return (
        f'"E-MINI S&P 500 - CHICAGO MERCANTILE EXCHANGE",{yymmdd},{date},{code},CME ,{oi},  221187,'
        f"  824975, 1539279,  746682,  420751,{lev_short},  119206,       .,   .,   99,"
        f'"(CONTRACTS OF $50 X S&P 500 INDEX)","{code}","{kind}"'
    )


def _write(tmp_path: Path, lines: list[str], name: str = "FinFut17.txt", eol: str = "\r\n") -> Path:
    path = tmp_path / name
    path.write_bytes(eol.join(lines).encode("ascii") + eol.encode())
    return path


def test_handmade_file_parses(tmp_path: Path) -> None:
    path = _write(tmp_path, [HEADER, _line("2017-12-26", "13874A"), _line("2017-12-19", "090741")], eol="\n")
    parsed = parse_file("cot", path)
    t = parsed.table.to_pylist()
    assert parsed.format == "cftc-tff"
    assert t[0]["contract_code"] == "13874A" and t[1]["contract_code"] == "090741"
    assert t[0]["report_date"] == datetime.date(2017, 12, 26)
    assert t[0]["open_interest"] == 3061310 and t[0]["lev_money_short"] == 570387
    assert t[0]["other_rept_short"] is None and t[0]["nonrept_long"] is None  # "." -> null
    assert t[0]["futures_only"] is True and t[0]["market_name"].startswith("E-MINI")


def test_duplicate_keys_keep_last_and_warn(tmp_path: Path) -> None:
    lines = [HEADER, _line("2017-12-26", "13874A", oi="1"), _line("2017-12-26", "13874A", oi="2")]
    lines.append(_line("2017-12-26", "13874A", oi="3", kind="Combined"))
    parsed = parse_file("cot", _write(tmp_path, lines))
    assert sorted(parsed.table.column("open_interest").to_pylist()) == [2, 3]
    assert (
        len(parsed.warnings) == 1 and "line 2" in parsed.warnings[0] and "kept the last" in parsed.warnings[0]
    )


def _error(path: Path) -> InputError:
    with pytest.raises(InputError) as info:
        parse_file("cot", path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return info.value


def test_empty_file(tmp_path: Path) -> None:
    err = _error(_write(tmp_path, [""], eol="\n"))
    assert "empty" in err.problem


def test_wrong_header(tmp_path: Path) -> None:
    err = _error(_write(tmp_path, ["Date,Open,High,Low,Close", "2020-01-02,1,2,3,4"]))
    assert err.line == 1 and "unrecognised cot file" in err.problem


def test_missing_column(tmp_path: Path) -> None:
    header = HEADER.replace('"Lev_Money_Positions_Short_All",', '"Lev_Money_Short",')
    err = _error(_write(tmp_path, [header, _line("2017-12-26", "13874A")]))
    assert err.line == 1 and "Lev_Money_Positions_Short_All" in err.problem


def test_bad_number(tmp_path: Path) -> None:
    lines = [HEADER, _line("2017-12-26", "13874A"), _line("2017-12-19", "13874A", lev_short=" 57x387")]
    err = _error(_write(tmp_path, lines))
    assert err.line == 3 and err.field == "Lev_Money_Positions_Short_All" and "57x387" in err.problem


def test_blank_open_interest_and_bad_date_and_kind(tmp_path: Path) -> None:
    err = _error(_write(tmp_path, [HEADER, _line("2017-12-26", "13874A", oi="      .")], name="a.txt"))
    assert err.line == 2 and err.field == "Open_Interest_All"
    err = _error(_write(tmp_path, [HEADER, _line("2017-13-26", "13874A")], name="b.txt"))
    assert err.line == 2 and err.field == "Report_Date_as_YYYY-MM-DD"
    err = _error(_write(tmp_path, [HEADER, _line("2017-12-26", "13874A", kind="Options")], name="c.txt"))
    assert err.line == 2 and "FutOnly or Combined" in err.problem


def test_header_only(tmp_path: Path) -> None:
    err = _error(_write(tmp_path, [HEADER]))
    assert err.line == 1


def test_zip_good_and_bad(tmp_path: Path) -> None:
    text = _write(
        tmp_path, [HEADER, _line("2017-12-26", "13874A"), _line("2017-12-19", "13874A", lev_short="x")]
    )
    archive = tmp_path / "fut_fin_txt_2017.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.write(text, arcname="FinFut17.txt")
    err = _error(archive)  # errors inside an archive name the archive, the member and the line
    assert err.path == f"{archive}/FinFut17.txt" and err.line == 3
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(archive.read_bytes()[:60])
    err = _error(truncated)
    assert "zip" in err.problem
    two = tmp_path / "two.zip"
    with zipfile.ZipFile(two, "w") as z:
        z.writestr("a.txt", HEADER)
        z.writestr("b.txt", HEADER)
    assert "exactly one file" in _error(two).problem
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("FinFut17.txt", "\r\n".join([HEADER, _line("2017-12-26", "13874A")]) + "\r\n")
    assert parse_file("cot", good).table.num_rows == 1
