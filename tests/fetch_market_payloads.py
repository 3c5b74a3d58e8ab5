"""Membership and price payloads in their sources' real formats, at their real paths, for the local mirror.

Holdings: the real iShares and Invesco exports in ../shared/data/real/constituents (tests skip when
absent), served as they are, or cut/relabelled for another fund (an IVV file is the IWM export's
preamble and layout with the S&P fund's name and 503 of its rows). Prices: Yahoo v8 chart JSON in
the API's shape (meta, timestamp at the session's open in UTC, indicators.quote and adjclose),
built from sample_data/prices; Cboe's ``DATE,SPX`` and FRED's ``observation_date,NASDAQ100`` CSVs.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.conftest import SAMPLE, real_dir

ET = ZoneInfo("America/New_York")
IWM_PATH = "www.ishares.com/us/products/239710/ishares-russell-2000-etf/1467271812596.ajax"
IVV_PATH = "www.ishares.com/us/products/239726/ishares-core-sp-500-etf/1467271812596.ajax"
QQQ_PATH = "www.invesco.com/us/financial-products/etfs/holdings/main/holdings/0"
CHART_PATH = "query1.finance.yahoo.com/v8/finance/chart/{symbol}"  # symbol URL-quoted (^ -> %5E)
CBOE_PATH = "cdn.cboe.com/api/global/us_indices/daily_prices/{series}_History.csv"
FRED_PATH = "fred.stlouisfed.org/graph/fredgraph.csv"
PROXIES = ("SPY", "QQQ", "IWM", "^GSPC", "^NDX", "^RUT")


def quoted(symbol: str) -> str:
    return symbol.replace("^", "%5E")


# ------------------------------------------------------------------ holdings
def iwm_export() -> Path:
    return real_dir("constituents") / "IWM_holdings__ishares_2026-05-05__brownplaya239.csv"


def qqq_export() -> Path:
    return real_dir("constituents") / "QQQ_holdings__invesco_2020-07-02__ammarfatehi.csv"


def relabelled(body: bytes, fund: str, rows: int | None = None, as_of: str | None = None) -> bytes:
    """An iShares export with another fund name (first preamble line), optionally only its first
    ``rows`` holdings and another ``Fund Holdings as of`` value; the disclaimer after them kept."""
    lines = body.decode("utf-8-sig").split("\n")
    lines[0] = fund
    if as_of is not None:
        lines[1] = f'Fund Holdings as of,"{as_of}"'
    header = next(i for i, ln in enumerate(lines) if ln.startswith("Ticker,"))
    end = next(i for i in range(header + 1, len(lines)) if not lines[i].strip())
    if rows is not None:
        lines = lines[: header + 1 + rows] + lines[end:]
    return ("\ufeff" + "\n".join(lines)).encode()


def ishares_equities(body: bytes) -> dict[str, str]:
    """Ticker -> sector of the equity rows of an iShares export, read with the csv module."""
    lines = body.decode("utf-8-sig").splitlines()
    header = next(i for i, ln in enumerate(lines) if ln.startswith("Ticker,"))
    out = {}
    for row in csv.DictReader(lines[header:]):
        if not row.get("Ticker"):
            break
        if row["Asset Class"] == "Equity" and row["Ticker"] != "-":
            out[row["Ticker"]] = row["Sector"]
    return out


# ------------------------------------------------------------------ prices
def sample_rows(symbol: str, through: date, last: int = 40) -> list[dict[str, str]]:
    """The last ``last`` rows through ``through`` of the sample's Yahoo CSV for ``symbol``."""
    with (SAMPLE / "prices" / f"{symbol}.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if date.fromisoformat(r["Date"]) <= through]
    return rows[-last:]


def _num(text: str) -> float | None:
    return None if text in ("", "null") else float(text)


def yahoo_chart(symbol: str, rows: list[dict[str, str]], *, dividend_on: date | None = None) -> bytes:
    """Yahoo's v8 chart document for these daily rows (stamped at 09:30 ET, in UTC seconds)."""
    stamps = [
        int(datetime.combine(date.fromisoformat(r["Date"]), time(9, 30), tzinfo=ET).timestamp()) for r in rows
    ]
    meta = {
        "currency": "USD",
        "symbol": symbol,
        "exchangeName": "PCX" if not symbol.startswith("^") else "SNP",
        "instrumentType": "ETF" if not symbol.startswith("^") else "INDEX",
        "firstTradeDate": 728317800,
        "regularMarketTime": stamps[-1] + 23400,
        "gmtoffset": -18000,
        "timezone": "EST",
        "exchangeTimezoneName": "America/New_York",
        "priceHint": 2,
        "dataGranularity": "1d",
        "range": "",
    }
    doc: dict = {
        "chart": {
            "result": [
                {
                    "meta": meta,
                    "timestamp": stamps,
                    "indicators": {
                        "quote": [
                            {
                                "open": [_num(r["Open"]) for r in rows],
                                "low": [_num(r["Low"]) for r in rows],
                                "volume": [int(float(r["Volume"])) if r["Volume"] else None for r in rows],
                                "close": [_num(r["Close"]) for r in rows],
                                "high": [_num(r["High"]) for r in rows],
                            }
                        ],
                        "adjclose": [{"adjclose": [_num(r["Adj Close"]) for r in rows]}],
                    },
                }
            ],
            "error": None,
        }
    }
    if dividend_on is not None:
        ts = int(datetime.combine(dividend_on, time(9, 30), tzinfo=ET).timestamp())
        doc["chart"]["result"][0]["events"] = {"dividends": {str(ts): {"amount": 1.5, "date": ts}}}
    return json.dumps(doc).encode()


def chart_closes(body: bytes) -> dict[date, tuple[float | None, float | None]]:
    """Date -> (close, adjclose) read from a chart document with plain json and datetime."""
    r = json.loads(body)["chart"]["result"][0]
    off = r["meta"]["gmtoffset"]
    closes = r["indicators"]["quote"][0]["close"]
    adj = r["indicators"]["adjclose"][0]["adjclose"]
    return {
        datetime.fromtimestamp(t + off, UTC).date(): (c, a)
        for t, c, a in zip(r["timestamp"], closes, adj, strict=True)
    }


def cboe_csv(series: str, rows: list[tuple[date, float]]) -> bytes:
    out = io.StringIO()
    out.write(f"DATE,{series}\n")
    for d, v in rows:
        out.write(f"{d:%m/%d/%Y},{v:.2f}\n")
    return out.getvalue().encode()


def fred_csv(series: str, rows: list[tuple[date, float | None]]) -> bytes:
    lines = [f"observation_date,{series}"] + [f"{d},{'' if v is None else f'{v:.2f}'}" for d, v in rows]
    return ("\n".join(lines) + "\n").encode()


def serve_proxies(routes: object, through: date) -> dict[str, bytes]:
    """Chart JSON for the six proxies at their Yahoo paths; returns symbol -> payload."""
    out = {}
    for s in PROXIES:
        body = yahoo_chart(s, sample_rows(s, through))
        routes.put(CHART_PATH.format(symbol=quoted(s)), body)  # type: ignore[attr-defined]
        out[s] = body
    return out
