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
import zipfile
from datetime import date, timedelta
from pathlib import Path

from tests.conftest import SAMPLE

FINRA_PATH = "cdn.finra.org/equity/otcmarket/biweekly/shrt{d:%Y%m%d}.csv"
CFTC_YEAR_PATH = "www.cftc.gov/files/dea/history/fut_fin_txt_{year}.zip"
CFTC_BUNDLE_PATH = "www.cftc.gov/files/dea/history/fin_fut_txt_2006_2016.zip"


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


def serve_cftc(routes: object, years: range, bundle: bool = True, through: date | None = None) -> None:
    for y in years:
        text = cftc_year(y)
        if through is not None and y == through.year:
            text = extended(text, through)
        routes.put(CFTC_YEAR_PATH.format(year=y), zipped(f"FinFut{y % 100:02d}.txt", text))  # type: ignore[attr-defined]
    if bundle:
        text = _moved(_sample_cot(17) or b"", 2016, bundle=True)
        routes.put(CFTC_BUNDLE_PATH, zipped("F_TFF_2006_2016.txt", text))  # type: ignore[attr-defined]


def real_cftc_zip(path: Path) -> bytes:
    return zipped("FinFut26.txt", path.read_bytes())
