"""What one ingested file contributed can be removed (``store forget``) and an ingest's identity is
its bytes with the options that shaped its rows: the same bytes read with other options replace
the rows they gave before, instead of "already ingested, unchanged"."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow.compute as pc
import pytest

from positioning_cli import api
from positioning_cli.errors import UsageError
from positioning_cli.ingest import ParseOptions
from positioning_cli.schema import SHORT_INTEREST
from positioning_cli.store import Store
from positioning_cli.store_admin import verify
from tests.conftest import run_cli
from tests.test_store import batch

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
D1, D2 = date(2026, 7, 31), date(2026, 8, 14)


def _live(root: Path, known_at: datetime | None = None) -> dict[tuple[date, str], tuple[int, str]]:
    t = Store(root).read("short_interest", known_at=known_at)
    return {
        (r["settlement_date"], r["symbol"]): (r["short_interest"], r["source_file"]) for r in t.to_pylist()
    }


def test_store_forget_falls_back_to_earlier_values_and_keeps_the_past(tmp_path: Path) -> None:
    a = batch("a.csv", [(D1, "AAPL", 100, False), (D2, "AAPL", 10, False)])
    b = batch("b.csv", [(D2, "AAPL", 12, False), (D2, "MSFT", 5, False)])  # a new key and a change
    c = batch("c.csv", [(D1, "IWM", 7, False)])
    for i, x in enumerate((a, b, c)):
        with Store(tmp_path).writing(wait=1) as w:
            w.ingested_at = T0 + timedelta(days=i)
            w.merge(SHORT_INTEREST, x)
    before = _live(tmp_path)
    assert before[(D2, "AAPL")] == (12, "b.csv")
    with Store(tmp_path).writing(wait=1) as w:
        w.ingested_at = T0 + timedelta(days=5)
        gone = w.forget(SHORT_INTEREST, b.sha256)
    assert [e["source_file"] for e in gone] == ["b.csv"]
    # by hand: b's change gives way to a's value, b's new key goes, the others stay as they were
    assert _live(tmp_path) == {
        (D1, "AAPL"): (100, "a.csv"),
        (D2, "AAPL"): (10, "a.csv"),
        (D1, "IWM"): (7, "c.csv"),
    }
    # the past is still reachable, and point-in-time reads after the forget agree with the live table
    assert _live(tmp_path, T0 + timedelta(days=3)) == before
    assert _live(tmp_path, T0 + timedelta(days=6)) == _live(tmp_path)
    assert verify(tmp_path).ok
    # forgetting twice does nothing; the file can be ingested again and its rows come back
    with Store(tmp_path).writing(wait=1) as w:
        assert w.forget(SHORT_INTEREST, b.sha256) == []
        w.ingested_at = T0 + timedelta(days=7)
        assert not w.merge(SHORT_INTEREST, b).skipped
    assert _live(tmp_path)[(D2, "MSFT")] == (5, "b.csv")


def _members(tmp_path: Path) -> Path:
    path = tmp_path / "list.csv"
    path.write_text("symbol,name,sector\nAAA,Aaa Inc,Health Care\nBBB,Bbb Inc,Energy\n")
    return path


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (
            ParseOptions(index="RUT", as_of=date(2026, 1, 2)),
            ParseOptions(index="RUT", as_of=date(2026, 2, 2)),
        ),
        (
            ParseOptions(index="RUT", as_of=date(2026, 1, 2)),
            ParseOptions(index="SPX", as_of=date(2026, 1, 2)),
        ),
        (
            ParseOptions(index="RUT", as_of=date(2026, 1, 2)),
            ParseOptions(index="RUT", as_of=date(2026, 1, 2), mapping={"name": "sector"}),
        ),
    ],
)
def test_reingest_with_other_options_replaces_the_rows_the_file_gave(
    tmp_path: Path, first: ParseOptions, second: ParseOptions
) -> None:
    store = tmp_path / "store"
    path = _members(tmp_path)
    (r1,) = api.ingest("members", [path], store, first)
    (r2,) = api.ingest("members", [path], store, second)
    assert not r2.skipped and r2.replaced and r2.rows == 2
    rows = Store(store).read("members").to_pylist()
    # only the second reading is live: 2 rows, not 4
    assert sorted((r["index"], r["as_of"], r["symbol"], r["name"]) for r in rows) == sorted(
        (second.index, second.as_of, s, n)
        for s, n in (
            [("AAA", "Health Care"), ("BBB", "Energy")]
            if second.mapping
            else [("AAA", "Aaa Inc"), ("BBB", "Bbb Inc")]
        )
    )
    # the same options again: skipped; the first options again: replaced back
    (r3,) = api.ingest("members", [path], store, second)
    assert r3.skipped
    (r4,) = api.ingest("members", [path], store, first)
    assert r4.replaced
    assert {(r["index"], r["as_of"]) for r in Store(store).read("members").to_pylist()} == {
        (first.index, first.as_of)
    }
    assert r1.changed == 2 and verify(store).ok


def test_reingest_prices_under_another_symbol_and_format(tmp_path: Path) -> None:
    store = tmp_path / "store"
    path = tmp_path / "prices.csv"
    path.write_text("Date,Open,High,Low,Close,Volume\n2026-01-02,1,1,1,10,5\n2026-01-05,1,1,1,11,5\n")
    api.ingest("prices", [path], store, ParseOptions(symbol="SPY"))
    (r,) = api.ingest("prices", [path], store, ParseOptions(symbol="QQQ", format="stooq"))
    assert r.replaced
    t = Store(store).read("prices")
    assert set(t.column("symbol").to_pylist()) == {"QQQ"}
    assert pc.sum(t.column("close")).as_py() == 21


def test_store_forget_cli_and_the_already_ingested_line(tmp_path: Path) -> None:
    store = tmp_path / "store"
    path = _members(tmp_path)
    args = ("ingest", "members", str(path), "--index", "RUT", "--as-of", "2026-01-02")
    assert run_cli(*args, store=store).code == 0
    again = run_cli(*args, store=store)
    assert again.code == 0
    assert "already ingested with these options, unchanged" in again.err
    assert "other options re-read it and replace its rows" in again.err
    assert "positioning store forget list.csv" in again.err
    moved = run_cli("ingest", "members", str(path), "--index", "RUT", "--as-of", "2026-03-02", store=store)
    assert moved.code == 0 and "replacing the rows its earlier ingest" in moved.err, moved.err
    info = json.loads(run_cli("store", "info", "-f", "json", store=store).out)
    members = next(r for r in info["rows"] if r["table"] == "members")
    assert members["rows"] == 2
    r = run_cli("store", "forget", str(path), store=store)
    assert r.code == 0 and "list.csv: forgot its members ingest" in r.err, r.err
    assert Store(store).read("members").num_rows == 0
    # by name once the file was edited since (its bytes match no ingest); nothing left is a usage error
    assert run_cli(*args, store=store).code == 0
    path.write_text("symbol,name,sector\nAAA,Aaa Inc,Health Care\n")
    edited = run_cli("store", "forget", str(path), store=store)
    assert edited.code == 0 and "list.csv: forgot its members ingest" in edited.err, edited.err
    assert Store(store).read("members").num_rows == 0
    assert run_cli("store", "forget", "list.csv", store=store).code == 2
    with pytest.raises(UsageError):
        api.forget(store, tmp_path / "never.csv")


def test_forgetting_the_only_file_of_a_date_leaves_that_date_unheld(tmp_path: Path) -> None:
    header = (
        "accountingYearMonthNumber|symbolCode|issueName|issuerServicesGroupExchangeCode|marketClassCode|"
        "currentShortPositionQuantity|previousShortPositionQuantity|stockSplitFlag|averageDailyVolumeQuantity|"
        "daysToCoverQuantity|revisionFlag|changePercent|changePreviousNumber|settlementDate"
    )
    members = tmp_path / "RUT.csv"
    members.write_text("index,as_of,symbol,shares_outstanding\nRUT,2026-01-02,AAA,1000\n")
    files = []
    for d, si in (("2026-06-15", 100), ("2026-06-30", 150)):
        path = tmp_path / f"shrt{d.replace('-', '')}.csv"
        path.write_text(f"{header}\n{d.replace('-', '')}|AAA|AAA|A|NNM|{si}|0||50|2.00||0|0|{d}\n")
        files.append(path)
    store = tmp_path / "store"
    for args in (("members", str(members)), ("short-interest", *map(str, files))):
        assert run_cli("ingest", *args, store=store).code == 0
    assert run_cli("store", "forget", str(files[1]), store=store).code == 0
    r = run_cli("scan", "--index", "RUT", "-f", "json", store=store)
    assert r.code == 0, r.err
    row = json.loads(r.out)["rows"][0]
    assert (row["settlement_date"], row["total_si_shares"]) == ("2026-06-15", 100)
    assert verify(store).ok
