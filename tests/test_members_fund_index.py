"""A holdings file names its fund; ``--index`` naming another index is refused in one line, as a
file filed under the wrong index would otherwise be stored silently (a conflicting date is caught)."""

from __future__ import annotations

from pathlib import Path

import pytest

from positioning_cli.errors import InputError
from positioning_cli.ingest import ParseOptions, parse_file
from tests.conftest import real_dir, run_cli

ISHARES = (
    "\ufeff{fund}\n"
    'Fund Holdings as of,"May 05, 2026"\n'
    "\xa0\n"
    "Ticker,Name,Sector,Asset Class,Market Value,Weight (%),Notional Value,Quantity,Price\n"
    '"BE","BLOOM","Industrials","Equity","1,532,594,919.50","1.93","1","5,190,838.00","295.25"\n'
)
INVESCO = (
    "Fund Ticker,Security Identifier,Holding Ticker,Shares/Par Value,MarketValue,Weight,Name,Class of Shares,"
    "Sector,Date\n"
    'QQQ,037833100,AAPL ,"38,261,714","13,931,472,684.54",11.822,Apple Inc,Common Stock,Information Technology,'
    "07/02/2020\n"
)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("fund", "tracked", "wrong"),
    [("iShares Russell 2000 ETF", "RUT", "SPX"), ("iShares Core S&P 500 ETF", "SPX", "RUT")],
)
def test_ishares_holdings_under_another_index_are_refused(
    tmp_path: Path, fund: str, tracked: str, wrong: str
) -> None:
    path = _write(tmp_path, "holdings.csv", ISHARES.format(fund=fund))
    with pytest.raises(InputError) as caught:
        parse_file("members", path, ParseOptions(index=wrong))
    text = str(caught.value)
    assert f"tracks {tracked}, not --index {wrong}" in text and "holdings.csv:1:" in text  # the fund line
    # the index the fund tracks, given or not, is accepted
    for index in (tracked, None):
        parsed = parse_file("members", path, ParseOptions(index=index))
        assert parsed.table.column("index").to_pylist() == [tracked]


def test_invesco_qqq_holdings_under_another_index_are_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "QQQ.csv", INVESCO)
    with pytest.raises(InputError) as caught:
        parse_file("members", path, ParseOptions(index="RUT"))
    assert "fund QQQ, which tracks NDX, not --index RUT" in str(caught.value)
    assert parse_file("members", path, ParseOptions(index="NDX")).table.column("index").to_pylist() == ["NDX"]


@pytest.mark.parametrize(
    ("name", "wrong", "line"),
    [
        ("QQQ_holdings__invesco_2020-07-02__ammarfatehi.csv", "RUT", 2),
        ("IWM_holdings__ishares_2026-05-05__brownplaya239.csv", "SPX", 1),
    ],
)
def test_real_holdings_under_another_index_are_refused_in_one_line(
    tmp_path: Path, name: str, wrong: str, line: int
) -> None:
    path = real_dir("constituents") / name
    store = tmp_path / "store"
    r = run_cli("ingest", "members", str(path), "--index", wrong, "--as-of", "2020-07-02", store=store)
    assert r.code == 3, r.err  # bad input (README exit codes)
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and f"{name}:{line}: " in lines[0]
    assert f"not --index {wrong}" in lines[0]
    assert not (store / "members").exists()
