"""Release calendars against dates worked out by hand from the NYSE and federal holiday tables.

Hand work, FINRA (publication = 7th NYSE session after settlement):
- 2022-04-15 is Good Friday (NYSE closed): settlement rolls back to Thu 2022-04-14; sessions after it:
  Apr 18, 19, 20, 21, 22, 25, 26 -> published Tue 2022-04-26. 2022-04-30 is a Saturday -> Fri 04-29.
- FINRA's pinned 2026 table (data-sources.md §1.2): 03-31 -> 04-10 (Good Friday 04-03 skipped),
  05-15 -> 05-27 (Memorial Day 05-25), 08-31 -> 09-10 (Labor Day 09-07), 12-31 -> 2027-01-12
  (New Year's Day 01-01).
CFTC (release Friday 15:30 ET; a federal holiday Tue-Fri moves it to the next business day):
- 2024 delayed releases marked by CFTC: June 24 (Juneteenth Wed), July 8 (Thu July 4), Dec 2
  (Thanksgiving), Dec 30 (Christmas Wed). Labor Day week 2024 (Mon Sep 2) is not delayed: Fri Sep 6.
"""

from __future__ import annotations

from datetime import date, datetime

from positioning_cli.fetch import calendar as cal


def test_finra_good_friday_2022_rolls_back_and_publishes_seven_sessions_later() -> None:
    assert cal.finra_settlements(date(2022, 4, 1), date(2022, 4, 30)) == [
        date(2022, 4, 14),
        date(2022, 4, 29),
    ]
    assert cal.finra_publication(date(2022, 4, 14)) == date(2022, 4, 26)
    assert cal.finra_publication(date(2022, 4, 29)) == date(2022, 5, 10)  # May 2,3,4,5,6,9,10


def test_finra_2026_pinned_table() -> None:
    pinned = {
        date(2026, 3, 31): date(2026, 4, 10),
        date(2026, 5, 15): date(2026, 5, 27),
        date(2026, 8, 31): date(2026, 9, 10),
        date(2026, 12, 31): date(2027, 1, 12),
    }
    for settlement, publication in pinned.items():
        assert cal.finra_publication(settlement) == publication, settlement


def test_finra_2026_settlement_dates_roll_weekends_back() -> None:
    got = cal.finra_settlements(date(2026, 1, 1), date(2026, 12, 31))
    # 15ths on weekends: Feb 15 (Sun) -> 13, Mar 15 (Sun) -> 13, Aug 15 (Sat) -> 14, Nov 15 (Sun) -> 13;
    # month ends on weekends: Jan 31 (Sat) -> 30, Feb 28 (Sat) -> 27, May 31 (Sun) -> 29, Oct 31 (Sat) -> 30.
    assert len(got) == 24
    for d in (date(2026, 2, 13), date(2026, 3, 13), date(2026, 8, 14), date(2026, 11, 13)):
        assert d in got
    for d in (date(2026, 1, 30), date(2026, 2, 27), date(2026, 5, 29), date(2026, 10, 30)):
        assert d in got
    assert all(d.weekday() < 5 for d in got)


def test_finra_states_over_time() -> None:
    e = cal.finra_expected(date(2026, 10, 30))  # published Tue 2026-11-10 (Nov 2..6, 9, 10)
    assert e.release == datetime(2026, 11, 10, 16, tzinfo=cal.ET)
    assert e.late_after == datetime(2026, 11, 11, 16, tzinfo=cal.ET)  # Veterans Day: NYSE open
    assert e.missing_after == datetime(2026, 11, 17, 16, tzinfo=cal.ET)  # Nov 11, 12, 13, 16, 17
    at = lambda *a: datetime(*a, tzinfo=cal.ET)  # noqa: E731
    assert e.state(False, at(2026, 11, 10, 15, 59)) == "upcoming"
    assert e.state(False, at(2026, 11, 10, 16, 0)) == "due"
    assert e.state(False, at(2026, 11, 11, 16, 0)) == "late"
    assert e.state(False, at(2026, 11, 17, 16, 0)) == "missing"
    assert e.state(True, at(2026, 11, 17, 16, 0)) == "current"


def test_cftc_2024_holiday_delays() -> None:
    release = {
        t: cal.cftc_expected(t).release.date()
        for t in (
            date(2024, 6, 18),
            date(2024, 7, 2),
            date(2024, 11, 26),
            date(2024, 12, 24),
            date(2024, 9, 3),
        )
    }
    assert release == {
        date(2024, 6, 18): date(2024, 6, 24),
        date(2024, 7, 2): date(2024, 7, 8),
        date(2024, 11, 26): date(2024, 12, 2),
        date(2024, 12, 24): date(2024, 12, 30),
        date(2024, 9, 3): date(2024, 9, 6),
    }
    e = cal.cftc_expected(date(2024, 9, 3))
    assert (e.release.hour, e.release.minute) == (15, 30)
    assert e.late_after == datetime(2024, 9, 9, 12, tzinfo=cal.ET)  # the Monday after


def test_cftc_tuesday_holiday_uses_monday_data_and_shutdown_suspends() -> None:
    e = cal.cftc_expected(date(2018, 12, 25))  # Christmas on a Tuesday, inside the 2018-19 shutdown
    assert e.key == date(2018, 12, 24)
    assert e.suspended
    assert e.state(False, datetime(2019, 2, 1, tzinfo=cal.ET)) == "suspended"
    assert not cal.cftc_expected(date(2026, 2, 3)).suspended  # after the 2025 catch-up ended 01-23


def test_cftc_2026_veterans_day_week_moves_to_monday() -> None:
    # Wed 2026-11-11 is a federal holiday (NYSE open): the Nov 10 report comes out Mon Nov 16.
    e = cal.cftc_expected(date(2026, 11, 10))
    assert e.release == datetime(2026, 11, 16, 15, 30, tzinfo=cal.ET)
    assert e.late_after == datetime(2026, 11, 17, 12, tzinfo=cal.ET)
