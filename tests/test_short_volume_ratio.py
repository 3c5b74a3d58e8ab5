"""Short-volume ratio (analytics/sql/short_volume.sql) against a hand-worked case and a plain-Python oracle."""

from __future__ import annotations

import random
import statistics
from datetime import date, timedelta

import pyarrow as pa
import pytest

from positioning_cli.analytics.short_volume import series, stats

D = date.fromisoformat


def volume_table(rows: list[tuple[date, str, str, float, float]]) -> pa.Table:
    return pa.table(
        {
            "date": pa.array([r[0] for r in rows], pa.date32()),
            "symbol": [r[1] for r in rows],
            "facility": [r[2] for r in rows],
            "short_volume": pa.array([r[3] for r in rows], pa.float64()),
            "total_volume": pa.array([r[4] for r in rows], pa.float64()),
        }
    )


def members_table(rows: list[tuple[str, date, str]]) -> pa.Table:
    return pa.table(
        {
            "index": [r[0] for r in rows],
            "as_of": pa.array([r[1] for r in rows], pa.date32()),
            "symbol": [r[2] for r in rows],
        }
    )


def test_hand_worked_consolidated_preferred_facilities_once() -> None:
    day1, day2 = D("2026-08-13"), D("2026-08-14")
    volume = volume_table(
        [
            # day 1 has the consolidated file: the facility rows and exchange rows must not count
            (day1, "AAA", "CNMS", 40, 100),
            (day1, "AAA", "FNSQ", 30, 70),
            (day1, "AAA", "NYSE", 1000, 1000),
            (day1, "BBB", "CNMS", 10, 100),
            (day1, "ZZZ", "CNMS", 99, 100),  # not a member
            # day 2 has only facility files: they add up; FORF (OTC) is added either way
            (day2, "AAA", "FNSQ", 30, 60),
            (day2, "AAA", "FNYX", 10, 40),
            (day2, "BBB", "FNQC", 5, 100),
            (day2, "BBB", "FORF", 5, 50),
            (day2, "AAA", "ARCA", 500, 500),
        ]
    )
    members = members_table([("NDX", D("2026-01-02"), "AAA"), ("NDX", D("2026-01-02"), "BBB")])
    days = series(volume, members, day1, day2)
    assert [(r.date, r.ratio) for r in days] == [(day1, 50 / 200), (day2, 50 / 250)]
    (ndx,) = stats(volume, members, day2, kind="index")
    assert (ndx.key, ndx.date, ndx.short, ndx.total, ndx.members_with_volume) == ("NDX", day2, 50, 250, 2)
    # 0.20 after 0.25: one of the two days is <= today; z = (0.20 - 0.225) / stdev(0.25, 0.20)
    assert ndx.avg_5d is None and ndx.pct_1y == 50.0 and ndx.pct_1y_obs == 2 and not ndx.pct_1y_complete
    assert ndx.z_1y == pytest.approx(-0.025 / statistics.stdev([0.25, 0.20]))
    stocks = {s.key: s for s in stats(volume, members, day1, kind="stock")}
    assert stocks["AAA"].ratio == 0.4 and stocks["ZZZ"].ratio == 0.99
    # as_of picks the latest day held on or before it
    (ndx1,) = stats(volume, members, day1, kind="index")
    assert ndx1.date == day1 and ndx1.ratio == 0.25


def _oracle(volume_rows, members_rows, index: str):
    """Plain Python: per day the FINRA rows (CNMS if the day has it, else the facilities; FORF always),
    summed over the members of the latest snapshot on or before the day (else the earliest)."""
    by_day: dict[date, list] = {}
    for r in volume_rows:
        by_day.setdefault(r[0], []).append(r)
    snaps = sorted({a for i, a, _ in members_rows if i == index})
    out = {}
    for day in sorted(by_day):
        rows = by_day[day]
        has_cnms = any(f == "CNMS" for _, _, f, _, _ in rows)
        use = {"CNMS", "FORF"} if has_cnms else {"FNQC", "FNRA", "FNSQ", "FNYX", "FORF"}
        before = [a for a in snaps if a <= day]
        snap = before[-1] if before else snaps[0]
        names = {s for i, a, s in members_rows if i == index and a == snap}
        short = sum(r[3] for r in rows if r[2] in use and r[1] in names)
        total = sum(r[4] for r in rows if r[2] in use and r[1] in names)
        out[day] = short / total if total else None
    return out


def test_averages_percentile_z_against_plain_python() -> None:
    rng = random.Random(7)
    start = D("2025-01-02")
    days = [start + timedelta(days=i) for i in range(520) if (start + timedelta(days=i)).weekday() < 5]
    rows = []
    for day in days:
        consolidated = rng.random() < 0.7
        for sym in ("AAA", "BBB", "CCC"):
            parts = [(f, rng.uniform(10, 60), rng.uniform(100, 200)) for f in ("FNQC", "FNSQ", "FNYX")]
            if consolidated:
                rows.append((day, sym, "CNMS", sum(p[1] for p in parts), sum(p[2] for p in parts)))
                rows.append((day, sym, "FNSQ", 1.0, 1000.0))  # would skew the ratio if counted
            else:
                rows += [(day, sym, f, s, t) for f, s, t in parts]
            rows.append((day, sym, "NYSE", 900.0, 1000.0))
    members_rows = [("RUT", D("2025-01-01"), "AAA"), ("RUT", D("2025-01-01"), "BBB")]
    members_rows += [("RUT", D("2025-09-01"), "AAA"), ("RUT", D("2025-09-01"), "CCC")]
    expected = _oracle(rows, members_rows, "RUT")
    volume, members = volume_table(rows), members_table(members_rows)

    as_of = days[-3]
    (got,) = stats(volume, members, as_of, kind="index")
    held = [d for d in sorted(expected) if d <= as_of]
    ratios = [expected[d] for d in held]
    assert got.date == as_of
    assert got.ratio == pytest.approx(ratios[-1], rel=1e-12)
    assert got.avg_5d == pytest.approx(sum(ratios[-5:]) / 5, rel=1e-12)
    assert got.avg_20d == pytest.approx(sum(ratios[-20:]) / 20, rel=1e-12)
    year = [expected[d] for d in held if d > as_of - timedelta(days=365)]
    assert got.pct_1y_obs == len(year)
    assert got.pct_1y == pytest.approx(100 * sum(x <= ratios[-1] for x in year) / len(year))
    assert got.z_1y == pytest.approx((ratios[-1] - statistics.mean(year)) / statistics.stdev(year), rel=1e-9)
    assert got.pct_1y_complete

    window = series(volume, members, days[-30], as_of)
    assert [r.date for r in window] == [d for d in held if d >= days[-30]]
    for r in window:
        i = held.index(r.date)
        assert r.ratio == pytest.approx(expected[r.date], rel=1e-12)
        assert r.avg_5d == pytest.approx(sum(ratios[i - 4 : i + 1]) / 5, rel=1e-12)
