"""Index membership sources: iShares holdings (IWM for RUT, IVV for SPX) and Invesco's QQQ (NDX).

The payload is the sponsor's own export, kept raw and read by the ``ingest members`` parsers
(``ingest/members.py``: the fund named in the file decides the index, sectors included), so
``positioning ingest members RAWFILE`` gives exactly what the fetch gave.

- iShares' ajax CSV (data-sources.md §5.1): UTF-8 with a BOM, a preamble naming the fund and
  ``Fund Holdings as of``, then the table. ``&asOfDate=YYYYMMDD`` asks for past holdings (how far
  back iShares serves them is to verify live; ETF-Scraper uses month ends); a preamble date of
  ``-`` means iShares has none for that date.
- Invesco's QQQ download (§5.2): today's holdings only, a CSV ``Fund Ticker, Holding Ticker, ...,
  Sector, Date``. Invesco's JSON holdings API (``dng-api.invesco.com/cache/v1/accounts/en_US/
  shareclasses/...``: ``{effectiveBusinessDate, holdings: [{ticker, issuerName,
  percentageOfTotalNetAssets, ...}]}``, indexkit's 2026 fixture) carries no sector, so this version
  asks for the CSV download and names a JSON reply as such (to verify live).

Refresh rule (``positioning update``): membership changes slowly (S&P and Nasdaq rebalance
quarterly; FTSE Russell reconstitutes semi-annually from 2026, June and November/December), so an
index's snapshot is due once a month, from the month's first NYSE session; ``update`` fetches the
indices (setting ``indices``) whose newest snapshot predates it, every one on an empty store.
``fetch members`` fetches on request, today's holdings or the ``--as-of`` dates.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from positioning_cli.fetch import calendar as cal
from positioning_cli.fetch.http import Reply
from positioning_cli.fetch.sources import SOURCES, Context, Item, Source, _bad, _partition_days

ISHARES_URL = (
    "https://www.ishares.com/us/products/{product}/{slug}/1467271812596.ajax"
    "?fileType=csv&fileName={fund}_holdings&dataType=fund"
)
# index -> (fund, iShares product id, URL slug)
ISHARES_FUNDS = {
    "RUT": ("IWM", "239710", "ishares-russell-2000-etf"),
    "SPX": ("IVV", "239726", "ishares-core-sp-500-etf"),
}
INVESCO_URL = (
    "https://www.invesco.com/us/financial-products/etfs/holdings/main/holdings/0"
    "?audienceType=Investor&action=download&ticker={fund}"
)
INVESCO_FUNDS = {"NDX": "QQQ"}
# Equity rows a holdings file of each index must hold: fewer means a truncated or placeholder file
# (the Russell 2000 holds ~2,000, the S&P 500 ~503 share lines, the Nasdaq-100 ~101).
ROW_BOUNDS = {"RUT": (1500, 2600), "SPX": (450, 560), "NDX": (90, 115)}


def monthly_expected(now: datetime) -> list[cal.Expected]:
    """One snapshot owed per month, from the month's first NYSE session (09:00 ET); late five
    sessions on, missing twenty sessions on."""
    out = []
    y, m = now.year, now.month
    for back in range(3, -2, -1):
        yy, mm = y + (m - 1 - back) // 12, (m - 1 - back) % 12 + 1
        first = cal.add_sessions(date(yy, mm, 1) - timedelta(days=1), 1)
        out.append(
            cal.Expected(
                first,
                cal._at(first, 9),
                cal._at(cal.add_sessions(first, 5), 9),
                cal._at(cal.add_sessions(first, 20), 9),
            )
        )
    return out


def _covers(key: date, snapshot: date) -> bool:
    """A snapshot fetched on the month's first session is dated the session before it (or one
    earlier when the sponsor posts late): it is that month's snapshot."""
    return snapshot >= cal.add_sessions(key, -2)


def newest_by_index(store_root: Path | None) -> dict[str, date]:
    """The newest membership snapshot held per index (every ingest, fetched or by hand)."""
    if store_root is None:
        return {}
    from positioning_cli.store import Store

    store = Store(store_root)
    if not store.exists():
        return {}
    t = store.read("members", ["index", "as_of"])
    out: dict[str, date] = {}
    for idx, d in zip(t.column("index").to_pylist(), t.column("as_of").to_pylist(), strict=True):
        if d is not None and (idx not in out or d > out[idx]):
            out[idx] = d
    return out


class _Members(Source):
    kind = "members"
    funds: Mapping[str, str] = {}  # index -> fund ticker

    def expected(self, now: datetime) -> list[cal.Expected]:
        return monthly_expected(now)

    def held(self, manifest: Mapping[str, Any]) -> set[date]:
        return _partition_days(manifest, "members")

    def is_held(self, key: date, held: set[date]) -> bool:
        return any(_covers(key, d) for d in held)

    def url(self, index: str, as_of: date | None) -> str:
        raise NotImplementedError

    def items(self, ctx: Context, since: date | None, until: date | None) -> list[Item]:
        wanted = [i for i in _indices(ctx) if i in self.funds]
        as_of: list[date] = list(ctx.options.get("as_of") or [])
        today = ctx.now.date()
        if not ctx.options.get("members_requested"):  # `update`: only the indices whose snapshot is due
            latest = cal.latest_released(self.expected(ctx.now), ctx.now)
            newest = newest_by_index(ctx.store_root)
            wanted = [
                i for i in wanted if latest is None or i not in newest or not _covers(latest.key, newest[i])
            ]
        out = []
        for index in wanted:
            fund = self.funds[index]
            if as_of:
                out += [
                    Item(d, self.url(index, d), f"{fund}_holdings_asof_{d:%Y%m%d}.csv", None) for d in as_of
                ]
            else:
                # Today's file (dated the previous session by the sponsor), one per fetch day.
                out.append(Item(today, self.url(index, None), f"{fund}_holdings_{today:%Y%m%d}.csv", None))
        return out

    def index_of(self, item: Item) -> str:
        fund = item.name.split("_", 1)[0]
        return next(i for i, f in self.funds.items() if f == fund)

    def requested_date(self, item: Item) -> date | None:
        return item.key if "_asof_" in item.name else None

    def _text(self, reply: Reply) -> str:
        try:
            return reply.body.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise _bad(self, reply, "not UTF-8 text") from None

    def _check_rows(self, reply: Reply, index: str, rows: int) -> None:
        lo, hi = ROW_BOUNDS[index]
        if not lo <= rows <= hi:
            raise _bad(self, reply, f"{rows} equity rows, expected {lo}-{hi} for {index}")


def _indices(ctx: Context) -> list[str]:
    from positioning_cli.schema import INDICES

    given = ctx.options.get("indices")
    if isinstance(given, str):
        given = [s for s in given.replace(" ", "").upper().split(",") if s]
    return [i for i in INDICES if i in (given or INDICES)]


def _source(text: str, url: str) -> Any:
    """The text as the ingest parsers see a file (their header sniffing, reused, not re-written)."""
    from positioning_cli.ingest.text import Source as TextSource

    return TextSource(path=Path("payload.csv"), name=url, text=text, data=text.encode())


class IsharesMembers(_Members):
    name = "ishares"
    label = "iShares holdings"
    min_interval = {"www.ishares.com": 2.0}  # no published limit; one file per index per run
    funds = {index: fund for index, (fund, _, _) in ISHARES_FUNDS.items()}

    def url(self, index: str, as_of: date | None) -> str:
        fund, product, slug = ISHARES_FUNDS[index]
        base = ISHARES_URL.format(product=product, slug=slug, fund=fund)
        return base + (f"&asOfDate={as_of:%Y%m%d}" if as_of else "")

    def validate(self, item: Item, reply: Reply) -> None:
        from positioning_cli.errors import InputError
        from positioning_cli.ingest import members

        super().validate(item, reply)
        index = self.index_of(item)
        source = _source(self._text(reply), reply.url)
        header = members._ishares_header_line(source)
        if header is None:
            raise _bad(
                self, reply, "no iShares holdings header (Ticker, Name, Sector, Asset Class, Weight (%))"
            )
        want = self.requested_date(item)
        for fields in csv.reader(source.head_lines()[: header - 1]):
            if fields and fields[0].strip().lower() == "fund holdings as of" and fields[1:2] == ["-"]:
                raise _bad(self, reply, f"iShares has no holdings for {want or 'today'} (as-of '-')")
        try:
            fund, as_of = members._ishares_preamble(source, header)
        except InputError as exc:
            raise _bad(self, reply, f"preamble: {exc.problem}") from None
        named = next((code for text, code in members.FUND_INDEX if text in fund.lower()), None)
        if named != index:
            raise _bad(self, reply, f"the file holds {fund[:40]!r} ({named or 'unknown index'}), not {index}")
        if as_of is None:
            raise _bad(self, reply, "no 'Fund Holdings as of' date in the preamble")
        if want is not None and as_of != want:
            raise _bad(self, reply, f"holdings as of {as_of}, requested {want}")
        body = source.text.splitlines()[header:]
        rows = 0
        for fields in csv.reader(body):
            if not fields or not any(f.strip() for f in fields):
                break  # the legal text after the holdings follows a blank line
            if len(fields) > 3 and fields[3].strip().lower() == "equity":
                rows += 1
        self._check_rows(reply, index, rows)


class InvescoMembers(_Members):
    name = "invesco"
    label = "Invesco holdings"
    min_interval = {"www.invesco.com": 2.0}
    funds = INVESCO_FUNDS

    def url(self, index: str, as_of: date | None) -> str:
        return INVESCO_URL.format(fund=INVESCO_FUNDS[index])

    def validate(self, item: Item, reply: Reply) -> None:
        from positioning_cli.ingest import members

        super().validate(item, reply)
        index = self.index_of(item)
        text = self._text(reply)
        if text.lstrip()[:1] in ("{", "["):
            raise _bad(self, reply, "JSON holdings; this version reads Invesco's CSV export (to verify live)")
        rows = list(csv.reader(text.splitlines()))
        header = [h.strip().lower() for h in rows[0]] if rows else []
        need = ("fund ticker", "holding ticker", "date")
        if not all(n in header for n in need):
            raise _bad(
                self, reply, f"unexpected header line {','.join(rows[0])[:80]!r}" if rows else "no lines"
            )
        fund_col, date_col = header.index("fund ticker"), header.index("date")
        data = [r for r in rows[1:] if any(f.strip() for f in r)]
        funds = {r[fund_col].strip().upper() for r in data if len(r) > fund_col}
        tracked = {members.FUND_TICKER_INDEX.get(f) for f in funds}
        if tracked != {index}:
            raise _bad(
                self, reply, f"fund(s) {', '.join(sorted(funds)) or 'none'}, not {INVESCO_FUNDS[index]}"
            )
        if any(len(r) <= date_col or not r[date_col].strip() for r in data):
            raise _bad(self, reply, "a row without a date (truncated body?)")
        self._check_rows(reply, index, len(data))


SOURCES.update({s.name: s for s in (IsharesMembers(), InvescoMembers())})
if "yahoo" in SOURCES:  # imported after prices (a direct import of this module): members run first
    SOURCES["yahoo"] = SOURCES.pop("yahoo")
