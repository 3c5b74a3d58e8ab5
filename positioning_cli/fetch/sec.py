"""SEC shares outstanding (``fetch shares``): the ticker map, XBRL frames, companyfacts (§4 of the reference).

One run:

1. ``https://www.sec.gov/files/company_tickers.json``, the CIK -> ticker map (kept as
   ``raw/sec-shares/company_tickers.json``; the parser reads the value files with it);
2. the frames of ``dei:EntityCommonStockSharesOutstanding`` for the current calendar quarter and
   the ``quarters - 1`` before it (``CY2026Q3I.json``). SEC fills a frame in for weeks after the
   quarter ends, so recent frames are fetched again (conditional requests: unchanged costs a 304);
   a 404 is a frame not out yet (state ``due``), never an error on its own;
3. then, for the members of the held index snapshots that still have no SEC value and no
   shares outstanding of their own in the membership file, the per-company facts
   (``companyfacts/CIK##########.json``), at most ``COMPANYFACTS_CAP`` per run (the rest next run;
   the summary says so).

Fair access: a User-Agent with a contact (``sec-contact``; refused without one), at most 8
requests/s per SEC host (SEC allows 10 per IP). SEC's 403 "Request Rate Threshold Exceeded" blocks
the IP for about 10 minutes and longer if requests go on: the run stops calling SEC at once and
says when to retry (exit 9, a failed fetch).

``update`` refreshes it weekly: when the ticker map held is older than ``REFRESH_DAYS`` (or none is
held). SEC publishes no release calendar for these, so the source is not in ``calendar``.
"""

from __future__ import annotations

import json
from calendar import monthrange
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from positioning_cli.errors import FetchError
from positioning_cli.fetch import calendar as cal
from positioning_cli.fetch.http import Client, Reply
from positioning_cli.fetch.sources import SOURCES, Context, Item, Source, _bad

TICKERS_URL = "https://www.sec.gov/files/company_tickers.json"
FRAME_URL = "https://data.sec.gov/api/xbrl/frames/dei/EntityCommonStockSharesOutstanding/shares/{ccp}.json"
FACTS_URL = "https://data.sec.gov/api/xbrl/companyfacts/CIK{cik:010d}.json"
TICKERS_NAME = "company_tickers.json"
QUARTERS = 4
COMPANYFACTS_CAP = 100  # per run: ~15 s at SEC's pace; the rest next run
REFRESH_DAYS = 7
STALE_DAYS = 456  # a member whose newest SEC value is older than this (~15 months) lacks one
RETRY_MINUTES = 10
THRESHOLD_TEXT = b"request rate threshold exceeded"
UNDECLARED_TEXT = b"undeclared automated tool"


def quarter_end(d: date) -> date:
    month = (d.month - 1) // 3 * 3 + 3
    return date(d.year, month, monthrange(d.year, month)[1])


def quarters_back(d: date, n: int) -> list[date]:
    """The quarter ends of ``d``'s quarter and the ``n - 1`` before it, oldest first."""
    out = [quarter_end(d)]
    while len(out) < n:
        out.append(quarter_end(date(out[-1].year, out[-1].month - 2, 1) - timedelta(days=1)))
    return out[::-1]


def ccp(qe: date) -> str:
    return f"CY{qe.year}Q{(qe.month - 1) // 3 + 1}I"


def frame_expected(qe: date) -> cal.Expected:
    """A frame fills in as filings with cover dates in the quarter arrive: out from the quarter's
    first day; late when still absent 120 days after its end (10-Q/10-K deadlines are 40-90 days)."""
    at = datetime(qe.year, qe.month - 2, 1, tzinfo=cal.ET)
    end = datetime(qe.year, qe.month, qe.day, tzinfo=cal.ET)
    return cal.Expected(qe, at, end + timedelta(days=120), end + timedelta(days=240))


class SecShares(Source):
    name = "sec-shares"
    label = "SEC shares outstanding"
    kind = "shares"
    min_interval = {"data.sec.gov": 0.125, "www.sec.gov": 0.125}  # 8/s: under SEC's 10/s per IP
    in_calendar = False  # SEC publishes no release calendar for frames

    def __init__(self) -> None:
        self._stopped: str | None = None  # the threshold message once SEC has blocked this run
        self._followed = False
        self._notes: list[str] = []
        self._map_answered = False  # this run got the ticker map (200 or 304): a refresh happened

    # -- what is held
    def expected(self, now: datetime) -> list[cal.Expected]:
        return [frame_expected(q) for q in quarters_back(now.date(), QUARTERS)]

    def held(self, manifest: Mapping[str, Any]) -> set[date]:
        last = [
            i.get("last_date")
            for i in manifest.get("ingests", [])
            if isinstance(i, dict) and i.get("table") == "shares_outstanding" and i.get("last_date")
        ]
        return {max(date.fromisoformat(str(d)) for d in last)} if last else set()

    # -- what to request
    def items(self, ctx: Context, since: date | None, until: date | None) -> list[Item]:
        self._stopped, self._followed, self._notes, self._map_answered = None, False, [], False
        today = ctx.now.date()
        if since is None and not self._refresh_due(ctx):
            return []
        first = since or quarters_back(today, QUARTERS)[0]
        last = min(until or today, today)
        ends = [q for q in quarters_back(last, 40) if q >= quarter_end(first)]
        out = [Item(today, TICKERS_URL, TICKERS_NAME)]
        out += [
            Item(q, FRAME_URL.format(ccp=ccp(q)), f"frames-{ccp(q)}.json", frame_expected(q)) for q in ends
        ]
        return out

    def _refresh_due(self, ctx: Context) -> bool:
        """``update``: weekly, from the last run that got the ticker map (now, if never). The time is
        the run's clock (``POSITIONING_NOW`` when pinned), kept in ``raw/sec-shares/.refreshed``."""
        if ctx.store_root is None:
            return True
        try:
            last = datetime.fromisoformat(_refreshed(ctx.store_root).read_text("utf-8").strip())
        except (OSError, ValueError):
            return True
        return ctx.now - last >= timedelta(days=REFRESH_DAYS)

    def follow_up(self, ctx: Context, store_root: Path) -> list[Item]:
        if self._followed or self._stopped:
            return []
        self._followed = True
        from positioning_cli.fetch.raw import RawStore, _write_atomic

        if self._map_answered and RawStore(store_root, self.name).entry(TICKERS_NAME):
            _write_atomic(_refreshed(store_root), ctx.now.isoformat().encode())
        ciks, lacking = members_lacking(store_root, ctx.now.date())
        if lacking and not ciks:
            self._notes.append(f"{lacking} index member(s) without a value have no CIK in SEC's ticker map")
        if len(ciks) > COMPANYFACTS_CAP:
            self._notes.append(
                f"{len(ciks)} issuers of index members lack an SEC value; companyfacts fetched for "
                f"{COMPANYFACTS_CAP} this run, the rest on the next runs"
            )
        today = ctx.now.date()
        return [Item(today, FACTS_URL.format(cik=c), f"CIK{c:010d}.json") for c in ciks[:COMPANYFACTS_CAP]]

    def notes(self, items: list[Item]) -> list[str]:
        return list(self._notes)

    def parse_options(self, store_root: Path) -> Any:
        from positioning_cli.fetch.raw import RawStore
        from positioning_cli.ingest import ParseOptions

        return ParseOptions(tickers=RawStore(store_root, self.name).path(TICKERS_NAME))

    # -- requests and checks
    def download(self, client: Client, item: Item, headers: Mapping[str, str], ctx: Context) -> Reply:
        if self._stopped:
            raise FetchError(f"{self.label}: {item.url}: not requested ({self._stopped})")
        reply = client.get(item.url, headers=headers, what=self.label)
        body = reply.body[:4096].lower()
        if reply.status == 403 and THRESHOLD_TEXT in body:
            retry = (ctx.now + timedelta(minutes=RETRY_MINUTES)).astimezone(cal.ET)
            self._stopped = (
                f"SEC's request rate threshold was exceeded; SEC calls stopped, retry after {retry:%H:%M} ET"
            )
            raise FetchError(
                f"{self.label}: {item.url}: HTTP 403 Request Rate Threshold Exceeded: SEC blocks this "
                f"address for about {RETRY_MINUTES} minutes (longer if requests go on); SEC calls "
                f"stopped for this run, retry after {retry:%Y-%m-%d %H:%M} ET"
            )
        if reply.status == 403 and UNDECLARED_TEXT in body:
            self._stopped = "SEC refused the User-Agent"
            raise FetchError(
                f"{self.label}: {item.url}: HTTP 403: SEC refused the User-Agent as an undeclared "
                "tool; check `positioning config show` for sec-contact (an e-mail address)"
            )
        if item.name == TICKERS_NAME and reply.status in (200, 304):
            self._map_answered = True
        return reply

    def unpublished(self, reply: Reply) -> bool:
        # A frame not out yet answers 404; a missing S3 object answers 403 AccessDenied/NoSuchKey.
        body = reply.body[:4096]
        return reply.status == 404 or (
            reply.status == 403 and (b"AccessDenied" in body or b"NoSuchKey" in body)
        )

    def validate(self, item: Item, reply: Reply) -> None:
        super().validate(item, reply)
        try:
            data = json.loads(reply.body)
        except ValueError:
            raise _bad(self, reply, "not JSON (truncated?)") from None
        if item.name == TICKERS_NAME:
            if not isinstance(data, dict) or not data:
                raise _bad(self, reply, "0 rows in the ticker map")
            first = next(iter(data.values()))
            if not isinstance(first, dict) or "cik_str" not in first or "ticker" not in first:
                raise _bad(self, reply, "not SEC's ticker map (no cik_str/ticker)")
        elif item.name.startswith("frames-"):
            want = item.name.removeprefix("frames-").removesuffix(".json")
            if not isinstance(data, dict) or data.get("ccp") != want:
                got = data.get("ccp") if isinstance(data, dict) else None
                raise _bad(self, reply, f"frame period {got!r}, requested {want}")
            if not isinstance(data.get("data"), list) or not data["data"]:
                raise _bad(self, reply, "0 rows in the frame")
        else:
            want_cik = int(item.name.removeprefix("CIK").removesuffix(".json"))
            got = data.get("cik") if isinstance(data, dict) else None
            if str(got).lstrip("0") != str(want_cik):
                raise _bad(self, reply, f"companyfacts of CIK {got!r}, requested {want_cik}")


def _refreshed(store_root: Path) -> Path:
    from positioning_cli.fetch.raw import RawStore

    return RawStore(store_root, SecShares.name).folder / ".refreshed"


def members_lacking(store_root: Path, today: date) -> tuple[list[int], int]:
    """(CIKs to ask companyfacts for, how many members lack a value): members of each index's
    newest snapshot with no shares outstanding of their own (> 1) and no SEC value whose period
    ends within ``STALE_DAYS`` of today."""
    import pyarrow.compute as pc

    from positioning_cli.fetch.raw import RawStore
    from positioning_cli.ingest.shares import ticker_map
    from positioning_cli.ingest.text import load
    from positioning_cli.store import Store

    store = Store(store_root)
    with store.reading() as manifest:
        members = store.read("members", ["index", "as_of", "symbol", "shares_outstanding"], manifest)
        shares = store.read("shares_outstanding", ["symbol", "period_end"], manifest)
    if members.num_rows == 0:
        return [], 0
    rows = members.to_pylist()
    newest: dict[str, date] = {}
    for r in rows:
        newest[r["index"]] = max(newest.get(r["index"], r["as_of"]), r["as_of"])
    cutoff = today - timedelta(days=STALE_DAYS)
    recent = shares.filter(pc.greater_equal(shares.column("period_end"), cutoff))
    have = set(recent.column("symbol").to_pylist())
    wanted = {
        r["symbol"]
        for r in rows
        if r["as_of"] == newest[r["index"]]
        and not (r["shares_outstanding"] or 0) > 1
        and r["symbol"] not in have
    }
    path = RawStore(store_root, SecShares.name).path(TICKERS_NAME)
    if not wanted or not path.is_file():
        return [], len(wanted)
    by_symbol = {s: cik for cik, syms in ticker_map(load(path)).items() for s in syms}
    return sorted({by_symbol[s] for s in wanted if s in by_symbol}), len(wanted)


SOURCES[SecShares.name] = SecShares()
