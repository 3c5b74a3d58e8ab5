"""Bad inputs: each must raise InputError with a one-line message naming file, line and problem."""

from __future__ import annotations

import datetime
import gzip
from pathlib import Path

import pytest

from positioning_cli.errors import InputError
from positioning_cli.ingest import ParseOptions, parse_file

FINRA_HEADER = (
    "accountingYearMonthNumber|symbolCode|issueName|issuerServicesGroupExchangeCode|marketClassCode|"
    "currentShortPositionQuantity|previousShortPositionQuantity|stockSplitFlag|averageDailyVolumeQuantity|"
    "daysToCoverQuantity|revisionFlag|changePercent|changePreviousNumber|settlementDate"
)
AAPL = "20260814|AAPL|Apple Inc.|A|NNM|34636195|39059449||38275532|1.0||-11.32|-4423254|2026-08-14"
MSFT = "20260814|MSFT|Microsoft|A|NNM|1000|900||500|2.0||11.1|100|2026-08-14"


def finra(*rows: str) -> bytes:
    return ("\n".join([FINRA_HEADER, *rows]) + "\n").encode()


def gz_truncated() -> bytes:
    data = gzip.compress(finra(AAPL, MSFT) * 50)
    return data[: len(data) // 2]


# (id, kind, file name, bytes, options, expected line or None, words the message must contain)
CASES = [
    ("empty", "short-interest", "shrt20260814.csv", b"", {}, None, ["empty file"]),
    ("whitespace-only", "short-interest", "shrt20260814.csv", b"\n  \r\n", {}, None, ["empty file"]),
    ("bom-only", "prices", "SPY.csv", b"\xef\xbb\xbf\r\n", {}, None, ["empty file"]),
    ("header-only", "short-interest", "shrt20260814.csv", finra(), {}, 1, ["header only", "no data rows"]),
    (
        "wrong-delimiter",
        "short-interest",
        "shrt20260814.csv",
        finra(AAPL).replace(b"|", b";"),
        {},
        1,
        ["finra-pipe", "missing", "symbolCode", "';'", "accountingYearMonthNumber;symbolCode"],
    ),
    (
        "missing-column",
        "short-interest",
        "shrt20260814.csv",
        finra(AAPL).replace(b"|currentShortPositionQuantity", b"|currentShortX"),
        {},
        1,
        ["missing required column", "currentShortPositionQuantity"],
    ),
    (
        "bad-date",
        "short-interest",
        "shrt20260814.csv",
        finra(AAPL, MSFT.replace("2026-08-14", "2026-13-45")),
        {},
        3,
        ["settlementDate", "not a date", "2026-13-45"],
    ),
    (
        "bad-number",
        "short-interest",
        "shrt20260814.csv",
        finra(AAPL, AAPL, MSFT.replace("|1000|", "|12x4|")),
        {},
        4,
        ["currentShortPositionQuantity", "not a whole number", "12x4"],
    ),
    (
        "negative-shares",
        "short-interest",
        "shrt20260814.csv",
        finra(MSFT.replace("|1000|", "|-5|")),
        {},
        2,
        ["currentShortPositionQuantity", "negative", "-5"],
    ),
    (
        "fractional-shares",
        "short-interest",
        "shrt20260814.csv",
        finra(MSFT.replace("|1000|", "|12.5|")),
        {},
        2,
        ["not a whole number", "12.5"],
    ),
    ("truncated-gzip", "short-interest", "shrt20260814.csv.gz", gz_truncated(), {}, None, ["gzip"]),
    (
        "binary-garbage",
        "short-interest",
        "shrt20260814.csv",
        bytes(range(256)) * 4,
        {},
        1,
        ["binary"],
    ),
    (
        "not-utf8",
        "short-interest",
        "shrt20260814.csv",
        finra(AAPL.replace("Apple", "Appl\xe9")).replace(b"\xc3\xa9", b"\xe9"),
        {},
        2,
        ["UTF-8"],
    ),
    (
        "unknown-format",
        "short-interest",
        "weird.csv",
        b"foo,bar\n1,2\n",
        {},
        1,
        ["unrecognised", "finra-pipe", "finra-web", "foo,bar"],
    ),
    ("bad-json", "short-interest", "si.json", b'[{"symbolCode": "AAPL",', {}, 1, ["invalid JSON"]),
    (
        "ragged-long-row",
        "short-interest",
        "shrt20260814.csv",
        finra(AAPL + "|extra|more"),
        {},
        2,
        ["16 fields", "header has 14"],
    ),
    (
        "price-close-zero",
        "prices",
        "SPY.csv",
        b"Date,Open,High,Low,Close,Adj Close,Volume\n2020-01-02,1,1,1,1,1,10\n2020-01-03,1,1,1,0,0,10\n",
        {},
        3,
        ["Close", "> 0"],
    ),
    (
        "price-infinite",
        "prices",
        "SPY.csv",
        b"Date,Open,High,Low,Close,Volume\n2020-01-02,1,1,1,inf,10\n",
        {},
        2,
        ["Close", "not a number", "inf"],
    ),
    (
        "price-negative-volume",
        "prices",
        "SPY.csv",
        b"Date,Open,High,Low,Close,Volume\n2020-01-02,1,1,1,1,-10\n",
        {},
        2,
        ["Volume", "negative"],
    ),
    (
        "price-bad-date",
        "prices",
        "SPY.csv",
        b"Date,Open,High,Low,Close,Volume\n2020-01-02,1,1,1,1,10\n01/03/2020,1,1,1,1,10\n",
        {},
        3,
        ["Date", "not a date", "01/03/2020"],
    ),
    (
        "members-no-as-of",
        "members",
        "sp500.csv",
        b"Symbol,Security,GICS Sector\nMMM,3M,Industrials\n",
        {},
        None,
        ["no as-of date", "--as-of"],
    ),
    (
        "members-negative-shares",
        "members",
        "members.csv",
        b"index,as_of,symbol,name,sector,shares_outstanding,float_shares,weight\n"
        b"RUT,2026-05-05,AAA,A,Tech,100,90,0.1\nRUT,2026-05-05,BBB,B,Tech,-100,90,0.1\n",
        {},
        3,
        ["shares_outstanding", "negative"],
    ),
    (
        "members-bad-index",
        "members",
        "members.csv",
        b"index,as_of,symbol\nDOW,2026-05-05,AAA\n",
        {},
        2,
        ["index", "DOW", "RUT"],
    ),
    (
        "mapped-bad-value",
        "short-interest",
        "scraped.csv",
        b"sym,date,si\nAAA,01/15/21,100.0\nBBB,01/15/21,lots\n",
        {
            "mapping": {"symbol": "sym", "settlement_date": "date", "short_interest": "si"},
            "date_format": "%m/%d/%y",
        },
        3,
        ["si", "not a whole number", "lots"],
    ),
    (
        "mapped-missing-column",
        "short-interest",
        "scraped.csv",
        b"sym,date,si\nAAA,01/15/21,100.0\n",
        {"mapping": {"symbol": "sym", "settlement_date": "when", "short_interest": "si"}},
        1,
        ["missing required column", "when"],
    ),
    (
        "forced-unknown-format",
        "prices",
        "SPY.csv",
        b"Date,Close\n2020-01-02,1\n",
        {"format": "bloomberg"},
        None,
        ["unknown prices format", "bloomberg", "yahoo"],
    ),
]


@pytest.mark.parametrize(
    ("kind", "name", "data", "opts", "line", "words"),
    [pytest.param(*c[1:], id=c[0]) for c in CASES],
)
def test_bad_input(tmp_path: Path, kind, name, data, opts, line, words) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(InputError) as info:
        parse_file(kind, path, ParseOptions(**opts))
    message = str(info.value)
    assert "\n" not in message
    assert name in message
    if line is not None:
        assert f"{name}:{line}:" in message or f"record {line}" in message, message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


def test_json_record_number(tmp_path: Path) -> None:
    path = tmp_path / "si.json"
    path.write_text(
        '[{"symbolCode": "AAPL", "settlementDate": "2026-08-14", "currentShortPositionQuantity": 5},'
        ' {"symbolCode": "MSFT", "settlementDate": "2026-08-14", "currentShortPositionQuantity": -5}]'
    )
    with pytest.raises(
        InputError, match=r"si\.json: record 2: column 'currentShortPositionQuantity': negative"
    ):
        parse_file("short-interest", path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="nope.csv"):
        parse_file("prices", tmp_path / "nope.csv")


def test_ishares_without_index_or_date(tmp_path: Path) -> None:
    path = tmp_path / "holdings.csv"
    path.write_text(
        "Ticker,Name,Sector,Asset Class,Market Value,Weight (%),Notional Value,Shares,Price\n"
        '"AAA","A INC","Health Care","Equity","1,000.00","0.50","1,000.00","10.00","100.00"\n'
    )
    with pytest.raises(InputError, match="--index"):
        parse_file("members", path)
    with pytest.raises(InputError, match="--as-of"):
        parse_file("members", path, ParseOptions(index="RUT"))
    parsed = parse_file("members", path, ParseOptions(index="RUT", as_of=datetime.date(2024, 1, 2)))
    assert parsed.table.num_rows == 1
