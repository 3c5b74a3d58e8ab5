"""Release calendars: which report each source owes, when it is out, and when its absence is late.

Business days are NYSE sessions from exchange-calendars (XNYS), never a hand-kept holiday list;
CFTC's delays follow US federal holidays (pandas' ``USFederalHolidayCalendar``). Rules, from
``reference/data-sources.md`` §1.2, §3.5 and §8.2:

FINRA short interest
    Settlement dates: the 15th and the month's last day, each rolled back to the previous NYSE
    session (2022-04-15, Good Friday, -> 2022-04-14). Published on the 7th session after the
    settlement date, in the evening: expected from 16:00 ET, late from 16:00 ET one session
    later, missing (published by rule but not obtainable) five sessions after publication.
CFTC TFF
    Positions as of Tuesday (Monday when Tuesday is a federal holiday), released Friday 15:30 ET;
    a federal holiday between Tuesday and Friday moves the release to the next federal business
    day after Friday. Late from 12:00 ET on the next business day (Monday for a Friday release), missing a week after it.
    During a government shutdown and its catch-up the report is ``suspended``.

States of one report: ``current`` (held), ``upcoming`` (not out yet), ``due`` (out by rule, not held
yet), ``late``, ``missing``, ``suspended``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    import pandas as pd

ET = ZoneInfo("America/New_York")
FIRST_SESSION = date(2000, 1, 3)
# Calendars are built to this far ahead; beyond it a date is an error rather than a silent guess.
LAST_YEAR = 2035

# CFTC reports stop in a federal government shutdown and resume on a catch-up schedule
# (data-sources.md §3.5): from the first missed release to the end of the catch-up.
CFTC_SUSPENSIONS: tuple[tuple[date, date], ...] = (
    (date(2018, 12, 28), date(2019, 3, 8)),
    (date(2025, 10, 3), date(2026, 1, 23)),
)
STATES = ("current", "upcoming", "due", "suspended", "late", "missing")
SEVERITY = {s: i for i, s in enumerate(STATES)}


def now_et() -> datetime:
    """The current time in New York; ``POSITIONING_NOW`` (ISO, UTC if naive) pins it for replays and tests."""
    from positioning_cli.errors import UsageError

    pinned = os.environ.get("POSITIONING_NOW")
    if pinned:
        try:
            t = datetime.fromisoformat(pinned)
        except ValueError:
            raise UsageError(f"POSITIONING_NOW {pinned!r}: expected an ISO date-time") from None
        t = t if t.tzinfo else t.replace(tzinfo=UTC)
    else:
        t = datetime.now(UTC)
    return t.astimezone(ET)


@dataclass(frozen=True)
class Expected:
    """One report a source owes: its key date and the times its state changes (ET, aware)."""

    key: date
    release: datetime
    late_after: datetime
    missing_after: datetime
    suspended: bool = False

    def state(self, held: bool, now: datetime) -> str:
        if held:
            return "current"
        if now < self.release:
            return "upcoming"
        if self.suspended:
            return "suspended"
        if now < self.late_after:
            return "due"
        if now < self.missing_after:
            return "late"
        return "missing"


@functools.cache
def _sessions() -> pd.DatetimeIndex:
    import warnings

    import exchange_calendars as xcals

    with warnings.catch_warnings():  # pandas deprecation noise from inside exchange-calendars
        warnings.simplefilter("ignore")
        cal = xcals.get_calendar("XNYS", start=FIRST_SESSION.isoformat(), end=f"{LAST_YEAR}-12-31")
        return cal.sessions


@functools.cache
def early_closes() -> dict[date, time]:
    """NYSE sessions that close before 16:00 (the day before Independence Day, after Thanksgiving,
    Christmas Eve...), with their close in New York time, from FIRST_SESSION to LAST_YEAR."""
    import warnings

    import exchange_calendars as xcals

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cal = xcals.get_calendar("XNYS", start=FIRST_SESSION.isoformat(), end=f"{LAST_YEAR}-12-31")
        closes = cal.schedule.loc[cal.early_closes, "close"].dt.tz_convert(ET)
    return {d.date(): c.time() for d, c in closes.items()}


@functools.cache
def _session_ordinals() -> tuple[int, ...]:
    return tuple(d.toordinal() for d in _sessions().date)


def _check(d: date) -> None:
    if not FIRST_SESSION <= d <= date(LAST_YEAR, 12, 31):
        raise ValueError(f"{d}: outside the calendar ({FIRST_SESSION} to {LAST_YEAR}-12-31)")


def is_session(d: date) -> bool:
    import bisect

    _check(d)
    s = _session_ordinals()
    i = bisect.bisect_left(s, d.toordinal())
    return i < len(s) and s[i] == d.toordinal()


def session_on_or_before(d: date) -> date:
    import bisect

    _check(d)
    s = _session_ordinals()
    return date.fromordinal(s[bisect.bisect_right(s, d.toordinal()) - 1])


def add_sessions(d: date, n: int) -> date:
    """The ``n``-th NYSE session after ``d`` (``d`` itself need not be a session)."""
    import bisect

    _check(d)
    s = _session_ordinals()
    return date.fromordinal(s[bisect.bisect_right(s, d.toordinal()) + n - 1])


def _at(d: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(d, time(hh, mm), tzinfo=ET)


# ------------------------------------------------------------------ FINRA short interest
def _month_end(y: int, m: int) -> date:
    return (date(y + (m == 12), m % 12 + 1, 1)) - timedelta(days=1)


def finra_settlements(start: date, end: date) -> list[date]:
    """FINRA settlement dates in [start, end]: the 15th and month end, rolled back to a session."""
    out: list[date] = []
    y, m = start.year, start.month
    while date(y, m, 1) <= end:
        for d in (date(y, m, 15), _month_end(y, m)):
            s = session_on_or_before(d)
            if start <= s <= end:
                out.append(s)
        y, m = y + (m == 12), m % 12 + 1
    return out


def finra_publication(settlement: date) -> date:
    """Publication day: the 7th NYSE session after the settlement date (FINRA's published rule)."""
    return add_sessions(settlement, 7)


def finra_expected(settlement: date) -> Expected:
    pub = finra_publication(settlement)
    return Expected(settlement, _at(pub, 16), _at(add_sessions(pub, 1), 16), _at(add_sessions(pub, 5), 16))


def finra_behind(newest_held: date, now: datetime) -> list[date]:
    """The settlement dates FINRA has published by ``now`` after ``newest_held`` (oldest first)."""
    if newest_held < FIRST_SESSION:
        newest_held = FIRST_SESSION
    until = min(now.date(), date(LAST_YEAR, 12, 31))
    return [
        d
        for d in finra_settlements(newest_held + timedelta(days=1), until)
        if finra_expected(d).release <= now
    ]


# ------------------------------------------------------------------ FINRA Reg SHO daily short volume
def regsho_expected(session: date) -> Expected:
    """FINRA posts a session's short-sale volume files by 18:00 ET the same day; late from the next
    session's 18:00, missing five sessions on."""
    return Expected(
        session, _at(session, 18), _at(add_sessions(session, 1), 18), _at(add_sessions(session, 5), 18)
    )


def sessions_between(start: date, end: date) -> list[date]:
    """NYSE sessions in [start, end]."""
    out, d = [], session_on_or_before(end)
    while d >= start:
        out.append(d)
        d = session_on_or_before(d - timedelta(days=1))
    return out[::-1]


# ------------------------------------------------------------------ CFTC TFF
@functools.cache
def _federal_holidays() -> frozenset[date]:
    from pandas.tseries.holiday import USFederalHolidayCalendar

    days = USFederalHolidayCalendar().holidays(start="1999-01-01", end=f"{LAST_YEAR}-12-31")
    return frozenset(days.date)


def _federal_business_day(d: date) -> bool:
    return d.weekday() < 5 and d not in _federal_holidays()


def cftc_expected(week_tuesday: date) -> Expected:
    """The report for the week holding ``week_tuesday`` (a Tuesday)."""
    holidays = _federal_holidays()
    key = week_tuesday - timedelta(days=1) if week_tuesday in holidays else week_tuesday
    friday = week_tuesday + timedelta(days=3)
    release_day = friday
    if any(week_tuesday + timedelta(days=i) in holidays for i in range(4)):
        release_day = friday + timedelta(days=1)
        while not _federal_business_day(release_day):
            release_day += timedelta(days=1)
    late_day = release_day + timedelta(days=1)
    while not _federal_business_day(late_day):  # Monday after a Friday release
        late_day += timedelta(days=1)
    suspended = any(a <= release_day <= b for a, b in CFTC_SUSPENSIONS)
    return Expected(
        key,
        _at(release_day, 15, 30),
        _at(late_day, 12),
        _at(release_day + timedelta(days=7), 15, 30),
        suspended,
    )


def cftc_weeks(start: date, end: date) -> Iterator[Expected]:
    """Every weekly report whose Tuesday falls in [start, end]."""
    d = start + timedelta(days=(1 - start.weekday()) % 7)
    while d <= end:
        yield cftc_expected(d)
        d += timedelta(days=7)


# ------------------------------------------------------------------ per source
def latest_released(expected: list[Expected], now: datetime) -> Expected | None:
    out = [e for e in expected if e.release <= now]
    return out[-1] if out else None


def next_expected(expected: list[Expected], now: datetime) -> Expected | None:
    return next((e for e in expected if e.release > now), None)


def worst(states: list[str]) -> str:
    return max(states, key=SEVERITY.__getitem__) if states else "current"
