"""`positioning fetch members` against the local mirror (never the internet), from the real iShares
and Invesco exports in ../shared/data/real/constituents (skipped when absent); clock pinned as in
test_fetch_cli (2026-11-12 12:00 ET)."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq

from tests.conftest import run_cli, store_bytes
from tests.fetch_market_payloads import (
    IVV_PATH,
    IWM_PATH,
    QQQ_PATH,
    ishares_equities,
    iwm_export,
    qqq_export,
    relabelled,
)
from tests.fetch_server import Reply
from tests.test_fetch_cli import Env, mirror  # noqa: F401  (the fixture)

MAY6 = "2026-05-06T16:00:00+00:00"


def _members(store: Path) -> dict[tuple[str, date, str], dict]:
    out = {}
    for p in sorted((store / "members").rglob("*.parquet")) if (store / "members").exists() else []:
        for r in pq.read_table(p).to_pylist():
            out[(r["index"], r["as_of"], r["symbol"])] = r
    return out


def test_fetch_members_of_each_index_from_the_sponsors_exports(mirror: Env) -> None:  # noqa: F811
    iwm = iwm_export().read_bytes()
    ivv = relabelled(iwm, "iShares Core S&P 500 ETF", rows=503, as_of="May 04, 2026")
    qqq = qqq_export().read_bytes()
    routes = mirror.server.routes
    routes.put(IWM_PATH, iwm)
    routes.put(IVV_PATH, ivv)
    routes.put(QQQ_PATH, qqq)
    # the day after the newest export's date: its snapshot is this month's (exit 0, not late)
    r = mirror.run("fetch", "members", now=MAY6)
    assert r.code == 0, r.err
    assert "iShares holdings: current: 2 requested, 2 downloaded" in r.err
    assert "Invesco holdings: current: 1 requested, 1 downloaded" in r.err
    held = _members(mirror.store)
    # independently: the equity rows with a ticker, read with the csv module
    for index, as_of, body in (("RUT", date(2026, 5, 5), iwm), ("SPX", date(2026, 5, 4), ivv)):
        want = ishares_equities(body)
        got = {s: row["sector"] for (i, d, s), row in held.items() if i == index and d == as_of}
        assert got == want and len(want) >= 500, index
    with qqq_export().open(newline="") as f:
        qrows = list(csv.DictReader(f))
    want = {row["Holding Ticker"].strip(): row["Sector"] for row in qrows}
    got = {s: row["sector"] for (i, d, s), row in held.items() if i == "NDX" and d == date(2020, 7, 2)}
    assert got == want and len(got) == len(qrows)
    # the raw payloads are kept, named by the fetch day, and they ingest to the same rows
    raw = sorted((mirror.store / "raw").glob("*/*_holdings_20260506.csv"))
    assert [p.name for p in raw] == [
        "QQQ_holdings_20260506.csv",
        "IVV_holdings_20260506.csv",
        "IWM_holdings_20260506.csv",
    ]
    by_hand = mirror.store.parent / "by-hand"
    assert run_cli("ingest", "members", *map(str, raw), store=by_hand).code == 0
    assert _without_lineage(_members(by_hand)) == _without_lineage(held)


def _without_lineage(rows: dict) -> dict:
    return {
        k: {f: v for f, v in r.items() if f not in ("ingested_at", "source_file")} for k, r in rows.items()
    }


def test_past_holdings_must_hold_the_date_asked_for(mirror: Env) -> None:  # noqa: F811
    iwm = iwm_export().read_bytes()
    mirror.server.routes.put(IWM_PATH, iwm)
    r = mirror.run("fetch", "members", "--index", "RUT", "--as-of", "2026-05-05", "--as-of", "2026-04-30")
    assert r.code == 9, r.err
    [error] = [ln for ln in r.err.splitlines() if ln.startswith("error: iShares holdings: ")]
    assert "asOfDate=20260430" in error and error.endswith("holdings as of 2026-05-05, requested 2026-04-30")
    asked = [p for _, p, _ in mirror.server.routes.log if p.startswith(IWM_PATH)]
    assert [p.rsplit("asOfDate=", 1)[-1] for p in asked] == ["20260505", "20260430"]
    assert {k[:2] for k in _members(mirror.store)} == {("RUT", date(2026, 5, 5))}  # the good one kept
    assert (mirror.store / "raw/ishares/IWM_holdings_asof_20260505.csv").read_bytes() == iwm


def test_wrong_fund_html_empty_and_no_holdings_are_errors_and_no_data(mirror: Env) -> None:  # noqa: F811
    iwm = iwm_export().read_bytes()
    routes = mirror.server.routes
    routes.put(IVV_PATH, iwm)  # the Russell 2000 fund where the S&P 500 one belongs
    routes.script(
        QQQ_PATH, Reply(200, b"<html><body>Access denied</body></html>", {"Content-Type": "text/html"})
    )
    routes.put(IWM_PATH, b"")
    r = mirror.run("fetch", "members")
    assert r.code == 9, r.err
    errors = [ln for ln in r.err.splitlines() if ln.startswith("error: ")]
    assert any(IVV_PATH in e and "'iShares Russell 2000 ETF' (RUT), not SPX" in e for e in errors), r.err
    assert any(QQQ_PATH in e and "HTML page" in e for e in errors), r.err
    assert any(IWM_PATH in e and "empty body" in e for e in errors), r.err
    assert store_bytes(mirror.store / "members") == {}
    routes.put(IWM_PATH, relabelled(iwm, "iShares Russell 2000 ETF", as_of="-"))
    dash = mirror.run("fetch", "members", "--index", "RUT", "--as-of", "2019-01-01")
    assert dash.code == 9 and "iShares has no holdings for 2019-01-01 (as-of '-')" in dash.err


def test_as_of_for_nasdaq_is_a_usage_error(mirror: Env) -> None:  # noqa: F811
    r = mirror.run("fetch", "members", "--index", "NDX", "--as-of", "2026-01-02")
    assert r.code == 2 and "Invesco serves today's QQQ (NDX) holdings only" in r.err
    assert mirror.server.routes.log == []


def test_update_refreshes_membership_monthly_and_the_proxies_daily(mirror: Env) -> None:  # noqa: F811
    from tests.fetch_market_payloads import serve_proxies

    routes = mirror.server.routes
    routes.put(IWM_PATH, iwm_export().read_bytes())
    routes.put(IVV_PATH, relabelled(iwm_export().read_bytes(), "iShares Core S&P 500 ETF", rows=503))
    routes.put(QQQ_PATH, qqq_export().read_bytes().replace(b"07/02/2020", b"05/05/2026"))  # a current file
    serve_proxies(routes, date(2026, 5, 5))
    first = mirror.run("update", now=MAY6)  # FINRA/CFTC files are not served here: their lines say so
    lines = first.err.splitlines()
    assert any(ln.startswith("iShares holdings: current: 2 requested, 2 downloaded") for ln in lines), (
        first.err
    )
    assert any(ln.startswith("Invesco holdings: current: 1 requested, 1 downloaded") for ln in lines), (
        first.err
    )
    assert any(ln.startswith("Yahoo prices: current: 6 requested, 6 downloaded") for ln in lines), first.err
    assert {k[0] for k in _members(mirror.store)} == {"RUT", "SPX", "NDX"}
    # a day later, the same month: every index's snapshot is this month's, none is asked for again
    asked = len(routes.log)
    again = mirror.run("update", now="2026-05-07T16:00:00+00:00")
    members_asked = [
        p for _, p, _ in routes.log[asked:] if p.startswith(("www.ishares.com", "www.invesco.com"))
    ]
    assert members_asked == []
    assert not any(
        ln.startswith(("iShares holdings: current: 1", "Invesco holdings: current: 1"))
        for ln in again.err.splitlines()
    )


def test_a_cut_holdings_file_and_invescos_json_are_refused(mirror: Env) -> None:  # noqa: F811
    iwm = iwm_export().read_bytes()
    routes = mirror.server.routes
    cut = relabelled(iwm, "iShares Russell 2000 ETF", rows=100)
    routes.put(IWM_PATH, cut)
    routes.put(
        QQQ_PATH, b'{"effectiveDate":"2026-06-06","holdings":[{"ticker":"NVDA","issuerName":"NVIDIA Corp"}]}'
    )
    r = mirror.run("fetch", "members", "--index", "RUT,NDX")
    assert r.code == 9, r.err
    equities = len(ishares_equities(cut))  # the csv module's count of the equity rows kept
    assert f"{equities} equity rows, expected 1500-2600 for RUT" in r.err
    assert "JSON holdings; this version reads Invesco's CSV export" in r.err
    assert _members(mirror.store) == {}
