"""Seed files for the parser fuzz suite (tests/test_fuzz_parsers.py); not a test module.

One or more valid files per (kind, format) in ``positioning_cli.ingest.FORMATS``: a bounded prefix of
our own ``sample_data/`` where it has that format, else a small hand-written file, plus a bounded
prefix of the real third-party files in ``../shared/data/real`` when they are present (they are
read in place, never copied into the repo). Every seed is checked to parse as its format when the
module is imported, so a seed that rots fails loudly instead of fuzzing an error path only.
"""

from __future__ import annotations

import datetime
import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path

from positioning_cli.ingest import FORMATS, ParseOptions
from tests.fetch_payloads import pre_records, sec_facts, sec_frame, sec_tickers

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
REAL = Path(__file__).resolve().parents[2] / "shared/data/real"

SAMPLE_LINES = 40  # data lines kept from a sample file: enough rows for duplicates and swaps
REAL_LINES = 200  # data lines kept from a real file (header + 200 lines, as the brief says)


@dataclass(frozen=True)
class Seed:
    kind: str
    format: str
    name: str  # file name to write it under (prices take their symbol from it)
    data: bytes  # uncompressed text
    origin: str  # "sample", "hand" or "real"
    delimiter: str = ","
    mapping: dict[str, str] = field(default_factory=dict)
    date_format: str | None = None
    index: str | None = None
    as_of: datetime.date | None = None

    @property
    def label(self) -> str:
        return f"{self.origin}:{self.name}"

    def options(self, *, forced: bool) -> ParseOptions:
        """What ``ingest`` would be given for this file: detection, or the format forced."""
        return ParseOptions(
            format=self.format if forced else None,
            mapping=dict(self.mapping),
            date_format=self.date_format,
            index=self.index,
            as_of=self.as_of,
        )

    def cli_args(self, *, forced: bool) -> list[str]:
        """The same options as ``positioning ingest`` arguments."""
        args: list[str] = []
        if forced:
            args += ["--format", self.format]
        for f, c in self.mapping.items():
            args += ["--map", f"{f}={c}"]
        if self.date_format:
            args += ["--date-format", self.date_format]
        if self.index:
            args += ["--index", self.index]
        if self.as_of:
            args += ["--as-of", self.as_of.isoformat()]
        return args


def head(data: bytes, lines: int, *, preamble: int = 0) -> bytes:
    """The first ``preamble`` + 1 (header) + ``lines`` physical lines, final newline kept."""
    parts = data.split(b"\n")
    keep = parts[: preamble + 1 + lines]
    return b"\n".join(keep) + (b"\n" if len(parts) > len(keep) else b"")


def _read(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


FINRA_HEADER = (
    "accountingYearMonthNumber|symbolCode|issueName|issuerServicesGroupExchangeCode|marketClassCode|"
    "currentShortPositionQuantity|previousShortPositionQuantity|stockSplitFlag|averageDailyVolumeQuantity|"
    "daysToCoverQuantity|revisionFlag|changePercent|changePreviousNumber|settlementDate"
)
FINRA_ROWS = [
    "20260814|AAPL|Apple Inc.|A|NNM|34636195|39059449||38275532|1.0||-11.32|-4423254|2026-08-14",
    "20260814|BRK/B|Berkshire B|N|NYSE|5000.0|4000|S|1000||R|25|1000|2026-08-14",
    "20260814|ZERO|No Volume|A|NNM|10|10||0|||0|0|2026-08-14",
    "20260814|ODD|Odd Lot Corp|A|NNM|1000|10||300|999.99||0|0|2026-08-14",
]

FINRA_JSON = json.dumps(
    [
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
        {
            "settlementDate": "2026-05-29",
            "symbolCode": "ZZZ",
            "currentShortPositionQuantity": "12",
            "averageDailyVolumeQuantity": 0,
            "issueName": "Zed",
        },
    ],
    indent=1,
)

FINRA_API_CSV = (
    FINRA_HEADER.replace("|", ",")
    + "\n"
    + "\n".join(r.replace("|", ",") for r in FINRA_ROWS).replace("Apple Inc.", '"Apple, Inc."')
    + "\n"
)

FINRA_WEB = (
    "issueSymbolIdentifier,settlementDate,issueName,marketCategoryCode,marketCategoryDescription,"
    "currentShortShareNumber,previousShortShareNumber,changePercent,percentageChangefromPreviousShort,"
    "averageShortShareNumber,daysToCoverNumber\r\n"
    "AAALY,15-08-2024,Aareal,U,Other OTC,2,2,0.00,0,0,999.99\r\n"
    "AABB,15-08-2024,Asia,U,Other OTC,135611,1550761,-91.26,-1415150,37540046,1.00\r\n"
    'ACME,15-08-2024,"Acme, Inc.",A,NYSE American,1000,900,11.11,100,250,4.00\r\n'
)

MAPPED = (
    "symbol,exchange,shares_outstanding,public_float,short_interest_date,shares_sold_short,change_from_last\n"
    "BRK.B,NYSE,1400000000.0,1300000000.0,12/15/20,11720000.0,1.5\n"
    "NAN,NYSE,5.0,,12/15/20,13017.0,\n"
    "ADAG,NASDAQ,,,,,\n"
    "AGFY,NASDAQ,13490000.0,,01/29/21,,\n"
    ",NASDAQ,1.0,,01/29/21,5.0,\n"
    "ZZ,ARCA,400000.0,,12/15/20,3721.0,-41.1\n"
)
MAPPING = {
    "symbol": "symbol",
    "settlement_date": "short_interest_date",
    "short_interest": "shares_sold_short",
    "shares_outstanding": "shares_outstanding",
    "float_shares": "public_float",
    "market": "exchange",
}

YFINANCE = (
    "Date,Close,High,Low,Open,Volume\r\n"
    "2024-01-02 00:00:00-05:00,10,11,9,10.5,100\r\n"
    "2024-01-03 00:00:00-05:00,10.25,11.5,9.75,10,2000.5\r\n"
    "2024-01-04 00:00:00-05:00,10.5,10.5,10.5,10.5,0\r\n"
)
STOOQ_EN = (
    "Date,Open,High,Low,Close,Volume\n"
    "1985-10-01,110.62,112.16,110.57,112.14,26406897\n"
    "1985-10-02,112.14,112.54,110.78,110.82,28386207\n"
    "1985-10-03,110.84,111.18,110.12,110.87,\n"
)
STOOQ_PL = (
    "Data,Otwarcie,Najwyzszy,Najnizszy,Zamkniecie,Wolumen\r\n"
    "1789-05-01,0.51,0.51,0.51,0.51\r\n"
    "1789-06-01,0.51,0.51,0.51,0.51\r\n"
    "2024-01-02,4745.2,4754.33,4722.67,4742.83,3743050000\r\n"
)
YAHOO_NULLS = (
    "Date,Open,High,Low,Close,Adj Close,Volume\n"
    "2020-01-02,1.5,2,1,1.75,1.7,8164300.0\n"
    "2020-01-03,null,null,null,null,null,null\n"
    "2020-01-06,1,1,1,1.25,1.2,\n"
    "2020-01-06,1,1,1,1.5,1.4,10\n"
)

ISHARES = (
    "\ufeffiShares Russell 2000 ETF\n"
    'Fund Holdings as of,"May 05, 2026"\n'
    'Inception Date,"May 22, 2000"\n'
    "\xa0\n"
    "Ticker,Name,Sector,Asset Class,Market Value,Weight (%),Notional Value,Quantity,Price\n"
    '"BE","BLOOM","Industrials","Equity","1,532,594,919.50","1.93","1","5,190,838.00","295.25"\n'
    '"CRDO","CREDO","Information Technology","Equity","1,000.00","0.50","1","10.00","100.00"\n'
    '"-","PENDING","Financials","Equity","1.00","0.00","1","1.00","1.00"\n'
    '"USD","USD CASH","Cash and/or Derivatives","Cash","1","0.09","1","1","100.00"\n'
    "\xa0\n"
    '"The content \u201cprice\u201d\nsecond line \u00a9"\n'
)
INVESCO = (
    "Fund Ticker,Security Identifier,Holding Ticker,Shares/Par Value,MarketValue,Weight,Name,"
    "Class of Shares,Sector,Date\n"
    'QQQ,037833100,AAPL ,"38,261,714","13,931,472,684.54",11.822,Apple Inc,Common Stock,'
    "Information Technology,07/02/2020\n"
    'QQQ,594918104,MSFT ,"66,943,284","13,807,721,757.84",11.717,Microsoft Corp,Common Stock,'
    "Information Technology,07/02/2020\n"
    'QQQ,,,"1","1",0.001,Cash,,,07/02/2020\n'
)
SP500 = (
    "Symbol,Security,GICS Sector,GICS Sub-Industry,Headquarters Location,Date added,CIK,Founded\n"
    'MMM,3M,Industrials,Industrial Conglomerates,"Saint Paul, Minnesota",1957-03-04,66740,1902\n'
    'BRK.B,Berkshire Hathaway,Financials,Multi-Sector Holdings,"Omaha, Nebraska",2010-02-16,1067983,1839\n'
    'AOS,A. O. Smith,Industrials,Building Products,"Milwaukee, Wisconsin",2017-07-26,91142,1916\n'
)
SP500_FIN = (
    "Symbol,Name,Sector,Price,Price/Earnings,Market Cap\n"
    "MMM,3M,Industrial Conglomerates,178.96,31.78,92293693440\n"
    "AOS,A. O. Smith,Building Products,63.08,17.57,\n"
    "ZERO,Zero Price Inc,Misc,0,1,100\n"
)
GENERIC_MAPPED = 'Ticker,Company,Shares Out\nAAA,A Inc,"1,000"\nBBB,B Inc,\n'

AS_OF = datetime.date(2026, 8, 8)


REGSHO_FINRA = (
    "Date|Symbol|ShortVolume|ShortExemptVolume|TotalVolume|Market\r\n"
    "20260814|AAPL|97434.5|494|188426|B,Q,N\r\n20260814|BRK/B|7|0|20|Q\r\n20260814|ABRpA|1|0|3|N\r\n3\r\n"
)
REGSHO_NYSE = (
    "Date|Symbol|Short Exempt Volume|Short Volume|Total Volume|Market\r\n"
    "20260814|A|814|191066|558941|N\r\n20260814|ABR PRA|0|12|40|N\r\n"
)
FUND_ASSETS = "fund,date,aum,leverage,index\nTQQQ,2026-11-19,22000000000,,\nXYZU,2026-11-19,5e8,3,NDX\n"
# yfinance intraday (`df.to_csv()` of `yf.download(interval="1h")`): one-row and multi-index headers
BARS_ONE_ROW = (
    "Datetime,Open,High,Low,Close,Adj Close,Volume\n"
    "2026-11-20 09:30:00-05:00,600.5,602.25,599.75,601.0,601.0,1200\n"
    "2026-11-20 10:30:00-05:00,601.0,603.5,600.5,603.0,603.0,900\n"
)
BARS_MULTI = (
    "Price,Close,High,Low,Open,Volume\nTicker,QQQ,QQQ,QQQ,QQQ,QQQ\nDatetime,,,,,\n"
    "2026-07-01 09:30:00-04:00,500.25,501.0,499.5,500.0,3000\n"
    "2026-07-01 10:00:00-04:00,500.75,501.5,500.0,500.25,2500\n"
)
REGSHO_NYSE_OLD = "Date|Symbol|Short Volume|Total Volume|Market\r\n20090731|ZZ|218400|391800|A\r\n"
# Yahoo's v8 chart document (one bar with null prices, as Yahoo writes a halted day) and the
# official index-level CSVs: Cboe's DATE,SPX and FRED's with a blank holiday.
YAHOO_CHART = json.dumps(
    {
        "chart": {
            "result": [
                {
                    "meta": {"currency": "USD", "symbol": "SPY", "gmtoffset": -18000, "timezone": "EST"},
                    "timestamp": [1762871400, 1762957800, 1763044200],
                    "events": {"dividends": {"1762957800": {"amount": 1.5, "date": 1762957800}}},
                    "indicators": {
                        "quote": [
                            {
                                "open": [671.1, None, 673.0],
                                "high": [675.2, None, 676.4],
                                "low": [669.9, None, 670.3],
                                "close": [674.5, None, 675.8],
                                "volume": [61234500, None, 58000100],
                            }
                        ],
                        "adjclose": [{"adjclose": [673.0, None, 675.8]}],
                    },
                }
            ],
            "error": None,
        }
    }
)
CBOE_SPX = "DATE,SPX\n11/10/2026,6801.50\n11/11/2026,6822.34\n"
FRED_NDX = "observation_date,NASDAQ100\n2026-11-10,\n2026-11-11,25100.90\n"


def _hand_seeds() -> list[Seed]:
    return [
        Seed(
            "short-interest",
            "finra-pipe",
            "shrt20260814.csv",
            ("\n".join([FINRA_HEADER, *FINRA_ROWS]) + "\n").encode(),
            "hand",
            "|",
        ),
        Seed("short-interest", "finra-api-json", "finra-api.json", FINRA_JSON.encode(), "hand", "json"),
        Seed("short-interest", "finra-api-csv", "finra-api.csv", FINRA_API_CSV.encode(), "hand"),
        Seed("short-interest", "finra-web", "finra-web.csv", FINRA_WEB.encode(), "hand"),
        Seed(
            "short-interest",
            "mapped",
            "scraped.csv",
            MAPPED.encode(),
            "hand",
            mapping=MAPPING,
            date_format="%m/%d/%y",
        ),
        Seed("prices", "yahoo", "BRK-B.csv", YAHOO_NULLS.encode(), "hand"),
        Seed("prices", "yfinance", "QQQ.csv", YFINANCE.encode(), "hand"),
        Seed("prices", "yahoo-chart", "SPY_20161111_20261111.json", YAHOO_CHART.encode(), "hand", "json"),
        Seed("prices", "index-level", "SPX_History.csv", CBOE_SPX.encode(), "hand"),
        Seed("prices", "index-level", "fredgraph_NASDAQ100.csv", FRED_NDX.encode(), "hand"),
        Seed("prices", "stooq", "^ndx_d.csv", STOOQ_EN.encode(), "hand"),
        Seed("prices", "stooq", "^spx_d.csv", STOOQ_PL.encode(), "hand"),
        Seed("members", "ishares", "IWM_holdings.csv", ISHARES.encode(), "hand"),
        Seed("members", "invesco", "QQQ_holdings.csv", INVESCO.encode(), "hand"),
        Seed("members", "sp500-list", "sp500.csv", SP500.encode(), "hand", as_of=AS_OF),
        Seed("members", "sp500-list", "sp500-fin.csv", SP500_FIN.encode(), "hand", as_of=AS_OF, index="SPX"),
        Seed(
            "members",
            "generic",
            "fundamentals.csv",
            GENERIC_MAPPED.encode(),
            "hand",
            mapping={"symbol": "Ticker", "name": "Company", "shares_outstanding": "Shares Out"},
            index="RUT",
            as_of=AS_OF,
        ),
        Seed("short-volume", "finra-regsho", "CNMSshvol20260814.txt", REGSHO_FINRA.encode(), "hand", "|"),
        Seed("short-volume", "nyse-regsho", "NYSEshvol20260814.txt", REGSHO_NYSE.encode(), "hand", "|"),
        Seed("short-volume", "nyse-regsho", "Amexshvol20090730.txt", REGSHO_NYSE_OLD.encode(), "hand", "|"),
        Seed("funds", "fund-assets", "letf_assets.csv", FUND_ASSETS.encode(), "hand"),
        # SEC files name CIKs: they are read with the ticker map beside them (write_companions)
        Seed("shares", "sec-frames", "CY2026Q3I.json", sec_frame("CY2026Q3I"), "hand", "json"),
        Seed("shares", "sec-companyfacts", "CIK0000000009.json", sec_facts(9), "hand", "json"),
        Seed("shares", "sec-tickers", "company_tickers.json", sec_tickers(), "hand", "json"),
        Seed("bars", "yfinance-intraday", "SPY_1h.csv", BARS_ONE_ROW.encode(), "hand"),
        Seed("bars", "yfinance-intraday", "intraday.csv", BARS_MULTI.encode(), "hand"),
    ]


def _sample_seeds() -> list[Seed]:
    out: list[Seed] = []
    si = sorted((SAMPLE / "short_interest").glob("*.csv.gz"))
    if si:
        out.append(
            Seed(
                "short-interest",
                "finra-pipe",
                si[-1].name.removesuffix(".gz"),
                head(_read(si[-1]), SAMPLE_LINES),
                "sample",
                "|",
            )
        )
    for name in ("IWM.csv", "^GSPC.csv"):
        path = SAMPLE / "prices" / name
        if path.is_file():
            out.append(Seed("prices", "yahoo", name, head(_read(path), SAMPLE_LINES), "sample"))
    path = SAMPLE / "members" / "NDX.csv"
    if path.is_file():
        out.append(Seed("members", "generic", "NDX.csv", head(_read(path), SAMPLE_LINES), "sample"))
    cot = sorted((SAMPLE / "cot").glob("FinFut*.txt.gz"))
    if cot:
        out.append(Seed("cot", "cftc-tff", "FinFut26.txt", head(_read(cot[-1]), 24), "sample"))
        # The same rows as CFTC's public reporting API serves them (JSON records).
        pre = json.dumps(pre_records(head(_read(cot[-1]), 12)), indent=1).encode()
        out.append(Seed("cot", "cftc-pre-json", "pre_fut_fin_2026.json", pre, "sample", delimiter="json"))
        # CFTC's current-week file: the same rows without the header line.
        week = head(_read(cot[-1]), 12).split(b"\n", 1)[1]
        out.append(Seed("cot", "cftc-tff-week", "FinFutWk.txt", week, "sample"))
    combined = sorted((SAMPLE / "cot").glob("FinCom*.txt.gz"))
    if combined:
        out.append(Seed("cot", "cftc-tff", "FinCom24.txt", head(_read(combined[-1]), 12), "sample"))
    return out


# (kind, format, path under REAL, extra options, preamble lines before the header)
_REAL_FILES: list[tuple[str, str, str, dict, int]] = [
    (
        "short-interest",
        "finra-web",
        "finra_short_interest/praveenraj_1_-Equity_Short_Intrest_20240902.csv",
        {},
        0,
    ),
    (
        "short-interest",
        "mapped",
        "finra_short_interest/haoenhui_short_interest__commit2021-02-10_4c7998c.csv",
        {"mapping": MAPPING, "date_format": "%m/%d/%y"},
        0,
    ),
    ("prices", "yahoo", "prices/yahoo_xjcarter/SPY.csv", {}, 0),
    ("prices", "yfinance", "prices/yfinance_alitalbi/ES=F.csv", {}, 0),
    ("prices", "stooq", "prices/stooq/^spx_d.csv", {}, 0),
    ("prices", "stooq", "prices/stooq/^ndx_d.csv", {}, 0),
    ("members", "ishares", "constituents/IWM_holdings__ishares_2026-05-05__brownplaya239.csv", {}, 9),
    (
        "members",
        "ishares",
        "constituents/IWM_holdings__ishares_2024__OttoVintola.csv",
        {"index": "RUT", "as_of": datetime.date(2024, 6, 28)},
        0,
    ),
    ("members", "invesco", "constituents/QQQ_holdings__invesco_2020-07-02__ammarfatehi.csv", {}, 0),
    (
        "members",
        "sp500-list",
        "constituents/sp500_constituents__datasets_2026-08-08.csv",
        {"as_of": AS_OF},
        0,
    ),
    (
        "members",
        "sp500-list",
        "constituents/sp500_constituents-financials__datasets.csv",
        {"as_of": AS_OF},
        0,
    ),
    ("cot", "cftc-tff", "cftc_tff/2024_FinComYY__wyne1.txt", {}, 0),
    ("cot", "cftc-tff", "cftc_tff/2019_FinFut19__storrealba09.txt", {}, 0),
    ("short-volume", "finra-regsho", "finra_short_volume/CNMSshvol20210604.txt", {}, 0),
    ("short-volume", "nyse-regsho", "nyse_short_volume/ARCAshvol20210603.txt", {}, 0),
    ("short-volume", "nyse-regsho", "nyse_short_volume/NYSEshvol20170721.txt", {}, 0),
]


def _real_seeds() -> list[Seed]:
    out: list[Seed] = []
    for kind, fmt, rel, extra, preamble in _REAL_FILES:
        path = REAL / rel
        if not path.is_file():
            continue
        lines = 40 if kind == "cot" else REAL_LINES  # TFF lines are ~1 kB each
        # Prices take the symbol from the name (SPY.csv, ES=F.csv, ^spx_d.csv): keep it as is.
        out.append(Seed(kind, fmt, path.name, head(_read(path), lines, preamble=preamble), "real", **extra))
    return out


def write_companions(folder: Path) -> None:
    """Files a seed is read with, beside it: SEC's ticker map for the frames/companyfacts seeds."""
    (folder / "company_tickers.json").write_bytes(sec_tickers())


def all_seeds() -> list[Seed]:
    return [*_sample_seeds(), *_hand_seeds(), *_real_seeds()]


SEEDS: list[Seed] = all_seeds()
BY_FORMAT: dict[tuple[str, str], list[Seed]] = {
    (kind, fmt): [s for s in SEEDS if (s.kind, s.format) == (kind, fmt)]
    for kind, fmts in FORMATS.items()
    for fmt in fmts
}
FORMAT_IDS = [f"{kind}/{fmt}" for kind, fmt in BY_FORMAT]
