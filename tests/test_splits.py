"""The split model (analytics/splits.py): a 2-for-1 split between two FINRA cycles, worked by hand.

One stock SPL splits 2:1 with the ex-date 2026-04-07, inside the FINRA cycle (2026-03-31,
2026-04-15]; FINRA flags the 04-15 row ``S`` and restates its previous position (120 -> 240). The
membership snapshot (2026-01-02) predates the split. OTH, in the same sector, never splits.
Every expected number below is computed here from the inputs by hand or in plain Python.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from positioning_cli.analytics import splits
from tests.conftest import run_cli

HEADER = (
    "accountingYearMonthNumber|symbolCode|issueName|issuerServicesGroupExchangeCode|marketClassCode|"
    "currentShortPositionQuantity|previousShortPositionQuantity|stockSplitFlag|averageDailyVolumeQuantity|"
    "daysToCoverQuantity|revisionFlag|changePercent|changePreviousNumber|settlementDate"
)
EX_DATE = date(2026, 4, 7)
# settlement date -> {symbol: (short interest, previous as printed, split flag)}
SI = {
    "2026-03-13": {"SPL": (100, 90, ""), "OTH": (50, 50, "")},
    "2026-03-31": {"SPL": (120, 100, ""), "OTH": (50, 50, "")},
    "2026-04-15": {"SPL": (260, 240, "S"), "OTH": (60, 50, "")},  # 240 = 120 restated 2:1
    "2026-04-30": {"SPL": (270, 260, ""), "OTH": (60, 60, "")},
}
SO = {"SPL": 1000, "OTH": 2000}  # shares outstanding in the 2026-01-02 snapshot (pre-split)


def business_days(start: date, end: date) -> list[date]:
    out, d = [], start
    while d <= end:
        if d.weekday() < 5:
            out.append(d)
        d += timedelta(days=1)
    return out


DAYS = business_days(date(2025, 4, 1), date(2026, 4, 30))


def spl_close(i: int, d: date) -> float:
    """Unadjusted close: a saw-tooth around 100 before the ex-date, halved from it on."""
    economic = 100.0 + (i % 7) - 3.0 + (0.02 * i)
    return round(economic / 2.0 if d >= EX_DATE else economic, 2)


def oth_close(i: int) -> float:
    return round(20.0 + (i % 5) * 0.5, 2)


def _write_store(base: Path, flag: bool) -> Path:
    si_dir = base / "si"
    si_dir.mkdir()
    for d, rows in SI.items():
        lines = [HEADER]
        for sym, (si, prev, s_flag) in rows.items():
            s_flag = s_flag if flag else ""
            if not flag and s_flag == "" and sym == "SPL" and d == "2026-04-15":
                prev = 120  # a file without the split: previous as printed
            lines.append(f"{d.replace('-', '')}|{sym}|{sym} Inc|A|NNM|{si}|{prev}|{s_flag}|10|1.00||0|0|{d}")
        (si_dir / f"shrt{d.replace('-', '')}.csv").write_text("\n".join(lines) + "\n")
    members = base / "SPX.csv"
    members.write_text(
        "index,as_of,symbol,name,sector,shares_outstanding,float_shares,weight\n"
        + "".join(f"SPX,2026-01-02,{s},{s} Inc,Information Technology,{n},{n},50\n" for s, n in SO.items())
    )
    px_dir = base / "prices"
    px_dir.mkdir()
    for sym, fn in (("SPL", spl_close), ("OTH", lambda i, d: oth_close(i))):
        rows = "".join(
            f"{d},{fn(i, d)},{fn(i, d)},{fn(i, d)},{fn(i, d)},{fn(i, d)},1000\n" for i, d in enumerate(DAYS)
        )
        (px_dir / f"{sym}.csv").write_text("Date,Open,High,Low,Close,Adj Close,Volume\n" + rows)
    store = base / "store"
    for args in (("members", str(members)), ("short-interest", str(si_dir)), ("prices", str(px_dir))):
        r = run_cli("ingest", *args, store=store)
        assert r.code == 0, r.err
    return store


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_store(tmp_path_factory.mktemp("split"), flag=True)


@pytest.fixture(scope="module")
def unsplit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_store(tmp_path_factory.mktemp("nosplit"), flag=False)


def _json(store: Path, *args: str) -> dict:
    r = run_cli(*args, "-f", "json", store=store)
    assert r.code == 0, r.err
    return json.loads(r.out)


def _adjusted() -> dict[date, float]:
    """SPL's closes on today's basis, by hand: halve every close before the ex-date."""
    return {d: (spl_close(i, d) / 2.0 if d < EX_DATE else spl_close(i, d)) for i, d in enumerate(DAYS)}


def test_stock_numbers_across_the_split(store: Path) -> None:
    rows = {r["settlement_date"]: r for r in _json(store, "stock", "SPL", "--last", "0")["rows"]}
    adj = _adjusted()
    on_0415, on_0430 = rows["2026-04-15"], rows["2026-04-30"]
    # SI % of shares outstanding: the 2026-01-02 count is pre-split, 1000 -> 2000 shares.
    assert on_0430["si_pct_so"] == pytest.approx(100 * 270 / 2000)  # 13.5%, not 27%
    assert on_0415["si_pct_so"] == pytest.approx(100 * 260 / 2000)
    assert rows["2026-03-31"]["si_pct_so"] == pytest.approx(100 * 240 / 2000)  # 120 old shares
    # SI change across the split: restated 120 -> 240, not nulled and not 260/120 - 1.
    assert on_0415["si_change_last"] == pytest.approx(260 / 240 - 1)
    assert on_0430["si_change_last"] == pytest.approx(270 / 260 - 1)
    # The row says which windows hold the split: 04-15's last report, 04-30's "3 reports ago" (03-13).
    assert on_0415["change_note"] == "split in window (last): restated on today's share basis"
    assert on_0430["change_note"] == "split in window (3): restated on today's share basis"
    assert rows["2026-03-31"]["change_note"] is None
    # Price return across the split on adjusted closes (last close on or before each date).
    assert on_0415["price_return_last"] == pytest.approx(adj[date(2026, 4, 15)] / adj[date(2026, 3, 31)] - 1)
    # 1Y price percentile on adjusted closes: share of closes in (d - 365, d] <= the close on d.
    d = date(2026, 4, 30)
    window = [c for t, c in adj.items() if d - timedelta(days=365) < t <= d]
    expected = 100 * sum(c <= adj[d] for c in window) / len(window)
    assert on_0430["price_pct_1y"] == pytest.approx(expected)
    assert on_0430["close"] == pytest.approx(adj[d])


def test_sector_and_index_across_the_split(store: Path) -> None:
    adj = _adjusted()
    oth = {d: oth_close(i) for i, d in enumerate(DAYS)}
    b, d = date(2026, 3, 31), date(2026, 4, 15)
    sector = _json(store, "scan", "--by", "sector", "--index", "SPX", "--as-of", d.isoformat())["rows"][0]
    # SI change of the sector total: (260 + 60) / (240 + 50) - 1, SPL restated, nobody left out.
    assert sector["si_change_last"] == pytest.approx(320 / 290 - 1)
    assert sector["split_excluded_symbols"] == 0
    # Cap-weighted level: today's shares (SPL 2000, OTH 2000) x adjusted closes; both have a close
    # every day, so the chain-linked level's return is the plain ratio of the two caps.
    cap = {t: 2000 * adj[t] + 2000 * oth[t] for t in (b, d)}
    assert sector["price_return_last"] == pytest.approx(cap[d] / cap[b] - 1)
    index = _json(store, "scan", "--index", "SPX", "--as-of", d.isoformat())["rows"][0]
    assert index["total_si_shares"] == 320
    assert index["si_change_last"] == pytest.approx(320 / 290 - 1)
    assert index["median_si_pct_so"] == pytest.approx((100 * 260 / 2000 + 100 * 60 / 2000) / 2)
    # Total SI shares over history on today's basis: SPL's pre-split reports doubled.
    hist = _json(store, "history", "--index", "SPX", "--metric", "total_si_shares")["rows"]
    assert [r["value"] for r in hist] == [2 * 100 + 50, 2 * 120 + 50, 260 + 60, 270 + 60]


def test_a_store_without_splits_is_unchanged(unsplit: Path) -> None:
    """The same files without the S flag: nothing is restated (the raw numbers, jump and all)."""
    rows = {r["settlement_date"]: r for r in _json(unsplit, "stock", "SPL", "--last", "0")["rows"]}
    assert rows["2026-04-30"]["si_pct_so"] == pytest.approx(100 * 270 / 1000)
    assert rows["2026-04-15"]["si_change_last"] == pytest.approx(260 / 120 - 1)
    hist = _json(unsplit, "history", "--index", "SPX", "--metric", "total_si_shares")["rows"]
    assert [r["value"] for r in hist] == [150, 170, 320, 330]


# ------------------------------------------------------------------------------ events, unit level


def _si(rows: list[tuple[str, str, float, float, bool]]) -> pd.DataFrame:
    return pd.DataFrame(
        rows, columns=["symbol", "settlement_date", "short_interest", "previous_short_interest", "split_flag"]
    ).assign(settlement_date=lambda f: pd.to_datetime(f["settlement_date"]))


def test_finra_ratio_without_a_jump_leaves_adjusted_closes_alone() -> None:
    """Yahoo's Close is split-adjusted already: FINRA gives the ratio, no close is touched."""
    si = _si([("X", "2026-03-31", 120, 100, False), ("X", "2026-04-15", 250, 360, True)])
    prices = pd.DataFrame(
        {"symbol": "X", "date": pd.to_datetime(["2026-04-06", "2026-04-07"]), "close": [50.0, 51.0]}
    )
    (e,) = splits.events(si, prices)
    assert (e.ratio, e.ex_date, e.source) == (3.0, None, "finra")  # 360 / 120
    assert splits.restate_prices(prices, [e]) is prices
    assert list(splits.restate_si(si, [e])["short_interest"]) == [360, 250]


def test_reverse_split_from_the_price_jump_and_an_unresolved_one() -> None:
    si = _si([("R", "2026-03-31", 900, 0, False), ("R", "2026-04-15", 95, 900, True)])
    prices = pd.DataFrame(
        {
            "symbol": "R",
            "date": pd.to_datetime(["2026-04-08", "2026-04-09", "2026-04-10"]),
            "close": [1.0, 1.02, 10.4],
        }
    )
    (e,) = splits.events(si, prices)  # FINRA did not restate (900 / 900): the 1.02 -> 10.4 jump does
    assert (e.ratio, e.ex_date, e.source) == (1 / 10, date(2026, 4, 10), "price")
    assert splits.restate_si(si, [e])["short_interest"].tolist() == pytest.approx([90, 95])
    (u,) = splits.events(si, None)
    assert (u.ratio, u.source) == (None, "unresolved")
    assert splits.restate_si(si, [u])[splits.UNRESOLVED].tolist() == [False, True]


@pytest.mark.parametrize(
    ("quotient", "tolerance", "expected"),
    [
        (2.04, 0.03, 2.0),
        (1.0, 0.03, None),
        (1.49, 0.03, 1.5),
        (2.2, 0.03, None),
        (2.2, 0.12, 2.0),
        (0.098, 0.03, 0.1),
    ],
)
def test_snap(quotient: float, tolerance: float, expected: float | None) -> None:
    got = splits.snap(quotient, tolerance)
    assert got == (pytest.approx(expected) if expected is not None else None)


# ------------------------------------------------------------------------------- the sample store


def _sql(store: Path, query: str) -> list[tuple]:
    """DuckDB straight on the store's Parquet files: a second engine for the same numbers."""
    import duckdb

    con = duckdb.connect()
    for table in ("short_interest", "members", "prices"):
        con.execute(
            f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{store}/{table}/**/*.parquet', hive_partitioning = true)"
        )
    return con.execute(query).fetchall()


WAVE_JUMP = """
    WITH p AS (SELECT "date", close, lag(close) OVER (ORDER BY "date") AS prev FROM prices WHERE symbol = 'WAVE')
    SELECT "date", round(prev / close) FROM p WHERE "date" > DATE '2026-03-31' AND "date" <= DATE '2026-04-15'
    ORDER BY abs(ln(prev / close)) DESC LIMIT 1
"""


def test_sample_store_split_figures(demo_store: Path) -> None:
    """WAVE split 2:1 in April 2026 (FINRA S on 2026-04-15); the SPX snapshot of 2026-01-02 holds
    its pre-split share count."""
    ((ex_date, ratio),) = _sql(demo_store, WAVE_JUMP)
    assert (ex_date, ratio) == (date(2026, 4, 6), 2.0)
    ((si, so),) = _sql(
        demo_store,
        "SELECT s.short_interest, m.shares_outstanding FROM short_interest s, members m WHERE s.symbol = 'WAVE'"
        " AND m.symbol = 'WAVE' AND m.index = 'SPX' AND m.as_of = DATE '2026-01-02' AND s.settlement_date = DATE '2026-10-30'",
    )
    row = _json(demo_store, "scan", "--by", "stock", "--symbols", "WAVE")["rows"][0]
    assert row["si_pct_so"] == pytest.approx(100 * si / (so * ratio))  # 4.85%, not 9.69%
    assert round(row["si_pct_so"], 2) == 4.85

    # SPX Communication Services YTD: cap-weighted on today's basis (every member has a close on
    # every day, so the chain-linked level's return is the ratio of the two days' caps).
    ((ytd,),) = _sql(
        demo_store,
        f"""
        WITH mem AS (
            SELECT symbol, shares_outstanding * CASE WHEN symbol = 'WAVE' THEN {ratio} ELSE 1 END AS so
            FROM members WHERE index = 'SPX' AND as_of = DATE '2026-01-02' AND sector = 'Communication Services'
              AND symbol IN (SELECT symbol FROM short_interest WHERE settlement_date = DATE '2026-10-30')),
        adj AS (
            SELECT symbol, "date",
                   close / CASE WHEN symbol = 'WAVE' AND "date" < DATE '{ex_date}' THEN {ratio} ELSE 1 END AS close
            FROM prices),
        ends AS (
            SELECT m.symbol, m.so, (SELECT close FROM adj WHERE adj.symbol = m.symbol AND "date" <= DATE '2026-10-30'
                                    ORDER BY "date" DESC LIMIT 1) AS c1,
                   (SELECT close FROM adj WHERE adj.symbol = m.symbol AND "date" <= DATE '2025-12-31'
                    ORDER BY "date" DESC LIMIT 1) AS c0
            FROM mem m)
        SELECT sum(so * c1) / sum(so * c0) - 1 FROM ends
        """,
    )
    sectors = _json(demo_store, "scan", "--by", "sector", "--index", "SPX")["rows"]
    comm = next(r for r in sectors if r["sector"] == "Communication Services")
    assert comm["price_return_ytd"] == pytest.approx(ytd)
    # +1.4%: unadjusted closes made it -10.4%; adjusting the closes but keeping WAVE's pre-split
    # share count (half its market cap) would give +0.9%.
    assert round(100 * comm["price_return_ytd"], 1) == 1.4


def test_kept_events_are_rebuilt_when_damaged_or_out_of_date(store: Path, tmp_path: Path) -> None:
    """A warm scan reads the store's split events from STORE/.cache/splits.json (finding them reads
    every short-interest file); a damaged file or one for other inputs is recomputed, never trusted."""
    import shutil

    copy = tmp_path / "store"
    shutil.copytree(store, copy)
    first = _json(copy, "scan", "--index", "SPX", "--as-of", "2026-04-15")["rows"][0]
    kept = copy / ".cache" / "splits.json"
    doc = json.loads(kept.read_text())
    assert doc["events"] == [["SPL", "2026-03-31", "2026-04-15", 2.0, EX_DATE.isoformat(), "finra+price"]]
    kept.write_text("{ damaged")
    assert _json(copy, "scan", "--index", "SPX", "--as-of", "2026-04-15")["rows"][0] == first
    kept.write_text(json.dumps({"key": doc["key"][::-1], "events": []}))  # other inputs: no events
    assert _json(copy, "scan", "--index", "SPX", "--as-of", "2026-04-15")["rows"][0] == first
    assert json.loads(kept.read_text()) == doc


def test_sec_shares_are_restated_like_the_membership_counts() -> None:
    """The index levels take SEC shares outstanding as an explicit input: a value whose period
    ends before the ex-date is on the old basis and doubles under a 2:1 split; one after it, or of
    another symbol, stays as filed."""
    import pyarrow as pa

    event = splits.SplitEvent("SPL", date(2026, 3, 31), date(2026, 4, 15), 2.0, EX_DATE, "finra+price")
    shares = pa.table(
        {
            "symbol": ["SPL", "SPL", "OTH"],
            "period_end": pa.array([date(2025, 12, 31), date(2026, 6, 30), date(2025, 12, 31)]),
            "filed": pa.array([None, None, None], type=pa.date32()),
            "shares": [1000.0, 2100.0, 5000.0],
            "share_classes": [1, 1, 1],
        }
    )
    out = splits.restate_shares(shares, [event]).column("shares").to_pylist()
    assert out == [1000.0 * 2, 2100.0, 5000.0]
    assert splits.restate_shares(shares, []).equals(shares)
