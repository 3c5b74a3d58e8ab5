"""Daily prices: Yahoo's v8 chart API, with the official index-level CSVs as the index levels' fallback.

data-sources.md §6: Yahoo's chart JSON (``query1.finance.yahoo.com/v8/finance/chart/SYMBOL``) works
without a key; it may ask for a cookie and crumb (401/403: a cookie from ``fc.yahoo.com``, a crumb
from ``/v1/test/getcrumb``, then ``&crumb=``), and it rate-limits: ~40 requests a minute at most
(Equibles), so it suits the index proxies and a few hundred stocks, not thousands every night.
When Yahoo fails for an index level (an error status, a bot wall, an error document), the index's
own closes come from Cboe (``SPX_History.csv``, ``RUT_History.csv``: ``DATE,SPX``) or FRED
(``NASDAQ100``), keyless; they hold the close only.

Which symbols: the index proxies (SPY, QQQ, IWM, ^GSPC, ^NDX, ^RUT) by default, ``--symbols`` instead,
``--members`` adds every member of the newest snapshot of each held index. A symbol whose newest
close held is on or after the last session Yahoo has closed bars for is current and not requested,
so an interrupted run is finished by the next one; a raw file kept for the same range is ingested
rather than downloaded again. A first fetch goes ``backfill_years`` back; later ones re-request the
last ``overlap_sessions`` sessions (Yahoo corrects recent bars). The request ends at the last closed
session: the bar of a session still trading is never stored (Equibles #4081).

Payloads are read by the ``yahoo-chart`` and ``index-level`` formats of ``ingest prices``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from positioning_cli.errors import FetchError
from positioning_cli.fetch import calendar as cal
from positioning_cli.fetch.http import Client, Reply
from positioning_cli.fetch.sources import SOURCES, Context, Item, Source, _bad, _looks_like_html
from positioning_cli.symbols import index_level_spellings, normalise_symbol

CHART_HOST = "query1.finance.yahoo.com"
CHART_URL = (
    "https://query1.finance.yahoo.com/v8/finance/chart/{symbol}"
    "?period1={p1}&period2={p2}&interval=1d&events=div%2Csplits"
)
COOKIE_URL = "https://fc.yahoo.com/"
CRUMB_URL = "https://query1.finance.yahoo.com/v1/test/getcrumb"
DEFAULT_SYMBOLS = ("SPY", "QQQ", "IWM", "^GSPC", "^NDX", "^RUT")
# Index level (Yahoo's spelling) -> keyless official series of the same closes (§6.3).
FALLBACK = {
    "^GSPC": "https://cdn.cboe.com/api/global/us_indices/daily_prices/SPX_History.csv",
    "^RUT": "https://cdn.cboe.com/api/global/us_indices/daily_prices/RUT_History.csv",
    "^NDX": "https://fred.stlouisfed.org/graph/fredgraph.csv?id=NASDAQ100",  # Cboe's NDX file unconfirmed
}
BARS_FINAL = time(18, 0)  # ET: a session's daily bar is taken as final from here


def last_closed_session(now: datetime) -> date:
    """The newest NYSE session whose daily bar is final at ``now`` (ET)."""
    today = now.date()
    last = cal.session_on_or_before(today)
    if last == today and now.timetz().replace(tzinfo=None) < BARS_FINAL:
        last = cal.session_on_or_before(today - timedelta(days=1))
    return last


def yahoo_symbol(symbol: str) -> str:
    """Yahoo's spelling: ``^SPX`` -> ``^GSPC``; share classes with a dash (``BRK.B`` -> ``BRK-B``)."""
    s = symbol.strip().upper()
    if s.startswith("^"):
        return index_level_spellings(s)[0]
    return s.replace(".", "-").replace("/", "-").replace(" ", "-")


def _stem(ysym: str) -> str:
    """A raw-file stem for a Yahoo symbol (``^GSPC`` -> ``idx-GSPC``; ``ES=F`` -> ``ES_F``)."""
    return ("idx-" + ysym[1:] if ysym.startswith("^") else ysym).replace("=", "_")


def _epoch(d: date) -> int:
    return int(datetime.combine(d, time(0), tzinfo=cal.ET).timestamp())


def newest_closes(store_root: Any) -> dict[str, date]:
    """The newest date held per price symbol."""
    from positioning_cli.store import Store

    store = Store(store_root)
    if store_root is None or not store.exists():
        return {}
    t = store.read("prices", ["symbol", "date"])
    if t.num_rows == 0:
        return {}
    g = t.group_by("symbol").aggregate([("date", "max")])
    return dict(zip(g.column("symbol").to_pylist(), g.column("date_max").to_pylist(), strict=True))


def member_symbols(store_root: Any, indices: list[str]) -> list[str]:
    """Every member of the newest snapshot of each of ``indices`` the store holds."""
    from positioning_cli.store import Store

    store = Store(store_root)
    if store_root is None or not store.exists():
        return []
    t = store.read("members", ["index", "as_of", "symbol"]).to_pylist()
    newest: dict[str, date] = {}
    for r in t:
        if r["index"] in indices and (r["index"] not in newest or r["as_of"] > newest[r["index"]]):
            newest[r["index"]] = r["as_of"]
    return sorted({r["symbol"] for r in t if newest.get(r["index"]) == r["as_of"]})


class YahooPrices(Source):
    name = "yahoo"
    label = "Yahoo prices"
    kind = "prices"
    # Equibles keeps to 40 requests a minute; the fallbacks are one file each per run.
    min_interval = {CHART_HOST: 1.5, "fc.yahoo.com": 1.5, "cdn.cboe.com": 1.0, "fred.stlouisfed.org": 1.0}
    in_calendar = False  # daily; `calendar` lists the twice-monthly and weekly reports
    reuse_raw = True  # a closed range's payload does not change: resume an interrupted run
    backfill_years = 10
    overlap_sessions = 5

    def __init__(self) -> None:
        self._crumb: dict[int, str] = {}  # per client (one client per run)
        self._notes: list[str] = []

    def drain_notes(self) -> list[str]:
        out, self._notes = self._notes, []
        return out

    def expected(self, now: datetime) -> list[cal.Expected]:
        return []

    def held(self, manifest: Mapping[str, Any]) -> set[date]:
        return set()

    def unpublished(self, reply: Reply) -> bool:
        return False  # Yahoo's 404 is an unknown symbol, an error

    def symbols(self, ctx: Context) -> list[str]:
        """Yahoo spellings, in order, without repeats."""
        from positioning_cli.fetch.members import _indices

        given = ctx.options.get("symbols") or ()
        out = [yahoo_symbol(s) for s in (given or DEFAULT_SYMBOLS)]
        if ctx.options.get("members"):
            out += [yahoo_symbol(s) for s in member_symbols(ctx.store_root, _indices(ctx))]
        return list(dict.fromkeys(s for s in out if s))

    def items(self, ctx: Context, since: date | None, until: date | None) -> list[Item]:
        end = last_closed_session(ctx.now)
        newest = newest_closes(ctx.store_root)
        out = []
        for ysym in self.symbols(ctx):
            keys = index_level_spellings(ysym) if ysym.startswith("^") else (normalise_symbol(ysym),)
            held = max((newest[k] for k in keys if k in newest), default=None)
            if held is not None and held >= end:
                continue  # current
            if held is not None:
                start = cal.add_sessions(held, -self.overlap_sessions)
            else:
                start = end.replace(year=end.year - self.backfill_years)
            url = CHART_URL.format(
                symbol=quote(ysym, safe=""), p1=_epoch(start), p2=_epoch(end + timedelta(days=1))
            )
            out.append(Item(end, url, f"{_stem(ysym)}_{start:%Y%m%d}_{end:%Y%m%d}.json", None))
        return out

    def raw_name(self, item: Item, reply: Reply) -> str:
        if reply.url == item.url:
            return item.name
        if CHART_HOST in reply.url:  # re-requested over the whole history
            q = parse_qs(urlsplit(reply.url).query)
            start = datetime.fromtimestamp(int(q["period1"][0]), cal.ET).date()
            return f"{item.name.rsplit('_', 2)[0]}_{start:%Y%m%d}_{item.key:%Y%m%d}.json"
        path = urlsplit(reply.url)
        series = parse_qs(path.query).get("id", [""])[0]
        return f"fredgraph_{series}.csv" if series else path.path.rsplit("/", 1)[-1]

    # ------------------------------------------------------------------ download
    def _get_crumb(self, client: Client) -> str | None:
        """A cookie from fc.yahoo.com (the client keeps it), then the crumb that goes with it."""
        client.get(COOKIE_URL, what=self.label)  # usually a 404 that sets the cookie
        r = client.get(CRUMB_URL, what=self.label)
        crumb = r.body.decode("utf-8", "replace").strip() if r.status == 200 else ""
        if not crumb or _looks_like_html(r) or len(crumb) > 64:
            return None
        self._crumb[id(client)] = crumb
        return crumb

    def _chart(self, client: Client, url: str) -> Reply:
        crumb = self._crumb.get(id(client))
        r = client.get(url + (f"&crumb={quote(crumb)}" if crumb else ""), what=self.label)
        if r.status in (401, 403) and (crumb := self._get_crumb(client)):
            r = client.get(url + f"&crumb={quote(crumb)}", what=self.label)
        return Reply(url, r.status, r.headers, r.body)  # named by the URL without the crumb

    def problem(self, item: Item, reply: Reply) -> str | None:
        """What is wrong with a Yahoo reply, or None."""
        from positioning_cli.ingest.prices import chart_problem

        if reply.status != 200:
            try:
                desc = json.loads(reply.body)["chart"]["error"]["description"]
                return f"HTTP {reply.status}: {str(desc)[:100]}"
            except (ValueError, KeyError, TypeError):
                return f"HTTP {reply.status}"
        if not reply.body:
            return "empty body"
        if _looks_like_html(reply):
            return "an HTML page instead of data (a bot wall or an error page)"
        try:
            doc = json.loads(reply.body)
        except ValueError:
            return "not JSON (truncated?)"
        bad = chart_problem(doc)
        if bad:
            return bad
        got = str(doc["chart"]["result"][0]["meta"]["symbol"]).upper()
        want = _requested(reply.url)
        return (
            None if normalise_symbol(got) == normalise_symbol(want) else f"data for {got}, requested {want}"
        )

    def download(self, client: Client, item: Item, headers: Mapping[str, str], ctx: Context) -> Reply:
        ysym = _requested(item.url)
        try:
            reply = self._chart(client, item.url)
            problem = self.problem(item, reply)
        except FetchError as exc:
            reply, problem = None, exc.message
        if reply is not None and reply.status == 404 and (dashed := _class_spelling(ysym)):
            # A member stored without its class separator (iShares' BRKB): Yahoo knows BRK-B.
            url = item.url.replace(f"/chart/{quote(ysym, safe='')}?", f"/chart/{quote(dashed, safe='')}?")
            retry = self._chart(client, url)
            if retry.status == 200:
                reply, problem = retry, self.problem(item, retry)
        if problem is None and reply is not None:
            return self._whole_if_adjusted(client, item, reply)
        fallback = FALLBACK.get(ysym)
        if fallback is None:
            raise FetchError(f"{self.label}: {item.url}: {problem}")
        try:
            alt = client.get(fallback, what=self.label)
        except FetchError as exc:
            raise FetchError(f"{self.label}: {item.url}: {problem}; fallback: {exc.message}") from None
        if alt.status != 200:
            raise FetchError(f"{self.label}: {item.url}: {problem}; fallback {fallback}: HTTP {alt.status}")
        self._notes.append(f"{ysym}: Yahoo failed ({problem}); official closes (close only) from {fallback}")
        return alt

    def _whole_if_adjusted(self, client: Client, item: Item, reply: Reply) -> Reply:
        """A dividend or split inside a short range moves every earlier adjusted close (Yahoo
        back-adjusts): the whole history is requested again so the store's adjusted closes agree."""
        q = parse_qs(urlsplit(item.url).query)
        start = datetime.fromtimestamp(int(q["period1"][0]), cal.ET).date()
        full = item.key.replace(year=item.key.year - self.backfill_years)
        events = json.loads(reply.body)["chart"]["result"][0].get("events") or {}
        if start <= full or not (events.get("dividends") or events.get("splits")):
            return reply
        url = reply.url.replace(f"period1={q['period1'][0]}", f"period1={_epoch(full)}")
        whole = self._chart(client, url)
        bad = self.problem(item, whole)
        if bad:
            raise FetchError(f"{self.label}: {url}: {bad}")
        return whole

    # ------------------------------------------------------------------ validate
    def validate(self, item: Item, reply: Reply) -> None:
        super().validate(item, reply)
        if CHART_HOST in reply.url:
            problem = self.problem(item, reply)
            if problem:
                raise _bad(self, reply, problem)
            return
        from positioning_cli.ingest.prices import INDEX_LEVEL_SERIES

        try:
            lines = reply.body.decode("utf-8-sig").splitlines()
        except UnicodeDecodeError:
            raise _bad(self, reply, "not UTF-8 text") from None
        names = [n.strip() for n in lines[0].split(",")] if lines else []
        want = _requested(item.url)
        ok = (
            len(names) == 2
            and names[0].lower() in ("date", "observation_date")
            and INDEX_LEVEL_SERIES.get(names[1].upper()) == want
        )
        if not ok:
            raise _bad(self, reply, f"unexpected header line {lines[0][:80]!r}" if lines else "no lines")
        rows = [ln for ln in lines[1:] if ln.strip()]
        if not rows:
            raise _bad(self, reply, "0 rows")


def _class_spelling(ysym: str) -> str | None:
    """``BRKB`` -> ``BRK-B``: the last letter as a share class, for a symbol Yahoo does not know."""
    if ysym.startswith("^") or "-" in ysym or "=" in ysym or len(ysym) < 3 or not ysym.isalpha():
        return None
    return f"{ysym[:-1]}-{ysym[-1]}"


def _requested(url: str) -> str:
    """The Yahoo symbol a chart URL asks for (``%5EGSPC`` -> ``^GSPC``)."""
    from urllib.parse import unquote

    return unquote(urlsplit(url).path.rsplit("/", 1)[-1]).upper()


SOURCES[YahooPrices.name] = YahooPrices()
