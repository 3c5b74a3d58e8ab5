"""Minimum observations for a window percentile: half of a full window at the series' cadence.

Below it the percentile is null with a reason (one or two reports used to print "100th percentile").
"""

from __future__ import annotations

import json
import math
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from positioning_cli import futures
from positioning_cli import measures as ms
from tests.conftest import SAMPLE
from tests.test_store_hostile import cli


def test_minimum_observations_per_window() -> None:
    # By hand: half of 24 reports a year, of 24 × 5, of 252 closes, of 52 weekly reports (× 3).
    assert ms.min_observations(365, ms.SI_REPORTS_PER_YEAR) == 12
    assert ms.min_observations(5 * 365, ms.SI_REPORTS_PER_YEAR) == 60
    assert ms.min_observations(None, ms.SI_REPORTS_PER_YEAR) == 12
    assert ms.min_observations(365, ms.PRICE_CLOSES_PER_YEAR) == 126
    assert ms.min_observations(365, futures.COT_REPORTS_PER_YEAR) == 26
    assert ms.min_observations(3 * 365, futures.COT_REPORTS_PER_YEAR) == 78


def _semi_monthly(n: int, end: date) -> tuple[list[date], list[float]]:
    days = [end - timedelta(days=15 * i) for i in reversed(range(n))]
    values = [float((7 * i) % 11) for i in range(n)]  # not sorted, so the percentile is not trivially 100
    return days, values


@pytest.mark.parametrize("n", [1, 2, 11])
def test_minimum_observations_below_the_minimum_is_null_with_a_reason(n: int) -> None:
    end = date(2026, 10, 30)
    days, values = _semi_monthly(n, end)
    p = ms.percentile(days, values, end, 365)
    assert math.isnan(p.value)
    assert p.n_obs == n
    assert p.missing == f"{n} observations in the window, fewer than the 12 required"


def test_minimum_observations_at_the_minimum_is_computed() -> None:
    end = date(2026, 10, 30)
    days, values = _semi_monthly(12, end)
    p = ms.percentile(days, values, end, 365)
    today = values[-1]
    assert p.missing is None
    assert p.value == pytest.approx(100.0 * sum(v <= today for v in values) / 12)


def test_minimum_observations_price_percentile() -> None:
    end = date(2026, 10, 30)
    closes = [100.0 + ((i * 37) % 53) for i in range(130)]
    days = [end - timedelta(days=len(closes) - 1 - i) for i in range(len(closes))]  # daily, within a year
    short = ms.price_percentile(days[-125:], closes[-125:], end, 365)
    assert math.isnan(short.value) and short.missing is not None and "126 required" in short.missing
    full = ms.price_percentile(days[-126:], closes[-126:], end, 365)
    window = closes[-126:]
    assert full.value == pytest.approx(100.0 * sum(c <= window[-1] for c in window) / 126)


def test_minimum_observations_futures_percentile() -> None:
    days = np.arange(20, dtype=np.int64) * 7  # 20 weekly reports
    nets = np.arange(20, dtype=np.float64)
    p = futures._percentile(days, nets, float(nets[-1]), int(days[-1]), 365)
    assert p.n_obs == 20 and math.isnan(p.pct)
    days = np.arange(26, dtype=np.int64) * 7
    nets = np.arange(26, dtype=np.float64)
    assert futures._percentile(days, nets, float(nets[-1]), int(days[-1]), 365).pct == 100.0


@pytest.fixture(scope="module")
def two_reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Members, prices and only two FINRA files."""
    store = tmp_path_factory.mktemp("two") / "store"
    prices = sorted(p for p in (SAMPLE / "prices").iterdir() if p.is_file())
    si = sorted((SAMPLE / "short_interest").iterdir())[-2:]
    for kind, paths in (("members", [SAMPLE / "members"]), ("prices", prices), ("short-interest", si)):
        r = cli("ingest", kind, *map(str, paths), store=store)
        assert r.code == 0, r.err
    return store


def test_minimum_observations_two_reports_scan_says_why(two_reports: Path) -> None:
    r = cli("scan", "-f", "json", store=two_reports)
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    for row in doc["rows"]:
        assert row["si_pct_1y_obs"] == 2 and row["si_pct_1y"] is None and row["si_pct_5y"] is None
        assert row["divergence_score"] is None
        assert (
            row["score_missing"]
            == "1Y SI percentile: 2 observations in the window, fewer than the 12 required"
        )
    assert any(
        w.endswith("1Y SI percentile null: 2 observations in the window, fewer than the 12 required")
        for w in doc["warnings"]
    )


def test_minimum_observations_two_reports_stocks_and_sectors(two_reports: Path) -> None:
    stocks = json.loads(cli("scan", "--by", "stock", "--top", "0", "-f", "json", store=two_reports).out)[
        "rows"
    ]
    assert stocks and all(r["si_pct_1y"] is None and r["si_pct_1y_obs"] <= 2 for r in stocks)
    assert all("fewer than the 12 required" in r["score_missing"] for r in stocks)
    sectors = json.loads(cli("scan", "--by", "sector", "--index", "RUT", "-f", "json", store=two_reports).out)
    assert all(r["si_pct_1y"] is None for r in sectors["rows"])
