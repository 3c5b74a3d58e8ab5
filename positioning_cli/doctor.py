"""``positioning doctor``: is the store fit for the read commands, and if not, what to run.

Four groups of checks, each ``ok``, ``warn`` or ``fail`` with a one-line reason:

tables
    Rows, newest date and its age against today (``POSITIONING_NOW`` pins today, as for
    ``calendar``). The sources with a release calendar (FINRA short interest, CFTC, Reg SHO short
    volume) are judged by it (``fetch.run.calendar_rows``): a report out by rule and not held is
    ``due``, ``late`` or ``missing``.
coverage
    Per index on the newest settlement date: constituents (the membership snapshot scan uses),
    how many have short interest and how many a usable shares-outstanding denominator — the
    figures of ``scan`` itself, so the doctor can never disagree with it.
proxies
    The price series that serves each index level: the first of its proxy chain
    (``api.DEFAULT_PROXIES``) the store holds, as ``indices.proxy`` picks it.
views
    Whether scan, scan --by sector, scan --by stock, summary, cot and flows would print anything:
    each is run through ``api``; an empty one gives that command's own reason.

The rules behind each status are in the README ("Health check"). Short interest, membership and
prices are what every view needs, so their absence fails; CFTC reports, short volume and fund
assets are optional sources, so their absence or staleness only warns. Nothing here writes to the
store; ``scan`` may refresh its derived levels cache, as it would when run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from positioning_cli.errors import NoDataError
from positioning_cli.schema import INDICES

STATUSES = ("ok", "warn", "fail")
SECTIONS = ("table", "coverage", "proxy", "view")
# Below this share of an index's members with short interest (or with a denominator) coverage warns.
MIN_COVERAGE_PCT = 90.0
# A membership snapshot older than this before the newest settlement date is likely out of date
# (Russell reconstitutes yearly, S&P and Nasdaq at least yearly).
MEMBERS_MAX_AGE_DAYS = 400

# Calendar state -> status, for a core source (short interest) and an optional one (CFTC, Reg SHO).
_CORE_STATE = {"current": "ok", "upcoming": "ok", "suspended": "ok", "due": "warn", "late": "warn"}
_OPTIONAL_STATE = {"current": "ok", "upcoming": "ok", "suspended": "ok"}
_SOURCE_OF = {"short_interest": "finra-si", "cot": "cftc-tff", "short_volume": "finra-shvol"}
_INGEST_HINT = {
    "short_interest": "run `positioning update` or `positioning ingest short-interest FILE`",
    "prices": "run `positioning ingest prices FILE`",
    "members": "run `positioning ingest members FILE --index IDX`",
    "cot": "run `positioning fetch cot` or `positioning ingest cot FILE`",
    "short_volume": "run `positioning fetch short-volume` or `positioning ingest short-volume FILE`",
    "funds": "run `positioning ingest funds FILE`",
    "bars": "run `positioning ingest bars FILE`",
    "shares_outstanding": "run `positioning fetch shares` (needs `sec-contact`) or `positioning ingest shares FILE`",
}
_USED_BY = {
    "short_interest": "every view needs it",
    "prices": "divergence and price figures need it",
    "members": "every index view needs it",
    "cot": "cot and scan's futures columns are empty",
    "short_volume": "the short-volume columns are empty",
    "funds": "flows shows no leveraged-ETF rebalance",
    "bars": "scan --trend-bars 4h falls back to daily closes",
    "shares_outstanding": "SI % of shares outstanding has only the membership and SI files' own counts",
}
_CORE_TABLES = ("short_interest", "prices", "members")
# Tables only an option reads: empty is no warning (the option itself warns when used).
_OPT_IN_TABLES = ("bars",)
# The views and whether an empty one fails (every index view) or only warns (optional sources).
VIEWS = ("scan", "scan --by sector", "scan --by stock", "summary", "cot", "flows")
_CORE_VIEWS = ("scan", "scan --by sector", "scan --by stock", "summary")


@dataclass(frozen=True)
class Check:
    """One line of the report. Figures not relevant to a section are None."""

    section: str  # table | coverage | proxy | view
    name: str  # a table, an index, or a view (the command's words)
    status: str  # ok | warn | fail
    reason: str
    rows: int | None = None  # table rows; rows a view would print
    newest: date | None = None
    age_days: int | None = None  # today - newest
    members: int | None = None
    members_with_si: int | None = None
    members_with_denominator: int | None = None
    pct_with_si: float | None = None
    pct_with_denominator: float | None = None
    symbol: str | None = None  # the proxy serving an index level

    def as_row(self) -> dict[str, Any]:
        return asdict(self)


KEYS = tuple(Check.__dataclass_fields__)


@dataclass(frozen=True)
class Report:
    root: str
    now: datetime  # ET, as the release calendar sees it
    newest_settlement: date | None
    checks: list[Check] = field(default_factory=list)

    @property
    def status(self) -> str:
        return max((c.status for c in self.checks), key=STATUSES.index, default="ok")

    def count(self, status: str) -> int:
        return sum(c.status == status for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == "fail"]


def run(store_root: Path) -> Report:
    """Every check on the store at ``store_root``; NoDataError when there is no store or it is empty."""
    from positioning_cli import store_admin
    from positioning_cli.fetch.calendar import now_et

    info = store_admin.info(store_root, last=0)
    if not info.exists:
        raise NoDataError(
            f"{store_root}: no store here yet; `positioning update` or `positioning ingest ...` creates it"
        )
    if not any(t.rows for t in info.tables):
        raise NoDataError(
            f"{store_root}: the store holds no rows; run `positioning update` or `positioning ingest ...`"
        )
    now = now_et()
    tables = {t.name: t for t in info.tables}
    si = tables["short_interest"]
    newest_settlement = si.last_date if si.rows else None
    checks = [
        _table_check(store_root, t.name, t.rows, t.last_date, now, newest_settlement) for t in info.tables
    ]
    scan_rows, scan_error, scan_warnings = _scan(store_root)
    tracked = _tracked(store_root)
    checks += _coverage_checks(scan_rows, scan_error, scan_warnings, tracked)
    checks += _proxy_checks(store_root, now.date(), newest_settlement, tracked)
    checks += _view_checks(store_root, scan_rows, scan_error, scan_warnings)
    return Report(str(store_root), now, newest_settlement, checks)


# ---------------------------------------------------------------- tables
def _age(today: date, newest: date | None) -> int | None:
    return None if newest is None else (today - newest).days


def _table_check(
    store_root: Path, name: str, rows: int, newest: date | None, now: datetime, settlement: date | None
) -> Check:
    today = now.date()
    core = name in _CORE_TABLES
    if not rows:
        status = "fail" if core else ("ok" if name in _OPT_IN_TABLES else "warn")
        return Check("table", name, status, f"empty: {_USED_BY[name]}; {_INGEST_HINT[name]}", rows=0)
    base = Check("table", name, "ok", "", rows=rows, newest=newest, age_days=_age(today, newest))
    if name in _SOURCE_OF:
        status, reason = _calendar_status(store_root, name, now)
    elif name == "members":
        status, reason = _members_status(newest, settlement)
    elif name == "prices":
        status, reason = _prices_status(newest, settlement)
    else:
        status, reason = "ok", f"newest {_iso(newest)}"
    return _replace(base, status=status, reason=reason)


def _calendar_status(store_root: Path, name: str, now: datetime) -> tuple[str, str]:
    """The source's release calendar: the newest report out by rule, and whether it is held."""
    from positioning_cli.fetch import calendar as cal
    from positioning_cli.fetch.run import calendar_rows

    try:
        row = calendar_rows(store_root, [_SOURCE_OF[name]])[0]
    except ValueError as exc:  # a pinned "now" outside the calendar's years
        return "warn", f"no release calendar for {now.date()}: {exc}"
    state = str(row["state"])
    held = _day(row["newest_held"])
    released = _day(row["latest_released"])
    mapping = _CORE_STATE if name == "short_interest" else _OPTIONAL_STATE
    status = mapping.get(state, "fail" if name == "short_interest" else "warn")
    if state in ("current", "upcoming") or released is None:
        return status, f"current: newest {_iso(held)}; next report {row['next_report'] or '–'}"
    if state == "suspended":
        return status, f"reports suspended upstream (a CFTC shutdown); newest {_iso(held)}"
    behind = ""
    if name == "short_interest" and held is not None and released > held:
        missed = len(cal.finra_behind(held, now))  # the rule scan's warning uses
        if missed >= 2:
            status = "fail"
        behind = f", {missed} settlement(s) behind"
    return status, (
        f"{state}: the {released} report is out and not held (newest {_iso(held)}{behind}); "
        f"{_INGEST_HINT[name]}"
    )


def _members_status(newest: date | None, settlement: date | None) -> tuple[str, str]:
    if newest is not None and settlement is not None and (settlement - newest).days > MEMBERS_MAX_AGE_DAYS:
        return "warn", (
            f"newest snapshot {newest}, {(settlement - newest).days} days before the newest settlement "
            f"{settlement}: likely out of date; {_INGEST_HINT['members']}"
        )
    return "ok", f"newest snapshot {_iso(newest)}"


def _prices_status(newest: date | None, settlement: date | None) -> tuple[str, str]:
    if newest is not None and settlement is not None and newest < settlement:
        return "warn", (
            f"newest close {newest} is before the newest settlement {settlement}: price figures are "
            f"of an earlier day; {_INGEST_HINT['prices']}"
        )
    return "ok", f"newest close {_iso(newest)}"


# ---------------------------------------------------------------- coverage (from scan's own rows)
def _scan(store_root: Path) -> tuple[list[dict[str, Any]], str | None, list[str]]:
    from positioning_cli import api

    try:
        result = api.scan(store_root)
    except NoDataError as exc:
        return [], _unrooted(store_root, exc), []
    return result.rows, None, result.warnings


def _unrooted(store_root: Path, exc: NoDataError) -> str:
    """A command's no-data message without the store path it starts with (the report names it once)."""
    return exc.message.removeprefix(f"{store_root}: ")


def _about(idx: str, warnings: Iterable[str]) -> str | None:
    return next((w for w in warnings if w.startswith(f"{idx}:")), None)


def _tracked(store_root: Path) -> set[str]:
    """The indices the store holds membership for. One it holds none for is not tracked: its
    checks warn rather than fail, so a store kept for RUT alone can pass."""
    from positioning_cli.store import Store

    store = Store(store_root)
    with store.reading() as manifest:
        listed = store.read("members", ["index"], manifest).column("index")
    return {str(i) for i in listed.unique().to_pylist()}


def _coverage_checks(
    rows: list[dict[str, Any]], error: str | None, warnings: list[str], tracked: set[str]
) -> list[Check]:
    from positioning_cli.indices import no_members

    by_index = {r["index"]: r for r in rows}
    out = []
    for idx in INDICES:
        r = by_index.get(idx)
        if r is None and idx not in tracked:
            out.append(Check("coverage", idx, "warn", no_members(idx).removeprefix(f"{idx}: ")))
            continue
        if r is None:
            why = error or _about(idx, warnings) or f"{idx}: not scanned"
            out.append(Check("coverage", idx, "fail", why.removeprefix(f"{idx}: ")))
            continue
        members, with_si, with_den = r["members"], r["members_with_si"], r["members_with_denominator"]
        pct_si = 100.0 * with_si / members if members else None
        pct_den = 100.0 * with_den / members if members else None
        said = (
            f"{with_si:,} of {members:,} with short interest, {with_den:,} with shares outstanding on "
            f"{r['settlement_date']} (membership as of {r['membership_as_of']})"
        )
        if not with_si:
            status, reason = "fail", said + ": no index figure"
        elif min(pct_si or 0.0, pct_den or 0.0) < MIN_COVERAGE_PCT:
            status, reason = "warn", said + f": under {MIN_COVERAGE_PCT:.0f}%"
        else:
            status, reason = "ok", said
        out.append(
            Check(
                "coverage",
                idx,
                status,
                reason,
                newest=_day(r["settlement_date"]),
                members=members,
                members_with_si=with_si,
                members_with_denominator=with_den,
                pct_with_si=pct_si,
                pct_with_denominator=pct_den,
            )
        )
    return out


# ---------------------------------------------------------------- proxies
def _proxy_checks(store_root: Path, today: date, settlement: date | None, tracked: set[str]) -> list[Check]:
    from positioning_cli import api
    from positioning_cli.indices import no_proxy_warning, proxy
    from positioning_cli.measures import to_date
    from positioning_cli.store import Store

    chains = api.DEFAULT_PROXIES
    store = Store(store_root)
    with store.reading() as manifest:
        # the reader scan's index view uses, so "found" here is what scan would find
        held = api._proxy_prices(store, manifest, {s for chain in chains.values() for s in chain})
    view = _Held(held)
    out = []
    for idx in INDICES:
        px = proxy(view, chains[idx])  # type: ignore[arg-type]  # only .prices is read
        if px is None:
            reason = no_proxy_warning(idx, chains[idx]).removeprefix(f"{idx}: ")
            out.append(Check("proxy", idx, "fail" if idx in tracked else "warn", reason))
            continue
        newest = to_date(px.days[-1])
        check = Check("proxy", idx, "ok", f"{px.symbol} through {newest}", newest=newest, symbol=px.symbol)
        check = _replace(check, age_days=_age(today, newest), rows=len(px.days))
        if settlement is not None and newest < settlement:
            check = _replace(
                check,
                status="warn",
                reason=f"{px.symbol} ends {newest}, before the newest settlement {settlement}; "
                f"{_INGEST_HINT['prices']} --symbol {px.symbol}",
            )
        out.append(check)
    return out


@dataclass(frozen=True)
class _Held:
    """What ``indices.proxy`` reads of an index view: the proxy prices held."""

    prices: dict[str, Any]


# ---------------------------------------------------------------- views
def _view_checks(
    store_root: Path, scan_rows: list[dict[str, Any]], scan_error: str | None, scan_warnings: list[str]
) -> list[Check]:
    from positioning_cli import api

    runs: dict[str, Callable[[], Any]] = {
        "scan --by sector": lambda: api.scan_sectors(store_root),
        "scan --by stock": lambda: api.scan_stocks(store_root, top=1),
        "summary": lambda: api.summary(store_root),
        "cot": lambda: api.cot(store_root),
        "flows": lambda: api.flows(store_root),
    }
    out = [_view_check("scan", len(scan_rows), scan_error, scan_warnings, expected=len(INDICES))]
    for name, fn in runs.items():
        try:
            result = fn()
        except NoDataError as exc:  # a damaged or busy store is not an empty view: it propagates
            out.append(_view_check(name, 0, _unrooted(store_root, exc), []))
            continue
        n = result.extra.get("ranked", len(result.rows))
        out.append(_view_check(name, n, None, result.warnings))
    return out


def _view_check(
    name: str, n: int, error: str | None, warnings: list[str], expected: int | None = None
) -> Check:
    if not n:
        status = "fail" if name in _CORE_VIEWS else "warn"
        why = error or (warnings[0] if warnings else "no rows")
        return Check("view", name, status, f"empty: {why}", rows=0)
    if expected is not None and n < expected:  # scan: an index left out says why in its warning
        missing = [w for w in warnings if any(w.startswith(f"{i}:") for i in INDICES)]
        reason = f"{n} of {expected} indices" + (f": {missing[0]}" if missing else "")
        return Check("view", name, "warn", reason, rows=n)
    note = f", {len(warnings)} warning(s) (the command prints them)" if warnings else ""
    return Check("view", name, "ok", f"{n:,} row(s){note}", rows=n)


# ---------------------------------------------------------------- helpers
def _replace(check: Check, **changes: Any) -> Check:
    from dataclasses import replace

    return replace(check, **changes)


def _day(x: Any) -> date | None:
    if x is None or isinstance(x, date):
        return x
    return date.fromisoformat(str(x))


def _iso(d: date | None) -> str:
    return d.isoformat() if d else "–"
