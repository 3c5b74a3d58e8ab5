"""A long ingest is merged and staged in steps (bounded memory) yet stays one atomic commit.

The step size must never show in the result: the live tables, the lineage and the ``_versions``
history are the same whether the files are merged one at a time or all at once, including when a
later file in the same run revises a partition an earlier step already staged.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from positioning_cli import api
from positioning_cli.errors import InputError
from positioning_cli.schema import SHORT_INTEREST
from positioning_cli.store import STAGING, VERSIONS, Store
from tests.conftest import store_bytes
from tests.store_helpers import write_finra_files
from tests.test_store import batch

LIVE_COLS = [c for c in SHORT_INTEREST.schema.names if c != "ingested_at"]


def live_rows(root: Path) -> list[dict]:
    return Store(root).read("short_interest", LIVE_COLS).to_pylist()


def version_rows(root: Path) -> list[tuple]:
    """Every kept version as (key, value, flag, source, seq), whatever file or row group holds it."""
    cols = ["settlement_date", "symbol", "short_interest", "revision_flag", "source_file", "seq"]
    out = [tuple(r.values()) for r in Store(root).versions("short_interest", cols).to_pylist()]
    return sorted(out)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Six dates of 300 symbols, then revisions of three of those dates later in the same run."""
    root = tmp_path_factory.mktemp("finra")
    first = write_finra_files(root / "a", 6, 300, seed=1)
    revised = write_finra_files(root / "b", 3, 300, seed=2, revise=0.3)
    for p in revised:  # distinct names, so lineage shows which file won
        p.rename(p.with_name("revised-" + p.name))
    return first + sorted((root / "b").iterdir())


@pytest.mark.parametrize("step_rows", [1, 700])
def test_steps_do_not_change_the_result(
    tmp_path: Path, files: list[Path], step_rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = tmp_path / "one-step"
    api.ingest("short-interest", files, one)
    monkeypatch.setattr(api, "MERGE_STEP_ROWS", step_rows)
    steps = tmp_path / "steps"
    reports = api.ingest("short-interest", files, steps)
    assert live_rows(steps) == live_rows(one)
    assert version_rows(steps) == version_rows(one)
    assert [(r.path, r.rows, r.changed) for r in reports] == [
        (r.path, r.rows, r.changed) for r in api.ingest("short-interest", files, tmp_path / "again")
    ]
    assert not (steps / STAGING).exists()
    # the revised files won their dates, and the point-in-time replay agrees with the live table
    assert {r["source_file"] for r in live_rows(steps) if r["revision_flag"]} <= {
        p.name for p in files if p.name.startswith("revised-")
    }
    replay = Store(steps).read("short_interest", LIVE_COLS, known_at=datetime.now(UTC))
    assert replay.to_pylist() == live_rows(steps)


def test_a_bad_file_after_several_steps_leaves_the_store_as_it_was(
    tmp_path: Path, files: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "store"
    api.ingest("short-interest", files[:2], store)
    before = store_bytes(store)
    bad = tmp_path / "shrt20991231.csv"
    bad.write_text(files[0].read_text().replace("|OTC|", "|OTC|-", 1))  # a negative count
    monkeypatch.setattr(api, "MERGE_STEP_ROWS", 1)
    with pytest.raises(InputError, match="shrt20991231.csv"):
        api.ingest("short-interest", [*files, bad], store)
    assert store_bytes(store) == before
    assert not (store / STAGING).exists()


D = [date(2026, 1, 15), date(2026, 1, 30), date(2025, 12, 31)]
rows_strategy = st.lists(
    st.tuples(
        st.sampled_from(D), st.sampled_from(["AAA", "BBB", "CCC", "DDD"]), st.integers(0, 50), st.booleans()
    ),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.lists(rows_strategy, min_size=1, max_size=6), st.randoms(use_true_random=False))
def test_spilling_between_merges_is_invisible(tmp_path_factory, batches_rows, rnd: random.Random) -> None:
    """Writer property: merging in any grouping, spilling staged files between groups, gives the
    same live table and the same versions as one merge of everything."""
    batches = [batch(f"f{i}.csv", rows) for i, rows in enumerate(batches_rows)]
    root = tmp_path_factory.mktemp("prop")
    with Store(root / "whole").writing(wait=1) as w:
        w.merge_many(SHORT_INTEREST, batches)
    with Store(root / "grouped").writing(wait=1) as w:
        i = 0
        while i < len(batches):
            n = rnd.randint(1, len(batches) - i)
            w.merge_many(SHORT_INTEREST, batches[i : i + n])
            if rnd.random() < 0.7:
                w.spill()
            i += n
    assert live_rows(root / "grouped") == live_rows(root / "whole")
    assert version_rows(root / "grouped") == version_rows(root / "whole")
    assert sorted(p.name for p in (root / "grouped" / VERSIONS).rglob("*.parquet")) == sorted(
        p.name for p in (root / "whole" / VERSIONS).rglob("*.parquet")
    )
