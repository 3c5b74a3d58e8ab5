"""Source definitions: what is due, where it lives, how to check a payload, which ``ingest`` kind reads it.

A source is a small subclass of ``Source`` (see the package docstring for how to add one):

- ``name``/``label``/``kind``: raw folder name, human name, the ``positioning ingest`` kind;
- ``min_interval``: seconds between two requests per host (the source's published politeness);
- ``items(ctx, since, until)``: the payloads to request (URL, raw file name, calendar entry);
- ``expected(now)`` and ``held(manifest)``: the release calendar and what the store holds, for
  ``positioning calendar`` and the states (current/due/late/missing/suspended);
- ``unpublished(reply)``: the statuses meaning "not out yet" (FINRA: 403/404);
- ``validate(item, reply)``: cheap checks before the payload touches the store (the parser checks
  every value afterwards, through ``api.ingest``).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from positioning_cli.errors import FetchError
from positioning_cli.fetch import calendar as cal
from positioning_cli.fetch.http import Client, Reply


@dataclass(frozen=True)
class Item:
    key: date  # the report's key date (a settlement date, a report Tuesday, Jan 1 of a yearly file)
    url: str
    name: str  # raw file name under STORE/raw/<source>/
    expected: cal.Expected | None = None  # None: a file with no single due time (a yearly archive)


@dataclass(frozen=True)
class Context:
    now: datetime  # aware
    manifest: Mapping[str, Any]
    combined: bool = False  # CFTC: futures-and-options combined instead of futures only
    finra_credentials: tuple[str, str] | None = None  # FINRA API client id and secret, when configured
    options: Mapping[str, Any] = field(default_factory=dict)  # a fetch command's own flags (--index, ...)
    store_root: Path | None = None  # for sources that read the store (what to request, SEC's refresh)


def _bad(source: Source, reply: Reply, problem: str) -> FetchError:
    return FetchError(f"{source.label}: {reply.url}: {problem}")


def _looks_like_html(reply: Reply) -> bool:
    ctype = reply.header("content-type").lower()
    head = reply.body[:512].lstrip().lower()
    return "html" in ctype or head.startswith((b"<!doctype", b"<html", b"<?xml", b"<head", b"<body"))


class Source:
    name = ""
    label = ""
    kind = ""
    min_interval: Mapping[str, float] = {}
    in_calendar = True  # False: a source with no release calendar of its own (a history backfill)

    def items(self, ctx: Context, since: date | None, until: date | None) -> list[Item]:
        raise NotImplementedError

    def expected(self, now: datetime) -> list[cal.Expected]:
        raise NotImplementedError

    def held(self, manifest: Mapping[str, Any]) -> set[date]:
        raise NotImplementedError

    def is_held(self, key: date, held: set[date]) -> bool:
        return key in held

    def unpublished(self, reply: Reply) -> bool:
        return reply.status == 404

    def download(self, client: Client, item: Item, headers: Mapping[str, str], ctx: Context) -> Reply:
        """One payload (a GET by default; a source may page or POST, returning one combined Reply)."""
        return client.get(item.url, headers=headers, what=self.label)

    def notes(self, items: list[Item]) -> list[str]:
        """Caveats about what these items can hold, printed with the summary."""
        return []

    def drain_notes(self) -> list[str]:
        """Notes about what the downloads of this run did (e.g. a fallback used), then forgotten."""
        return []

    def raw_name(self, item: Item, reply: Reply) -> str:
        """The raw file a reply is kept as (a source whose download fell back elsewhere renames it)."""
        return item.name

    # True: a raw file already kept for an item is the payload (a closed date range), so an
    # interrupted run's downloads are ingested, not requested again.
    reuse_raw = False

    def follow_up(self, ctx: Context, store_root: Path) -> list[Item]:
        """Items that depend on what this run ingested (SEC: companyfacts for the index members the
        frames missed); requested and ingested after the first batch."""
        return []

    def parse_options(self, store_root: Path) -> Any:
        """The ``ParseOptions`` the raw files are ingested with (None: the defaults); the same ones a
        user passes to ``positioning ingest`` to read those files by hand."""
        return None

    def validate(self, item: Item, reply: Reply) -> None:
        """Checks every source needs: a 200 with a non-empty, non-HTML body."""
        if not reply.body:
            raise _bad(self, reply, "empty body")
        if _looks_like_html(reply):
            raise _bad(self, reply, "an HTML page instead of data (a bot wall or an error page)")


def _ingests(manifest: Mapping[str, Any], table: str) -> list[Mapping[str, Any]]:
    return [i for i in manifest.get("ingests", []) if isinstance(i, dict) and i.get("table") == table]


def _partition_days(manifest: Mapping[str, Any], table: str) -> set[date]:
    """The days of a table stored one file per day (``year=2026/part-20260115.parquet``)."""
    files = manifest.get("tables", {}).get(table, {}).get("files", {})
    out = set()
    for rel in files:
        stem = rel.rsplit("part-", 1)[-1].split(".", 1)[0]
        if len(stem) == 8 and stem.isdigit():
            out.add(date(int(stem[:4]), int(stem[4:6]), int(stem[6:])))
    return out


# ------------------------------------------------------------------ FINRA short interest (CDN)
FINRA_URL = "https://cdn.finra.org/equity/otcmarket/biweekly/shrt{d:%Y%m%d}.csv"
FINRA_HEADER = (
    "accountingYearMonthNumber|symbolCode|issueName|issuerServicesGroupExchangeCode|marketClassCode|"
    "currentShortPositionQuantity|previousShortPositionQuantity|stockSplitFlag|averageDailyVolumeQuantity|"
    "daysToCoverQuantity|revisionFlag|changePercent|changePreviousNumber|settlementDate"
)
# Exchange-listed securities appear in the CDN files from mid-2021 (FINRA: "Prior to June 2021, the
# data contains short interest positions in over-the-counter securities only").
EXCHANGE_LISTED_FROM = date(2021, 6, 15)


class FinraShortInterest(Source):
    name = "finra-si"
    label = "FINRA short interest"
    kind = "short-interest"
    min_interval = {"cdn.finra.org": 1.0}  # eBull's measured-polite rate; no limit is published
    min_rows = 100  # a real file holds ~21,000; fewer than this is a truncated or placeholder file
    max_rows = 500_000
    refetch_cycles = 2  # FINRA revises the latest cycles in place and keeps no vintages
    backfill_years = 5

    def expected(self, now: datetime) -> list[cal.Expected]:
        today = now.date()
        window = cal.finra_settlements(today - timedelta(days=120), today + timedelta(days=45))
        return [cal.finra_expected(d) for d in window]

    def held(self, manifest: Mapping[str, Any]) -> set[date]:
        return _partition_days(manifest, "short_interest")

    def items(self, ctx: Context, since: date | None, until: date | None) -> list[Item]:
        today = ctx.now.date()
        end = min(until or today, today)
        if since is None:
            held = sorted(self.held(ctx.manifest))
            released = [e.key for e in self.expected(ctx.now) if e.release <= ctx.now]
            recent = released[-self.refetch_cycles :]
            if held:
                since = min([held[-1], *recent])
            else:
                since = today.replace(year=today.year - self.backfill_years)
        dates = cal.finra_settlements(since, end)
        out = []
        for d in dates:
            e = cal.finra_expected(d)
            if e.release <= ctx.now:
                out.append(Item(d, FINRA_URL.format(d=d), f"shrt{d:%Y%m%d}.csv", e))
        return out

    def notes(self, items: list[Item]) -> list[str]:
        if items and items[0].key < EXCHANGE_LISTED_FROM:
            return [
                f"FINRA files before {EXCHANGE_LISTED_FROM} hold OTC securities only; exchange-listed "
                "short interest starts mid-2021; for these dates it comes from FINRA's Query API"
            ]
        return []

    def unpublished(self, reply: Reply) -> bool:
        # S3 behind CloudFront answers 403 (AccessDenied) for a key that does not exist yet; some
        # paths answer 404. Neither is an authentication problem.
        return reply.status in (403, 404)

    def validate(self, item: Item, reply: Reply) -> None:
        super().validate(item, reply)
        try:
            text = reply.body.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise _bad(self, reply, "not UTF-8 text") from None
        lines = text.splitlines()
        if not lines or lines[0].strip() != FINRA_HEADER:
            raise _bad(self, reply, f"unexpected header line {lines[0][:80]!r}" if lines else "no lines")
        rows = [ln for ln in lines[1:] if ln.strip()]
        if not self.min_rows <= len(rows) <= self.max_rows:
            raise _bad(self, reply, f"{len(rows)} rows, expected {self.min_rows}-{self.max_rows}")
        want = item.key.isoformat()
        # No trailer row holds a record count, so a body cut short shows as a last line with
        # missing fields or a partial date (a newline at the very end is not assumed).
        for n, ln in enumerate(rows, 2):
            fields = ln.split("|")
            got = fields[13].strip() if len(fields) == 14 else None
            if got is None or (got != want and got.replace("-", "") != want.replace("-", "")):
                if n == len(rows) + 1 and not text.endswith("\n"):
                    raise _bad(self, reply, "truncated body (the last line is incomplete)")
                if got is None:
                    raise _bad(self, reply, f"line {n}: {len(fields)} fields, expected 14")
                raise _bad(self, reply, f"line {n}: settlement date {got!r}, requested {want}")


# ------------------------------------------------------------------ CFTC Traders in Financial Futures
CFTC_YEAR_URL = "https://www.cftc.gov/files/dea/history/{prefix}_txt_{year}.zip"
CFTC_BUNDLE_URL = "https://www.cftc.gov/files/dea/history/{bundle}_txt_2006_2016.zip"
CFTC_FIRST_YEAR = 2006
CFTC_FIRST_YEARLY = 2017  # before this, one 2006-2016 bundle
# The current week's report alone, headerless (data-sources.md §3.2); keyed by "combined".
CFTC_WEEK_URL = "https://www.cftc.gov/dea/newcot/{name}"
CFTC_WEEK_NAMES = {False: "FinFutWk.txt", True: "FinComWk.txt"}
# CFTC's Public Reporting Environment (Socrata): the same report, "drawn from exactly the same source
# data" (PRE FAQ), the fallback when a zip fails. TFF futures only / futures-and-options combined.
PRE_HOST = "publicreporting.cftc.gov"
PRE_URL = "https://publicreporting.cftc.gov/resource/{dataset}.json"
PRE_DATASETS = {False: "gpe5-46if", True: "yw9f-hn96"}  # keyed by "combined"
PRE_DATE = "report_date_as_yyyy_mm_dd"
PRE_KIND = {"gpe5-46if": "futonly", "yw9f-hn96": "combined"}  # futonly_or_combined, lower case


class CftcTff(Source):
    """Yearly zips (and the 2006-2016 bundle); a year whose zip fails (an HTTP error after the
    retries, an HTML page, a zip that does not open) is requested from PRE instead, one query per
    year, and kept as ``pre_<prefix>_<year>.json`` beside the zips. When the store still lacks the
    latest report released by the calendar after that, the current-week file (``FinFutWk.txt``,
    ``FinComWk.txt``) is requested as a follow-up and ingested by the same parser as ``ingest cot``."""

    name = "cftc-tff"
    label = "CFTC TFF"
    kind = "cot"
    # A few requests per run; cftc.gov blocks aggressive clients. PRE publishes no limit.
    min_interval = {"www.cftc.gov": 2.0, PRE_HOST: 1.0}
    pre_page = 50_000  # a year is ~7,000 rows (both reports ~140 markets x 52 weeks): one page
    pre_max_pages = 20

    def __init__(self) -> None:
        self._notes: list[str] = []
        self._checked: Reply | None = None  # the zip download() just validated (the bundle is ~25 MB)
        self._week_asked = False  # the current-week file is a follow-up, asked for once per run
        self._until: date | None = None

    def drain_notes(self) -> list[str]:
        out, self._notes = self._notes, []
        return out

    def expected(self, now: datetime) -> list[cal.Expected]:
        today = now.date()
        return list(cal.cftc_weeks(today - timedelta(days=35), today + timedelta(days=7)))

    def held(self, manifest: Mapping[str, Any]) -> set[date]:
        last = [i.get("last_date") for i in _ingests(manifest, "cot") if i.get("last_date")]
        return {max(date.fromisoformat(str(d)) for d in last)} if last else set()

    def is_held(self, key: date, held: set[date]) -> bool:
        # Yearly files are cumulative and CFTC does not revise: holding a later report means
        # holding every earlier one (a market absent one week is normal, < 20 traders).
        return bool(held) and key <= max(held)

    def items(self, ctx: Context, since: date | None, until: date | None) -> list[Item]:
        self._week_asked, self._until = False, until
        today = ctx.now.date()
        held = self.held(ctx.manifest)
        first = since.year if since else (max(held).year if held else CFTC_FIRST_YEAR)
        last = min((until or today).year, today.year)
        first = max(first, CFTC_FIRST_YEAR)
        prefix, bundle = ("com_fin", "fin_com") if ctx.combined else ("fut_fin", "fin_fut")
        out = []
        if first < CFTC_FIRST_YEARLY:
            out.append(
                Item(date(2006, 1, 1), CFTC_BUNDLE_URL.format(bundle=bundle), f"{bundle}_txt_2006_2016.zip")
            )
        weeks = list(cal.cftc_weeks(date(today.year, 1, 1), today))
        for year in range(max(first, CFTC_FIRST_YEARLY), last + 1):
            if year == today.year and not any(e.release <= ctx.now for e in weeks):
                continue  # early January: this year's zip does not exist before its first report
            out.append(
                Item(
                    date(year, 1, 1),
                    CFTC_YEAR_URL.format(prefix=prefix, year=year),
                    f"{prefix}_txt_{year}.zip",
                )
            )
        return out

    def follow_up(self, ctx: Context, store_root: Path) -> list[Item]:
        """The current-week file, when the yearly files (or PRE) left the latest released report out."""
        from positioning_cli.store import Store

        if self._week_asked:
            return []
        self._week_asked = True
        latest = cal.latest_released(self.expected(ctx.now), ctx.now)
        if latest is None or (self._until is not None and latest.key > self._until):
            return []
        if self.is_held(latest.key, self.held(Store(store_root).manifest())):
            return []
        name = CFTC_WEEK_NAMES[ctx.combined]
        return [Item(latest.key, CFTC_WEEK_URL.format(name=name), name, latest)]

    @staticmethod
    def _is_week(item: Item) -> bool:
        return item.name in CFTC_WEEK_NAMES.values()

    @staticmethod
    def _years(item: Item) -> tuple[int, int]:
        """The report years an item's payload holds (the bundle: 2006-2016)."""
        return (2006, 2016) if item.key.year < CFTC_FIRST_YEARLY else (item.key.year, item.key.year)

    def download(self, client: Client, item: Item, headers: Mapping[str, str], ctx: Context) -> Reply:
        if self._is_week(item):  # the last resort: no fallback of its own
            return client.get(item.url, headers=headers, what=self.label)
        try:
            reply = client.get(item.url, headers=headers, what=self.label)
            if reply.status == 304:
                return reply
            if reply.status != 200:
                raise _bad(self, reply, f"HTTP {reply.status}")
            self._check_zip(item, reply)
            self._checked = reply
            return reply
        except FetchError as exc:
            problem = _problem(exc, self.label)
        url = PRE_URL.format(dataset=PRE_DATASETS[ctx.combined])
        try:
            alt = self._pre(client, item, url)
            self._check_pre(item, alt)
        except FetchError as exc:
            raise FetchError(
                f"{self.label}: {item.url}: {problem}; fallback {url}: {_problem(exc, self.label)}"
            ) from None
        lo, hi = self._years(item)
        years = str(lo) if lo == hi else f"{lo}-{hi}"
        self._notes.append(
            f"{years}: the CFTC zip failed ({problem}); reports from CFTC's public reporting API"
        )
        return alt

    def _pre(self, client: Client, item: Item, url: str) -> Reply:
        """One year (the bundle's years) from PRE, oldest first; pages of ``pre_page`` records joined
        into one JSON array (a single page is kept as served)."""
        from urllib.parse import quote, urlencode

        lo, hi = self._years(item)
        where = f"{PRE_DATE} between '{lo}-01-01T00:00:00.000' and '{hi}-12-31T00:00:00.000'"
        records: list[object] = []
        first: Reply | None = None
        for _ in range(self.pre_max_pages):
            # ":id" after the date: a total order, so pages neither skip nor repeat a record.
            query = {"$where": where, "$order": f"{PRE_DATE},:id", "$limit": self.pre_page}
            if records:
                query["$offset"] = len(records)
            page_url = url + "?" + urlencode(query, safe="$:',", quote_via=quote)
            r = client.get(page_url, what=self.label)
            if r.status != 200:
                raise FetchError(f"{self.label}: {url}: HTTP {r.status}")
            if _looks_like_html(r):
                raise _bad(self, Reply(url, r.status, r.headers, r.body), "an HTML page instead of data")
            try:
                page = json.loads(r.body)
            except ValueError:
                raise FetchError(f"{self.label}: {url}: not JSON (truncated?)") from None
            if not isinstance(page, list):
                raise FetchError(f"{self.label}: {url}: not a JSON array of records")
            first = first or r
            records += page
            if len(page) < self.pre_page:
                break
        else:
            raise FetchError(f"{self.label}: {url}: more than {self.pre_max_pages} pages of {self.pre_page}")
        assert first is not None
        if len(records) <= self.pre_page:
            return first
        return Reply(first.url, 200, {"content-type": "application/json"}, json.dumps(records).encode())

    def raw_name(self, item: Item, reply: Reply) -> str:
        if PRE_HOST in reply.url:  # fut_fin_txt_2024.zip -> pre_fut_fin_2024.json
            return "pre_" + item.name.removesuffix(".zip").replace("_txt_", "_") + ".json"
        return item.name

    def validate(self, item: Item, reply: Reply) -> None:
        if self._is_week(item):
            self._check_week(item, reply)
        elif PRE_HOST in reply.url:
            self._check_pre(item, reply)
        elif reply is not self._checked:
            self._check_zip(item, reply)
        self._checked = None

    def _check_pre(self, item: Item, reply: Reply) -> None:
        """A JSON array of TFF records, every report date within the requested years, of the
        requested report (futures only or combined)."""
        super().validate(item, reply)
        url = reply.url.split("?", 1)[0]
        try:
            records = json.loads(reply.body)
        except ValueError:
            raise FetchError(f"{self.label}: {url}: not JSON (truncated?)") from None
        if not isinstance(records, list):
            raise FetchError(f"{self.label}: {url}: not a JSON array of records")
        if not records:  # items() skips a year before its first report, so a year asked for has some
            raise FetchError(f"{self.label}: {url}: 0 rows")
        lo, hi = self._years(item)
        kind = PRE_KIND.get(url.rsplit("/", 1)[-1].removesuffix(".json"))
        for n, rec in enumerate(records, 1):
            got = rec.get(PRE_DATE) if isinstance(rec, dict) else None
            if not isinstance(rec, dict) or not rec.get("cftc_contract_market_code"):
                raise FetchError(f"{self.label}: {url}: record {n}: not a TFF record (no contract code)")
            year = str(got)[:4]
            if not (year.isdigit() and lo <= int(year) <= hi):
                raise FetchError(
                    f"{self.label}: {url}: record {n}: report date {got!r} outside the requested {lo}-{hi}"
                )
            which = str(rec.get("futonly_or_combined", "")).strip().lower()
            if kind and which and which != kind:
                raise FetchError(f"{self.label}: {url}: record {n}: a {which!r} row, requested {kind!r}")

    def _check_zip(self, item: Item, reply: Reply) -> None:
        super().validate(item, reply)
        try:
            with zipfile.ZipFile(io.BytesIO(reply.body)) as z:
                members = [m for m in z.infolist() if not m.is_dir()]
                if len(members) != 1:
                    raise _bad(self, reply, f"zip holds {len(members)} files, expected 1")
                data = z.read(members[0])
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
            raise _bad(self, reply, f"a zip that does not open ({exc})") from None
        lines = data.decode("utf-8", "replace").splitlines()
        if not lines or "CFTC_Contract_Market_Code" not in lines[0]:
            raise _bad(self, reply, "no TFF header line in the zip")
        rows = [ln for ln in lines[1:] if ln.strip()]
        if not rows:
            raise _bad(self, reply, "0 rows")
        lo, hi = self._years(item)
        for ln in (rows[0], rows[-1]):
            year = _cftc_row_year(ln)
            if year is None or not lo <= year <= hi:
                raise _bad(self, reply, f"report year {year} outside the requested {lo}-{hi}")

    def _check_week(self, item: Item, reply: Reply) -> None:
        """Headerless rows of the annual header's width, all of one report week. A week older than
        the one asked for is CFTC's file not advanced yet: kept and ingested, and said in a note (the
        calendar state says due or late)."""
        import csv

        from positioning_cli.ingest.cot import TFF_HEADER

        super().validate(item, reply)
        text = reply.body.decode("utf-8-sig", "replace")
        weeks: set[date] = set()
        for n, fields in enumerate(csv.reader(io.StringIO(text, newline="")), 1):
            if not any(f.strip() for f in fields):
                continue
            if len(fields) != len(TFF_HEADER):
                raise _bad(
                    self, reply, f"line {n}: {len(fields)} fields, the TFF header has {len(TFF_HEADER)}"
                )
            week = _cftc_row_date(fields)
            if week is None:
                raise _bad(self, reply, f"line {n}: no YYMMDD report date in field 2 ({fields[1]!r})")
            weeks.add(week)
        if not weeks:
            raise _bad(self, reply, "0 rows")
        if len(weeks) > 1:
            raise _bad(self, reply, f"{len(weeks)} report dates, a current-week file holds one")
        (week,) = weeks
        if week < item.key:
            self._notes.append(
                f"{item.key}: not in the yearly file; the current-week file {item.name} still holds {week}"
            )
        else:
            self._notes.append(
                f"{week}: not in the yearly file yet; read from the current-week file {item.name}"
            )


def _problem(exc: FetchError, label: str) -> str:
    """A FetchError's message without its ``label: URL:`` prefix (to join two into one line)."""
    text = exc.message.removeprefix(f"{label}: ")
    return text.split(": ", 1)[1] if text.startswith("https://") and ": " in text else text


def _cftc_row_year(line: str) -> int | None:
    """The year of a TFF row from its YYMMDD field (the second column after the quoted name)."""
    import csv

    week = _cftc_row_date(next(csv.reader([line]), []))
    return None if week is None else week.year


def _cftc_row_date(fields: list[str]) -> date | None:
    """The report date of a TFF row's fields from its YYMMDD field (the second)."""
    if len(fields) < 3:
        return None
    yymmdd = fields[1].strip()
    if len(yymmdd) != 6 or not yymmdd.isdigit():
        return None
    yy = int(yymmdd[:2])
    try:
        return date(2000 + yy if yy < 70 else 1900 + yy, int(yymmdd[2:4]), int(yymmdd[4:]))
    except ValueError:
        return None


# ------------------------------------------------------------------ FINRA Query API (older history)
FINRA_API_URL = "https://api.finra.org/data/group/otcMarket/name/consolidatedShortInterest"
FINRA_TOKEN_URL = "https://ews.fip.finra.org/fip/rest/ews/oauth2/access_token?grant_type=client_credentials"


class FinraQueryApi(Source):
    """Exchange-listed short interest for settlement dates before the CDN files carry it (mid-2021).

    Anonymous by default (works in 2026 per OpenBB's fixtures); with FINRA client credentials in
    the config, a 401/403 switches to OAuth client credentials. One raw JSON array per settlement
    date, paged at ``page_size`` records; 204 means no data for the date.
    """

    name = "finra-api"
    label = "FINRA Query API"
    kind = "short-interest"
    min_interval = {"api.finra.org": 0.1}  # FINRA allows 20 synchronous requests/s per IP
    in_calendar = False
    page_size = 5000  # FINRA's maximum
    max_pages = 200

    def expected(self, now: datetime) -> list[cal.Expected]:
        return []

    def held(self, manifest: Mapping[str, Any]) -> set[date]:
        return FinraShortInterest().held(manifest)

    def items(self, ctx: Context, since: date | None, until: date | None) -> list[Item]:
        if since is None or since >= EXCHANGE_LISTED_FROM:
            return []  # only asked for explicitly, for history the CDN files lack
        end = min(until or EXCHANGE_LISTED_FROM, EXCHANGE_LISTED_FROM - timedelta(days=1))
        return [
            Item(d, FINRA_API_URL, f"finra-api-{d:%Y%m%d}.json", cal.finra_expected(d))
            for d in cal.finra_settlements(since, end)
        ]

    def unpublished(self, reply: Reply) -> bool:
        return reply.status == 204

    def _token(self, client: Client, ctx: Context) -> str | None:
        if ctx.finra_credentials is None:
            return None
        r = client.request("POST", FINRA_TOKEN_URL, auth=ctx.finra_credentials, what=self.label)
        try:
            return str(json.loads(r.body)["access_token"]) if r.status == 200 else None
        except (ValueError, KeyError, TypeError):
            return None

    def download(self, client: Client, item: Item, headers: Mapping[str, str], ctx: Context) -> Reply:
        token: str | None = None
        records: list[object] = []
        for _ in range(self.max_pages):
            body = {
                "limit": self.page_size,
                "offset": len(records),
                "compareFilters": [
                    {
                        "compareType": "EQUAL",
                        "fieldName": "settlementDate",
                        "fieldValue": item.key.isoformat(),
                    }
                ],
            }
            hdrs = {"Accept": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
            r = client.request("POST", item.url, headers=hdrs, json=body, what=self.label)
            if r.status in (401, 403) and token is None and ctx.finra_credentials is not None:
                token = self._token(client, ctx)
                if token:
                    continue
            if r.status != 200:
                return (
                    r
                    if not records or r.status != 204
                    else Reply(item.url, 200, {}, json.dumps(records).encode())
                )
            try:
                page = json.loads(r.body)
            except ValueError:
                return r  # validate() names the problem
            if not isinstance(page, list):
                return r
            records += page
            total = r.header("record-total")
            if len(page) < self.page_size or (total.isdigit() and len(records) >= int(total)):
                break
        return Reply(item.url, 200, {"content-type": "application/json"}, json.dumps(records).encode())

    def validate(self, item: Item, reply: Reply) -> None:
        super().validate(item, reply)
        try:
            records = json.loads(reply.body)
        except ValueError:
            raise _bad(self, reply, "not JSON (truncated?)") from None
        if not isinstance(records, list) or not records:
            raise _bad(self, reply, "0 rows")
        want = item.key.isoformat()
        for n, rec in enumerate(records, 1):
            got = rec.get("settlementDate") if isinstance(rec, dict) else None
            if got != want:
                raise _bad(self, reply, f"record {n}: settlement date {got!r}, requested {want}")


# ------------------------------------------------------------------ FINRA Reg SHO daily short volume
REGSHO_URL = "https://cdn.finra.org/equity/regsho/daily/CNMSshvol{d:%Y%m%d}.txt"
REGSHO_HEADER = "Date|Symbol|ShortVolume|ShortExemptVolume|TotalVolume|Market"
REGSHO_FIRST = date(2018, 8, 1)  # the first consolidated (CNMS) file


class FinraShortVolume(Source):
    """FINRA's consolidated daily short-sale volume file (CNMS), one per NYSE session.

    Fetched on request (``fetch short-volume``); once the store holds short volume, ``update`` keeps
    it current. Each run re-fetches the last ``refetch_sessions`` (FINRA posts rare corrections; the
    conditional request makes an unchanged file cost a 304).
    """

    name = "finra-shvol"
    label = "FINRA short-sale volume"
    kind = "short-volume"
    min_interval = {"cdn.finra.org": 1.0}
    in_calendar = False  # daily; `calendar` lists the twice-monthly and weekly reports
    refetch_sessions = 5
    first_fetch_sessions = 60  # on a store without short volume: about three months (20-day averages)

    @classmethod
    def first_since(cls, store_root: Path) -> date | None:
        """``fetch short-volume`` without --since on a store holding none: the last
        ``first_fetch_sessions`` sessions (None once some is held: ``items`` carries on from it)."""
        from positioning_cli.fetch.run import now_et
        from positioning_cli.store import Store

        if _partition_days(Store(store_root).manifest(), "short_volume"):
            return None
        return cal.add_sessions(now_et().date(), -cls.first_fetch_sessions)

    def expected(self, now: datetime) -> list[cal.Expected]:
        today = now.date()
        return [
            cal.regsho_expected(d)
            for d in cal.sessions_between(today - timedelta(days=14), today + timedelta(days=7))
        ]

    def held(self, manifest: Mapping[str, Any]) -> set[date]:
        return _partition_days(manifest, "short_volume")

    def items(self, ctx: Context, since: date | None, until: date | None) -> list[Item]:
        today = ctx.now.date()
        end = min(until or today, today)
        held = sorted(self.held(ctx.manifest))
        if since is None:
            if not held:
                return []  # not asked for, and not held: update leaves it alone
            since = min(held[-1], cal.add_sessions(end, -self.refetch_sessions))
        since = max(since, REGSHO_FIRST)
        out = []
        for d in cal.sessions_between(since, end):
            e = cal.regsho_expected(d)
            if e.release <= ctx.now:
                out.append(Item(d, REGSHO_URL.format(d=d), f"CNMSshvol{d:%Y%m%d}.txt", e))
        return out

    def unpublished(self, reply: Reply) -> bool:
        return reply.status in (403, 404)  # S3 behind CloudFront: 403 for a key not there yet

    def validate(self, item: Item, reply: Reply) -> None:
        super().validate(item, reply)
        try:
            text = reply.body.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise _bad(self, reply, "not UTF-8 text") from None
        lines = [ln for ln in text.splitlines() if ln.strip()]
        if not lines or lines[0].strip() != REGSHO_HEADER:
            raise _bad(self, reply, f"unexpected header line {lines[0][:80]!r}" if lines else "no lines")
        count = lines[-1].strip()
        if len(lines) < 2 or not count.isdigit():
            raise _bad(self, reply, "no record-count line at the end (truncated body?)")
        rows = lines[1:-1]
        if int(count) != len(rows):
            raise _bad(self, reply, f"the record-count line says {count} rows, the body holds {len(rows)}")
        want = f"{item.key:%Y%m%d}"
        for n, ln in enumerate(rows, 2):
            got = ln.split("|", 1)[0].strip()
            if got != want:
                raise _bad(self, reply, f"line {n}: date {got!r}, requested {want}")


SOURCES: dict[str, Source] = {
    s.name: s for s in (FinraShortInterest(), FinraQueryApi(), CftcTff(), FinraShortVolume())
}

# Sources in their own modules add themselves to SOURCES when imported (a plain module import
# works whichever module is imported first); ``update`` runs them in this order.
import positioning_cli.fetch.members  # noqa: E402, F401  iShares (RUT, SPX), Invesco (NDX)
import positioning_cli.fetch.prices  # noqa: E402, F401  Yahoo chart, Cboe/FRED fallback
from positioning_cli.fetch import sec as _sec  # noqa: E402, F401 (registers SEC shares; builds on the above)
