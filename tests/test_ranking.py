"""Ranking with nulls: rows without a score rank last in every view, and say why they have none."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from positioning_cli import measures as ms
from positioning_cli import stocks
from tests.conftest import run_cli


def test_ranking_with_nulls_rank_key_orders_unscored_last() -> None:
    rows = [("B", None), ("A", 72.3), ("C", math.nan), ("D", 80.0), ("E", 72.3), ("F", 0.0)]
    ordered = [name for name, score in sorted(rows, key=lambda r: ms.rank_key(r[1], r[0]))]
    # By hand: 80 (D), then the 72.3 tie by name (A, E), then 0 (F), then the unscored by name (B, C).
    assert ordered == ["D", "A", "E", "F", "B", "C"]


def test_ranking_with_nulls_stock_and_sector_ranks_follow_the_same_rule() -> None:
    frame = pd.DataFrame(
        {"symbol": ["ZZ", "AA", "MM", "BB"], "divergence_score": [math.nan, 50.0, 50.0, None]}
    )
    # By hand: AA and MM tie at 50 (name order), then the unscored BB, ZZ.
    assert stocks._rank(frame, "divergence_score", "symbol").tolist() == [4, 1, 2, 3]


def test_ranking_with_nulls_index_without_a_price_ranks_last(demo_store: Path) -> None:
    """RUT, first by score on the sample store, loses its price proxy: it has no score, ranks last
    (it was ranked first while the score was NaN), and both JSON and the table say why."""
    base = json.loads(run_cli("scan", "-f", "json", store=demo_store).out)["rows"]
    assert base[0]["index"] == "RUT" and base[0]["divergence_score"] is not None
    r = run_cli("scan", "--proxy", "RUT=NOPRICE", "-f", "json", store=demo_store)
    assert r.code == 0, r.err
    rows = json.loads(r.out)["rows"]
    assert [row["index"] for row in rows] == [row["index"] for row in base if row["index"] != "RUT"] + ["RUT"]
    assert [row["rank"] for row in rows] == [1, 2, 3]
    rut = rows[-1]
    assert rut["divergence_score"] is None
    assert rut["score_missing"] == "no price series for NOPRICE"
    assert all(row["score_missing"] is None for row in rows[:-1])
    table = run_cli("scan", "--proxy", "RUT=NOPRICE", "-f", "table", store=demo_store)
    assert "RUT: no score (no price series for NOPRICE)." in " ".join(table.out.split())


def test_per_index_sectors_without_index_rank_within_each_index(demo_store: Path) -> None:
    """`scan --by sector` without --index: the sectors of each index, ranked within it (never one
    pooled ranking with index null); each block equals that index's own `--index` run, and the
    table titles each block with its index."""
    r = run_cli("scan", "--by", "sector", "-f", "json", store=demo_store)
    assert r.code == 0, r.err
    rows = json.loads(r.out)["rows"]
    assert [i for i in dict.fromkeys(row["index"] for row in rows)] == ["RUT", "NDX", "SPX"]
    for idx in ("RUT", "NDX", "SPX"):
        block = [row for row in rows if row["index"] == idx]
        alone = json.loads(
            run_cli("scan", "--by", "sector", "--index", idx, "-f", "json", store=demo_store).out
        )
        assert block == alone["rows"]
        assert [row["rank"] for row in block] == list(range(1, len(block) + 1))
        # The rank is the SI percentile order (highest first, ties and nulls by the rule) in plain Python.
        by_hand = sorted(block, key=lambda row: ms.rank_key(row["si_pct_1y"], row["sector"]))
        assert by_hand == block
    table = run_cli("scan", "--by", "sector", "-f", "table", store=demo_store, env={"COLUMNS": "120"}).out
    titles = [line.split("—")[0].strip() for line in table.splitlines() if "sectors —" in line]
    assert titles == ["RUT sectors", "NDX sectors", "SPX sectors"]
