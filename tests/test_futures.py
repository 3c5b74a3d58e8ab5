"""futures.py on hand-made series (numbers worked out by hand or with statistics), and the
cftc-tff parser on bad input (one-line InputError naming the file and line)."""

from __future__ import annotations

import datetime
import math
import statistics
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from positioning_cli import futures
from positioning_cli.errors import InputError
from positioning_cli.ingest import parse_file

TUE = datetime.date(2020, 1, 7)  # a Tuesday


def _cot(rows: list[tuple]) -> pd.DataFrame:
    """rows: (report_date, code, lev_long, lev_short[, open_interest[, futures_only]])."""
    out = []
    for r in rows:
        d, code, lev_long, lev_short = r[:4]
        oi = r[4] if len(r) > 4 else 1000
        fut = r[5] if len(r) > 5 else True
        out.append(
            {
                "report_date": d,
                "contract_code": code,
                "market_name": "X",
                "futures_only": fut,
                "open_interest": oi,
                "lev_money_long": lev_long,
                "lev_money_short": lev_short,
                "asset_mgr_long": 2 * lev_long,
                "asset_mgr_short": lev_short,
            }
        )
    return pd.DataFrame(out)


def _weekly(nets: list[float], start: datetime.date = TUE, code: str = "13874A") -> pd.DataFrame:
    """An ES series with the given lev nets on consecutive Tuesdays (long = net + 500, short = 500)."""
    rows = [(start + datetime.timedelta(weeks=i), code, n + 500, 500) for i, n in enumerate(nets)]
    return futures.series(_cot(rows), "ES")


# ---------------------------------------------------------------- contracts and series


def test_resolve_contract() -> None:
    assert futures.resolve_contract("es") == ("ES", ("13874A",))
    assert futures.resolve_contract(" nq ") == ("NQ", ("209742",))
    assert futures.resolve_contract("RTY") == ("RTY", ("239742", "23977A"))
    assert futures.resolve_contract("rut") == ("RTY", ("239742", "23977A"))
    assert futures.resolve_contract("13874a") == ("13874A", ("13874A",))
    assert futures.resolve_contract("13874+") == ("13874+", ("13874+",))
    for bad in ("", "SPY", "1387", "13874AA", "S&P 500"):
        with pytest.raises(ValueError):
            futures.resolve_contract(bad)


def test_series_net_and_pct_and_filters() -> None:
    d = TUE
    cot = _cot(
        [
            (d, "13874A", 300, 800, 2000),
            (d, "13874+", 9999, 1, 5000),  # consolidated: never mixed in
            (d, "13874A", 100, 100, 3000, False),  # combined file row
            (d, "209742", 1, 2, 10),
        ]
    )
    es = futures.series(cot, "ES")
    assert len(es) == 1
    row = es.iloc[0]
    assert row["lev_net"] == -500
    assert row["lev_net_pct_oi"] == pytest.approx(-25.0)
    assert row["asset_mgr_net"] == 600 - 800
    assert row["asset_mgr_net_pct_oi"] == pytest.approx(-10.0)
    assert row["contract_code"] == "13874A"
    assert not row["venue_break"]
    combined = futures.series(cot, "ES", futures_only=False)
    assert combined.iloc[0]["open_interest"] == 3000
    plus = futures.series(cot, "13874+")
    assert plus.iloc[0]["lev_net"] == 9998


def test_rty_stitching_and_venue_break() -> None:
    cut = futures.RTY_CME_START
    week = datetime.timedelta(weeks=1)
    rows = [
        (cut - 3 * week, "23977A", 10, 0),
        (cut - 2 * week, "23977A", 20, 0),
        (cut - 2 * week, "239742", 25, 0),  # CME row before the start: it wins over ICE that day
        (cut - 1 * week, "23977A", 30, 0),
        (cut, "23977A", 999, 0),  # ICE kept trading: ignored from the CME start on
        (cut, "239742", 40, 0),
        (cut + week, "23977A", 999, 0),
        (cut + week, "239742", 50, 0),
    ]
    rty = futures.series(_cot(rows), "RTY")
    assert rty["lev_net"].tolist() == [10, 25, 30, 40, 50]
    assert rty["contract_code"].tolist() == ["23977A", "239742", "23977A", "239742", "239742"]
    # A break wherever the venue (code) changes from the previous report, shown, never silent.
    assert rty["venue_break"].tolist() == [False, True, True, True, False]
    assert futures.read(rty, cut + week, "lev").venue_break_in_window
    later = cut + datetime.timedelta(days=400)
    rows.append((later, "239742", 60, 0))
    rty = futures.series(_cot(rows), "RTY")
    assert not futures.read(rty, later, "lev").venue_break_in_window
    # A raw code is that code only.
    assert futures.series(_cot(rows), "23977A")["lev_net"].tolist() == [10, 20, 30, 999, 999]


# ---------------------------------------------------------------- read()


def test_percentile_and_windows() -> None:
    nets = [5, 3, 8, 1, 9, 2, 7, 4, 6, 5]  # today 5: <= 5 are 5, 3, 1, 2, 4, 5 -> 6 of 10
    ser = _weekly(nets)
    r = futures.read(ser, TUE + datetime.timedelta(weeks=9), "lev")
    assert r.net == 5
    assert r.pct_all.pct == pytest.approx(60.0)
    assert r.pct_all.n_obs == 10 and r.pct_all.window_complete
    assert r.pct_1y.pct == pytest.approx(60.0) and r.pct_1y.n_obs == 10
    assert not r.pct_1y.window_complete  # 10 weeks held, not a year
    assert not r.pct_3y.window_complete
    assert r.pct_1y.first_date == TUE


def test_window_complete_and_window_edges() -> None:
    nets = list(range(60))  # 60 weekly reports, increasing: today is the highest
    ser = _weekly(nets)
    r = futures.read(ser, TUE + datetime.timedelta(weeks=59), "lev")
    # (d - 365, d] holds 53 Tuesdays when the year is complete (d itself and 52 before, the first 364 days back).
    assert r.pct_1y.n_obs == 53 and r.pct_1y.window_complete
    assert r.pct_1y.pct == 100.0
    assert r.weeks_since_lower == 1
    # A missing report inside the window makes it incomplete even though history starts early enough.
    gappy = ser.drop(ser.index[40])
    r2 = futures.read(gappy, TUE + datetime.timedelta(weeks=59), "lev")
    assert r2.pct_1y.n_obs == 52 and not r2.pct_1y.window_complete
    # The rule at the edge: history starting exactly W - 7 days back is complete, a day later is not.
    end = TUE + datetime.timedelta(weeks=60)
    for first_gap_days, complete in ((358, True), (357, False)):
        start = end - datetime.timedelta(days=first_gap_days)
        dates = [start + datetime.timedelta(weeks=i) for i in range(52)] + [end]
        dates = sorted(set(d for d in dates if d <= end))
        s = futures.series(_cot([(d, "13874A", 600, 500) for d in dates]), "ES")
        assert futures.read(s, end, "lev").pct_1y.window_complete is complete, first_gap_days


def test_cot_index_and_zscore_over_last_52() -> None:
    nets = [1000.0] * 8 + [float((i * 37) % 101 - 50) for i in range(52)]  # the first 8 are outside
    ser = _weekly(nets)
    r = futures.read(ser, TUE + datetime.timedelta(weeks=59), "lev")
    last = nets[-52:]
    today = last[-1]
    assert r.n_obs_52w == 52
    assert r.cot_index_52w == pytest.approx(100 * (today - min(last)) / (max(last) - min(last)))
    assert r.zscore_52w == pytest.approx((today - statistics.mean(last)) / statistics.stdev(last))
    flat = futures.read(_weekly([7.0] * 10), TUE + datetime.timedelta(weeks=9), "lev")
    assert math.isnan(flat.cot_index_52w) and math.isnan(flat.zscore_52w)
    one = futures.read(_weekly([7.0]), TUE, "lev")
    assert math.isnan(one.zscore_52w) and one.n_obs_52w == 1


def test_weeks_since_lower() -> None:
    # today -40; last lower (-50) was 4 weeks ago -> "largest net short in 4 weeks"
    r = futures.read(_weekly([-10, -50, -20, -30, -35, -40]), TUE + datetime.timedelta(weeks=5), "lev")
    assert r.weeks_since_lower == 4
    never = futures.read(_weekly([-10, -20, -5, -60]), TUE + datetime.timedelta(weeks=3), "lev")
    assert never.weeks_since_lower is None  # never lower in the history held
    equal = futures.read(_weekly([-60, -10, -60]), TUE + datetime.timedelta(weeks=2), "lev")
    assert equal.weeks_since_lower is None  # equal is not lower


def test_changes_1w_4w() -> None:
    ser = _weekly([10, 20, 30, 40, 55])
    r = futures.read(ser, TUE + datetime.timedelta(weeks=4), "lev")
    assert r.change_1w == 15 and r.change_4w == 45
    short = futures.read(ser, TUE + datetime.timedelta(weeks=2), "lev")
    assert short.change_1w == 10 and math.isnan(short.change_4w)
    gappy = ser.drop(ser.index[3])  # the report one week before today is missing
    g = futures.read(gappy, TUE + datetime.timedelta(weeks=4), "lev")
    assert math.isnan(g.change_1w) and g.change_4w == 45
    # A holiday Monday report counts as the week's report.
    dates = [TUE, TUE + datetime.timedelta(days=6), TUE + datetime.timedelta(days=14)]
    s = futures.series(
        _cot([(d, "13874A", 500 + n, 500) for d, n in zip(dates, (1, 2, 4), strict=True)]), "ES"
    )
    assert futures.read(s, dates[-1], "lev").change_1w == 2


def test_point_in_time() -> None:
    ser = _weekly([10, 20, 30, -999])
    friday = TUE + datetime.timedelta(weeks=2, days=3)
    r = futures.read(ser, friday, "lev")
    assert r.report_date == TUE + datetime.timedelta(weeks=2)
    assert r.net == 30 and r.pct_all.n_obs == 3 and r.weeks_since_lower == 1
    assert futures.read(ser, pd.Timestamp(friday), "lev") == r
    assert futures.read(ser, friday.isoformat(), "lev") == r
    with pytest.raises(ValueError):
        futures.read(ser, TUE - datetime.timedelta(days=1), "lev")
    with pytest.raises(ValueError):
        futures.read(ser, friday, "dealers")


def test_asset_mgr_group() -> None:
    ser = _weekly([10, 20])  # asset_mgr long = 2 * (net + 500), short = 500
    r = futures.read(ser, TUE + datetime.timedelta(weeks=1), "asset_mgr")
    assert r.net == 2 * 520 - 500 and r.change_1w == 20
    assert r.net_pct_oi == pytest.approx(100 * 540 / 1000)


def test_caveat_text() -> None:
    assert "basis trade" in futures.BASIS_TRADE_CAVEAT and "asset managers" in futures.BASIS_TRADE_CAVEAT
    assert "\n" not in futures.BASIS_TRADE_CAVEAT


# ---------------------------------------------------------------- parser, hand-made files

HEADER = (
    '"Market_and_Exchange_Names","As_of_Date_In_Form_YYMMDD","Report_Date_as_YYYY-MM-DD",'
    '"CFTC_Contract_Market_Code","CFTC_Market_Code","Open_Interest_All",'
    '"Dealer_Positions_Long_All","Dealer_Positions_Short_All","Asset_Mgr_Positions_Long_All",'
    '"Asset_Mgr_Positions_Short_All","Lev_Money_Positions_Long_All","Lev_Money_Positions_Short_All",'
    '"Other_Rept_Positions_Long_All","Other_Rept_Positions_Short_All","NonRept_Positions_Long_All",'
    '"NonRept_Positions_Short_All","Contract_Units","CFTC_Contract_Market_Code_Quotes","FutOnly_or_Combined"'
)


def _line(
    date: str, code: str, oi: str = " 3061310", lev_short: str = "  570387", kind: str = "FutOnly"
) -> str:
    yymmdd = date[2:4] + date[5:7] + date[8:10]
    return (
        f'"E-MINI S&P 500 - CHICAGO MERCANTILE EXCHANGE",{yymmdd},{date},{code},CME ,{oi},  221187,'
        f"  824975, 1539279,  746682,  420751,{lev_short},  119206,       .,   .,   99,"
        f'"(CONTRACTS OF $50 X S&P 500 INDEX)","{code}","{kind}"'
    )


def _write(tmp_path: Path, lines: list[str], name: str = "FinFut17.txt", eol: str = "\r\n") -> Path:
    path = tmp_path / name
    path.write_bytes(eol.join(lines).encode("ascii") + eol.encode())
    return path


def test_handmade_file_parses(tmp_path: Path) -> None:
    path = _write(tmp_path, [HEADER, _line("2017-12-26", "13874A"), _line("2017-12-19", "090741")], eol="\n")
    parsed = parse_file("cot", path)
    t = parsed.table.to_pylist()
    assert parsed.format == "cftc-tff"
    assert t[0]["contract_code"] == "13874A" and t[1]["contract_code"] == "090741"
    assert t[0]["report_date"] == datetime.date(2017, 12, 26)
    assert t[0]["open_interest"] == 3061310 and t[0]["lev_money_short"] == 570387
    assert t[0]["other_rept_short"] is None and t[0]["nonrept_long"] is None  # "." -> null
    assert t[0]["futures_only"] is True and t[0]["market_name"].startswith("E-MINI")


def test_duplicate_keys_keep_last_and_warn(tmp_path: Path) -> None:
    lines = [HEADER, _line("2017-12-26", "13874A", oi="1"), _line("2017-12-26", "13874A", oi="2")]
    lines.append(_line("2017-12-26", "13874A", oi="3", kind="Combined"))
    parsed = parse_file("cot", _write(tmp_path, lines))
    assert sorted(parsed.table.column("open_interest").to_pylist()) == [2, 3]
    assert (
        len(parsed.warnings) == 1 and "line 2" in parsed.warnings[0] and "kept the last" in parsed.warnings[0]
    )


def _error(path: Path) -> InputError:
    with pytest.raises(InputError) as info:
        parse_file("cot", path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return info.value


def test_empty_file(tmp_path: Path) -> None:
    err = _error(_write(tmp_path, [""], eol="\n"))
    assert "empty" in err.problem


def test_wrong_header(tmp_path: Path) -> None:
    err = _error(_write(tmp_path, ["Date,Open,High,Low,Close", "2020-01-02,1,2,3,4"]))
    assert err.line == 1 and "unrecognised cot file" in err.problem


def test_missing_column(tmp_path: Path) -> None:
    header = HEADER.replace('"Lev_Money_Positions_Short_All",', '"Lev_Money_Short",')
    err = _error(_write(tmp_path, [header, _line("2017-12-26", "13874A")]))
    assert err.line == 1 and "Lev_Money_Positions_Short_All" in err.problem


def test_bad_number(tmp_path: Path) -> None:
    lines = [HEADER, _line("2017-12-26", "13874A"), _line("2017-12-19", "13874A", lev_short=" 57x387")]
    err = _error(_write(tmp_path, lines))
    assert err.line == 3 and err.field == "Lev_Money_Positions_Short_All" and "57x387" in err.problem


def test_blank_open_interest_and_bad_date_and_kind(tmp_path: Path) -> None:
    err = _error(_write(tmp_path, [HEADER, _line("2017-12-26", "13874A", oi="      .")], name="a.txt"))
    assert err.line == 2 and err.field == "Open_Interest_All"
    err = _error(_write(tmp_path, [HEADER, _line("2017-13-26", "13874A")], name="b.txt"))
    assert err.line == 2 and err.field == "Report_Date_as_YYYY-MM-DD"
    err = _error(_write(tmp_path, [HEADER, _line("2017-12-26", "13874A", kind="Options")], name="c.txt"))
    assert err.line == 2 and "FutOnly or Combined" in err.problem


def test_header_only(tmp_path: Path) -> None:
    err = _error(_write(tmp_path, [HEADER]))
    assert err.line == 1


def test_zip_good_and_bad(tmp_path: Path) -> None:
    text = _write(
        tmp_path, [HEADER, _line("2017-12-26", "13874A"), _line("2017-12-19", "13874A", lev_short="x")]
    )
    archive = tmp_path / "fut_fin_txt_2017.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.write(text, arcname="FinFut17.txt")
    err = _error(archive)  # errors inside an archive name the archive, the member and the line
    assert err.path == f"{archive}/FinFut17.txt" and err.line == 3
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(archive.read_bytes()[:60])
    err = _error(truncated)
    assert "zip" in err.problem
    two = tmp_path / "two.zip"
    with zipfile.ZipFile(two, "w") as z:
        z.writestr("a.txt", HEADER)
        z.writestr("b.txt", HEADER)
    assert "exactly one file" in _error(two).problem
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("FinFut17.txt", "\r\n".join([HEADER, _line("2017-12-26", "13874A")]) + "\r\n")
    assert parse_file("cot", good).table.num_rows == 1
