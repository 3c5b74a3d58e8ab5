"""The fast paths of scan and summary give exactly the numbers of a straightforward computation.

Random stores (index members, non-members, split flags, missing and implausible denominators,
several membership snapshots, a date on which no constituent reported, stock and ETF prices) are
scanned and summarised twice: through the fast path, and through a reference path that joins the
whole short-interest table per index and date for the like-for-like changes.
Index levels are also checked against a per-date Python loop. Nothing here is timed.
"""

from __future__ import annotations

import math
import statistics
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from positioning_cli import api, levels_cache
from positioning_cli import metrics as m
from positioning_cli.analytics import engine
from positioning_cli.indices import SplitTotals, index_rows
from positioning_cli.measures import day
from positioning_cli.schema import MEMBERS, PRICES, SHORT_INTEREST
from positioning_cli.store import SourceBatch, Store
from tests.conftest import run_cli

SEEDS = [1, 2, 3]


def _settlement_dates(n: int, start: date) -> list[date]:
    out, d = [], start
    while len(out) < n:
        out.append(d)
        d = d.replace(day=28) if d.day == 15 else (d.replace(day=1) + timedelta(days=32)).replace(day=15)
    return out


def _table(spec: Any, cols: dict[str, list[Any]]) -> pa.Table:
    n = len(next(iter(cols.values())))
    arrays = [
        pa.array(cols[f.name], type=f.type) if f.name in cols else pa.nulls(n, type=f.type)
        for f in spec.parsed_schema
    ]
    return pa.Table.from_arrays(arrays, schema=spec.parsed_schema)


def _random_store(root: Path, seed: int) -> list[date]:
    rng = np.random.default_rng(seed)
    dates = _settlement_dates(int(rng.integers(20, 40)), date(2023, 1, 13))
    members_syms = [f"M{i:02d}" for i in range(40)]
    others = [f"X{i:02d}" for i in range(30)]
    quiet = dates[3]  # only non-members report on this date (never a scanned date: see the report)

    mem: dict[str, list[Any]] = {k: [] for k in ("index", "as_of", "symbol", "sector", "shares_outstanding")}
    mem["float_shares"] = []
    for idx in ("RUT", "NDX", "SPX"):
        n_snap = int(rng.integers(1, 4))
        snaps = sorted({dates[0] + timedelta(days=int(x)) for x in rng.integers(-60, 500, n_snap)})
        for as_of in snaps:
            for sym in rng.choice(members_syms, int(rng.integers(5, 20)), replace=False).tolist():
                so = rng.choice([None, 1, 0, int(rng.integers(10**6, 10**9))], p=[0.1, 0.05, 0.05, 0.8])
                mem["index"].append(idx)
                mem["as_of"].append(as_of)
                mem["symbol"].append(sym)
                mem["sector"].append(str(rng.choice(["Tech", "Energy", "Health"])))
                mem["shares_outstanding"].append(None if so is None else int(so))
                fl = None if so is None or rng.random() < 0.2 else int(int(so) * rng.uniform(0.3, 1.0))
                mem["float_shares"].append(fl)

    si: dict[str, list[Any]] = {
        k: []
        for k in (
            "settlement_date",
            "symbol",
            "short_interest",
            "avg_daily_volume",
            "split_flag",
            "revision_flag",
            "shares_outstanding",
            "float_shares",
        )
    }
    for d in dates:
        pool = others if d == quiet else members_syms + others
        for sym in pool:
            if rng.random() < 0.2:
                continue
            si["settlement_date"].append(d)
            si["symbol"].append(sym)
            si["short_interest"].append(int(rng.integers(0, 5 * 10**7)))
            si["avg_daily_volume"].append(None if rng.random() < 0.1 else int(rng.integers(0, 10**6)))
            si["split_flag"].append(bool(rng.random() < 0.04))
            si["revision_flag"].append(False)
            si["shares_outstanding"].append(None if rng.random() < 0.7 else int(rng.integers(2, 10**9)))
            si["float_shares"].append(None if rng.random() < 0.8 else int(rng.integers(2, 10**9)))
    si["source_format"] = ["test"] * len(si["symbol"])
    mem["source_format"] = ["test"] * len(mem["symbol"])

    px: dict[str, list[Any]] = {k: [] for k in ("symbol", "date", "close", "high", "low")}
    days = [
        dates[0] - timedelta(days=400) + timedelta(days=i) for i in range((dates[-1] - dates[0]).days + 420)
    ]
    days = [d for d in days if d.weekday() < 5]
    for sym in ["IWM", "QQQ", "SPY", *members_syms[:25]]:
        close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, len(days))))
        px["symbol"] += [sym] * len(days)
        px["date"] += days
        px["close"] += close.tolist()
        px["high"] += (close * 1.01).tolist()
        px["low"] += (close * 0.99).tolist()
    px["source_format"] = ["test"] * len(px["symbol"])

    store = Store(root)
    with store.writing(5.0) as w:
        w.merge_many(MEMBERS, [SourceBatch(_table(MEMBERS, mem), "members.csv", f"m{seed}", "test")])
        w.merge_many(PRICES, [SourceBatch(_table(PRICES, px), "prices.csv", f"p{seed}", "test")])
        w.merge_many(SHORT_INTEREST, [SourceBatch(_table(SHORT_INTEREST, si), "si.csv", f"s{seed}", "test")])
    return dates


def _reference_split_change(
    si: pd.DataFrame, members: pd.DataFrame, index: str, d: Any, base: Any
) -> tuple[float, set[str], set[str], set[str]]:
    """Like-for-like change of total SI shares from base to d, straight from the frames in plain
    Python: the constituents as of d (metrics.membership_on) with an SI row on both dates, less the
    symbols split-flagged in (base, d]. Returns the change, the compared, split and unmatched symbols."""
    d, base = pd.Timestamp(d), pd.Timestamp(base)
    constituents = set(m.membership_on(members, index, d)[0]["symbol"])
    dates = pd.to_datetime(si["settlement_date"])
    window = (dates > base) & (dates <= d) & si["split_flag"].fillna(False).astype(bool)
    flagged = set(si.loc[window.to_numpy(), "symbol"])
    on: dict[pd.Timestamp, dict[str, float]] = {d: {}, base: {}}
    for when, sym, value in zip(dates, si["symbol"], si["short_interest"], strict=True):
        if when in on and sym in constituents and not pd.isna(value):
            on[when][sym] = float(value)
    split = (set(on[d]) | set(on[base])) & flagged
    both = (set(on[d]) & set(on[base])) - flagged
    unmatched = (set(on[d]) ^ set(on[base])) - flagged
    now, then = sum(on[d][s] for s in both), sum(on[base][s] for s in both)
    change = float("nan") if not both or then == 0 else now / then - 1.0
    return change, both, split, unmatched


class _ReferenceSplit:
    """SplitTotals' interface on top of the plain loop of _reference_split_change."""

    def __init__(self, si: pd.DataFrame, members: pd.DataFrame) -> None:
        self.si, self.members = si, members

    def change(self, index: str, levels: Any, d: Any, base: Any) -> Any:
        from positioning_cli.measures import Matched

        value, both, split, unmatched = _reference_split_change(self.si, self.members, index, d, base)
        keys = sorted(both)
        si = self.si[self.si["symbol"].isin(both)]
        on = {
            when: si[pd.to_datetime(si["settlement_date"]) == pd.Timestamp(when)].set_index("symbol")
            for when in (d, base)
        }
        now = np.array([float(on[d].loc[k, "short_interest"]) for k in keys])
        then = np.array([float(on[base].loc[k, "short_interest"]) for k in keys])
        as_array = lambda xs: np.array(sorted(xs), dtype=object)  # noqa: E731
        return Matched(as_array(keys), now, then, as_array(split), as_array(unmatched))


def _use_reference_path(mp: pytest.MonkeyPatch) -> None:
    """scan/summary without any fast path: the whole SI table, no levels cache, the plain split join."""
    mp.setenv("POSITIONING_NO_CACHE", "1")
    mp.setattr(api, "_listed_rows", lambda listed: lambda table: table)
    mp.setattr(SplitTotals, "from_frames", classmethod(lambda cls, si, members: _ReferenceSplit(si, members)))


def _revise(root: Path, dates: list[date], seed: int) -> None:
    """A revision of one held date and a new date: the levels cache is now partly stale."""
    rng = np.random.default_rng(seed + 100)
    new_day = dates[-1] + timedelta(days=15)
    rows: dict[str, list[Any]] = {
        "settlement_date": [],
        "symbol": [],
        "short_interest": [],
        "revision_flag": [],
    }
    for d, flag in ((dates[-2], True), (new_day, False)):
        for sym in [f"M{i:02d}" for i in range(0, 40, 3)]:
            rows["settlement_date"].append(d)
            rows["symbol"].append(sym)
            rows["short_interest"].append(int(rng.integers(0, 5 * 10**7)))
            rows["revision_flag"].append(flag)
    n = len(rows["symbol"])
    rows["split_flag"] = [False] * n
    rows["source_format"] = ["test"] * n
    with Store(root).writing(5.0) as w:
        w.merge_many(
            SHORT_INTEREST, [SourceBatch(_table(SHORT_INTEREST, rows), "rev.csv", f"r{seed}", "test")]
        )


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def _assert_same_result(fast: api.Result, ref: api.Result) -> None:
    assert fast.as_of == ref.as_of
    assert fast.warnings == ref.warnings
    assert fast.extra == ref.extra
    assert len(fast.rows) == len(ref.rows)
    for rf, rr in zip(fast.rows, ref.rows, strict=True):
        assert rf.keys() == rr.keys()
        diff = {k: (rf[k], rr[k]) for k in rf if not _same(rf[k], rr[k])}
        assert not diff, diff


def _results(root: Path, dates: list[date]) -> list[api.Result]:
    out = []
    for as_of in (None, dates[len(dates) // 2]):
        out.append(api.scan(root, as_of=as_of))
        out.append(api.summary(root, as_of=as_of, explain=True))
    return out


@pytest.mark.parametrize("seed", SEEDS)
def test_scan_and_summary_fast_path_equal_reference(
    tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cold levels cache, warm cache, a damaged cache and a partly stale one (after a revision and a
    new date) all give exactly the reference numbers."""
    root = tmp_path / "s"
    dates = _random_store(root, seed)

    def reference(held: list[date]) -> list[api.Result]:
        with monkeypatch.context() as mp:
            _use_reference_path(mp)
            return _results(root, held)

    cold = _results(root, dates)
    assert levels_cache.path(root).is_file()
    warm = _results(root, dates)
    levels_cache.path(root).write_bytes(b"not parquet")
    damaged = _results(root, dates)
    ref = reference(dates)
    for got in (cold, warm, damaged):
        for f, r in zip(got, ref, strict=True):
            _assert_same_result(f, r)
    _revise(root, dates, seed)
    held = [*dates, dates[-1] + timedelta(days=15)]
    stale = _results(root, held)
    ref = reference(held)
    for f, r in zip(stale, ref, strict=True):
        _assert_same_result(f, r)


def _naive_levels(si: pd.DataFrame, members: pd.DataFrame, index: str) -> dict[pd.Timestamp, dict[str, Any]]:
    """Per-date Python loop over DOMAIN "Metrics" (no closes): counts, total, median SI % of SO."""
    mem = members[members["index"] == index]
    snaps = sorted(pd.Timestamp(x) for x in mem["as_of"].unique())
    out = {}
    have = si[si["short_interest"].notna()]
    for d in sorted(pd.Timestamp(x) for x in have["settlement_date"].unique()):
        eligible = [s for s in snaps if s <= d]
        snap = eligible[-1] if eligible else snaps[0]
        cons = mem[pd.to_datetime(mem["as_of"]) == snap]
        day = have[pd.to_datetime(have["settlement_date"]) == d].set_index("symbol")
        pcts, total, n = [], 0.0, 0
        for _, r in cons.iterrows():
            if r["symbol"] not in day.index:
                continue
            row = day.loc[r["symbol"]]
            n += 1
            total += float(row["short_interest"])
            so_m = float("nan") if pd.isna(r["shares_outstanding"]) else float(r["shares_outstanding"])
            so_s = float("nan") if pd.isna(row["shares_outstanding"]) else float(row["shares_outstanding"])
            so = so_m if so_m > 1 else so_s if so_s > 1 else so_m if not math.isnan(so_m) else so_s
            if so > 1:
                pct = 100.0 * float(row["short_interest"]) / so
                if pct <= 100.0:
                    pcts.append(pct)
        out[d] = {
            "members": len(cons),
            "members_with_si": n,
            "total_si_shares": total if n else float("nan"),
            "median_si_pct_so": statistics.median(pcts) if pcts else float("nan"),
        }
    return out


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_index_levels_and_split_totals_equal_naive(tmp_path: Path, seed: int) -> None:
    _random_store(tmp_path / "s", seed)
    frames = api._load(tmp_path / "s")
    every = engine.index_levels(engine.LevelInputs(frames.si, frames.members))
    for idx in ("RUT", "NDX", "SPX"):
        lv = every[idx]
        naive = _naive_levels(frames.si, frames.members, idx)
        assert list(lv.days) == [day(d) for d in naive]
        for d, want in naive.items():
            row = lv.at(d)
            for col, v in want.items():
                assert _same(float(row[col]), float(v)), (idx, d, col)
        split = SplitTotals.from_frames(frames.si, frames.members)
        ds = list(frames.dates)
        for i, d in enumerate(ds):
            for base in ds[max(0, i - 4) : i]:
                got = split.change(idx, lv, day(d), day(base))
                value, both, flagged, unmatched = _reference_split_change(
                    frames.si, frames.members, idx, d, base
                )
                assert _same(got.value, value), (idx, d, base)
                assert (len(got.keys), len(got.split), len(got.unmatched)) == (
                    len(both),
                    len(flagged),
                    len(unmatched),
                ), (idx, d, base)


@pytest.mark.parametrize("seed", SEEDS[:2])
def test_rank_only_rows_rank_like_full_rows(tmp_path: Path, seed: int) -> None:
    """scan's previous-rank pass computes only the divergence score: same ranks on every date."""
    _random_store(tmp_path / "s", seed)
    frames = api._load(tmp_path / "s")
    proxy_map = api._parse_proxies(None)
    view = api._whole_index_view(frames, proxy_map)
    for d in view.dates[2:]:
        full = index_rows(view, api.INDICES, d, proxy_map, [])
        light = index_rows(view, api.INDICES, d, proxy_map, [], rank_only=True)
        assert [(r["index"], r["rank"]) for r in light] == [(r["index"], r["rank"]) for r in full], d
        for a, b in zip(light, full, strict=True):
            assert _same(a["divergence_score"], b["divergence_score"])


_NO_PANDAS = """
import sys
from positioning_cli import cli
sys.argv = ["positioning", *sys.argv[1:]]
try:
    cli.main()
except SystemExit as exc:
    assert not exc.code, exc.code
loaded = sorted(m for m in sys.modules if m.split(".")[0] == "pandas")
assert not loaded, f"pandas imported: {loaded[:3]}"
"""


@pytest.mark.parametrize(
    "args",
    [
        ["scan", "--format", "json"],
        ["scan", "--format", "table"],
        ["summary", "--format", "json"],
        ["summary", "--explain", "--format", "csv"],
        ["cot", "--format", "json"],
        ["flows", "--format", "json"],
    ],
)
def test_warm_index_commands_import_no_pandas(demo_store: Path, args: list[str]) -> None:
    """With the levels cache valid, scan and summary (futures and trend included) and cot never
    import pandas: its import alone costs more than the rest of a warm scan (issue 6)."""
    assert run_cli("scan", "--format", "json", store=demo_store).code == 0  # the levels cache is valid
    p = subprocess.run(
        [sys.executable, "-c", _NO_PANDAS, "--store", str(demo_store), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip()
