"""`positioning fetch prices` against the local mirror (never the internet); clock pinned as in
test_fetch_cli: now = 2026-11-12 12:00 ET, so the last closed session is 2026-11-11."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow.parquet as pq

from tests.conftest import run_cli, store_bytes
from tests.fetch_market_payloads import (
    CBOE_PATH,
    CHART_PATH,
    FRED_PATH,
    PROXIES,
    cboe_csv,
    chart_closes,
    fred_csv,
    quoted,
    sample_rows,
    serve_proxies,
    yahoo_chart,
)
from tests.fetch_server import Reply
from tests.test_fetch_cli import Env, mirror  # noqa: F401  (the fixture)

LAST = date(2026, 11, 11)


def _prices(store: Path) -> dict[tuple[str, date], dict]:
    out = {}
    for p in sorted((store / "prices").rglob("*.parquet")):
        for r in pq.read_table(p).to_pylist():
            out[(r["symbol"], r["date"])] = r
    return out


def _midnight_et(d: date) -> int:
    return int(datetime.combine(d, time(0), tzinfo=ZoneInfo("America/New_York")).timestamp())


def _chart_requests(env: Env) -> list[str]:
    return [p for _, p, _ in env.server.routes.log if p.startswith("query1.finance.yahoo.com/v8/")]


def test_fetch_prices_stores_yahoo_closes_and_skips_current_symbols(mirror: Env) -> None:  # noqa: F811
    payloads = serve_proxies(mirror.server.routes, LAST)
    r = mirror.run("fetch", "prices")
    assert r.code == 0, r.err
    assert "Yahoo prices: current: 6 requested, 6 downloaded" in r.err
    held = _prices(mirror.store)
    for s in PROXIES:
        want = chart_closes(payloads[s])
        got = {d: (row["close"], row["adj_close"]) for (sym, d), row in held.items() if sym == s}
        assert got == want and len(got) == 40, s
    # the request asked for 10 years through the last closed session (period2: the next midnight ET)
    spy = next(p for p in _chart_requests(mirror) if "/SPY?" in p)
    p1, p2 = _midnight_et(date(2016, 11, 11)), _midnight_et(date(2026, 11, 12))
    assert f"period1={p1}&period2={p2}&interval=1d" in spy
    # current now: a rerun asks Yahoo for nothing
    before = len(_chart_requests(mirror))
    again = mirror.run("fetch", "prices")
    assert again.code == 0, again.err
    assert (
        again.err.startswith("Yahoo prices: current: 0 requested") and len(_chart_requests(mirror)) == before
    )


def test_yahoo_failure_for_index_levels_falls_back_to_official_closes(mirror: Env) -> None:  # noqa: F811
    routes = mirror.server.routes
    routes.script(CHART_PATH.format(symbol=quoted("^GSPC")), Reply(500, b"oops"))
    routes.script(
        CHART_PATH.format(symbol=quoted("^NDX")),
        Reply(200, b"<!doctype html><html>Please enable cookies</html>", {"Content-Type": "text/html"}),
    )
    spx = [(date(2026, 11, 9), 6790.12), (date(2026, 11, 10), 6801.5), (date(2026, 11, 11), 6822.34)]
    ndx = [(date(2026, 11, 9), 25001.1), (date(2026, 11, 10), None), (date(2026, 11, 11), 25100.9)]
    routes.put(CBOE_PATH.format(series="SPX"), cboe_csv("SPX", spx))
    routes.put(FRED_PATH, fred_csv("NASDAQ100", ndx))
    r = mirror.run("fetch", "prices", "--symbols", "^GSPC,^NDX")
    assert r.code == 0, r.err
    assert (
        "note: ^GSPC: Yahoo failed (HTTP 500); official closes (close only) from https://cdn.cboe.com/"
        in r.err
    )
    assert "note: ^NDX: Yahoo failed (an HTML page instead of data" in r.err
    held = _prices(mirror.store)
    assert {d: row["close"] for (s, d), row in held.items() if s == "^GSPC"} == dict(spx)
    assert {d: row["close"] for (s, d), row in held.items() if s == "^NDX"} == {
        d: v for d, v in ndx if v is not None
    }
    assert {row["source_format"] for row in held.values()} == {"index-level"}
    assert (mirror.store / "raw/yahoo/SPX_History.csv").read_bytes() == cboe_csv("SPX", spx)
    # one parse path: ingesting the raw files by hand gives the same rows
    by_hand = mirror.store.parent / "by-hand"
    raws = sorted(str(p) for p in (mirror.store / "raw/yahoo").glob("*.csv"))
    assert run_cli("ingest", "prices", *raws, store=by_hand).code == 0
    assert _rows_without_lineage(by_hand) == _rows_without_lineage(mirror.store)


def _rows_without_lineage(store: Path) -> dict:
    return {
        k: {f: v for f, v in row.items() if f not in ("ingested_at", "source_file")}
        for k, row in _prices(store).items()
    }


def test_raw_chart_file_ingests_to_what_fetch_stored(mirror: Env) -> None:  # noqa: F811
    routes = mirror.server.routes
    body = yahoo_chart("BRK-B", sample_rows("SPY", LAST, last=5))
    routes.put(CHART_PATH.format(symbol="BRK-B"), body)
    r = mirror.run("fetch", "prices", "--symbols", "BRK.B")
    assert r.code == 0, r.err
    [raw] = (mirror.store / "raw/yahoo").glob("BRK-B_*.json")
    assert raw.read_bytes() == body
    by_hand = mirror.store.parent / "by-hand"
    assert run_cli("ingest", "prices", str(raw), store=by_hand).code == 0
    got = _rows_without_lineage(mirror.store)
    assert got == _rows_without_lineage(by_hand)
    assert {k[0] for k in got} == {"BRKB"} and len(got) == 5


def test_bad_chart_payloads_are_one_line_errors_and_no_data(mirror: Env) -> None:  # noqa: F811
    routes = mirror.server.routes
    error = b'{"chart":{"result":null,"error":{"code":"Not Found","description":"No data found, symbol may be delisted"}}}'
    routes.script(CHART_PATH.format(symbol="ZZZZ"), Reply(404, error, {"Content-Type": "application/json"}))
    rows = sample_rows("SPY", LAST, last=3)
    short = yahoo_chart("SPY", rows).replace(b'"close": [', b'"close": [1.0, ', 1)
    routes.put(CHART_PATH.format(symbol="SPY"), short)
    routes.put(CHART_PATH.format(symbol="QQQ"), b"")
    r = mirror.run("fetch", "prices", "--symbols", "ZZZZ,SPY,QQQ")
    assert r.code == 9, r.err
    errors = [ln for ln in r.err.splitlines() if ln.startswith("error: Yahoo prices: ")]
    assert any("HTTP 404: No data found, symbol may be delisted" in e for e in errors), r.err
    assert any("3 timestamps but 4 closes" in e for e in errors), r.err
    assert any("/QQQ?" in e and "empty body" in e for e in errors), r.err
    assert store_bytes(mirror.store / "prices") == {}


def test_cookie_and_crumb_after_a_401(mirror: Env) -> None:  # noqa: F811
    routes = mirror.server.routes
    body = yahoo_chart("IWM", sample_rows("IWM", LAST, last=3))
    routes.script(
        CHART_PATH.format(symbol="IWM"),
        Reply(401, b'{"finance":{"error":{"code":"Unauthorized","description":"Invalid Crumb"}}}'),
        Reply(200, body, {"Content-Type": "application/json"}),
    )
    routes.script("fc.yahoo.com/", Reply(404, b"", {"Set-Cookie": "A3=d=abc; Domain=127.0.0.1; Path=/"}))
    routes.put("query1.finance.yahoo.com/v1/test/getcrumb", b"Xy7.crumb")
    r = mirror.run("fetch", "prices", "--symbols", "IWM")
    assert r.code == 0, r.err
    charts = _chart_requests(mirror)
    assert len(charts) == 2 and "crumb=" not in charts[0] and charts[1].endswith("&crumb=Xy7.crumb")
    crumb_call = next(
        h for _, p, h in routes.log if p.startswith("query1.finance.yahoo.com/v1/test/getcrumb")
    )
    assert "A3=d=abc" in crumb_call.get("cookie", "")
    assert {d for (s, d) in _prices(mirror.store)} == set(chart_closes(body))


def test_a_dividend_in_a_short_range_refetches_the_whole_history(mirror: Env) -> None:  # noqa: F811
    routes = mirror.server.routes
    first = yahoo_chart("SPY", sample_rows("SPY", date(2026, 11, 4), last=10))
    routes.put(CHART_PATH.format(symbol="SPY"), first)
    assert mirror.run("fetch", "prices", "--symbols", "SPY", now="2026-11-05T17:00:00+00:00").code == 0
    # a week later: the short range holds an ex-dividend day, so every adjusted close moved
    whole = yahoo_chart("SPY", sample_rows("SPY", LAST, last=15), dividend_on=date(2026, 11, 9))
    routes.put(CHART_PATH.format(symbol="SPY"), whole)
    r = mirror.run("fetch", "prices", "--symbols", "SPY")
    assert r.code == 0, r.err
    charts = [p for p in _chart_requests(mirror) if "/SPY?" in p]
    assert len(charts) == 3  # the first run, the short range, the whole history again
    assert f"period1={_midnight_et(date(2016, 11, 11))}&" in charts[2]  # 10 years back
    assert len(list((mirror.store / "raw/yahoo").glob("SPY_20161111_20261111.json"))) == 1


def test_members_prices_with_a_share_class_yahoo_spells_with_a_dash(mirror: Env, tmp_path: Path) -> None:  # noqa: F811
    members = tmp_path / "members.csv"
    members.write_text(
        "index,as_of,symbol,name,sector\nRUT,2026-11-10,AAA,Triple A Inc,Energy\n"
        "RUT,2026-11-10,BRKB,BERKSHIRE HATHAWAY INC CLASS B,Financials\n"
        "RUT,2026-06-30,OLD,Left the index,Energy\n"
    )
    assert run_cli("ingest", "members", str(members), store=mirror.store).code == 0
    routes = mirror.server.routes
    rows = sample_rows("SPY", LAST, last=4)
    routes.put(CHART_PATH.format(symbol="AAA"), yahoo_chart("AAA", rows))
    routes.put(CHART_PATH.format(symbol="BRK-B"), yahoo_chart("BRK-B", rows))
    routes.script(
        CHART_PATH.format(symbol="BRKB"),
        Reply(
            404,
            b'{"chart":{"result":null,"error":{"code":"Not Found","description":"No data found, symbol may be delisted"}}}',
        ),
    )
    r = mirror.run("fetch", "prices", "--members", "--symbols", "AAA")
    assert r.code == 0, r.err
    assert "2 requested, 2 downloaded" in r.err  # AAA once, BRKB; OLD is not in the newest snapshot
    held = _prices(mirror.store)
    assert {s for s, _ in held} == {"AAA", "BRKB"}
    assert {d: row["close"] for (s, d), row in held.items() if s == "BRKB"} == {
        d: c for d, (c, _) in chart_closes(yahoo_chart("BRK-B", rows)).items()
    }


def test_a_download_kept_by_an_interrupted_run_is_ingested_not_fetched_again(mirror: Env) -> None:  # noqa: F811
    from positioning_cli.fetch.raw import RawStore
    from positioning_cli.store import Store

    body = yahoo_chart("QQQ", sample_rows("QQQ", LAST, last=6))
    # what a run killed between download and commit leaves: the raw file and its index entry
    url = "https://query1.finance.yahoo.com/v8/finance/chart/QQQ"
    Store(mirror.store).claim()  # the fetch lock claims the store before downloading
    RawStore(mirror.store, "yahoo").save("QQQ_20161111_20261111.json", body, url=url)
    r = mirror.run("fetch", "prices", "--symbols", "QQQ")
    assert r.code == 0, r.err
    assert "1 requested, 0 downloaded, 1 unchanged, 1 file(s) ingested" in r.err
    assert _chart_requests(mirror) == []
    assert {
        d: (row["close"], row["adj_close"]) for (s, d), row in _prices(mirror.store).items()
    } == chart_closes(body)
