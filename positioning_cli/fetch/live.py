"""``make live``: after ``positioning update`` into a scratch store, print what each source returned.

    python -m positioning_cli.fetch.live STORE

Walks the first-live-run checklist of data-sources.md §8.5 for the sources this version fetches
(FINRA CDN, CFTC zips and current-week files, iShares/Invesco holdings, Yahoo prices with the Cboe/FRED fallback, SEC frames) and probes a few URLs the checklist names (without storing them). Needs the
network; never run by the tests.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import zipfile
from datetime import date
from pathlib import Path

from positioning_cli.errors import FetchError
from positioning_cli.fetch.config import Config
from positioning_cli.fetch.http import Client
from positioning_cli.fetch.run import http_settings
from positioning_cli.fetch.sources import CFTC_WEEK_NAMES, CFTC_WEEK_URL, FINRA_URL, SOURCES

CFTC_CODES = ("13874A", "209742", "239742", "20974+", "13874+")


def _exchange_listed(body: bytes) -> tuple[int, int]:
    """(rows, rows whose marketClassCode is not OTC) of a FINRA file."""
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter="|"))[1:]
    return len(rows), sum(1 for r in rows if len(r) > 4 and r[4].strip() != "OTC")


def _raw_report(store: Path) -> None:
    for name in SOURCES:
        index_path = store / "raw" / name / "index.json"
        index = json.loads(index_path.read_text()) if index_path.exists() else {}
        print(f"\n== {name}: {len(index)} raw file(s) under {index_path.parent}")
        for file, e in sorted(index.items())[-5:]:
            print(
                f"  {file}: {e['bytes']:,} bytes sha256 {e['sha256'][:12]} etag {e['etag'] or '-'} "
                f"last-modified {e['last_modified'] or '-'}"
            )
    finra = sorted((store / "raw" / "finra-si").glob("shrt*.csv"))
    if finra:
        first_listed = next((p.name for p in finra if _exchange_listed(p.read_bytes())[1]), None)
        print(f"[3] first CDN file held with exchange-listed rows: {first_listed}")
    zips = sorted((store / "raw" / "cftc-tff").glob("*.zip"))
    if zips:
        with zipfile.ZipFile(zips[-1]) as z:
            text = z.read(z.namelist()[0]).decode("utf-8", "replace")
        seen = {c: (f'",{c},' in text.replace(" ", "") or f",{c}," in text) for c in CFTC_CODES}
        print(f"[5] contract codes in {zips[-1].name}: {seen}")
    for frame in sorted((store / "raw" / "sec-shares").glob("frames-*.json")):
        data = json.loads(frame.read_bytes())
        rows = data.get("data") or []
        ends = sorted(r.get("end", "") for r in rows)
        span = f"{ends[0]} .. {ends[-1]}" if ends else "-"
        print(f"[8] SEC {frame.name}: pts {data.get('pts')}, {len(rows):,} rows, cover dates {span}")


def _probe(client: Client, label: str, url: str) -> bytes | None:
    try:
        r = client.get(url, what=label)
    except FetchError as exc:
        print(f"  {exc}")
        return None
    print(f"  {label}: {url}: HTTP {r.status}, {len(r.body):,} bytes, {r.header('content-type') or '-'}")
    return r.body if r.status == 200 else None


def _current_week(client: Client) -> None:
    """[4] CFTC's current-week files: reachable, and read with the annual header by position (what
    ``fetch cot`` falls back to when the yearly zip lacks the latest report)."""
    import tempfile

    from positioning_cli.errors import InputError
    from positioning_cli.ingest import parse_file
    from positioning_cli.ingest.cot import TFF_HEADER

    for name in CFTC_WEEK_NAMES.values():
        body = _probe(client, "[4] CFTC current week", CFTC_WEEK_URL.format(name=name))
        if not body:
            continue
        first = next(csv.reader(io.StringIO(body.decode("utf-8", "replace"))), [])
        print(f"      first row: {len(first)} fields (annual header: {len(TFF_HEADER)})")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / name
            path.write_bytes(body)
            try:
                t = parse_file("cot", path).table
            except InputError as exc:
                print(f"      does not parse: {exc}")
                continue
        es = [r for r in t.to_pylist() if r["contract_code"] == "13874A"]
        dates = sorted({str(d) for d in t.column("report_date").to_pylist()})
        print(f"      {t.num_rows} rows, report date(s) {', '.join(dates)}; ES 13874A: {es[:1] or 'absent'}")


def _members_and_prices(client: Client) -> None:
    """[6] Cboe/FRED index levels, [7] iShares (today and a past month end) and Invesco holdings,
    and Yahoo's chart API: status, size, content type and the first line of each."""
    from positioning_cli.fetch.members import InvescoMembers, IsharesMembers
    from positioning_cli.fetch.prices import CHART_URL, FALLBACK

    ishares, invesco = IsharesMembers(), InvescoMembers()
    urls = [
        ("[7] iShares IWM today", ishares.url("RUT", None)),
        ("[7] iShares IWM 2025-06-30", ishares.url("RUT", date(2025, 6, 30))),
        ("[7] iShares IVV today", ishares.url("SPX", None)),
        ("[7] Invesco QQQ today", invesco.url("NDX", None)),
        *((f"[6] {sym} official", url) for sym, url in FALLBACK.items()),
        ("Yahoo chart SPY", CHART_URL.format(symbol="SPY", p1=1735689600, p2=1736294400)),
        ("Yahoo chart ^GSPC", CHART_URL.format(symbol="%5EGSPC", p1=1735689600, p2=1736294400)),
    ]
    for label, url in urls:
        body = _probe(client, label, url)
        if body:
            text = body.decode("utf-8-sig", "replace").lstrip()
            print(f"      first line: {text.splitlines()[0][:100] if text else '(empty)'!r}")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python -m positioning_cli.fetch.live STORE\n")
        return 2
    _raw_report(Path(args[0]))
    print("\n== probes (not stored)")
    from datetime import date, timedelta

    with Client(http_settings(Config(), list(SOURCES.values()))) as client:
        for d in (date(2019, 1, 31), date(2020, 6, 30), date(2017, 12, 29), date(2017, 12, 15)):
            body = _probe(client, f"[1] FINRA {d}", FINRA_URL.format(d=d))
            if body:
                rows, listed = _exchange_listed(body)
                print(f"      {rows:,} rows, {listed:,} not OTC")
        _current_week(client)
        _members_and_prices(client)
        if Config().get("sec-contact"):  # SEC refuses requests without a contact
            from positioning_cli.fetch.sec import FRAME_URL, ccp, quarter_end

            nxt = quarter_end(quarter_end(date.today()) + timedelta(days=1))
            _probe(client, "[8] SEC frame of next quarter (404 expected)", FRAME_URL.format(ccp=ccp(nxt)))
    print("\n[2] FINRA Query API: not fetched by this version")
    print("[9] compare `positioning calendar` with FINRA's published table around Columbus/Veterans Day")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
