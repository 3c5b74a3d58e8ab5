"""Raw and adjusted closes stay what they are: the dialect says which (Yahoo: Close is the quoted close,
Adj Close adjusted; yfinance auto_adjust: its Close is adjusted; Stooq: the quoted close). A file of
one kind never overwrites the other kind's values, and an ingest that changes existing closes by
more than the tolerance says so."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from positioning_cli import api
from positioning_cli.ingest import ParseOptions, parse_file
from positioning_cli.store import CLOSE_CHANGE_TOLERANCE, Store
from tests.conftest import real_dir, run_cli

YAHOO = "Date,Open,High,Low,Close,Adj Close,Volume\n2021-01-28,376.36,381.93,375.89,377.63,371.53,94198100\n2021-01-29,375.63,376.67,368.27,370.07,364.07,126765100\n"
YFINANCE = "Date,Close,High,Low,Open,Volume\n2021-01-28,354.55,358.60,352.93,353.37,94198100\n2021-01-29,347.43,353.63,345.74,352.65,126765100\n"


def _write(tmp_path: Path, sub: str, text: str) -> Path:
    (tmp_path / sub).mkdir(exist_ok=True)
    path = tmp_path / sub / "SPY.csv"
    path.write_text(text)
    return path


def _rows(store: Path) -> dict[date, dict]:
    return {r["date"]: r for r in Store(store).read("prices").to_pylist()}


def test_yfinance_close_is_read_as_the_adjusted_close(tmp_path: Path) -> None:
    parsed = parse_file("prices", _write(tmp_path, "yf", YFINANCE), ParseOptions())
    row = parsed.table.to_pylist()[1]
    assert (row["close"], row["adj_close"]) == (None, 347.43)
    # its open/high/low are adjusted too: not stored as the quoted ones
    assert (row["open"], row["high"], row["low"], row["volume"]) == (None, None, None, 126765100)


@pytest.mark.parametrize("order", [("yahoo", "yf"), ("yf", "yahoo")])
def test_adjusted_and_raw_closes_never_overwrite_each_other(tmp_path: Path, order: tuple[str, str]) -> None:
    store = tmp_path / "store"
    files = {"yahoo": _write(tmp_path, "yahoo", YAHOO), "yf": _write(tmp_path, "yf", YFINANCE)}
    for name in order:
        api.ingest("prices", [files[name]], store)
    row = _rows(store)[date(2021, 1, 29)]
    assert row["close"] == 370.07  # the quoted close, from Yahoo, in either order
    assert (row["open"], row["high"], row["low"]) == (375.63, 376.67, 368.27)
    # the adjusted close: the later file's (adjustments are re-based with every dividend)
    assert row["adj_close"] == (347.43 if order[-1] == "yf" else 364.07)


def test_a_store_with_adjusted_closes_only_still_has_a_price_proxy(tmp_path: Path) -> None:
    store = tmp_path / "store"
    api.ingest("prices", [_write(tmp_path, "yf", YFINANCE)], store)
    from positioning_cli.pictures import proxy_closes

    found = proxy_closes(store, "SPX")
    assert found is not None and found[0] == "SPY" and found[2] == [354.55, 347.43]


def test_an_ingest_that_moves_existing_closes_warns(tmp_path: Path) -> None:
    store = tmp_path / "store"
    api.ingest("prices", [_write(tmp_path, "a", YAHOO)], store)
    # one close moved by 1% (over the tolerance), one by a float-noise amount (under it)
    moved = YAHOO.replace(",377.63,371.53,", ",381.4063,371.53,").replace(
        ",370.07,364.07,", ",370.0700001,364.07,"
    )
    (report,) = api.ingest("prices", [_write(tmp_path, "b", moved)], store)
    assert abs(381.4063 / 377.63 - 1) > CLOSE_CHANGE_TOLERANCE > abs(370.0700001 / 370.07 - 1)
    notes = [w for w in report.warnings if "closes" in w]
    assert len(notes) == 1
    assert notes[0].startswith("1 existing close of SPY changed by more than 0.1%")
    assert "2021-01-28 377.63 -> 381.406" in notes[0]
    assert _rows(store)[date(2021, 1, 28)]["close"] == 381.4063


def test_real_yahoo_then_yfinance_keeps_spy_close_of_2021_01_29(tmp_path: Path) -> None:
    real = real_dir("prices")
    store = tmp_path / "store"
    for sub in ("yahoo_xjcarter", "yfinance_alitalbi"):
        r = run_cli("ingest", "prices", str(real / sub / "SPY.csv"), store=store)
        assert r.code == 0, r.err
    row = _rows(store)[date(2021, 1, 29)]
    assert row["close"] == pytest.approx(370.07001)  # it closed at 370.07 (the 347.43 was adjusted)
    assert row["adj_close"] == pytest.approx(347.43292236328125)
    info = json.loads(run_cli("store", "info", "-f", "json", store=store).out)
    assert any(r["table"] == "prices" for r in info["rows"])
