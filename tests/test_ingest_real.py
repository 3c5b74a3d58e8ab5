"""Every real third-party file in ../shared/data/real parses, and values match the raw text.

Expected values are read from the raw files independently (csv module or plain string splitting),
never from the parser under test.
"""

from __future__ import annotations

import csv
import datetime
from pathlib import Path

import pytest

from positioning_cli.errors import InputError
from positioning_cli.ingest import ParseOptions, expand_paths, parse_file
from positioning_cli.schema import MEMBERS, PRICES, SHORT_INTEREST
from positioning_cli.symbols import normalise_symbol

REAL = Path(__file__).resolve().parents[2] / "shared/data/real"
pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason=f"real sample data not present at {REAL}")

HAOENHUI = ParseOptions(
    mapping={
        "symbol": "symbol",
        "settlement_date": "short_interest_date",
        "short_interest": "shares_sold_short",
        "shares_outstanding": "shares_outstanding",
        "float_shares": "public_float",
        "market": "exchange",
    },
    date_format="%m/%d/%y",
)
OTTO_OPTIONS = ParseOptions(index="RUT", as_of=datetime.date(2024, 10, 24))
SP500_OPTIONS = ParseOptions(as_of=datetime.date(2026, 8, 8))


def files(sub: str) -> list[Path]:
    return expand_paths([REAL / sub]) if REAL.is_dir() else []


def options_for(path: Path) -> ParseOptions:
    if path.name.startswith("haoenhui"):
        return HAOENHUI
    if "OttoVintola" in path.name:
        return OTTO_OPTIONS
    if path.name.startswith("sp500"):
        return SP500_OPTIONS
    return ParseOptions()


def raw_rows(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [
            r for r in csv.DictReader(fh, delimiter=delimiter) if any((v or "").strip() for v in r.values())
        ]


def raw_line(path: Path, prefix: str) -> list[str]:
    """The first raw line starting with ``prefix``, split on commas (only for unquoted files)."""
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        if line.startswith(prefix):
            return line.split(",")
    raise AssertionError(f"no line starting {prefix!r} in {path.name}")


def rows_by(table, column: str) -> dict:
    return {r[column]: r for r in table.to_pylist()}


# Real files with a damaged row, refused with its line (issue 12: a symbol must look like a ticker):
# line 392 of the 2021 S&P 500 list reads "American Airlines Group,reports,Airlines".
FLAWED = {"sp500_constituents__datasets_2021-03-11.csv": (392, "AMERICANAIRLINESGROUP")}


# ------------------------------------------------------------------------------- every file parses
@pytest.mark.parametrize(
    ("kind", "path", "spec"),
    [pytest.param("short-interest", p, SHORT_INTEREST, id=p.name) for p in files("finra_short_interest")]
    + [pytest.param("prices", p, PRICES, id=f"{p.parent.name}/{p.name}") for p in files("prices")]
    + [pytest.param("members", p, MEMBERS, id=p.name) for p in files("constituents")],
)
def test_every_real_file_parses(kind: str, path: Path, spec) -> None:
    if path.name in FLAWED:
        line, symbol = FLAWED[path.name]
        with pytest.raises(InputError, match=rf"{path.name}:{line}: .*not a plausible ticker.*{symbol}"):
            parse_file(kind, path, options_for(path))
        return
    parsed = parse_file(kind, path, options_for(path))
    assert parsed.table.schema == spec.parsed_schema
    assert parsed.table.num_rows > 0
    for name in spec.required:
        assert parsed.table.column(name).null_count == 0, name
    assert set(parsed.table.column("source_format").to_pylist()) == {parsed.format}


# ------------------------------------------------------------------------------- short interest
@pytest.mark.parametrize("path", files("finra_short_interest"), ids=lambda p: p.name)
def test_short_interest_row_counts(path: Path) -> None:
    parsed = parse_file("short-interest", path, options_for(path))
    if path.name.startswith("haoenhui"):
        rows = raw_rows(path)
        complete = [
            r
            for r in rows
            if r["symbol"].strip() and r["short_interest_date"].strip() and r["shares_sold_short"].strip()
        ]
        keys = {(r["short_interest_date"], normalise_symbol(r["symbol"])) for r in complete}
        assert parsed.format == "mapped"
        assert parsed.table.num_rows == len(keys)
        assert any(f"skipped {len(rows) - len(complete)} rows" in w for w in parsed.warnings)
    else:
        # CRLF, no final newline: count physical data lines by plain splitting.
        lines = [ln for ln in path.read_bytes().decode().split("\r\n")[1:] if ln]
        assert parsed.format == "finra-web"
        assert parsed.table.num_rows == len(lines)


def test_haoenhui_values_and_class_symbols() -> None:
    path = REAL / "finra_short_interest/haoenhui_short_interest__commit2020-12-25_5c33afd.csv"
    table = parse_file("short-interest", path, HAOENHUI).table
    by_symbol = rows_by(table, "symbol")
    assert "BRK.B" not in by_symbol
    for raw_symbol, symbol in (("BRK.B", "BRKB"), ("BRK.A", "BRKA"), ("A", "A"), ("ZYXI", "ZYXI")):
        raw = raw_line(path, raw_symbol + ",")
        row = by_symbol[symbol]
        assert row["short_interest"] == int(float(raw[5]))
        assert row["shares_outstanding"] == int(float(raw[2]))
        assert row["float_shares"] == (int(float(raw[3])) if raw[3] else None)
        assert row["market"] == raw[1]
        month, day, year = raw[4].split("/")
        assert row["settlement_date"] == datetime.date(2000 + int(year), int(month), int(day))
        assert row["days_to_cover"] is None  # no volume in this source
        assert row["source_format"] == "mapped"
    assert by_symbol["BRKB"]["short_interest"] == 11_720_000


def test_praveenraj_values_and_no_volume_sentinel() -> None:
    path = REAL / "finra_short_interest/praveenraj_1_-Equity_Short_Intrest_20240902.csv"
    by_symbol = rows_by(parse_file("short-interest", path).table, "symbol")
    sentinel = 0
    for line in path.read_bytes().decode().split("\r\n")[1:]:
        f = line.split(",")
        if len(f) != 11 or f[0] not in ("AAALY", "AABB", "AABVF", "MKLNF"):
            continue
        row = by_symbol[f[0]]
        assert row["settlement_date"] == datetime.date(2024, 8, 15)  # file says 15-08-2024
        assert row["short_interest"] == int(f[5])
        assert row["previous_short_interest"] == int(f[6])
        assert row["avg_daily_volume"] == int(f[9])
        assert row["market"] == f[3] == "U"
        if f[10] == "999.99":
            sentinel += 1
            assert row["days_to_cover"] is None
        else:
            assert row["days_to_cover"] == float(f[10])
    assert sentinel >= 2
    assert by_symbol["AABB"]["days_to_cover"] == 1.0


# ------------------------------------------------------------------------------- prices
@pytest.mark.parametrize("path", files("prices"), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_prices_match_raw_text(path: Path) -> None:
    parsed = parse_file("prices", path)
    rows = raw_rows(path)
    assert parsed.table.num_rows == len(rows)
    by_date = rows_by(parsed.table, "date")
    header = next(csv.reader([path.read_text().splitlines()[0]]))
    lines = path.read_text().splitlines()[1:]
    for line in (lines[0], lines[len(lines) // 2], lines[-1]):
        f = dict(zip(header, line.split(","), strict=False))
        date_key = "Data" if "Data" in f else "Date"
        row = by_date[datetime.date.fromisoformat(f[date_key])]
        close = f.get("Close", f.get("Zamkniecie"))
        volume = f.get("Volume", f.get("Wolumen"))
        assert row["volume"] == (int(float(volume)) if volume else None)
        if parsed.format == "yfinance":  # adjusted prices only: its Close is an adjusted close
            assert (row["adj_close"], row["close"], row["open"]) == (float(close), None, None)
            continue
        assert row["close"] == float(close)
        assert row["adj_close"] == (float(f["Adj Close"]) if "Adj Close" in f else None)
        if "Open" in f:
            assert row["open"] == float(f["Open"])


@pytest.mark.parametrize(
    ("relative", "fmt", "symbol"),
    [
        ("stooq/^spx_d.csv", "stooq", "^SPX"),
        ("stooq/^ndx_d.csv", "stooq", "^NDX"),
        ("yahoo_xjcarter/^GSPC.csv", "yahoo", "^GSPC"),
        ("yahoo_xjcarter/SPY.csv", "yahoo", "SPY"),
        ("yfinance_alitalbi/ES=F.csv", "yfinance", "ES=F"),
        ("yfinance_alitalbi/QQQ.csv", "yfinance", "QQQ"),
    ],
)
def test_price_format_and_symbol_from_name(relative: str, fmt: str, symbol: str) -> None:
    parsed = parse_file("prices", REAL / "prices" / relative)
    assert parsed.format == fmt
    assert set(parsed.table.column("symbol").to_pylist()) == {symbol}
    if fmt == "yfinance":  # adjusted prices only: stored as the adjusted close, never as the quoted one
        assert parsed.table.column("close").null_count == parsed.table.num_rows
        assert parsed.table.column("adj_close").null_count == 0


def test_stooq_polish_header_ragged_rows() -> None:
    path = REAL / "prices/stooq/^spx_d.csv"
    table = parse_file("prices", path).table
    lines = path.read_bytes().decode().split("\r\n")
    assert lines[0] == "Data,Otwarcie,Najwyzszy,Najnizszy,Zamkniecie,Wolumen"
    data = [ln for ln in lines[1:] if ln]
    short = [ln for ln in data if ln.count(",") == 4]
    assert table.num_rows == len(data) == 38_905
    assert table.column("volume").null_count == len(short) == 20_397
    first = rows_by(table, "date")[datetime.date(1789, 5, 1)]
    assert first["close"] == 0.51 and first["volume"] is None


def test_price_overrides(tmp_path: Path) -> None:
    parsed = parse_file("prices", REAL / "prices/yahoo_xjcarter/SPY.csv", ParseOptions(symbol="spy.x"))
    assert set(parsed.table.column("symbol").to_pylist()) == {"SPYX"}
    first = parsed.table.slice(0, 1).to_pylist()[0]
    assert first["volume"] == 8_164_300  # raw "8164300.0"


# ------------------------------------------------------------------------------- members
def test_sp500_lists(tmp_path: Path) -> None:
    new = parse_file(
        "members", REAL / "constituents/sp500_constituents__datasets_2026-08-08.csv", SP500_OPTIONS
    )
    assert new.format == "sp500-list"
    assert new.table.num_rows == len(
        raw_rows(REAL / "constituents/sp500_constituents__datasets_2026-08-08.csv")
    )
    by_symbol = rows_by(new.table, "symbol")
    assert "BRKB" in by_symbol and "BRK.B" not in by_symbol
    assert by_symbol["MMM"]["sector"] == "Industrials" and by_symbol["MMM"]["index"] == "SPX"
    assert by_symbol["MMM"]["as_of"] == datetime.date(2026, 8, 8)
    flawed = REAL / "constituents/sp500_constituents__datasets_2021-03-11.csv"
    with pytest.raises(InputError, match=r":392: column 'Symbol': not a plausible ticker"):
        parse_file("members", flawed, SP500_OPTIONS)
    repaired = tmp_path / flawed.name
    repaired.write_text(
        "".join(x for x in flawed.read_text().splitlines(True) if not x.startswith("American Airlines"))
    )
    old = parse_file("members", repaired, SP500_OPTIONS)
    assert old.table.num_rows == 504
    path = REAL / "constituents/sp500_constituents-financials__datasets.csv"
    fin = rows_by(parse_file("members", path, SP500_OPTIONS).table, "symbol")
    raw = raw_line(path, "MMM,")
    assert fin["MMM"]["shares_outstanding"] == round(float(raw[9]) / float(raw[3]))
    assert fin["MMM"]["name"] == raw[1]


def test_ishares_with_preamble() -> None:
    path = REAL / "constituents/IWM_holdings__ishares_2026-05-05__brownplaya239.csv"
    parsed = parse_file("members", path)
    assert parsed.format == "ishares"
    # Independent count: records after the header up to the blank (U+00A0) line.
    lines = path.read_text(encoding="utf-8-sig").split("\n")
    holdings = list(csv.DictReader(lines[9 : lines.index("\xa0", 10)]))
    equity = [h for h in holdings if h["Asset Class"] == "Equity"]
    assert len(holdings) == 1929 and len(equity) == 1924
    tickers = {h["Ticker"] for h in equity if h["Ticker"] != "-"}
    table = parsed.table
    assert table.num_rows == len(tickers)
    assert set(table.column("as_of").to_pylist()) == {datetime.date(2026, 5, 5)}
    assert set(table.column("index").to_pylist()) == {"RUT"}
    assert any("dropped 5 non-equity rows" in w for w in parsed.warnings)
    by_symbol = rows_by(table, "symbol")
    assert "XTSLA" not in by_symbol and "USD" not in by_symbol and "RTYM6" not in by_symbol
    be = next(h for h in equity if h["Ticker"] == "BE")
    assert by_symbol["BE"]["weight"] == float(be["Weight (%)"]) == 1.93
    assert by_symbol["BE"]["sector"] == "Industrials"
    assert by_symbol["BE"]["shares_outstanding"] is None  # Quantity is the fund's holding


def test_ishares_without_preamble() -> None:
    path = REAL / "constituents/IWM_holdings__ishares_2024__OttoVintola.csv"
    parsed = parse_file("members", path, OTTO_OPTIONS)
    assert parsed.format == "ishares"
    assert set(parsed.table.column("as_of").to_pylist()) == {datetime.date(2024, 10, 24)}
    assert "PCVX" in rows_by(parsed.table, "symbol")


def test_invesco_padded_tickers() -> None:
    path = REAL / "constituents/QQQ_holdings__invesco_2020-07-02__ammarfatehi.csv"
    parsed = parse_file("members", path)
    assert parsed.format == "invesco"
    rows = raw_rows(path)
    assert rows[0]["Holding Ticker"] == "AAPL "  # the quirk under test
    assert parsed.table.num_rows == len(rows) == 103
    by_symbol = rows_by(parsed.table, "symbol")
    assert by_symbol["AAPL"]["weight"] == float(rows[0]["Weight"])
    assert by_symbol["AAPL"]["index"] == "NDX"
    assert by_symbol["AAPL"]["as_of"] == datetime.date(2020, 7, 2)
    assert by_symbol["GOOGL"]["sector"] == "Communication Services"


@pytest.mark.parametrize(
    ("relative", "delimiter"),
    [
        ("finra_short_interest/haoenhui_short_interest__commit2021-02-10_4c7998c.csv", ","),
        ("prices/yahoo_xjcarter/IWM.csv", ","),
        ("prices/yfinance_alitalbi/RTY=F.csv", ","),
    ],
)
def test_fast_reader_matches_general_reader(relative: str, delimiter: str) -> None:
    from positioning_cli.ingest.text import _read_general, _read_simple, load

    source = load(REAL / relative)
    fast = _read_simple(source, delimiter)
    general = _read_general(source, delimiter, header_line=None, stop_at_blank=False)
    assert fast is not None
    assert fast.header == general.header
    assert fast.lines.tolist() == general.lines.tolist()
    for name in fast.header:
        assert fast.columns[name].tolist() == general.columns[name].tolist(), name
