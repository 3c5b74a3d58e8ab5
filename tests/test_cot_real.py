"""Every real CFTC TFF file parses, and the parsed numbers equal the raw lines read with the csv module.

The expected values come from the files themselves, read here independently of the ingest code
(csv module, by header name), plus a few values pinned by hand from the raw text.
"""

from __future__ import annotations

import csv
import datetime
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from positioning_cli import futures
from positioning_cli.ingest import parse_file
from positioning_cli.ingest.cot import TFF_HEADER

REAL_COT = Path(__file__).resolve().parents[2] / "shared/data/real/cftc_tff"
INDEX_CODES = ("13874A", "209742", "239742", "23977A")
CHECKED = {
    "open_interest": "Open_Interest_All",
    "lev_money_long": "Lev_Money_Positions_Long_All",
    "lev_money_short": "Lev_Money_Positions_Short_All",
    "asset_mgr_long": "Asset_Mgr_Positions_Long_All",
    "asset_mgr_short": "Asset_Mgr_Positions_Short_All",
    "dealer_long": "Dealer_Positions_Long_All",
    "dealer_short": "Dealer_Positions_Short_All",
    "nonrept_short": "NonRept_Positions_Short_All",
}


def _files() -> list[Path]:
    if not REAL_COT.is_dir():
        pytest.skip(f"real CFTC files not present at {REAL_COT} (they live in ../shared, outside the repo)")
    files = sorted(REAL_COT.glob("*.txt"))
    if not files:
        pytest.skip(f"no CFTC .txt files in {REAL_COT}")
    return files


def _raw(path: Path) -> dict[tuple[str, str], dict[str, str]]:
    """(report date, stripped code) -> raw row, with the csv module only."""
    with open(path, newline="", encoding="ascii") as f:
        rows = list(csv.DictReader(f))
    return {(r["Report_Date_as_YYYY-MM-DD"].strip(), r["CFTC_Contract_Market_Code"].strip()): r for r in rows}


@pytest.fixture(scope="module")
def parsed() -> dict[str, tuple[pd.DataFrame, dict[tuple[str, str], dict[str, str]]]]:
    out = {}
    for path in _files():
        result = parse_file("cot", path)
        assert result.format == "cftc-tff"
        assert result.warnings == ()
        frame = result.table.to_pandas()
        frame["report_date"] = frame["report_date"].astype(str)
        out[path.name] = (frame.set_index(["report_date", "contract_code"]), _raw(path))
    return out


@pytest.fixture(scope="module")
def tables() -> dict[str, pa.Table]:
    """file name -> the parsed Arrow table, as the store hands it to futures.series."""
    return {path.name: parse_file("cot", path).table for path in _files()}


def _at(ser: futures.FuturesSeries, day: str) -> int:
    """Position of the report dated ``day`` in ``ser``."""
    (hit,) = np.flatnonzero(ser.report_date == np.datetime64(day))
    return int(hit)


def test_every_file_parses_all_rows(parsed) -> None:
    for name, (frame, raw) in parsed.items():
        assert len(frame) == len(raw), name  # every market kept, no key collapsed
        assert frame.index.is_unique, name
        futures_only = "FinCom" not in name
        assert (frame["futures_only"] == futures_only).all(), name
        for code in ("13874A", "209742", "239742", "13874+", "20974+"):
            assert (frame.index.get_level_values("contract_code") == code).any(), (name, code)


def _sample_dates(raw: dict[tuple[str, str], dict[str, str]], code: str) -> list[str]:
    dates = sorted(d for d, c in raw if c == code)
    return sorted({dates[0], dates[len(dates) // 3], dates[len(dates) // 2], dates[-1]}) if dates else []


def test_index_contracts_match_raw_lines(parsed) -> None:
    checked = 0
    for name, (frame, raw) in parsed.items():
        for code in INDEX_CODES:
            for d in _sample_dates(raw, code):
                row = raw[(d, code)]
                got = frame.loc[(d, code)]
                for field, column in CHECKED.items():
                    assert got[field] == int(row[column].strip()), (name, d, code, field)
                assert got["market_name"] == row["Market_and_Exchange_Names"].strip()
                net = int(row["Lev_Money_Positions_Long_All"]) - int(row["Lev_Money_Positions_Short_All"])
                assert got["lev_money_long"] - got["lev_money_short"] == net
                checked += 1
    assert checked >= 100


def test_ice_russell_rows_2017(parsed) -> None:
    name = next(n for n in parsed if "FinFut17" in n)
    frame, raw = parsed[name]
    ice = frame.xs("23977A", level="contract_code")
    assert len(ice) == 52
    # Monday report date of the Independence Day week, pinned from the raw line.
    got = ice.loc["2017-07-03"]
    assert (got["open_interest"], got["asset_mgr_long"], got["asset_mgr_short"]) == (572416, 226721, 190965)
    assert (got["lev_money_long"], got["lev_money_short"]) == (176454, 179693)
    for d in ("2017-01-03", "2017-05-16", "2017-08-08"):
        row = raw[(d, "23977A")]
        for field, column in CHECKED.items():
            assert ice.loc[d, field] == int(row[column]), (d, field)


def test_pinned_es_values(parsed) -> None:
    frame, _ = parsed[next(n for n in parsed if "FinFut17" in n)]
    es = frame.loc[("2017-12-26", "13874A")]
    assert es["open_interest"] == 3061310
    assert (es["lev_money_long"], es["lev_money_short"]) == (420751, 570387)
    assert (es["asset_mgr_long"], es["asset_mgr_short"]) == (1539279, 746682)
    assert es["market_name"] == "E-MINI S&P 500 STOCK INDEX - CHICAGO MERCANTILE EXCHANGE"


def test_consolidated_rows_kept_apart(parsed, tables) -> None:
    for name, (frame, raw) in parsed.items():
        codes = frame.index.get_level_values("contract_code")
        for plus, single in (("13874+", "13874A"), ("20974+", "209742")):
            assert (codes == plus).sum() == sum(1 for _, c in raw if c == plus), name
            d = next(d for d, c in raw if c == plus)
            assert frame.loc[(d, plus), "open_interest"] == int(raw[(d, plus)]["Open_Interest_All"])
            assert frame.loc[(d, single), "open_interest"] == int(raw[(d, single)]["Open_Interest_All"])
        # series() picks the single code only: its open interest is exactly the 13874A rows'.
        flat = frame.reset_index()
        es = futures.series(tables[name], "ES", futures_only="FinCom" not in name)
        single = flat.loc[flat["contract_code"] == "13874A"]
        assert sorted(es.open_interest.tolist()) == sorted(single["open_interest"].astype(float).tolist())
        assert es.report_date.astype(str).tolist() == sorted(single["report_date"].tolist())


def test_fincom_is_combined_and_differs(parsed) -> None:
    fut = next((parsed[n] for n in parsed if "FinFutYY__wyne1" in n), None)
    com = next((parsed[n] for n in parsed if "FinCom" in n), None)
    if fut is None or com is None:
        pytest.skip("the 2024 FinFut/FinCom pair is not present")
    assert not com[0]["futures_only"].any()
    assert fut[0]["futures_only"].all()
    key = ("2024-07-23", "13874A")
    assert com[0].loc[key, "open_interest"] >= fut[0].loc[key, "open_interest"]
    assert com[0].loc[key, "open_interest"] == int(com[1][key]["Open_Interest_All"])


def test_holiday_monday_reports_kept(parsed) -> None:
    dates = set()
    for frame, _ in parsed.values():
        dates |= set(frame.xs("13874A", level="contract_code").index)
    assert {"2017-07-03", "2018-12-24", "2018-12-31"} <= dates


def test_rty_stitched_real(tables) -> None:
    rty = futures.series(pa.concat_tables([t for n, t in tables.items() if "FinFut" in n]), "RTY")
    assert (np.diff(rty.report_date.astype(np.int64)) > 0).all()  # ascending, one row per date
    assert rty.contract_code[_at(rty, "2017-08-08")] == "23977A"
    assert rty.contract_code[_at(rty, "2017-08-15")] == "239742"
    assert rty.report_date[rty.venue_break].tolist() == [datetime.date(2017, 8, 15)]
    assert (rty.contract_code[rty.report_date >= np.datetime64("2017-08-15")] == "239742").all()
    read = futures.read(rty, datetime.date(2018, 3, 1), "lev")
    assert read.venue_break_in_window
    assert not futures.read(rty, datetime.date(2019, 3, 1), "lev").venue_break_in_window


def test_real_reads_es_2026(parsed, tables) -> None:
    name = next((n for n in parsed if n.startswith("2026_FinFut")), None)
    if name is None:
        pytest.skip("2026 file not present")
    _, raw = parsed[name]
    row = raw[("2026-08-04", "13874A")]
    net = int(row["Lev_Money_Positions_Long_All"]) - int(row["Lev_Money_Positions_Short_All"])
    es = futures.series(tables[name], "ES")
    read = futures.read(es, "2026-08-07", "lev")  # Friday release: reads the Tuesday report
    assert read.report_date == datetime.date(2026, 8, 4)
    assert read.net == net == -329999
    assert read.net_pct_oi == pytest.approx(100 * net / int(row["Open_Interest_All"]))
    earlier = raw[("2026-07-28", "13874A")]
    prev = int(earlier["Lev_Money_Positions_Long_All"]) - int(earlier["Lev_Money_Positions_Short_All"])
    assert read.change_1w == net - prev


def test_zip_archive_reads_like_the_text(tmp_path: Path) -> None:
    path = _files()[0]
    archive = tmp_path / "fut_fin_txt.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.write(path, arcname="FinFutYY.txt")
    plain = parse_file("cot", path).table
    zipped = parse_file("cot", archive).table
    assert zipped.equals(plain)
    assert isinstance(zipped, pa.Table)


def test_lf_and_crlf_agree(tmp_path: Path) -> None:
    path = _files()[0]
    lf = tmp_path / "lf.txt"
    lf.write_bytes(path.read_bytes().replace(b"\r\n", b"\n"))
    assert parse_file("cot", lf).table.equals(parse_file("cot", path).table)


def test_raw_headers_identical() -> None:
    headers = {p.read_bytes().split(b"\n", 1)[0].rstrip(b"\r") for p in _files()}
    assert len(headers) == 1
    # the header the current-week files are read with is this one, name for name
    assert headers == {",".join(f'"{n}"' for n in TFF_HEADER).encode()}


def test_headerless_rows_read_like_the_annual_file(tmp_path: Path) -> None:
    """Every real annual file without its header line, named as CFTC names its current-week files,
    parses to the same rows (only the format name differs)."""
    for path in _files():
        data = path.read_bytes()
        week = tmp_path / ("FinComWk.txt" if "FinCom" in path.name else "FinFutWk.txt")
        week.write_bytes(data.split(b"\n", 1)[1])
        got, want = parse_file("cot", week), parse_file("cot", path)
        assert got.format == "cftc-tff-week"
        assert got.table.num_rows == want.table.num_rows > 1000
        assert got.table.drop_columns(["source_format"]).equals(want.table.drop_columns(["source_format"]))
