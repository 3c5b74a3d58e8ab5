"""Like-for-like SI changes across a reconstitution (issue 11): an index's or sector's change of total
short interest compares the same constituents on both dates (the members of the snapshot used for d
with an SI row on both dates, split-flagged symbols left out), while levels keep each date's own
membership. Every expected number is worked by hand below.

The hand-made store: two reports, 2026-06-15 (base) and 2026-06-30 (d), and two membership snapshots.

    snapshot     members (sector)                                  used for
    2026-01-02   AAA (IT), BBB (IT)                                2026-06-15
    2026-06-20   AAA (IT), CCC (IT), DDD (Financials)              2026-06-30

    SI           AAA   BBB   CCC   DDD
    2026-06-15   100    50    30     -
    2026-06-30   120    70    60    40

Levels (own membership): 100 + 50 = 150 on the base, 120 + 60 + 40 = 220 on d, so the change of the
level would be 220 / 150 − 1 = +46.7%. Like for like over d's constituents with a row on both dates
(AAA, CCC; DDD has no base row): 180 / 130 − 1 = +38.5%.
"""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from positioning_cli import measures as ms
from tests.conftest import run_cli
from tests.test_scan_handmade import HEADER

BASE, D = "2026-06-15", "2026-06-30"
SI = {BASE: {"AAA": 100, "BBB": 50, "CCC": 30}, D: {"AAA": 120, "BBB": 70, "CCC": 60, "DDD": 40}}
OLD = [("AAA", "Information Technology"), ("BBB", "Information Technology")]
NEW = [("AAA", "Information Technology"), ("CCC", "Information Technology"), ("DDD", "Financials")]
LIKE_FOR_LIKE = (120 + 60) / (100 + 30) - 1
OWN_MEMBERSHIP = (120 + 60 + 40) / (100 + 50) - 1
BEFORE_RECONSTITUTION = (120 + 70) / (100 + 50) - 1  # d's constituents were AAA, BBB then


def _members_file(path: Path, as_of: str, rows: list[tuple[str, str]]) -> Path:
    path.write_text(
        "index,as_of,symbol,name,sector,shares_outstanding,float_shares,weight\n"
        + "".join(f"RUT,{as_of},{s},{s} Corp,{sector},1000000,,1\n" for s, sector in rows)
    )
    return path


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The store, and a time after the SI and the first snapshot but before the second snapshot."""
    base = tmp_path_factory.mktemp("lfl")
    si_dir = base / "si"
    si_dir.mkdir()
    for d, rows in SI.items():
        lines = [HEADER] + [
            f"{d.replace('-', '')}|{sym}|{sym} Corp|A|NNM|{si}|0||100|1.00||0|0|{d}"
            for sym, si in rows.items()
        ]
        (si_dir / f"shrt{d.replace('-', '')}.csv").write_text("\n".join(lines) + "\n")
    store = base / "store"
    old = _members_file(base / "old.csv", "2026-01-02", OLD)
    for args in (("members", str(old)), ("short-interest", str(si_dir))):
        r = run_cli("ingest", *args, store=store)
        assert r.code == 0, r.err
    time.sleep(1.1)  # ingest times are whole seconds
    between = datetime.now(UTC).replace(microsecond=0).isoformat()
    time.sleep(1.1)
    r = run_cli("ingest", "members", str(_members_file(base / "new.csv", "2026-06-20", NEW)), store=store)
    assert r.code == 0, r.err
    return store, between


def _json(store: Path, *args: str) -> dict:
    r = run_cli(*args, "-f", "json", store=store)
    assert r.code == 0, r.err
    return json.loads(r.out)


def test_rule_by_hand() -> None:
    """measures.like_for_like on plain lists: constituents AAA, CCC, DDD, EEE; EEE split-flagged."""
    got = ms.like_for_like(
        ["AAA", "CCC", "DDD", "EEE"],
        ["AAA", "BBB", "CCC", "DDD", "EEE"],
        [120.0, 70.0, 60.0, 40.0, 500.0],
        ["AAA", "BBB", "CCC", "EEE"],
        [100.0, 50.0, 30.0, 250.0],
        ["EEE"],
    )
    assert sorted(got.keys.tolist()) == ["AAA", "CCC"]
    assert got.value == pytest.approx(LIKE_FOR_LIKE)
    assert got.split.tolist() == ["EEE"] and got.unmatched.tolist() == ["DDD"]
    it = got.subset(["AAA", "EEE"])  # a sector of AAA and EEE: AAA alone, 120 / 100 − 1
    assert it.value == pytest.approx(0.2) and it.split.tolist() == ["EEE"] and len(it.unmatched) == 0
    # A missing number is no row; nothing compared is no change
    none = ms.like_for_like(["AAA"], ["AAA"], [np.nan], ["AAA"], [1.0], [])
    assert math.isnan(none.value) and none.unmatched.tolist() == ["AAA"]


def test_index_change_is_like_for_like_and_levels_keep_own_membership(staged: tuple[Path, str]) -> None:
    store, _ = staged
    row = _json(store, "scan", "--index", "RUT")["rows"][0]
    assert (row["membership_as_of"], row["members"], row["members_with_si"]) == ("2026-06-20", 3, 3)
    assert row["total_si_shares"] == 220  # the level: d's own members
    assert row["si_change_last"] == pytest.approx(LIKE_FOR_LIKE)
    assert row["si_change_last"] != pytest.approx(OWN_MEMBERSHIP)
    assert (row["si_change_compared_last"], row["si_change_excluded_last"]) == (2, 1)  # DDD: no base row
    assert (row["si_change_basis"], row["si_level_basis"]) == ("like_for_like", "own_membership")
    assert row["si_change_ytd"] is None and row["si_change_compared_ytd"] is None
    history = _json(store, "history", "--index", "RUT")["rows"]
    assert [(h["settlement_date"], h["value"]) for h in history] == [(BASE, 150), (D, 220)]


def test_summary_says_like_for_like(staged: tuple[Path, str]) -> None:
    store, _ = staged
    doc = _json(store, "summary", "--index", "RUT", "--explain")
    rows = {r["metric"]: r for r in doc["rows"]}
    total = rows["total_si_shares"]
    assert total["change_last"] == pytest.approx(LIKE_FOR_LIKE) and total["change_basis"] == "like_for_like"
    assert rows["median_si_pct_so"]["change_basis"] == "own_membership"
    assert (
        "over the same 2 constituents (members as of 2026-06-20 with a row on both dates" in total["explain"]
    )
    assert (
        f"Over today's constituents it is {LIKE_FOR_LIKE * 100:+.1f}% since the last report."
        in doc["text"]["RUT"]
    )


def test_sector_change_is_like_for_like(staged: tuple[Path, str]) -> None:
    store, _ = staged
    rows = {r["sector"]: r for r in _json(store, "scan", "--by", "sector", "--index", "RUT")["rows"]}
    it, fin = rows["Information Technology"], rows["Financials"]
    assert it["total_si_shares"] == 180 and it["si_change_last"] == pytest.approx(LIKE_FOR_LIKE)
    assert (it["si_change_compared_last"], it["si_change_excluded_last"]) == (2, 0)
    # Financials: DDD alone, no base row: nothing to compare (an own-membership change would be 40 / 0)
    assert fin["si_change_last"] is None
    assert (fin["si_change_compared_last"], fin["si_change_excluded_last"]) == (0, 1)
    assert it["si_change_basis"] == "like_for_like" and it["si_level_basis"] == "own_membership"


def test_known_at_compares_the_constituents_known_then(staged: tuple[Path, str]) -> None:
    """Before the 2026-06-20 snapshot was ingested, d's constituents were AAA and BBB."""
    store, between = staged
    row = _json(store, "scan", "--index", "RUT", "--known-at", between)["rows"][0]
    assert row["membership_as_of"] == "2026-01-02" and row["total_si_shares"] == 190
    assert row["si_change_last"] == pytest.approx(BEFORE_RECONSTITUTION)
    assert (row["si_change_compared_last"], row["si_change_excluded_last"]) == (2, 0)
    sectors = _json(store, "scan", "--by", "sector", "--index", "RUT", "--known-at", between)["rows"]
    assert [(s["sector"], s["si_change_last"]) for s in sectors] == [
        ("Information Technology", pytest.approx(BEFORE_RECONSTITUTION))
    ]
