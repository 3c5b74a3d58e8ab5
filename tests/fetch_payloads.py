"""Payloads in each source's real format at its real path, for the local mirror.

FINRA: the sample generator's files (sample_data/short_interest, the generator's own output).
CFTC: zips of sample_data/cot (real CFTC rows) named as cftc.gov names them. Years the sample lacks
(2023, and 2006-2016 for the bundle) are derived from a neighbouring sample year by moving its dates
to the wanted year, and the current year is extended past the sample's last week by repeating
its rows for later Tuesdays (``extended``); the bundle writes them as CFTC's bundle does (``MM/DD/YYYY 12:00:00 AM``).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zipfile
from datetime import date, timedelta
from pathlib import Path

from tests.conftest import SAMPLE

FINRA_PATH = "cdn.finra.org/equity/otcmarket/biweekly/shrt{d:%Y%m%d}.csv"
CFTC_YEAR_PATH = "www.cftc.gov/files/dea/history/fut_fin_txt_{year}.zip"
CFTC_BUNDLE_PATH = "www.cftc.gov/files/dea/history/fin_fut_txt_2006_2016.zip"
CFTC_WEEK_PATH = "www.cftc.gov/dea/newcot/FinFutWk.txt"


def finra_dates() -> list[date]:
    out = []
    for p in sorted((SAMPLE / "short_interest").glob("shrt*.csv.gz")):
        s = p.name[4:12]
        out.append(date(int(s[:4]), int(s[4:6]), int(s[6:])))
    return out


def finra_file(d: date) -> bytes:
    return gzip.decompress((SAMPLE / "short_interest" / f"shrt{d:%Y%m%d}.csv.gz").read_bytes())


def serve_finra(routes: object, dates: list[date] | None = None) -> list[date]:
    chosen = finra_dates() if dates is None else dates
    for d in chosen:
        routes.put(FINRA_PATH.format(d=d), finra_file(d))  # type: ignore[attr-defined]
    return chosen


def zipped(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, data)
    return buf.getvalue()


def _sample_cot(yy: int) -> bytes | None:
    p = SAMPLE / "cot" / f"FinFut{yy:02d}.txt.gz"
    return gzip.decompress(p.read_bytes()) if p.exists() else None


def _moved(text: bytes, year: int, bundle: bool = False) -> bytes:
    rows = list(csv.reader(io.StringIO(text.decode())))
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    w.writerow(rows[0])
    for r in rows[1:]:
        if not r:
            continue
        d = date(year, int(r[2][5:7]), int(r[2][8:10]))
        r[1] = f"{d:%y%m%d}"
        r[2] = f"{d:%m/%d/%Y} 12:00:00 AM" if bundle else d.isoformat()
        w.writerow(r)
    return out.getvalue().encode()


def cftc_year(year: int) -> bytes:
    """The yearly TFF text for ``year`` (sample rows, or a neighbour's moved to this year)."""
    text = _sample_cot(year % 100)
    if text is not None:
        return text
    near = _sample_cot((year - 1) % 100) or _sample_cot((year + 1) % 100)
    assert near is not None, year
    return _moved(near, year)


def extended(text: bytes, through: date) -> bytes:
    """The file plus the newest week's rows repeated for every later Tuesday through ``through``."""
    rows = list(csv.reader(io.StringIO(text.decode())))
    newest = max(r[2] for r in rows[1:] if r)
    last = [r for r in rows[1:] if r and r[2] == newest]
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerows(rows)
    d = date.fromisoformat(newest) + timedelta(days=7)
    while d <= through:
        for r in last:
            w.writerow([r[0], f"{d:%y%m%d}", d.isoformat(), *r[3:]])
        d += timedelta(days=7)
    return out.getvalue().encode()


def split_newest_week(text: bytes) -> tuple[bytes, bytes]:
    """(the annual file without its newest report, that report's lines without the header line: the
    current-week file CFTC publishes beside it), byte for byte."""
    lines = text.splitlines(keepends=True)
    dates = [next(csv.reader([ln.decode()]))[2] for ln in lines[1:]]
    newest = max(dates)
    rest = [ln for ln, d in zip(lines[1:], dates, strict=True) if d != newest]
    week = [ln for ln, d in zip(lines[1:], dates, strict=True) if d == newest]
    return lines[0] + b"".join(rest), b"".join(week)


def serve_cftc(routes: object, years: range, bundle: bool = True, through: date | None = None) -> None:
    for y in years:
        text = cftc_year(y)
        if through is not None and y == through.year:
            text = extended(text, through)
        routes.put(CFTC_YEAR_PATH.format(year=y), zipped(f"FinFut{y % 100:02d}.txt", text))  # type: ignore[attr-defined]
    if bundle:
        text = _moved(_sample_cot(17) or b"", 2016, bundle=True)
        routes.put(CFTC_BUNDLE_PATH, zipped("F_TFF_2006_2016.txt", text))  # type: ignore[attr-defined]


# CFTC's Public Reporting Environment (data-sources.md §3.3): the same rows as JSON records.
PRE_FUT_PATH = "publicreporting.cftc.gov/resource/gpe5-46if.json"
# PRE drops "_all" from these categories' position fields (``lev_money_positions_long``), not others.
_PRE_NO_ALL = ("asset_mgr_positions_", "lev_money_positions_", "other_rept_positions_")


def pre_records(text: bytes) -> list[dict[str, str]]:
    """The yearly file's rows as PRE serves them: lower-case field names, trimmed strings, the report
    date as a timestamp, a blank (".") cell left out, newest last (``$order`` by report date)."""
    rows = list(csv.reader(io.StringIO(text.decode())))
    names = [n.strip().lower() for n in rows[0]]
    names = [n[:-4] if n.startswith(_PRE_NO_ALL) and n.endswith("_all") else n for n in names]
    names = ["report_date_as_yyyy_mm_dd" if n == "report_date_as_yyyy-mm-dd" else n for n in names]
    out = []
    for r in rows[1:]:
        if not r:
            continue
        rec = {n: v.strip() for n, v in zip(names, r, strict=True) if v.strip() not in ("", ".")}
        rec["report_date_as_yyyy_mm_dd"] += "T00:00:00.000"
        out.append(rec)
    return sorted(out, key=lambda rec: rec["report_date_as_yyyy_mm_dd"])


def pre_year(year: int) -> bytes:
    """The PRE answer for ``year``: the records of the yearly zip ``serve_cftc`` serves for it."""
    return json.dumps(pre_records(cftc_year(year))).encode()


def real_cftc_zip(path: Path) -> bytes:
    return zipped("FinFut26.txt", path.read_bytes())


# ------------------------------------------------------------------ SEC XBRL (data-sources.md §4.1)
SEC_TICKERS_PATH = "www.sec.gov/files/company_tickers.json"
SEC_FRAME_PATH = "data.sec.gov/api/xbrl/frames/dei/EntityCommonStockSharesOutstanding/shares/{ccp}.json"
SEC_FACTS_PATH = "data.sec.gov/api/xbrl/companyfacts/CIK{cik:010d}.json"
SEC_TAG = "EntityCommonStockSharesOutstanding"

# (cik, ticker, title) as company_tickers.json lists them: GOOGL/GOOG share one CIK (one issuer-wide
# value, two classes); BAC-PB is a preferred (gets no common-stock value); III has no CIK at all.
SEC_TICKERS = [
    (1, "AAA", "AAA Corp"),
    (2, "BBB", "BBB Inc"),
    (3, "CCC", "CCC Co"),
    (4, "DDD", "DDD Holdings"),
    (5, "EEE", "EEE Group"),
    (6, "FFF", "FFF Ltd"),
    (7, "GOOGL", "Alphabet Inc."),
    (7, "GOOG", "Alphabet Inc."),
    (8, "BAC", "BANK OF AMERICA CORP /DE/"),
    (8, "BAC-PB", "BANK OF AMERICA CORP /DE/"),
    (9, "HHH", "HHH Therapeutics"),
]
# frame -> [(cik, cover-page end date, shares)]: DDD's newest is a placeholder (100), EEE's newest is
# 10x its only neighbour (unconfirmed), FFF and HHH are absent (companyfacts has them).
SEC_FRAMES = {
    "CY2026Q1I": [(1, "2026-02-15", 1_000_000), (5, "2026-02-10", 4_000_000)],
    "CY2026Q2I": [
        (1, "2026-05-01", 1_100_000),
        (2, "2026-05-01", 5_000_000),
        (4, "2026-05-01", 3_000_000),
        (5, "2026-05-05", 4_100_000),
    ],
    "CY2026Q3I": [
        (1, "2026-08-01", 1_200_000),
        (2, "2026-08-10", 5_000_000),
        (3, "2026-07-20", 2_000_000),
        (4, "2026-08-01", 100),
        (5, "2026-08-03", 45_000_000),
        (7, "2026-07-25", 12_000_000_000),
        (8, "2026-07-30", 7_600_000_000),
    ],
}
# cik -> [(end, filed, shares)]: FFF's only value is stale by the autumn 2026 reports; HHH's newer
# value was filed after the 2026-10-30 settlement date (not known then).
SEC_FACTS = {
    6: [("2024-12-31", "2025-02-01", 3_000_000)],
    9: [("2026-04-20", "2026-05-01", 900_000), ("2026-07-20", "2026-11-20", 1_800_000)],
}
SEC_NAMES = {cik: title for cik, _, title in SEC_TICKERS}


def sec_tickers() -> bytes:
    return json.dumps(
        {str(i): {"cik_str": c, "ticker": t, "title": n} for i, (c, t, n) in enumerate(SEC_TICKERS)}
    ).encode()


def sec_frame(ccp: str) -> bytes:
    data = [
        {
            "accn": f"0000000000-26-{cik:06d}",
            "cik": cik,
            "entityName": SEC_NAMES[cik],
            "loc": "US-DE",
            "end": end,
            "val": val,
        }
        for cik, end, val in SEC_FRAMES[ccp]
    ]
    return json.dumps(
        {
            "taxonomy": "dei",
            "tag": SEC_TAG,
            "ccp": ccp,
            "uom": "shares",
            "label": "Entity Common Stock, Shares Outstanding",
            "description": "…",
            "pts": len(data),
            "data": data,
        }
    ).encode()


def sec_facts(cik: int) -> bytes:
    units = [
        {
            "end": end,
            "val": val,
            "accn": f"0000000000-{filed[2:4]}-{cik:06d}",
            "fy": int(end[:4]),
            "fp": "Q2",
            "form": "10-Q",
            "filed": filed,
        }
        for end, filed, val in SEC_FACTS[cik]
    ]
    return json.dumps(
        {
            "cik": cik,
            "entityName": SEC_NAMES[cik],
            "facts": {
                "dei": {
                    SEC_TAG: {
                        "label": "Entity Common Stock, Shares Outstanding",
                        "description": "…",
                        "units": {"shares": units},
                    }
                },
                "us-gaap": {},
            },
        }
    ).encode()


def serve_sec(routes: object) -> None:
    """The ticker map, three frames (CY2026Q4I is not out: unknown paths answer 403 AccessDenied,
    so it is scripted as SEC's 404), and the companyfacts of FFF and HHH."""
    routes.put(SEC_TICKERS_PATH, sec_tickers())  # type: ignore[attr-defined]
    for ccp in SEC_FRAMES:
        routes.put(SEC_FRAME_PATH.format(ccp=ccp), sec_frame(ccp))  # type: ignore[attr-defined]
    for cik in SEC_FACTS:
        routes.put(SEC_FACTS_PATH.format(cik=cik), sec_facts(cik))  # type: ignore[attr-defined]
