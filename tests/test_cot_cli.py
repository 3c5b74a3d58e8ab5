"""`ingest cot`, `cot` and the futures read in `scan`, checked against the raw CFTC lines."""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path

import pytest

from tests.conftest import SAMPLE, run_cli
from tests.test_scan_handmade import store as hand_store  # noqa: F401  (fixture)


def raw_rows(code: str) -> dict[str, dict[str, str]]:
    """report date -> raw row of the futures-only file lines for one contract code, read with csv."""
    out: dict[str, dict[str, str]] = {}
    for path in sorted((SAMPLE / "cot").glob("FinFut*.txt.gz")):
        text = gzip.decompress(path.read_bytes()).decode("ascii")
        for row in csv.DictReader(io.StringIO(text)):
            if row["CFTC_Contract_Market_Code"].strip() == code:
                out[row["Report_Date_as_YYYY-MM-DD"].strip()] = row
    return out


def net(row: dict[str, str], group: str) -> int:
    return int(row[f"{group}_Positions_Long_All"]) - int(row[f"{group}_Positions_Short_All"])


@pytest.fixture(scope="module")
def cot_store(hand_store: Path) -> Path:  # noqa: F811
    r = run_cli("ingest", "cot", str(SAMPLE / "cot"), store=hand_store)
    assert r.code == 0, r.err
    return hand_store


def test_cot_reads_the_raw_numbers(cot_store: Path) -> None:
    doc = json.loads(run_cli("cot", "--as-of", "2024-07-23", "-f", "json", store=cot_store).out)
    assert doc["command"] == "cot" and doc["as_of"] == "2024-07-23"
    rows = {(r["contract"], r["group"]): r for r in doc["rows"]}
    for contract, code in (("ES", "13874A"), ("NQ", "209742"), ("RTY", "239742")):
        raw = raw_rows(code)["2024-07-23"]
        lev = rows[(contract, "lev_money")]
        assert lev["net"] == net(raw, "Lev_Money")
        assert lev["open_interest"] == int(raw["Open_Interest_All"])
        assert lev["net_pct_oi"] == pytest.approx(100 * net(raw, "Lev_Money") / int(raw["Open_Interest_All"]))
        assert rows[(contract, "asset_mgr")]["net"] == net(raw, "Asset_Mgr")
    assert "basis trade" in doc["caveat"]


def test_scan_never_reads_a_later_futures_report(cot_store: Path) -> None:
    doc = json.loads(
        run_cli("scan", "--index", "RUT", "--as-of", "2026-06-15", "-f", "json", store=cot_store).out
    )
    row = doc["rows"][0]
    assert row["futures_contract"] == "RTY"
    assert row["futures_report_date"] == "2026-06-09"  # the Tuesday before the 2026-06-15 settlement
    assert row["lev_net"] == net(raw_rows("239742")["2026-06-09"], "Lev_Money")


def test_scan_compares_futures_and_equity_shorts_over_the_same_window(cot_store: Path) -> None:
    doc = json.loads(run_cli("scan", "--index", "RUT", "-f", "json", store=cot_store).out)
    row = doc["rows"][0]  # settlement 2026-06-30, previous report 2026-06-15
    raw = raw_rows("239742")
    change = net(raw["2026-06-30"], "Lev_Money") - net(raw["2026-06-09"], "Lev_Money")
    assert row["lev_net_change"] == change
    # equity short interest rose (+12.5%): futures agree when the leveraged net fell
    assert row["futures_agree"] is (change < 0)


def test_cot_on_an_empty_store_is_no_data(tmp_path: Path) -> None:
    r = run_cli("cot", store=tmp_path / "s")
    assert r.code == 4 and "ingest cot" in r.err


def test_cot_unknown_contract_is_a_usage_error(cot_store: Path) -> None:
    r = run_cli("cot", "--contract", "GOLD", store=cot_store)
    assert r.code == 2 and "GOLD" in r.err


def _pre_file(tmp_path: Path, change: dict[str, object], at: int = 2) -> Path:
    """CFTC's PRE JSON for 2025 (the sample's rows as PRE serves them), record ``at`` changed."""
    from tests.fetch_payloads import cftc_year, pre_records

    records: list[dict[str, object]] = [dict(r) for r in pre_records(cftc_year(2025))]
    for field, value in change.items():
        if value is None:
            records[at].pop(field)
        else:
            records[at][field] = value
    path = tmp_path / "pre.json"
    path.write_text(json.dumps(records))
    return path


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"open_interest_all": "12x"}, "record 3: column 'open_interest_all': not a whole number: '12x'"),
        (
            {"report_date_as_yyyy_mm_dd": "1985-01-01T00:00:00.000"},
            "record 3: column 'report_date_as_yyyy_mm_dd': implausible report date",
        ),
        (
            {"report_date_as_yyyy_mm_dd": "2025-13-01T00:00:00.000"},
            "not a date in format YYYY-MM-DDThh:mm:ss.fff: '2025-13-01T00:00:00.000'",
        ),
        (
            {"cftc_contract_market_code": None},
            "record 3: column 'cftc_contract_market_code': blank contract code",
        ),
        ({"futonly_or_combined": "Both"}, "expected FutOnly or Combined, got 'Both'"),
    ],
    ids=["open-interest", "report-date-range", "report-date-format", "no-code", "kind"],
)
def test_ingest_cot_pre_json_bad_values_are_one_line(
    tmp_path: Path, change: dict[str, object], problem: str
) -> None:
    path = _pre_file(tmp_path, change)
    r = run_cli("ingest", "cot", str(path), store=tmp_path / "store")
    assert r.code == 3
    assert r.err.count("\n") == 1 and r.err.startswith(f"error: {path}: ")
    assert problem in r.err


def test_ingest_cot_pre_json_reads_the_raw_numbers(tmp_path: Path) -> None:
    """PRE's spellings (``lev_money_positions_long`` without ``_all``, numbers as text, a timestamp
    date, a blank field left out) read as the numbers the record carries."""
    path = _pre_file(tmp_path, {"dealer_positions_short_all": None})
    record = json.loads(path.read_text())[2]
    assert "lev_money_positions_long" in record and "lev_money_positions_long_all" not in record
    store = tmp_path / "store"
    assert run_cli("ingest", "cot", str(path), store=store).code == 0
    import pyarrow.parquet as pq

    rows = pq.read_table(store / "cot").to_pylist()
    date = record["report_date_as_yyyy_mm_dd"][:10]
    code = record["cftc_contract_market_code"]
    got = next(r for r in rows if str(r["report_date"]) == date and r["contract_code"] == code)
    assert got["lev_money_long"] == int(record["lev_money_positions_long"])
    assert got["dealer_long"] == int(record["dealer_positions_long_all"])
    assert got["dealer_short"] is None
    assert got["open_interest"] == int(record["open_interest_all"])
    assert got["futures_only"] is (record["futonly_or_combined"] == "FutOnly")
    assert got["source_format"] == "cftc-pre-json"


def _newest_week(text: bytes) -> tuple[bytes, bytes]:
    """(header line, the lines of the newest report date) of an annual file, byte for byte."""
    lines = text.splitlines(keepends=True)
    dates = [next(csv.reader([ln.decode()]))[2] for ln in lines[1:]]
    newest = max(dates)
    return lines[0], b"".join(ln for ln, d in zip(lines[1:], dates, strict=True) if d == newest)


def _cot_rows(store: Path) -> list[dict[str, object]]:
    import pyarrow.parquet as pq

    t = pq.read_table(store / "cot").drop_columns(["ingested_at", "source_file"])
    return sorted(t.to_pylist(), key=lambda r: (r["report_date"], r["contract_code"], r["futures_only"]))


@pytest.mark.parametrize(
    ("sample", "name"),
    [
        ("FinFut26.txt.gz", "FinFutWk.txt"),
        ("FinCom24.txt.gz", "FinComWk.txt"),
        ("FinFut26.txt.gz", "week.txt"),
    ],
    ids=["futures-only", "combined", "unnamed"],
)
def test_ingest_cot_current_week_file_reads_like_the_annual_rows(
    tmp_path: Path, sample: str, name: str
) -> None:
    """CFTC's headerless current-week file (recognised by name, or by its rows' shape) gives the rows
    the same lines give under the annual header."""
    header, week = _newest_week(gzip.decompress((SAMPLE / "cot" / sample).read_bytes()))
    weekly, annual = tmp_path / name, tmp_path / "annual.txt"
    weekly.write_bytes(week)
    annual.write_bytes(header + week)
    r = run_cli("ingest", "cot", str(weekly), store=tmp_path / "w")
    assert r.code == 0, r.err
    assert ", cftc-tff-week, " in r.err
    assert run_cli("ingest", "cot", str(annual), store=tmp_path / "a").code == 0
    got, want = _cot_rows(tmp_path / "w"), _cot_rows(tmp_path / "a")
    assert len(got) == len(week.splitlines()) >= 3
    assert {r.pop("source_format") for r in got} == {"cftc-tff-week"}
    assert {r.pop("source_format") for r in want} == {"cftc-tff"}
    assert got == want
    # and against the raw line, read with the csv module by position (field 14: leveraged funds long)
    first = next(csv.reader([week.splitlines()[0].decode()]))
    row = next(r for r in got if r["contract_code"] == first[3].strip())
    assert row["lev_money_long"] == int(first[14]) and row["open_interest"] == int(first[7])
    assert row["futures_only"] is (first[-1] == "FutOnly")


def test_ingest_cot_current_week_file_with_a_wrong_field_count_is_one_line(tmp_path: Path) -> None:
    _, week = _newest_week(gzip.decompress((SAMPLE / "cot" / "FinFut26.txt.gz").read_bytes()))
    lines = week.splitlines(keepends=True)
    lines[2] = lines[2].rstrip(b"\r\n").rsplit(b",", 1)[0] + b"\n"  # the third row loses its last field
    path = tmp_path / "FinFutWk.txt"
    path.write_bytes(b"".join(lines))
    r = run_cli("ingest", "cot", str(path), store=tmp_path / "store")
    assert r.code == 3
    assert r.err == f"error: {path}:3: 86 fields, but the header this headerless file is read with has 87\n"
    assert not (tmp_path / "store" / "cot").exists()
