"""`positioning fetch shares` / `ingest shares` and SEC denominators in scan, against a local mirror.

Now is pinned to 2026-11-12 (ET noon): the frames of 2026 Q1-Q3 exist, Q4's answers 404 (not out
yet). The store holds a RUT membership without shares outstanding (AAA's excepted) and the
2026-10-30 FINRA report; the median SI % of shares outstanding is recomputed in plain Python.
"""

from __future__ import annotations

import json
import shutil
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import Run, run_cli
from tests.fetch_payloads import (
    SEC_FACTS,
    SEC_FACTS_PATH,
    SEC_FRAME_PATH,
    SEC_FRAMES,
    SEC_TICKERS,
    SEC_TICKERS_PATH,
    sec_frame,
    sec_tickers,
    serve_sec,
)
from tests.fetch_server import Reply, Server, serve

NOW = "2026-11-12T17:00:00+00:00"
D = date(2026, 10, 30)
HEADER = (
    "accountingYearMonthNumber|symbolCode|issueName|issuerServicesGroupExchangeCode|marketClassCode|"
    "currentShortPositionQuantity|previousShortPositionQuantity|stockSplitFlag|averageDailyVolumeQuantity|"
    "daysToCoverQuantity|revisionFlag|changePercent|changePreviousNumber|settlementDate"
)
SI = {
    "AAA": 40_000,
    "BBB": 100_000,
    "CCC": 30_000,
    "DDD": 5_000,
    "EEE": 80_000,
    "FFF": 10_000,
    "GOOG": 1_000_000,
    "GOOGL": 2_000_000,
    "BAC": 50_000_000,
    "HHH": 27_000,
    "III": 500,
}
MEMBER_SO = {"AAA": 2_000_000}  # the membership file's own value for AAA: it wins over SEC's
Q4 = SEC_FRAME_PATH.format(ccp="CY2026Q4I")


@dataclass
class Env:
    server: Server
    store: Path
    env: dict[str, str]
    base: Path

    def run(self, *args: str, **extra: str) -> Run:
        return run_cli(*args, store=self.store, env={**self.env, "POSITIONING_NOW": NOW, **extra})


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The store before any SEC fetch (members + the 2026-10-30 report), built once and copied."""
    base = tmp_path_factory.mktemp("seed")
    _seed(base, base / "store")
    return base / "store"


def _env(server: Server, base: Path, seeded: Path) -> Env:
    shutil.copytree(seeded, base / "store")
    env = {
        "POSITIONING_MIRROR": server.url,
        "POSITIONING_CONFIG": str(base / "positioning.toml"),
        "POSITIONING_HTTP_INTERVAL_SCALE": "0",
        "POSITIONING_HTTP_BACKOFF": "0.001",
        "POSITIONING_HTTP_TIMEOUT": "5",
        "POSITIONING_SEC_CONTACT": "tests@example.com",
    }
    serve_sec(server.routes)
    server.routes.script(Q4, Reply(404, b'{"message":"Not Found"}', {"Content-Type": "application/json"}))
    return Env(server, base / "store", env, base)


@pytest.fixture
def sec(tmp_path: Path, seeded: Path) -> Iterator[Env]:
    for server in serve():
        yield _env(server, tmp_path, seeded)


@pytest.fixture(scope="module")
def fetched(tmp_path_factory: pytest.TempPathFactory, seeded: Path) -> Iterator[Path]:
    """A store after one `fetch shares`, shared by the tests that only read it."""
    for server in serve():
        e = _env(server, tmp_path_factory.mktemp("fetched"), seeded)
        r = e.run("fetch", "shares")
        assert r.code == 0, r.err
        yield e.store


def _seed(base: Path, store: Path) -> None:
    si = base / f"shrt{D:%Y%m%d}.csv"
    lines = [HEADER] + [f"{D:%Y%m}|{s}|{s} Corp|A|NNM|{n}|0||1000|1.00||0|0|{D}" for s, n in SI.items()]
    si.write_text("\n".join(lines) + "\n")
    members = base / "RUT.csv"
    members.write_text(
        "index,as_of,symbol,name,sector,shares_outstanding\n"
        + "".join(f"RUT,2026-01-02,{s},{s} Corp,Tech,{MEMBER_SO.get(s, '')}\n" for s in SI)
    )
    for args in (("members", str(members)), ("short-interest", str(si))):
        r = run_cli("ingest", *args, store=store)
        assert r.code == 0, r.err


def _shares_rows(store: Path) -> list[tuple[object, ...]]:
    rows = []
    for p in sorted((store / "shares_outstanding").rglob("*.parquet")):
        t = pq.read_table(p).drop_columns(["ingested_at"])
        rows += [tuple(r.values()) for r in t.to_pylist()]
    return sorted(rows, key=repr)


def _expected_median() -> tuple[float, dict[str, int]]:
    """DOMAIN.md: median over members with SI and a denominator, quarantined ones left out. The SEC
    value of a symbol on D: its latest period end <= D among values filed <= D (frames carry no
    filing date); quarantined when <= 1,000, 10x off its previous value (and its next, if any),
    older than 456 days, or one
    CIK value shared by two common tickers."""
    classes: dict[int, list[str]] = {}
    for cik, t, _ in SEC_TICKERS:
        if "-P" not in t:
            classes.setdefault(cik, []).append(t)
    values: dict[str, list[tuple[date, date, int]]] = {}
    for frame in SEC_FRAMES.values():
        for cik, end, val in frame:
            for t in classes[cik]:
                values.setdefault(t, []).append((date.fromisoformat(end), date.fromisoformat(end), val))
    for cik, facts in SEC_FACTS.items():
        for end, filed, val in facts:
            for t in classes[cik]:
                values.setdefault(t, []).append((date.fromisoformat(end), date.fromisoformat(filed), val))
    pcts, counts = [], {"members_file": 0, "sec": 0, "none": 0, "quarantined": 0}
    for sym, si in SI.items():
        if sym in MEMBER_SO:
            counts["members_file"] += 1
            pcts.append(100 * si / MEMBER_SO[sym])
            continue
        series = sorted(values.get(sym, []))
        known = [v for v in series if v[0] <= D and v[1] <= D]
        if not known:
            counts["none"] += 1
            continue
        counts["sec"] += 1
        end, _, so = known[-1]
        good = [v[2] for v in series if v[2] > 1000]
        i = good.index(so) if so in good else None
        prev = good[i - 1] if i else None
        nxt = good[i + 1] if i is not None and i + 1 < len(good) else None
        jump = prev is not None and all(max(so / n, n / so) >= 10 for n in (prev, nxt) if n is not None)
        cik = next(c for c, ts in classes.items() if sym in ts)
        if so <= 1000 or jump or (D - end) > timedelta(days=456) or len(classes[cik]) > 1:
            counts["quarantined"] += 1
            continue
        pcts.append(100 * si / so)
    return statistics.median(pcts), counts


def test_fetch_shares_end_to_end_and_scan_median(sec: Env) -> None:
    # Before: only AAA has a denominator (its membership row); the levels cache is written.
    before = json.loads(run_cli("scan", "--index", "RUT", "-f", "json", store=sec.store).out)
    assert before["rows"][0]["median_si_pct_so"] == pytest.approx(100 * SI["AAA"] / MEMBER_SO["AAA"])
    assert "denominators" not in before
    seeded_at = datetime.now(UTC).isoformat(timespec="microseconds")
    time.sleep(1.1)  # commits are stamped in whole seconds
    r = sec.run("fetch", "shares")
    assert r.code == 0, r.err
    assert "SEC shares outstanding" in r.err and "not published: 2026-12-31 due" in r.err
    log = [p for _, p, _ in sec.server.routes.log]
    assert SEC_TICKERS_PATH in log and Q4 in log
    # companyfacts only for the members lacking a value: FFF (cik 6) and HHH (cik 9)
    facts = sorted(p for p in log if "companyfacts" in p)
    assert facts == [SEC_FACTS_PATH.format(cik=6), SEC_FACTS_PATH.format(cik=9)]
    ua = sec.server.routes.requests(SEC_TICKERS_PATH)[0]["user-agent"]
    assert "tests@example.com" in ua
    rows = _shares_rows(sec.store)
    symbols = {row[0] for row in rows}
    assert "BACPB" not in symbols and {"GOOG", "GOOGL", "BAC", "HHH", "FFF"} <= symbols

    s = run_cli("scan", "--index", "RUT", "-f", "json", store=sec.store)
    assert s.code == 0, s.err
    doc = json.loads(s.out)
    row = doc["rows"][0]
    median, counts = _expected_median()
    assert row["median_si_pct_so"] == pytest.approx(median)
    got = doc["denominators"]["RUT"]
    assert (got["members_file"], got["sec"], got["none"], got["sec_quarantined"]) == (
        counts["members_file"],
        counts["sec"],
        counts["none"],
        counts["quarantined"],
    )
    assert row["quarantined"] == counts["quarantined"]
    text = run_cli("scan", "--index", "RUT", "-f", "table", store=sec.store, env={"COLUMNS": "100"})
    assert "RUT denominators:" in text.out
    # --known-at before the fetch: the store as it was, without SEC values
    then = json.loads(
        run_cli("scan", "--index", "RUT", "-f", "json", "--known-at", seeded_at, store=sec.store).out
    )
    assert then["rows"][0]["median_si_pct_so"] == before["rows"][0]["median_si_pct_so"]
    assert "denominators" not in then


def test_ingest_of_the_raw_files_gives_what_fetch_gave(fetched: Path, tmp_path: Path) -> None:
    raw = fetched / "raw" / "sec-shares"
    other = tmp_path / "other"
    files = sorted(str(p) for p in raw.glob("*.json") if p.name not in ("index.json", "company_tickers.json"))
    r = run_cli("ingest", "shares", *files, "--tickers", str(raw / "company_tickers.json"), store=other)
    assert r.code == 0, r.err
    strip = lambda rows: sorted((row[:-1] for row in rows), key=repr)  # noqa: E731 (source_file kept)
    assert strip(_shares_rows(other)) == strip(_shares_rows(fetched))


def test_stock_rows_name_the_sec_quarantine_reason(fetched: Path) -> None:
    r = run_cli("scan", "--by", "stock", "--index", "RUT", "--show-excluded", "-f", "json", store=fetched)
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    reasons = {x["symbol"]: x["reason"] for x in doc["excluded"]["rows"] if x["gate"] == "quarantine"}
    assert "placeholder" in reasons["DDD"] and "stale" in reasons["FFF"] and "10x" in reasons["EEE"]
    assert "share classes" in reasons["GOOG"] and "share classes" in reasons["GOOGL"]


def test_missing_contact_is_a_usage_error_with_the_hint(sec: Env) -> None:
    r = sec.run("fetch", "shares", POSITIONING_SEC_CONTACT="")
    assert r.code == 2
    assert "positioning config set sec-contact" in r.err
    assert not [p for _, p, _ in sec.server.routes.log if "sec.gov" in p]


def test_sec_rate_threshold_stops_sec_calls_and_says_when_to_retry(sec: Env) -> None:
    q1 = SEC_FRAME_PATH.format(ccp="CY2026Q1I")
    page = b"<html><body><h1>Your Request Rate Threshold Exceeded</h1></body></html>"
    sec.server.routes.script(q1, Reply(403, page, {"Content-Type": "text/html"}))
    r = sec.run("fetch", "shares")
    assert r.code == 9, r.err
    assert "Request Rate Threshold Exceeded" in r.err and "retry after 2026-11-12 12:10 ET" in r.err
    after = [p for _, p, _ in sec.server.routes.log if "data.sec.gov" in p]
    assert after == [q1]  # nothing more asked of SEC after the block


def test_ingest_shares_needs_the_ticker_map_and_checks_dates(tmp_path: Path) -> None:
    frame = tmp_path / "CY2026Q3I.json"
    frame.write_bytes(sec_frame("CY2026Q3I"))
    r = run_cli("ingest", "shares", str(frame), store=tmp_path / "s")
    assert r.code == 3 and "--tickers company_tickers.json" in r.err
    tickers = tmp_path / "company_tickers.json"
    tickers.write_bytes(sec_tickers())
    r = run_cli("ingest", "shares", str(tickers), "-q", store=tmp_path / "s")  # the map alone: no rows
    assert r.code == 0, r.err
    old = json.loads(sec_frame("CY2026Q3I"))
    old["data"][1]["end"] = "2005-06-30"
    frame.write_text(json.dumps(old))
    r = run_cli("ingest", "shares", str(frame), store=tmp_path / "s")  # the map beside it is used
    # one filer's impossible date leaves that value out, not the frame
    assert r.code == 0, r.err
    assert "1 value(s) dated outside" in r.err and "record 2" in r.err and "outside 2009-01-01" in r.err
    held = {row[0] for row in _shares_rows(tmp_path / "s")}
    assert "BBB" not in held and "AAA" in held


def test_update_fetches_sec_weekly(sec: Env) -> None:
    sec.run("update")  # FINRA/CFTC are not served here: only SEC's part is looked at
    assert sec.server.routes.requests(SEC_TICKERS_PATH)
    n = len(sec.server.routes.log)
    sec.run("update", POSITIONING_NOW="2026-11-15T17:00:00+00:00")  # 3 days on: SEC not due
    assert not [p for _, p, _ in sec.server.routes.log[n:] if "sec.gov" in p]
    sec.run("update", POSITIONING_NOW="2026-11-20T17:00:00+00:00")  # a week on: refreshed
    assert [p for _, p, _ in sec.server.routes.log[n:] if p == SEC_TICKERS_PATH]


def test_sec_quarantine_rules_by_hand() -> None:
    import pandas as pd

    from positioning_cli.analytics.engine import sec_values

    series = {
        "OUT": [1_000_000, 10_000_000, 1_000_000, 1_050_000],  # an isolated 10x value
        "SPL": [1_000_000, 1_000_000, 10_000_000, 10_000_000],  # a 1:10 split: lasting, not flagged
        "NEW": [5_000_000, 5_000_000, 50_000_000],  # newest 10x off, unconfirmed
        "PLH": [1_000_000, 1_000, 1_100_000],  # a placeholder; its neighbours compare to each other
        "CLS": [7_000_000],  # issuer-wide for 2 classes
    }
    rows = [
        (sym, pd.Timestamp(2025, 1, 1) + pd.DateOffset(months=3 * i), val)
        for sym, vals in series.items()
        for i, val in enumerate(vals)
    ]
    frame = pd.DataFrame(rows, columns=["symbol", "period_end", "shares"])
    frame["filed"] = pd.NaT
    frame["share_classes"] = [2 if s == "CLS" else 1 for s in frame["symbol"]]
    out = sec_values(frame).to_pydict()
    flagged = {
        (s, int(v)): r for s, v, r in zip(out["symbol"], out["shares"], out["reason"], strict=True) if r
    }
    assert set(flagged) == {("OUT", 10_000_000), ("NEW", 50_000_000), ("PLH", 1_000), ("CLS", 7_000_000)}
    assert "placeholder" in flagged[("PLH", 1_000)] and "10x" in flagged[("NEW", 50_000_000)]
    assert "2 share classes" in flagged[("CLS", 7_000_000)]


def test_known_at_after_the_fetch_gives_the_live_levels_and_denominators(fetched: Path) -> None:
    """--known-at rebuilds the tables in memory and runs the same SQL over them as the live scan
    runs over the files: after the fetch, the snapshot of now equals the live store."""
    live = json.loads(run_cli("scan", "--index", "RUT", "-f", "json", store=fetched).out)
    known = datetime.now(UTC).isoformat(timespec="seconds")
    r = run_cli("scan", "--index", "RUT", "-f", "json", "--known-at", known, store=fetched)
    assert r.code == 0, r.err
    then = json.loads(r.out)
    assert then["denominators"] == live["denominators"] and live["denominators"]["RUT"]["sec"] > 0
    assert then["rows"][0]["median_si_pct_so"] == live["rows"][0]["median_si_pct_so"]
    assert then["rows"][0]["quarantined"] == live["rows"][0]["quarantined"]
