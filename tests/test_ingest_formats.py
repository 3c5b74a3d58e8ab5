"""Each format on small hand-written inputs: values, flags, derived fields, warnings, detection."""

from __future__ import annotations

import datetime
import gzip
import json
from pathlib import Path

import pytest

from positioning_cli.errors import InputError
from positioning_cli.ingest import FORMATS, KINDS, ParseOptions, expand_paths, parse_file
from positioning_cli.schema import MEMBERS, PRICES, SHORT_INTEREST

D = datetime.date
FINRA_HEADER = (
    "accountingYearMonthNumber|symbolCode|issueName|issuerServicesGroupExchangeCode|marketClassCode|"
    "currentShortPositionQuantity|previousShortPositionQuantity|stockSplitFlag|averageDailyVolumeQuantity|"
    "daysToCoverQuantity|revisionFlag|changePercent|changePreviousNumber|settlementDate"
)
ROWS = [
    "20260814|AAPL|Apple Inc.|A|NNM|34636195|39059449||38275532|1.0||-11.32|-4423254|2026-08-14",
    "20260814|BRK/B|Berkshire B|N|NYSE|5000.0|4000|S|1000||R|25|1000|2026-08-14",
    "20260814|ZERO|No Volume|A|NNM|10|10||0|||0|0|2026-08-14",
]


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def by_symbol(table) -> dict:
    return {r["symbol"]: r for r in table.to_pylist()}


def test_public_constants() -> None:
    assert KINDS == ("short-interest", "prices", "members", "cot", "short-volume", "funds", "shares", "bars")
    assert FORMATS["shares"] == ("sec-frames", "sec-companyfacts", "sec-tickers")
    assert FORMATS["short-interest"] == (
        "finra-pipe",
        "finra-api-json",
        "finra-api-csv",
        "finra-web",
        "mapped",
    )
    assert FORMATS["prices"] == ("yahoo", "yfinance", "stooq", "yahoo-chart", "index-level")
    assert FORMATS["members"] == ("ishares", "invesco", "sp500-list", "generic")
    assert FORMATS["cot"] == ("cftc-tff", "cftc-tff-week", "cftc-pre-json")
    assert FORMATS["short-volume"] == ("finra-regsho", "nyse-regsho")
    assert FORMATS["funds"] == ("fund-assets",)
    assert FORMATS["bars"] == ("yfinance-intraday",)


@pytest.mark.parametrize(
    ("name", "transform"),
    [
        ("shrt20260814.csv", lambda b: b),
        ("data.bin", gzip.compress),  # gzip detected by magic bytes, whatever the name
        ("bom-crlf.csv", lambda b: b"\xef\xbb\xbf" + b.replace(b"\n", b"\r\n").rstrip(b"\r\n")),
    ],
)
def test_finra_pipe(tmp_path: Path, name: str, transform) -> None:
    path = write(tmp_path, name, transform(("\n".join([FINRA_HEADER, *ROWS]) + "\n").encode()))
    parsed = parse_file("short-interest", path)
    assert parsed.format == "finra-pipe"
    assert parsed.table.schema == SHORT_INTEREST.parsed_schema
    rows = by_symbol(parsed.table)
    aapl = rows["AAPL"]
    assert aapl == {
        "settlement_date": D(2026, 8, 14),
        "symbol": "AAPL",
        "short_interest": 34636195,
        "previous_short_interest": 39059449,
        "avg_daily_volume": 38275532,
        "days_to_cover": 1.0,
        "revision_flag": False,
        "split_flag": False,
        "issue_name": "Apple Inc.",
        "market": "NNM",
        "shares_outstanding": None,
        "float_shares": None,
        "source_format": "finra-pipe",
    }
    brk = rows["BRKB"]  # BRK/B normalised
    assert brk["short_interest"] == 5000 and brk["revision_flag"] and brk["split_flag"]
    assert brk["days_to_cover"] == 5.0  # blank in source: SI / ADV
    assert rows["ZERO"]["days_to_cover"] is None  # no volume: undefined


def test_days_to_cover_floor_and_rounding(tmp_path: Path) -> None:
    rows = [
        "20260814|LOW|x|A|NNM|10|10||1000|||0|0|2026-08-14",  # 0.01 -> floor 1.00
        "20260814|ODD|x|A|NNM|1000|10||300|||0|0|2026-08-14",  # 3.333 -> 3.33
    ]
    path = write(tmp_path, "s.csv", "\n".join([FINRA_HEADER, *rows]))
    rows_ = by_symbol(parse_file("short-interest", path).table)
    assert rows_["LOW"]["days_to_cover"] == 1.0
    assert rows_["ODD"]["days_to_cover"] == 3.33


def test_duplicates_prefer_revision_then_last(tmp_path: Path) -> None:
    rows = [
        "20260814|AAA|x|A|NNM|100|0||10|||0|0|2026-08-14",
        "20260814|AAA|x|A|NNM|200|0||10||R|0|0|2026-08-14",  # revised: wins
        "20260814|AAA|x|A|NNM|300|0||10|||0|0|2026-08-14",
        "20260814|BBB|x|A|NNM|1|0||10|||0|0|2026-08-14",
        "20260814|BBB|x|A|NNM|2|0||10|||0|0|2026-08-14",  # last wins
    ]
    parsed = parse_file("short-interest", write(tmp_path, "s.csv", "\n".join([FINRA_HEADER, *rows])))
    rows_ = by_symbol(parsed.table)
    assert rows_["AAA"]["short_interest"] == 200
    assert rows_["BBB"]["short_interest"] == 2
    assert parsed.table.num_rows == 2
    assert any("3 duplicate" in w for w in parsed.warnings)


def test_finra_api_json(tmp_path: Path) -> None:
    records = [
        {
            "settlementDate": "2026-05-29",
            "symbolCode": "MSFT",
            "currentShortPositionQuantity": 1500.0,
            "averageDailyVolumeQuantity": 500,
            "daysToCoverQuantity": None,
            "revisionFlag": None,
            "stockSplitFlag": None,
            "marketClassCode": "NNM",
            "issueName": "Microsoft",
        },
        {
            "symbolCode": "BRKB",
            "revisionFlag": "R",
            "stockSplitFlag": "S",
            "currentShortPositionQuantity": 7,
            "settlementDate": "2026-05-29",
            "previousShortPositionQuantity": 6.0,
            "daysToCoverQuantity": 2.5,
        },
    ]
    parsed = parse_file("short-interest", write(tmp_path, "api.json", json.dumps(records)))
    assert parsed.format == "finra-api-json"
    rows = by_symbol(parsed.table)
    assert rows["MSFT"]["short_interest"] == 1500 and rows["MSFT"]["days_to_cover"] == 3.0
    assert not rows["MSFT"]["revision_flag"]
    assert rows["BRKB"]["revision_flag"] and rows["BRKB"]["split_flag"]
    assert rows["BRKB"]["previous_short_interest"] == 6 and rows["BRKB"]["days_to_cover"] == 2.5


def test_finra_api_csv(tmp_path: Path) -> None:
    text = (
        FINRA_HEADER.replace("|", ",")
        + "\n"
        + ROWS[0].replace("|", ",").replace("Apple Inc.", '"Apple, Inc."')
    )
    parsed = parse_file("short-interest", write(tmp_path, "api.csv", text))
    assert parsed.format == "finra-api-csv"
    assert by_symbol(parsed.table)["AAPL"]["issue_name"] == "Apple, Inc."


def test_finra_web(tmp_path: Path) -> None:
    text = (
        "issueSymbolIdentifier,settlementDate,issueName,marketCategoryCode,marketCategoryDescription,"
        "currentShortShareNumber,previousShortShareNumber,changePercent,percentageChangefromPreviousShort,"
        "averageShortShareNumber,daysToCoverNumber\r\n"
        "AAALY,15-08-2024,Aareal,U,Other OTC,2,2,0.00,0,0,999.99\r\n"
        "AABB,15-08-2024,Asia,U,Other OTC,135611,1550761,-91.26,-1415150,37540046,1.00"
    )
    parsed = parse_file("short-interest", write(tmp_path, "web.csv", text))
    rows = by_symbol(parsed.table)
    assert parsed.format == "finra-web"
    assert rows["AAALY"]["days_to_cover"] is None and rows["AAALY"]["avg_daily_volume"] == 0
    assert rows["AABB"]["settlement_date"] == D(2024, 8, 15)


def test_mapped_skips_incomplete_rows(tmp_path: Path) -> None:
    text = (
        "symbol,exchange,so,date,si\n"
        "BRK.B,NYSE,1400000000.0,12/15/20,11720000.0\n"
        "NAN,NYSE,5.0,12/15/20,13017.0\n"  # a real ticker, not a null
        "ADAG,NASDAQ,,,\n"
        "AGFY,NASDAQ,13490000.0,01/29/21,\n"
        ",NASDAQ,1.0,01/29/21,5.0\n"
    )
    options = ParseOptions(
        mapping={
            "symbol": "symbol",
            "settlement_date": "date",
            "short_interest": "si",
            "shares_outstanding": "so",
            "market": "exchange",
        },
        date_format="%m/%d/%y",
    )
    parsed = parse_file("short-interest", write(tmp_path, "scraped.csv", text), options)
    assert parsed.format == "mapped"
    rows = by_symbol(parsed.table)
    assert set(rows) == {"BRKB", "NAN"}
    assert rows["BRKB"]["shares_outstanding"] == 1_400_000_000
    assert rows["BRKB"]["settlement_date"] == D(2020, 12, 15)
    assert any("skipped 3 rows" in w and "line 4" in w for w in parsed.warnings)


def test_mapped_unknown_field(tmp_path: Path) -> None:
    path = write(tmp_path, "x.csv", "a,b,c\n1,2,3\n")
    with pytest.raises(InputError, match="unknown mapping field"):
        parse_file("short-interest", path, ParseOptions(mapping={"ticker": "a"}))


def test_detection_ignores_file_name(tmp_path: Path) -> None:
    path = write(tmp_path, "prices.json", "\n".join([FINRA_HEADER, ROWS[0]]))
    assert parse_file("short-interest", path).format == "finra-pipe"


# --------------------------------------------------------------------------------------- prices
def test_yahoo_null_rows_and_duplicates(tmp_path: Path) -> None:
    text = (
        "Date,Open,High,Low,Close,Adj Close,Volume\n"
        "2020-01-02,1.5,2,1,1.75,1.7,8164300.0\n"
        "2020-01-03,null,null,null,null,null,null\n"
        "2020-01-06,1,1,1,1.25,1.2,\n"
        "2020-01-06,1,1,1,1.5,1.4,10\n"
    )
    parsed = parse_file("prices", write(tmp_path, "brk-b.csv", text))
    assert parsed.format == "yahoo"
    assert parsed.table.schema == PRICES.parsed_schema
    rows = parsed.table.to_pylist()
    assert [r["date"] for r in rows] == [D(2020, 1, 2), D(2020, 1, 6)]
    assert rows[0]["symbol"] == "BRKB" and rows[0]["volume"] == 8164300 and rows[0]["adj_close"] == 1.7
    assert rows[1]["close"] == 1.5
    assert any("skipped 1 rows with no prices" in w for w in parsed.warnings)
    assert any("1 duplicate" in w for w in parsed.warnings)


def test_yfinance_timestamps_and_stooq_name(tmp_path: Path) -> None:
    text = "Date,Close,High,Low,Open,Volume\r\n2024-01-02 00:00:00-05:00,10,11,9,10.5,100\r\n"
    parsed = parse_file("prices", write(tmp_path, "QQQ.csv.gz", gzip.compress(text.encode())))
    assert parsed.format == "yfinance"
    row = parsed.table.to_pylist()[0]
    assert row["date"] == D(2024, 1, 2) and row["symbol"] == "QQQ"
    # yfinance's prices are adjusted: its Close is the adjusted close, no quoted price is stored
    assert (row["adj_close"], row["close"], row["open"]) == (10.0, None, None)
    stooq = "Data,Otwarcie,Najwyzszy,Najnizszy,Zamkniecie,Wolumen\r\n1789-05-01,0.51,0.51,0.51,0.51\r\n"
    parsed = parse_file("prices", write(tmp_path, "^spx_d.csv", stooq))
    assert parsed.format == "stooq"
    assert parsed.table.to_pylist()[0]["symbol"] == "^SPX"
    assert parsed.table.to_pylist()[0]["volume"] is None


def test_price_symbol_option(tmp_path: Path) -> None:
    text = "Date,Open,High,Low,Close,Volume\n2024-01-02,1,1,1,1,1\n"
    parsed = parse_file("prices", write(tmp_path, "whatever.csv", text), ParseOptions(symbol="^gspc"))
    assert parsed.table.column("symbol").to_pylist() == ["^GSPC"]


# --------------------------------------------------------------------------------------- members
def test_generic_members_many_dates(tmp_path: Path) -> None:
    text = (
        "index,as_of,symbol,name,sector,shares_outstanding,float_shares,weight\n"
        "RUT,2026-05-05,AAA,A Inc,Tech,100,90,0.5\n"
        "RUT,2026-05-05,BRK.B,Berkshire,Financials,,,\n"
        "ndx,2026-06-05,AAA,A Inc,Tech,110,95,0.6\n"
        "RUT,2026-05-05,AAA,A Inc,Tech,101,91,0.5\n"
    )
    parsed = parse_file("members", write(tmp_path, "members.csv", text))
    assert parsed.format == "generic"
    assert parsed.table.schema == MEMBERS.parsed_schema
    rows = parsed.table.to_pylist()
    assert len(rows) == 3
    keyed = {(r["index"], r["as_of"], r["symbol"]): r for r in rows}
    assert keyed[("RUT", D(2026, 5, 5), "AAA")]["shares_outstanding"] == 101  # last kept
    assert keyed[("NDX", D(2026, 6, 5), "AAA")]["weight"] == 0.6
    assert keyed[("RUT", D(2026, 5, 5), "BRKB")]["float_shares"] is None
    assert any("1 duplicate" in w for w in parsed.warnings)


def test_generic_members_mapping_and_options(tmp_path: Path) -> None:
    text = 'Ticker,Company,Shares Out\nAAA,A Inc,"1,000"\n'
    options = ParseOptions(
        mapping={"symbol": "Ticker", "name": "Company", "shares_outstanding": "Shares Out"},
        index="spx",
        as_of=D(2026, 1, 2),
    )
    parsed = parse_file("members", write(tmp_path, "m.csv", text), options)
    assert parsed.format == "generic"
    assert parsed.table.to_pylist()[0] == {
        "index": "SPX",
        "as_of": D(2026, 1, 2),
        "symbol": "AAA",
        "name": "A Inc",
        "sector": None,
        "shares_outstanding": 1000,
        "float_shares": None,
        "weight": None,
        "source_format": "generic",
    }


def test_ishares_preamble_minimal(tmp_path: Path) -> None:
    text = (
        "\ufeffiShares Russell 2000 ETF\n"
        'Fund Holdings as of,"May 05, 2026"\n'
        "\xa0\n"
        "Ticker,Name,Sector,Asset Class,Market Value,Weight (%),Notional Value,Quantity,Price\n"
        '"BE","BLOOM","Industrials","Equity","1,532,594,919.50","1.93","1","5,190,838.00","295.25"\n'
        '"USD","USD CASH","Cash and/or Derivatives","Cash","1","0.09","1","1","100.00"\n'
        "\xa0\n"
        '"The content \u201cprice\u201d\nsecond line ©"'
    )
    parsed = parse_file("members", write(tmp_path, "IWM.csv", text))
    assert parsed.format == "ishares"
    rows = parsed.table.to_pylist()
    assert [(r["symbol"], r["index"], r["as_of"], r["weight"]) for r in rows] == [
        ("BE", "RUT", D(2026, 5, 5), 1.93)
    ]


# --------------------------------------------------------------------------------------- paths
def test_expand_paths(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    for rel in ("b/z.csv", "b/a.csv", "a.csv", ".hidden.csv", "README.md", "b/PROVENANCE.md", "notes.md"):
        (tmp_path / rel).write_text("x")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git/config").write_text("x")
    single = tmp_path / "a.csv"
    got = expand_paths([tmp_path, single])
    assert got == [
        tmp_path / "a.csv",
        tmp_path / "b/a.csv",
        tmp_path / "b/z.csv",
        tmp_path / "notes.md",
        single,
    ]
    with pytest.raises(InputError, match="missing.csv"):
        expand_paths([tmp_path / "missing.csv"])


# --------------------------------------------------------------------------------------- readers
SIMPLE_TEXTS = [
    "\n".join([FINRA_HEADER, *ROWS]),
    "\r\n".join([FINRA_HEADER, ROWS[0], "", "   ", ROWS[1]]) + "\r\n",
    "\n\n" + "\n".join([FINRA_HEADER, ROWS[2]]) + "\n\n",
]


@pytest.mark.parametrize("text", SIMPLE_TEXTS)
def test_fast_and_general_readers_agree(tmp_path: Path, text: str) -> None:
    from positioning_cli.ingest.text import _read_general, _read_simple, load

    source = load(write(tmp_path, "s.csv", text))
    fast = _read_simple(source, "|")
    general = _read_general(source, "|", header_line=None, stop_at_blank=False)
    assert fast is not None
    assert fast.header == general.header and fast.header_line == general.header_line
    assert fast.lines.tolist() == general.lines.tolist()
    for name in fast.header:
        assert fast.columns[name].tolist() == general.columns[name].tolist()


def test_line_numbers_count_blank_lines(tmp_path: Path) -> None:
    bad = ROWS[1].replace("|5000.0|", "|5x|")
    path = write(tmp_path, "s.csv", "\r\n".join(["", FINRA_HEADER, ROWS[0], "", bad]))
    with pytest.raises(
        InputError, match=r"s\.csv:5: column 'currentShortPositionQuantity': not a whole number: '5x'"
    ):
        parse_file("short-interest", path)


def test_pipe_files_are_not_quoted(tmp_path: Path) -> None:
    row = ROWS[0].replace("Apple Inc.", '"Apple" Inc. "A"')
    for body in (row, row + "\n" + ROWS[2] + "|"):  # second: ragged row forces the general reader
        path = write(tmp_path, "s.csv", "\n".join([FINRA_HEADER, body]))
        assert by_symbol(parse_file("short-interest", path).table)["AAPL"]["issue_name"] == '"Apple" Inc. "A"'
