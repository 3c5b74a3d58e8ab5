"""positioning doctor: statuses and figures against counts made here, exit codes, JSON keys, 80 columns."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.dataset as ds
import pytest

from positioning_cli import api, doctor
from positioning_cli.schema import INDICES, TABLES
from tests.conftest import run_cli

HEADER = (
    "accountingYearMonthNumber|symbolCode|issueName|issuerServicesGroupExchangeCode|marketClassCode|"
    "currentShortPositionQuantity|previousShortPositionQuantity|stockSplitFlag|averageDailyVolumeQuantity|"
    "daysToCoverQuantity|revisionFlag|changePercent|changePreviousNumber|settlementDate"
)
# Two members per index; SPX's SSS has no short interest and NNN no shares outstanding.
MEMBERS = {
    "RUT": {"RRA": 1000, "RRB": 2000},
    "NDX": {"NNA": 3000, "NNN": None},
    "SPX": {"SSA": 5000, "SSS": 6000},
}
WITH_SI = ["RRA", "RRB", "NNA", "NNN", "SSA"]
SETTLEMENTS = ("2026-06-15", "2026-06-30")
# The 2026-06-15 report is published on the 7th session after it (2026-06-24); 2026-06-30's on 2026-07-10.
NOW_CURRENT = "2026-07-01T12:00:00"
# By then 07-15, 07-31 and 08-14 (published 2026-08-25) are out too: three reports behind.
NOW_STALE = "2026-09-01T12:00:00"


def _status(report: dict[str, Any], section: str, name: str) -> dict[str, Any]:
    return next(r for r in report["rows"] if r["section"] == section and r["name"] == name)


@pytest.fixture(scope="module")
def small_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Short interest, members and proxy prices for the three indices; no CFTC, short volume or funds."""
    base = tmp_path_factory.mktemp("doctor")
    si_dir = base / "si"
    si_dir.mkdir()
    for d in SETTLEMENTS:
        lines = [HEADER] + [
            f"{d.replace('-', '')}|{s}|{s} Inc|A|NNM|{100 + i}|0||200000|1.00||0|0|{d}"
            for i, s in enumerate(WITH_SI)
        ]
        (si_dir / f"shrt{d.replace('-', '')}.csv").write_text("\n".join(lines) + "\n")
    members = base / "members.csv"
    members.write_text(
        "index,as_of,symbol,name,sector,shares_outstanding,float_shares,weight\n"
        + "".join(
            f"{idx},2026-01-02,{s},{s} Inc,Financials,{'' if so is None else so},,50\n"
            for idx, syms in MEMBERS.items()
            for s, so in syms.items()
        )
    )
    store = base / "store"
    api.ingest("members", [members], store)  # in process: the CLI's ingest is tested elsewhere
    api.ingest("short-interest", [si_dir], store)
    prices = base / "prices"
    prices.mkdir()
    for n, sym in enumerate(("IWM", "QQQ", "SPY")):  # distinct bytes: one file is not three
        c = 10 + n
        (prices / f"{sym}.csv").write_text(
            "Date,Open,High,Low,Close,Adj Close,Volume\n"
            + "".join(f"2026-06-{day:02d},{c},{c},{c},{c},{c},1000\n" for day in (26, 29, 30))
        )
    api.ingest("prices", [prices], store)
    return store


@pytest.fixture(scope="module")
def small_report(small_store: Path) -> dict[str, Any]:
    r = run_cli("doctor", "-f", "json", store=small_store, env={"POSITIONING_NOW": NOW_CURRENT})
    assert r.code == 0, r.err  # warnings only: no CFTC, short volume or funds
    return {"doc": json.loads(r.out), "err": r.err}


def test_small_store_statuses_and_figures_by_hand(small_report: dict[str, Any]) -> None:
    doc = small_report["doc"]
    assert doc["command"] == "doctor" and doc["newest_settlement"] == "2026-06-30"
    si = _status(doc, "table", "short_interest")
    assert (si["status"], si["rows"], si["newest"]) == ("ok", 2 * len(WITH_SI), "2026-06-30")
    assert si["age_days"] == (date(2026, 7, 1) - date(2026, 6, 30)).days
    assert _status(doc, "table", "members")["rows"] == sum(len(m) for m in MEMBERS.values())
    assert _status(doc, "table", "prices")["status"] == "ok"
    for table in ("cot", "short_volume", "funds"):
        row = _status(doc, "table", table)
        assert (row["status"], row["rows"]) == ("warn", 0)
        assert "empty" in row["reason"] and "positioning " in row["reason"]
    # coverage: members, those with an SI row, those with shares outstanding (among them), by hand
    for idx, syms in MEMBERS.items():
        row = _status(doc, "coverage", idx)
        with_si = [s for s in syms if s in WITH_SI]
        with_so = [s for s in with_si if syms[s] is not None]
        assert (row["members"], row["members_with_si"], row["members_with_denominator"]) == (
            len(syms),
            len(with_si),
            len(with_so),
        )
        assert row["pct_with_si"] == pytest.approx(100 * len(with_si) / len(syms))
        assert row["pct_with_denominator"] == pytest.approx(100 * len(with_so) / len(syms))
    assert _status(doc, "coverage", "RUT")["status"] == "ok"
    assert _status(doc, "coverage", "NDX")["status"] == "warn"  # 1 of 2 with shares outstanding
    assert _status(doc, "coverage", "SPX")["status"] == "warn"  # 1 of 2 with short interest
    for idx, sym in (("RUT", "IWM"), ("NDX", "QQQ"), ("SPX", "SPY")):
        row = _status(doc, "proxy", idx)
        assert (row["status"], row["symbol"], row["newest"], row["rows"]) == ("ok", sym, "2026-06-30", 3)


def test_store_without_cot_reports_the_cot_view_empty_and_why(small_report: dict[str, Any]) -> None:
    doc = small_report["doc"]
    cot = _status(doc, "view", "cot")
    assert (cot["status"], cot["rows"]) == ("warn", 0)
    assert "no CFTC reports" in cot["reason"] and "positioning ingest cot" in cot["reason"]
    assert _status(doc, "view", "scan")["rows"] == len(INDICES)
    assert doc["status"] == "warn" and doc["counts"]["fail"] == 0  # so the exit code was 0


def test_json_has_the_documented_keys(small_report: dict[str, Any]) -> None:
    doc = small_report["doc"]
    assert list(doc) == [
        "schema_version",
        "command",
        "as_of",
        "rows",
        "warnings",
        "store",
        "now",
        "newest_settlement",
        "status",
        "counts",
    ]
    assert set(doc["counts"]) == {"ok", "warn", "fail"}
    assert sum(doc["counts"].values()) == len(doc["rows"])
    for row in doc["rows"]:
        assert tuple(row) == doctor.KEYS
        assert row["status"] in doctor.STATUSES and row["section"] in doctor.SECTIONS and row["reason"]
    # every table, index (twice) and view once
    names = [(r["section"], r["name"]) for r in doc["rows"]]
    assert len(names) == len(set(names)) == len(TABLES) + 2 * len(INDICES) + len(doctor.VIEWS)


def test_stale_short_interest_fails_with_exit_7(small_store: Path) -> None:
    r = run_cli("doctor", "-f", "json", store=small_store, env={"POSITIONING_NOW": NOW_STALE})
    assert r.code == 7, r.err
    assert "check(s) failed: table short_interest" in r.err
    si = _status(json.loads(r.out), "table", "short_interest")
    assert si["status"] == "fail"
    assert "2026-08-14 report is out and not held" in si["reason"]
    assert "3 settlement(s) behind" in si["reason"] and "positioning update" in si["reason"]


def test_table_fits_80_columns(small_store: Path) -> None:
    r = run_cli(
        "doctor", "-f", "table", store=small_store, env={"POSITIONING_NOW": NOW_CURRENT, "COLUMNS": "80"}
    )
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert max(len(line) for line in lines) <= 80
    for title in ("Tables", "Coverage on the newest settlement date", "Index price proxies", "Views"):
        assert any(line.strip() == title for line in lines)
    assert "Hidden to fit" not in r.out


@pytest.mark.parametrize("kind", ["missing", "empty"])
def test_no_store_is_no_data_without_traceback(tmp_path: Path, kind: str) -> None:
    store = tmp_path / "store"
    if kind == "empty":
        store.mkdir()
    r = run_cli("doctor", store=store)
    assert r.code == 4
    assert r.out == ""
    assert r.err.startswith("error: ") and "Traceback" not in r.err
    assert "positioning update" in r.err


# ---------------------------------------------------------------- the demo store, in process
@pytest.fixture(scope="module")
def demo_report(demo_store: Path) -> Any:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("POSITIONING_NOW", "2026-11-21T12:00:00")  # the sample data's newest day + 1
        return api.doctor(demo_store)


def _members_on(table: Any, idx: str, d: date) -> set[str]:
    """The snapshot on or before d (the first one when d precedes them all), plain Python."""
    rows = [r for r in table.to_pylist() if r["index"] == idx]
    snaps = sorted({r["as_of"] for r in rows})
    snap = max([s for s in snaps if s <= d], default=snaps[0])
    return {r["symbol"] for r in rows if r["as_of"] == snap}


def test_demo_coverage_matches_a_count_over_the_parquet(demo_store: Path, demo_report: Any) -> None:
    si = ds.dataset(demo_store / "short_interest", format="parquet", partitioning="hive").to_table(
        columns=["settlement_date", "symbol", "shares_outstanding"]
    )
    newest = max(si.column("settlement_date").to_pylist())
    assert demo_report.extra["newest_settlement"] == newest.isoformat()
    on_day = si.filter(pc.equal(si.column("settlement_date"), newest)).to_pylist()
    members = ds.dataset(demo_store / "members", format="parquet", partitioning="hive").to_table(
        columns=["index", "as_of", "symbol", "shares_outstanding"]
    )
    member_so = {(r["index"], r["as_of"], r["symbol"]): r["shares_outstanding"] for r in members.to_pylist()}
    si_so = {r["symbol"]: r["shares_outstanding"] for r in on_day}
    for idx in INDICES:
        listed = _members_on(members, idx, newest)
        snap = max([r["as_of"] for r in members.to_pylist() if r["index"] == idx and r["as_of"] <= newest])
        with_si = listed & set(si_so)

        def usable(x: Any) -> bool:  # DOMAIN: a denominator of 0 or 1 share is quarantined, not used
            return x is not None and x > 1

        with_so = {s for s in with_si if usable(si_so[s]) or usable(member_so[(idx, snap, s)])}
        row = next(r for r in demo_report.rows if r["section"] == "coverage" and r["name"] == idx)
        assert (row["members"], row["members_with_si"], row["members_with_denominator"]) == (
            len(listed),
            len(with_si),
            len(with_so),
        )
        assert row["status"] == "ok"


def test_demo_statuses(demo_store: Path, demo_report: Any) -> None:
    rows = {(r["section"], r["name"]): r for r in demo_report.rows}
    tables = ds.dataset(demo_store / "cot", format="parquet", partitioning="hive").to_table(
        columns=["report_date"]
    )
    cot = rows[("table", "cot")]
    newest_cot = max(tables.column("report_date").to_pylist())
    assert (cot["newest"], cot["rows"]) == (newest_cot, tables.num_rows)
    # the sample CFTC data ends in August: the calendar says newer reports are out -> a warning only
    assert cot["status"] == "warn" and "not held" in cot["reason"]
    assert rows[("table", "short_interest")]["status"] == "ok"
    for idx, sym in (("RUT", "IWM"), ("NDX", "QQQ"), ("SPX", "SPY")):
        assert (rows[("proxy", idx)]["status"], rows[("proxy", idx)]["symbol"]) == ("ok", sym)
    for view in doctor.VIEWS:
        assert rows[("view", view)]["status"] == "ok", rows[("view", view)]
        assert rows[("view", view)]["rows"] > 0
    assert demo_report.extra["status"] == "warn" and demo_report.extra["counts"]["fail"] == 0


def test_an_index_without_membership_only_warns_one_with_members_and_no_rows_fails() -> None:
    rows = [{"index": "RUT", "members": 0, "members_with_si": 0, "members_with_denominator": 0}]
    rows[0] |= {"settlement_date": "2026-06-30", "membership_as_of": "2026-01-02"}
    warnings = ["NDX: no short interest for its members on 2026-06-30"]
    checks = {c.name: c for c in doctor._coverage_checks(rows, None, warnings, {"RUT", "NDX"})}
    assert (checks["RUT"].status, checks["RUT"].pct_with_si) == ("fail", None)  # 0 members: no figure
    assert checks["NDX"].status == "fail"
    assert checks["NDX"].reason == "no short interest for its members on 2026-06-30"
    assert checks["SPX"].status == "warn" and "ingest members FILE --index SPX" in checks["SPX"].reason


def test_readme_doctor_crontab_line_mails_the_report_when_a_check_fails(
    small_store: Path, tmp_path: Path
) -> None:
    import subprocess

    from tests.test_docs import readme_line, shim_path

    command = readme_line("0 7 * * 1 ").split(" ", 5)[5]  # without the schedule, as cron runs it
    env = shim_path(tmp_path, small_store) | {"POSITIONING_NOW": NOW_STALE, "COLUMNS": "80"}
    p = subprocess.run(["sh", "-c", command], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr  # mail ran
    assert "a check failed" in (tmp_path / "mail.args").read_text()
    body = (tmp_path / "mail.body").read_text()
    assert body.startswith("FAIL: ") and "error: 1 check(s) failed: table short_interest" in body


@pytest.mark.parametrize(
    ("now", "status", "state"),
    [
        # 2026-07-15's report (the store holds up to 06-30): published 2026-07-24 16:00 ET (7th session
        # after), late from the next session's 16:00, missing five sessions after publication.
        ("2026-07-24T19:00:00", "ok", "current"),  # 15:00 ET: not out yet
        ("2026-07-24T21:00:00", "warn", "due"),
        ("2026-07-28T12:00:00", "warn", "late"),
        ("2026-08-03T12:00:00", "fail", "missing"),  # one report behind (07-31's is not out), but missing
    ],
)
def test_short_interest_status_follows_finra_publication(
    small_store: Path, monkeypatch: pytest.MonkeyPatch, now: str, status: str, state: str
) -> None:
    monkeypatch.setenv("POSITIONING_NOW", now)
    si = _status({"rows": api.doctor(small_store).rows}, "table", "short_interest")
    assert (si["status"], si["reason"].split(":")[0]) == (status, state)
    if state != "current":
        assert "the 2026-07-15 report is out and not held" in si["reason"]
        assert "1 settlement(s) behind" in si["reason"]


def test_readme_names_every_json_key_and_the_exit_code() -> None:
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Health check", 1)[1].split("\n## ", 1)[0]
    for key in (*doctor.KEYS, *doctor.SECTIONS, "newest_settlement", "counts"):
        assert f"`{key}`" in section, key
    assert "a `doctor` check failed" in readme.split("## Exit codes", 1)[1]
    assert f"{doctor.MIN_COVERAGE_PCT:.0f}%" in section and f"{doctor.MEMBERS_MAX_AGE_DAYS} days" in section


def test_a_store_without_short_interest_fails_every_index_view_and_says_why(tmp_path: Path) -> None:
    prices = tmp_path / "IWM.csv"
    prices.write_text(
        "Date,Open,High,Low,Close,Adj Close,Volume\n2026-06-29,1,1,1,1,1,10\n2026-06-30,2,2,2,2,2,10\n"
    )
    store = tmp_path / "store"
    api.ingest("prices", [prices], store)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("POSITIONING_NOW", NOW_CURRENT)
        result = api.doctor(store)
    rows = {(r["section"], r["name"]): r for r in result.rows}
    assert result.extra["status"] == "fail" and result.extra["newest_settlement"] is None
    assert rows[("table", "short_interest")]["status"] == "fail"
    assert rows[("table", "members")]["status"] == "fail"
    assert rows[("table", "prices")] | {"reason": ""} == rows[("table", "prices")] | {
        "status": "ok",
        "rows": 2,
        "newest": date(2026, 6, 30),
        "reason": "",
    }
    for view in ("scan", "scan --by sector", "scan --by stock", "summary"):
        row = rows[("view", view)]
        assert row["status"] == "fail" and row["reason"].startswith(
            "empty: the store holds no short interest"
        )
    assert rows[("proxy", "RUT")]["symbol"] == "IWM"
    assert rows[("proxy", "NDX")]["status"] == "warn"  # no membership for any index: none tracked
