"""`positioning fetch` / `update` end to end against a local mirror on 127.0.0.1 (never the internet).

The clock is pinned with POSITIONING_NOW. With now = 2026-11-12 17:00 UTC (12:00 ET): the
2026-10-30 FINRA file was due 2026-11-10 16:00 ET and is late from 2026-11-11 16:00 ET; the next
settlement is 2026-11-13. Every payload is in the source's real format at its real path.
"""

from __future__ import annotations

import csv
import fcntl
import hashlib
import io
import json
import os
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from positioning_cli.symbols import normalise_symbol
from tests.conftest import SAMPLE, Run, real_dir, run_cli, store_bytes
from tests.fetch_payloads import (
    CFTC_WEEK_PATH,
    CFTC_YEAR_PATH,
    FINRA_PATH,
    PRE_FUT_PATH,
    SEC_FRAME_PATH,
    SEC_TICKERS_PATH,
    cftc_year,
    finra_file,
    pre_year,
    real_cftc_zip,
    serve_cftc,
    serve_finra,
    split_newest_week,
    zipped,
)
from tests.fetch_server import Reply, Server, serve

NOW = "2026-11-12T17:00:00+00:00"
OCT15, OCT30 = date(2026, 10, 15), date(2026, 10, 30)
URL30 = "https://" + FINRA_PATH.format(d=OCT30)


@dataclass
class Env:
    server: Server
    store: Path
    env: dict[str, str]

    def run(self, *args: str, now: str = NOW, **extra: str) -> Run:
        return run_cli(*args, store=self.store, env={**self.env, "POSITIONING_NOW": now, **extra})


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[Env]:
    for server in serve():
        env = {
            "POSITIONING_MIRROR": server.url,
            "POSITIONING_CONFIG": str(tmp_path / "positioning.toml"),
            "POSITIONING_HTTP_INTERVAL_SCALE": "0",  # no politeness pauses against a local server
            "POSITIONING_HTTP_BACKOFF": "0.001",
            "POSITIONING_HTTP_TIMEOUT": "5",
        }
        yield Env(server, tmp_path / "store", env)


def _si_rows(store: Path) -> list[tuple[object, ...]]:
    """The live short-interest rows without ingest timestamps, sorted: what a parse produced."""
    tables = [pq.read_table(p) for p in sorted((store / "short_interest").rglob("*.parquet"))]
    rows = []
    for t in tables:
        t = t.drop_columns([c for c in ("ingested_at",) if c in t.column_names])
        rows += [tuple(r.values()) for r in t.to_pylist()]
    return sorted(rows, key=repr)


def test_fetch_keeps_raw_payloads_ingests_them_and_skips_unchanged(mirror: Env, tmp_path: Path) -> None:
    serve_finra(mirror.server.routes, [OCT15, OCT30])
    r = mirror.run("fetch", "short-interest", "--since", "2026-10-01", "--until", "2026-10-31")
    assert r.code == 0, r.err
    assert "FINRA short interest: current: 2 requested, 2 downloaded" in r.err
    index = json.loads((mirror.store / "raw/finra-si/index.json").read_text())
    for d in (OCT15, OCT30):
        name = f"shrt{d:%Y%m%d}.csv"
        assert (mirror.store / "raw/finra-si" / name).read_bytes() == finra_file(d)
        assert index[name]["sha256"] == hashlib.sha256(finra_file(d)).hexdigest()
        assert index[name]["etag"] == '"' + hashlib.md5(finra_file(d)).hexdigest() + '"'
    # One parse path: `ingest` of the same raw files gives exactly the same rows.
    by_hand = tmp_path / "by-hand"
    raw = mirror.store / "raw/finra-si"
    assert (
        run_cli(
            "ingest",
            "short-interest",
            str(raw / "shrt20261015.csv"),
            str(raw / "shrt20261030.csv"),
            store=by_hand,
        ).code
        == 0
    )
    assert _si_rows(mirror.store) == _si_rows(by_hand)
    assert len(_si_rows(by_hand)) > 0

    before = store_bytes(mirror.store / "short_interest")
    again = mirror.run("fetch", "short-interest", "--since", "2026-10-01", "--until", "2026-10-31")
    assert again.code == 0, again.err
    assert "0 downloaded, 2 unchanged" in again.err
    sent = mirror.server.routes.requests(FINRA_PATH.format(d=OCT30))
    assert sent[-1]["if-none-match"] == index["shrt20261030.csv"]["etag"]
    assert store_bytes(mirror.store / "short_interest") == before


def test_not_published_is_due_before_the_late_time_and_late_after(mirror: Env) -> None:
    serve_finra(mirror.server.routes, [OCT15])  # 10-30 answers 403 like FINRA's CDN
    due = mirror.run("fetch", "short-interest", "--since", "2026-10-01", now="2026-11-10T22:00:00+00:00")
    assert due.code == 0, due.err
    assert "not published: 2026-10-30 due" in due.err
    late = mirror.run("fetch", "short-interest", "--since", "2026-10-01")
    assert late.code == 8, late.err
    assert "not published: 2026-10-30 late" in late.err
    assert (
        late.err.strip().splitlines()[-1]
        == "error: report late or missing upstream: FINRA short interest late"
    )


def test_404_after_the_missing_time_is_missing(mirror: Env) -> None:
    serve_finra(mirror.server.routes, [OCT15])
    mirror.server.routes.script(FINRA_PATH.format(d=OCT30), Reply(404, b"Not Found"))
    r = mirror.run("fetch", "short-interest", "--since", "2026-10-01", now="2026-11-20T17:00:00+00:00")
    assert r.code == 8, r.err
    assert "2026-10-30 missing" in r.err


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        (
            Reply(
                200,
                b"<!DOCTYPE html><html><body>Checking your browser</body></html>",
                {"Content-Type": "text/html"},
            ),
            "an HTML page instead of data",
        ),
        (Reply(200, b""), "empty body"),
        (Reply(200, finra_file(OCT30)[:-5000]), "truncated body"),
        (Reply(200, finra_file(OCT30).split(b"\n", 1)[0] + b"\n"), "0 rows"),
        (Reply(200, finra_file(OCT15)), "settlement date '2026-10-15', requested 2026-10-30"),
    ],
    ids=["html", "empty", "truncated", "header-only", "wrong-date"],
)
def test_bad_payload_is_one_line_error_and_never_data(mirror: Env, reply: Reply, problem: str) -> None:
    serve_finra(mirror.server.routes, [OCT15])
    mirror.server.routes.script(FINRA_PATH.format(d=OCT30), reply)
    r = mirror.run("fetch", "short-interest", "--since", "2026-10-01")
    assert r.code == 9, r.err
    line = next(ln for ln in r.err.splitlines() if URL30 in ln)
    assert line.startswith(f"error: FINRA short interest: {URL30}: ")
    assert problem.replace("0 rows", "0 rows, expected") in line
    assert not (mirror.store / "raw/finra-si/shrt20261030.csv").exists()
    assert not list((mirror.store / "short_interest").rglob("part-20261030.parquet"))
    assert list((mirror.store / "short_interest").rglob("part-20261015.parquet"))  # what arrived is in


def test_timeout_is_exit_9_naming_source_and_url(mirror: Env) -> None:
    mirror.server.routes.script(FINRA_PATH.format(d=OCT30), Reply(200, b"x", delay=2.0))
    r = mirror.run(
        "fetch",
        "short-interest",
        "--since",
        "2026-10-20",
        POSITIONING_HTTP_TIMEOUT="0.3",
        POSITIONING_HTTP_RETRIES="0",
    )
    assert r.code == 9, r.err
    assert f"error: FINRA short interest: {URL30}: timed out after 0.3s (1 attempts)" in r.err


def test_revision_of_the_last_cycle_is_picked_up_next_run(mirror: Env) -> None:
    serve_finra(mirror.server.routes, [OCT15, OCT30])
    assert mirror.run("fetch", "short-interest", "--since", "2026-10-01").code == 0
    lines = finra_file(OCT30).decode().splitlines(keepends=True)
    fields = lines[1].split("|")
    symbol, old = fields[1], int(fields[5])
    fields[5], fields[10] = str(old + 12345), "R"  # FINRA revises in place and flags the row
    lines[1] = "|".join(fields)
    mirror.server.routes.put(FINRA_PATH.format(d=OCT30), "".join(lines).encode())

    r = mirror.run("fetch", "short-interest")  # default range: from the newest held, last 2 cycles again
    assert r.code == 0, r.err
    assert "1 downloaded, 1 unchanged, 1 file(s) ingested" in r.err
    t = pq.read_table(next((mirror.store / "short_interest").rglob("part-20261030.parquet"))).to_pylist()
    row = next(x for x in t if x["symbol"] == symbol)
    assert row["short_interest"] == old + 12345


def test_interrupted_run_is_finished_by_the_next(mirror: Env) -> None:
    serve_finra(mirror.server.routes, [OCT15, OCT30])
    mirror.store.mkdir(parents=True)
    fd = os.open(mirror.store / ".lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another writer holds the store: the run stops after downloading
    try:
        stopped = mirror.run("fetch", "short-interest", "--since", "2026-10-01", "--wait", "0")
    finally:
        os.close(fd)
    assert stopped.code == 5, stopped.err
    assert (mirror.store / "raw/finra-si/shrt20261030.csv").exists()
    assert not list((mirror.store / "short_interest").rglob("*.parquet"))
    assert not list((mirror.store / "raw").rglob("*.tmp"))

    resumed = mirror.run("fetch", "short-interest", "--since", "2026-10-01")
    assert resumed.code == 0, resumed.err
    assert "0 downloaded, 2 unchanged, 2 file(s) ingested" in resumed.err
    assert len(list((mirror.store / "short_interest").rglob("*.parquet"))) == 2


def test_fetch_cot_yearly_zips_and_bad_zip(mirror: Env, tmp_path: Path) -> None:
    serve_cftc(mirror.server.routes, range(2024, 2027), bundle=False, through=date(2026, 11, 3))
    r = mirror.run("fetch", "cot", "--since", "2024")
    assert r.code == 0, r.err
    assert "CFTC TFF: current: 3 requested, 3 downloaded" in r.err
    by_hand = tmp_path / "by-hand"
    raws = sorted(str(p) for p in (mirror.store / "raw/cftc-tff").glob("*.zip"))
    assert run_cli("ingest", "cot", *raws, store=by_hand).code == 0
    a = run_cli("cot", "-f", "json", store=mirror.store, env={"POSITIONING_NOW": NOW})
    b = run_cli("cot", "-f", "json", store=by_hand)
    assert a.code == 0 and json.loads(a.out)["rows"] == json.loads(b.out)["rows"]

    mirror.server.routes.put(CFTC_YEAR_PATH.format(year=2026), b"PK\x03\x04 not really a zip")
    bad = mirror.run("fetch", "cot", "--since", "2026")
    assert bad.code == 9
    assert (
        "error: CFTC TFF: https://www.cftc.gov/files/dea/history/fut_fin_txt_2026.zip: a zip that does not open"
        in bad.err
    )


def _cot(store: Path, year: int | None = None) -> list[dict[str, object]]:
    """The store's cot rows (of one report year), without what says when and from which file."""
    t = pq.read_table(store / "cot").drop_columns(["ingested_at", "source_file"])
    rows = sorted(t.to_pylist(), key=lambda r: (r["report_date"], r["contract_code"], r["futures_only"]))
    return [r for r in rows if year is None or r["report_date"].year == year]


ZIP25 = "https://" + CFTC_YEAR_PATH.format(year=2025)
PRE_URL = "https://" + PRE_FUT_PATH


@pytest.mark.parametrize(
    "failure",
    [Reply(500, b"Internal Server Error"), Reply(200, b"<!DOCTYPE html><title>Just a moment</title>")],
    ids=["http-500", "bot-wall"],
)
def test_fetch_cot_falls_back_to_pre_when_a_zip_fails(mirror: Env, tmp_path: Path, failure: Reply) -> None:
    serve_cftc(mirror.server.routes, range(2026, 2027), bundle=False, through=date(2026, 11, 3))
    mirror.server.routes.script(CFTC_YEAR_PATH.format(year=2025), failure)
    mirror.server.routes.put(PRE_FUT_PATH, pre_year(2025))
    r = mirror.run("fetch", "cot", "--since", "2025")
    assert r.code == 0, r.err
    assert "CFTC TFF: current: 2 requested, 2 downloaded" in r.err
    assert "note: 2025: the CFTC zip failed (" in r.err
    assert "reports from CFTC's public reporting API" in r.err
    asked = [p for _, p, _ in mirror.server.routes.log if p.startswith(PRE_FUT_PATH)]
    assert len(asked) == 1 and "between%20'2025-01-01T00:00:00.000'%20and%20'2025-12-31" in asked[0]
    kept = mirror.store / "raw/cftc-tff/pre_fut_fin_2025.json"
    assert kept.read_bytes() == pre_year(2025)

    # The year's rows are the zip's rows: the same file ingested from the zip by hand.
    from_zip = tmp_path / "from-zip"
    text = tmp_path / "FinFut25.txt"
    text.write_bytes(cftc_year(2025))
    assert run_cli("ingest", "cot", str(text), store=from_zip).code == 0
    got, want = _cot(mirror.store, 2025), _cot(from_zip)
    assert len(got) == len(want) > 10
    assert {r.pop("source_format") for r in got} == {"cftc-pre-json"}
    assert {r.pop("source_format") for r in want} == {"cftc-tff"}
    assert got == want

    # One parse path: the kept PRE file ingested by hand gives what the fetch stored.
    by_hand = tmp_path / "by-hand"
    assert run_cli("ingest", "cot", str(kept), store=by_hand).code == 0
    assert _cot(by_hand) == _cot(mirror.store, 2025)


def test_fetch_cot_zip_and_pre_failing_is_one_line_naming_both(mirror: Env) -> None:
    mirror.server.routes.script(CFTC_YEAR_PATH.format(year=2025), Reply(500, b"down"))
    mirror.server.routes.script(PRE_FUT_PATH, Reply(503, b"down too"))
    r = mirror.run("fetch", "cot", "--since", "2025", now=NOW.replace("2026", "2025"))
    assert r.code == 9
    line = f"error: CFTC TFF: {ZIP25}: HTTP 500; fallback {PRE_URL}: HTTP 503\n"
    assert line in r.err
    assert not (mirror.store / "cot").exists()


def test_fetch_cot_pre_rows_of_another_year_are_refused(mirror: Env) -> None:
    mirror.server.routes.script(CFTC_YEAR_PATH.format(year=2025), Reply(404, b"Not Found"))
    mirror.server.routes.put(PRE_FUT_PATH, pre_year(2024))  # the wrong year's reports
    r = mirror.run("fetch", "cot", "--since", "2025", now=NOW.replace("2026", "2025"))
    assert r.code == 9
    assert f"error: CFTC TFF: {ZIP25}: HTTP 404; fallback {PRE_URL}: record 1: report date '2024-" in r.err
    assert "outside the requested 2025-2025" in r.err
    assert not list((mirror.store / "raw/cftc-tff").glob("pre_*"))
    assert not (mirror.store / "cot").exists()


def test_fetch_cot_real_cftc_file(mirror: Env, tmp_path: Path) -> None:
    real = real_dir("cftc_tff") / "2026_FinFutYY__jessetusiime.txt"
    mirror.server.routes.put(CFTC_YEAR_PATH.format(year=2026), real_cftc_zip(real))
    r = mirror.run("fetch", "cot", "--since", "2026", now="2026-08-10T17:00:00+00:00")  # the file's last week
    assert r.code == 0, r.err
    assert "CFTC TFF: current: " in r.err
    by_hand = tmp_path / "by-hand"
    assert run_cli("ingest", "cot", str(real), store=by_hand).code == 0
    got = (
        pq.read_table(mirror.store / "cot")
        .drop_columns(["ingested_at", "source_file"])
        .sort_by([("report_date", "ascending"), ("contract_code", "ascending")])
    )
    want = (
        pq.read_table(by_hand / "cot")
        .drop_columns(["ingested_at", "source_file"])
        .sort_by([("report_date", "ascending"), ("contract_code", "ascending")])
    )
    assert got.num_rows == want.num_rows > 2000
    assert got.equals(want)


# The sample's newest report (2026-08-04) was released Friday 2026-08-07 15:30 ET and is late from
# Monday 2026-08-10 12:00 ET: at 13:00 ET that Monday the store must hold it.
WEEK_NOW = "2026-08-10T17:00:00+00:00"
WEEK_URL = "https://" + CFTC_WEEK_PATH


def _serve_year_without_newest_week(mirror: Env) -> bytes:
    """Serve the 2026 zip without its newest report; return that report as a current-week file."""
    annual, week = split_newest_week(cftc_year(2026))
    mirror.server.routes.put(CFTC_YEAR_PATH.format(year=2026), zipped("FinFut26.txt", annual))
    return week


def test_fetch_cot_reads_the_current_week_file_when_the_yearly_zip_lacks_the_newest_report(
    mirror: Env, tmp_path: Path
) -> None:
    week = _serve_year_without_newest_week(mirror)
    mirror.server.routes.put(CFTC_WEEK_PATH, week)
    r = mirror.run("fetch", "cot", "--since", "2026", now=WEEK_NOW)
    assert r.code == 0, r.err
    assert "CFTC TFF: current: 2 requested, 2 downloaded" in r.err
    assert (
        "note: 2026-08-04: not in the yearly file yet; read from the current-week file FinFutWk.txt" in r.err
    )
    kept = mirror.store / "raw/cftc-tff/FinFutWk.txt"
    assert kept.read_bytes() == week

    # The store holds what the whole annual file ingested by hand holds; the newest week's rows
    # came from the current-week file.
    annual = tmp_path / "FinFut26.txt"
    annual.write_bytes(cftc_year(2026))
    assert run_cli("ingest", "cot", str(annual), store=tmp_path / "annual").code == 0
    got, want = _cot(mirror.store), _cot(tmp_path / "annual")
    assert len(got) == len(want) > 50
    formats = {str(r["report_date"]): r.pop("source_format") for r in got}
    assert formats["2026-08-04"] == "cftc-tff-week" and formats["2026-07-28"] == "cftc-tff"
    assert got == [{k: v for k, v in r.items() if k != "source_format"} for r in want]

    # One parse path: the kept file ingested by hand gives the rows the fetch stored.
    assert run_cli("ingest", "cot", str(kept), store=tmp_path / "by-hand").code == 0
    newest = [r for r in _cot(mirror.store) if str(r["report_date"]) == "2026-08-04"]
    assert _cot(tmp_path / "by-hand") == newest

    # Held now: the next run asks for the zip only (unchanged) and not for the week again.
    again = mirror.run("fetch", "cot", now=WEEK_NOW)
    assert again.code == 0, again.err
    assert "CFTC TFF: current: 1 requested, 0 downloaded, 1 unchanged" in again.err
    assert len(mirror.server.routes.requests(CFTC_WEEK_PATH)) == 1


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        (
            Reply(403, b"<html><body>Access Denied</body></html>", {"Content-Type": "text/html"}),
            "HTTP 403",
        ),
        (
            Reply(200, b"<!DOCTYPE html><title>Just a moment...</title>", {"Content-Type": "text/html"}),
            "an HTML page instead of data (a bot wall or an error page)",
        ),
        (None, "line 2: 86 fields, the TFF header has 87"),
    ],
    ids=["403-html", "bot-wall", "field-count"],
)
def test_fetch_cot_bad_current_week_file_is_one_line_and_never_data(
    mirror: Env, reply: Reply | None, problem: str
) -> None:
    week = _serve_year_without_newest_week(mirror)
    if reply is None:  # the second row loses its last field
        lines = week.splitlines(keepends=True)
        lines[1] = lines[1].rstrip(b"\r\n").rsplit(b",", 1)[0] + b"\n"
        reply = Reply(200, b"".join(lines))
    mirror.server.routes.script(CFTC_WEEK_PATH, reply)
    r = mirror.run("fetch", "cot", "--since", "2026", now=WEEK_NOW)
    assert r.code == 9
    assert f"error: CFTC TFF: {WEEK_URL}: {problem}\n" in r.err
    dates = {str(row["report_date"]) for row in _cot(mirror.store)}
    assert "2026-07-28" in dates and "2026-08-04" not in dates  # the zip's rows, nothing of the week
    assert not (mirror.store / "raw/cftc-tff/FinFutWk.txt").exists()


def test_fetch_cot_current_week_file_not_advanced_is_late_not_an_error(mirror: Env) -> None:
    annual, _ = split_newest_week(cftc_year(2026))
    _, stale = split_newest_week(annual)  # the week before: CFTC's file has not advanced
    mirror.server.routes.put(CFTC_YEAR_PATH.format(year=2026), zipped("FinFut26.txt", annual))
    mirror.server.routes.put(CFTC_WEEK_PATH, stale)
    r = mirror.run("fetch", "cot", "--since", "2026", now=WEEK_NOW)
    assert r.code == 8, r.err
    assert "CFTC TFF: late: 2 requested, 2 downloaded" in r.err
    assert "newest held 2026-07-28" in r.err
    assert (
        "note: 2026-08-04: not in the yearly file; the current-week file FinFutWk.txt still holds 2026-07-28"
        in r.err
    )


def _members_dated(tmp_path: Path, d: date) -> Path:
    """The sample's newest membership snapshot of every index again, dated ``d`` (store layout CSV)."""
    lines = []
    for p in sorted((SAMPLE / "members").glob("*.csv")):
        rows = p.read_text().splitlines()
        newest = max(r.split(",")[1] for r in rows[1:])
        lines += [r.replace(newest, d.isoformat(), 1) for r in rows[1:] if r.split(",")[1] == newest]
    out = tmp_path / "members-now.csv"
    out.write_text("\n".join([rows[0], *lines]) + "\n")
    return out


def _without_shares(members: Path, d: date, out: Path) -> Path:
    """``members`` dated ``d`` with no shares outstanding or float: what a free membership file gives."""
    rows = list(csv.DictReader(io.StringIO(members.read_text())))
    with out.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows({**r, "as_of": d.isoformat(), "shares_outstanding": "", "float_shares": ""} for r in rows)
    return out


def _serve_sec_for(routes: object, members: Path) -> dict[str, int]:
    """SEC's ticker map and the 2026 Q1-Q3 frames for the members of ``members`` (store-layout CSV),
    each symbol's count as the sample gives it; Q4 is not out. Returns symbol -> shares."""
    shares = {
        r["symbol"]: int(r["shares_outstanding"]) for r in csv.DictReader(io.StringIO(members.read_text()))
    }
    ciks = {sym: 1000 + i for i, sym in enumerate(sorted(shares))}
    tickers = {
        str(i): {"cik_str": c, "ticker": s, "title": f"{s} Corp"} for i, (s, c) in enumerate(ciks.items())
    }
    routes.put(SEC_TICKERS_PATH, json.dumps(tickers).encode())  # type: ignore[attr-defined]
    for ccp, end in (("CY2026Q1I", "2026-03-31"), ("CY2026Q2I", "2026-06-30"), ("CY2026Q3I", "2026-09-30")):
        data = [
            {
                "accn": f"0000000000-26-{c:06d}",
                "cik": c,
                "entityName": f"{s} Corp",
                "loc": "US-DE",
                "end": end,
                "val": shares[s],
            }
            for s, c in ciks.items()
        ]
        doc = {
            "taxonomy": "dei",
            "tag": "EntityCommonStockSharesOutstanding",
            "ccp": ccp,
            "uom": "shares",
            "pts": len(data),
            "data": data,
        }
        routes.put(SEC_FRAME_PATH.format(ccp=ccp), json.dumps(doc).encode())  # type: ignore[attr-defined]
    return shares


def test_update_from_an_empty_store_then_scan(mirror: Env, tmp_path: Path) -> None:
    serve_finra(mirror.server.routes)
    serve_cftc(mirror.server.routes, range(2017, 2027), through=date(2026, 11, 3))  # released 11-06
    for kind, sub in (("members", "members"), ("prices", "prices")):  # user-supplied here
        assert run_cli("ingest", kind, str(SAMPLE / sub), store=mirror.store).code == 0
    # Membership already current (the sample's newest snapshot again, dated this month) and prices
    # current (the sample runs past "now"): `update` fetches neither (see test_fetch_members/prices).
    current = _members_dated(tmp_path, date(2026, 11, 10))
    assert run_cli("ingest", "members", str(current), store=mirror.store).code == 0
    # The snapshot the 2026-10-30 scan uses carries no shares outstanding, as the free iShares,
    # Invesco and S&P files do: the denominators must come from SEC, which `update` fetches.
    free = _without_shares(current, date(2026, 10, 1), tmp_path / "members-free.csv")
    assert run_cli("ingest", "members", str(free), store=mirror.store).code == 0
    sec_shares = _serve_sec_for(mirror.server.routes, current)
    r = mirror.run("update", POSITIONING_SEC_CONTACT="tests@example.com")
    assert r.code == 0, r.err
    lines = r.err.strip().splitlines()
    assert lines[0].startswith("FINRA short interest: current: ") and "newest held 2026-10-30" in lines[0]
    assert any(ln.startswith("CFTC TFF: current: 11 requested, 11 downloaded") for ln in lines)
    assert any(ln.startswith("SEC shares outstanding: ") for ln in lines), lines
    doc = json.loads(run_cli("scan", "-f", "json", store=mirror.store).out)
    # The median SI % of shares outstanding by hand: the free snapshot's members with short interest
    # in FINRA's 2026-10-30 file, each over its SEC count (the Q3 frame, period end 2026-09-30).
    # Symbols are matched under the project's one symbol rule (DLT.A in a members file is DLTA).
    si = {
        normalise_symbol(r["symbolCode"]): int(r["currentShortPositionQuantity"])
        for r in csv.DictReader(io.StringIO(finra_file(date(2026, 10, 30)).decode()), delimiter="|")
    }
    shares = {normalise_symbol(s): n for s, n in sec_shares.items()}
    for row in doc["rows"]:
        members = [
            normalise_symbol(r["symbol"])
            for r in csv.DictReader(io.StringIO(free.read_text()))
            if r["index"] == row["index"]
        ]
        pcts = sorted(100 * si[s] / shares[s] for s in members if s in si)
        assert row["median_si_pct_so"] == pytest.approx(statistics.median(pcts), rel=1e-9), row["index"]
        counts = doc["denominators"][row["index"]]
        assert (counts["sec"], counts["none"], counts["members_file"]) == (len(pcts), 0, 0)
    # 5 years back from 2026-11-12: the first settlement is 2021-11-15.
    raw = sorted((mirror.store / "raw/finra-si").glob("shrt*.csv"))
    assert raw[0].name == "shrt20211115.csv" and raw[-1].name == "shrt20261030.csv"
    assert len(raw) == 120  # 24 a year for 5 years

    # Another way to the same store: ingest the raw files by hand; scan must agree exactly.
    by_hand = tmp_path / "by-hand"
    for kind, sub in (("members", SAMPLE / "members"), ("prices", SAMPLE / "prices"), ("members", current)):
        assert run_cli("ingest", kind, str(sub), store=by_hand).code == 0
    assert run_cli("ingest", "short-interest", *map(str, raw), store=by_hand).code == 0
    assert (
        run_cli(
            "ingest", "cot", *map(str, sorted((mirror.store / "raw/cftc-tff").glob("*.zip"))), store=by_hand
        ).code
        == 0
    )
    sec_raw = mirror.store / "raw/sec-shares"
    frames = sorted(sec_raw.glob("frames-*.json"))
    tickers = ["--tickers", str(sec_raw / "company_tickers.json")]
    assert run_cli("ingest", "shares", *map(str, frames), *tickers, store=by_hand).code == 0
    assert run_cli("ingest", "members", str(free), store=by_hand).code == 0
    a = run_cli("scan", "-f", "json", store=mirror.store)
    b = run_cli("scan", "-f", "json", store=by_hand)
    assert a.code == 0, a.err
    assert json.loads(a.out)["rows"] == json.loads(b.out)["rows"]
    assert {row["index"] for row in json.loads(a.out)["rows"]} == {"RUT", "NDX", "SPX"}

    quiet = mirror.run("update", "--quiet")
    assert quiet.code == 0 and quiet.err == ""
    cal = mirror.run("calendar", "-f", "json")
    rows = {row["source"]: row for row in json.loads(cal.out)["rows"]}
    assert rows["finra-si"] == {
        "source": "finra-si",
        "newest_held": "2026-10-30",
        "latest_released": "2026-10-30",
        "next_report": "2026-11-13",
        "next_release_et": "2026-11-24 16:00",  # Nov 16, 17, 18, 19, 20, 23, 24
        "state": "current",
    }
    assert rows["cftc-tff"]["next_report"] == "2026-11-10"
    assert rows["cftc-tff"]["next_release_et"] == "2026-11-16 15:30"  # Veterans Day week


API_PATH = "api.finra.org/data/group/otcMarket/name/consolidatedShortInterest"
TOKEN_PATH = "ews.fip.finra.org/fip/rest/ews/oauth2/access_token?grant_type=client_credentials"
MAY28 = date(2021, 5, 28)  # 2021-05-31 is Memorial Day: month end rolls back to Friday 05-28


def _api_records(d: date) -> list[dict[str, object]]:
    """The sample file for ``d`` as FINRA's Query API returns it: JSON records, numbers as numbers."""
    lines = finra_file(d).decode().splitlines()
    names = lines[0].split("|")
    out = []
    for ln in lines[1:]:
        rec: dict[str, object] = dict(zip(names, ln.split("|"), strict=True))
        for k in (
            "currentShortPositionQuantity",
            "previousShortPositionQuantity",
            "averageDailyVolumeQuantity",
        ):
            rec[k] = int(str(rec[k]))
        rec["daysToCoverQuantity"] = float(str(rec["daysToCoverQuantity"]))
        out.append(rec)
    return out


def test_query_api_serves_history_before_mid_2021(mirror: Env) -> None:
    serve_finra(mirror.server.routes, [MAY28])
    records = _api_records(MAY28)
    records[0]["currentShortPositionQuantity"] = 7_777_777  # the API's figure must reach the store
    mirror.server.routes.script(
        API_PATH, Reply(200, json.dumps(records).encode(), {"Content-Type": "application/json"})
    )
    r = mirror.run("fetch", "short-interest", "--since", "2021-05-20", "--until", "2021-05-31")
    assert r.code == 0, r.err
    assert "FINRA Query API: current: 1 requested, 1 downloaded" in r.err
    assert "note: FINRA files before 2021-06-15 hold OTC securities only" in r.err
    (sent,) = [h for m, p, h in mirror.server.routes.log if p == API_PATH]
    assert "authorization" not in sent  # anonymous by default
    raw = json.loads((mirror.store / "raw/finra-api/finra-api-20210528.json").read_text())
    assert len(raw) == len(records)
    t = pq.read_table(next((mirror.store / "short_interest").rglob("part-20210528.parquet"))).to_pylist()
    assert next(x for x in t if x["symbol"] == records[0]["symbolCode"])["short_interest"] == 7_777_777


def test_query_api_switches_to_oauth_on_401_when_credentials_are_configured(mirror: Env) -> None:
    records = _api_records(MAY28)
    mirror.server.routes.script(
        API_PATH, Reply(401, b'{"error":"unauthorized"}'), Reply(200, json.dumps(records).encode())
    )
    mirror.server.routes.script(TOKEN_PATH, Reply(200, b'{"access_token":"tok123","expires_in":1800}'))
    r = mirror.run(
        "fetch",
        "short-interest",
        "--since",
        "2021-05-20",
        "--until",
        "2021-05-31",
        POSITIONING_FINRA_CLIENT_ID="me",
        POSITIONING_FINRA_CLIENT_SECRET="pw",
    )
    assert "FINRA Query API: current: 1 requested, 1 downloaded" in r.err, r.err
    api = [h for m, p, h in mirror.server.routes.log if p == API_PATH]
    token = [h for m, p, h in mirror.server.routes.log if p == TOKEN_PATH]
    assert "authorization" not in api[0] and api[1]["authorization"] == "Bearer tok123"
    assert token[0]["authorization"] == "Basic bWU6cHc="  # base64("me:pw")


def test_query_api_204_is_no_data_not_an_error(mirror: Env) -> None:
    serve_finra(mirror.server.routes, [MAY28])
    mirror.server.routes.script(API_PATH, Reply(204, b""))
    r = mirror.run("fetch", "short-interest", "--since", "2021-05-20", "--until", "2021-05-31")
    assert r.code == 8, r.err  # published by rule years ago, yet the API has nothing: missing upstream
    assert "FINRA Query API: missing:" in r.err and "not published: 2021-05-28 missing" in r.err


def test_fetch_into_a_foreign_folder_is_refused_before_any_download(mirror: Env) -> None:
    serve_finra(mirror.server.routes, [OCT15, OCT30])
    mirror.store.mkdir()
    (mirror.store / "thesis.docx").write_bytes(b"not ours")
    r = mirror.run("fetch", "short-interest", "--since", "2026-10-01")
    assert r.code == 2, r.err
    assert "not a positioning store" in r.err and r.err.count("\n") == 1
    assert sorted(p.name for p in mirror.store.iterdir()) == ["thesis.docx"]


def test_fetch_into_a_new_folder_makes_it_a_store(mirror: Env) -> None:
    serve_finra(mirror.server.routes, [OCT15, OCT30])
    assert mirror.run("fetch", "short-interest", "--since", "2026-10-01").code == 0
    assert (mirror.store / ".positioning-store").is_file()
    assert mirror.run("fetch", "short-interest", "--since", "2026-10-01").code == 0  # and stays one


def test_make_live_reads_the_current_week_files(mirror: Env, capsys: pytest.CaptureFixture[str]) -> None:
    """`make live`'s [4] probe: each current-week file's width against the annual header, and its rows
    as `ingest cot` reads them (the combined file answering 403 is said, not a crash)."""
    from positioning_cli.fetch import live
    from positioning_cli.fetch.http import Client, HttpSettings

    _, week = split_newest_week(cftc_year(2026))
    mirror.server.routes.put(CFTC_WEEK_PATH, week)
    es = next(csv.reader([next(ln for ln in week.decode().splitlines() if ",13874A," in ln)]))
    with Client(HttpSettings(mirror=mirror.server.url, retries=0, timeout=5)) as client:
        live._current_week(client)
    out = capsys.readouterr().out
    assert f"{WEEK_URL}: HTTP 200, {len(week):,} bytes" in out
    assert "first row: 87 fields (annual header: 87)" in out
    assert "3 rows, report date(s) 2026-08-04; ES 13874A: [{'report_date': datetime.date(2026, 8, 4)" in out
    assert f"'lev_money_long': {int(es[14])}," in out
    assert "https://www.cftc.gov/dea/newcot/FinComWk.txt: HTTP 403" in out
