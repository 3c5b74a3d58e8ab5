"""Revisions and point in time: every version is kept in _versions; read(known_at=T) rebuilds history."""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from positioning_cli.schema import INGESTED_AT, SHORT_INTEREST
from positioning_cli.store import MANIFEST, PUBLISHED, SEQ, VERSIONS, SourceBatch, Store
from tests.test_store import batch, si_table

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
D1, D2, D3 = date(2025, 12, 31), date(2026, 7, 31), date(2026, 8, 14)


def ingest_at(root: Path, at: datetime, *batches: SourceBatch) -> None:
    with Store(root).writing(wait=1) as w:
        w.ingested_at = at
        for b in batches:
            w.merge(SHORT_INTEREST, b)


def live_table(root: Path):
    store = Store(root)
    with store.reading() as m:
        return store.read("short_interest", None, m)


def test_known_at_equals_the_live_table_after_each_commit(tmp_path: Path) -> None:
    a = batch("a.csv", [(D1, "AAPL", 100, False), (D2, "AAPL", 10, False), (D2, "MSFT", 5, False)])
    b = batch("b.csv", [(D2, "AAPL", 12, False), (D3, "AAPL", 20, False)])
    c = batch("c.csv", [(D2, "AAPL", 11, True), (D2, "MSFT", 5, False), (D1, "AAPL", 101, False)])
    d = batch("d.csv", [(D2, "AAPL", 99, False), (D3, "IWM", 1, False)])  # loses to c's revision
    states = []
    for i, x in enumerate((a, b, c, d)):
        ingest_at(tmp_path, T0 + timedelta(days=i), x)
        states.append(live_table(tmp_path))
    store = Store(tmp_path)
    assert store.read("short_interest", known_at=T0 - timedelta(seconds=1)).num_rows == 0
    for i, expected in enumerate(states):
        for at in (T0 + timedelta(days=i), T0 + timedelta(days=i, hours=23)):
            got = store.read("short_interest", known_at=at)
            assert got.equals(expected), (i, got.to_pylist(), expected.to_pylist())
            with store.reading(known_at=at) as view:
                assert store.read("short_interest", None, view).equals(expected)
                cols = ["symbol", "short_interest"]
                assert store.read("short_interest", cols, view).equals(expected.select(cols))
                assert len(view["ingests"]) == i + 1
    # every version is kept, in its own place: the live glob never double counts
    vt = store.versions("short_interest")
    assert PUBLISHED in vt.column_names and SEQ in vt.column_names
    # a: 3, b: 2, c: 2 (MSFT identical -> no version), d: 2 (the losing row is kept as a version)
    assert vt.num_rows == 3 + 2 + 2 + 2
    # a partition new in a commit keeps a copy of its live file as committed as its version:
    # D3 came with b; d rewrote the live file since, the version is b's
    snapshot = pq.read_table(
        tmp_path / VERSIONS / "short_interest" / "year=2026" / "part-20260814-c00000002.parquet"
    )
    after_b = states[1].filter(pc.equal(states[1].column("settlement_date"), pa.scalar(D3)))
    assert snapshot.equals(after_b) and after_b.num_rows == 1
    # another engine reads every version file (row files and snapshots: union by column name)
    duckdb = pytest.importorskip("duckdb")
    glob = str(tmp_path / VERSIONS / "short_interest" / "*" / "*.parquet")
    n = duckdb.sql(f"SELECT count(*) FROM read_parquet('{glob}', union_by_name = true)").fetchall()[0][0]
    assert n == vt.num_rows
    live = ds.dataset(tmp_path / "short_interest", format="parquet", partitioning="hive").to_table()
    assert live.num_rows == states[-1].num_rows == 5


def test_identical_reingest_adds_no_version(tmp_path: Path) -> None:
    a = batch("a.csv", [(D2, "AAPL", 10, False)])
    ingest_at(tmp_path, T0, a)
    before = json.loads((tmp_path / MANIFEST).read_text())["versions"]
    ingest_at(tmp_path, T0 + timedelta(days=1), a)  # same bytes: skipped
    ingest_at(tmp_path, T0 + timedelta(days=2), batch("copy.csv", [(D2, "AAPL", 10, False)]))
    assert json.loads((tmp_path / MANIFEST).read_text())["versions"] == before


def test_publication_date_is_kept_with_each_version(tmp_path: Path) -> None:
    t = si_table([(D2, "AAPL", 10, False)])
    ingest_at(tmp_path, T0, SourceBatch(t, "pub.json", "x" * 64, "test", published=date(2026, 8, 11)))
    ingest_at(tmp_path, T0 + timedelta(days=1), batch("nopub.csv", [(D2, "AAPL", 11, False)]))
    vt = Store(tmp_path).versions("short_interest")
    rows = sorted(
        vt.select(["source_file", PUBLISHED, INGESTED_AT]).to_pylist(), key=lambda r: r[INGESTED_AT]
    )
    assert [(r["source_file"], r[PUBLISHED]) for r in rows] == [
        ("pub.json", date(2026, 8, 11)),
        ("nopub.csv", None),
    ]


def test_a_store_older_than_versions_is_seeded_on_the_next_commit(tmp_path: Path) -> None:
    ingest_at(tmp_path, T0, batch("a.csv", [(D2, "AAPL", 10, False), (D3, "MSFT", 3, False)]))
    # rewrite the manifest as an older positioning wrote it: no _versions at all
    m = json.loads((tmp_path / MANIFEST).read_text())
    for k in ("versions", "commit", "seq"):
        del m[k]
    import shutil

    shutil.rmtree(tmp_path / VERSIONS)
    (tmp_path / MANIFEST).write_text(json.dumps(m))
    after_a = live_table(tmp_path)
    ingest_at(tmp_path, T0 + timedelta(days=1), batch("b.csv", [(D2, "AAPL", 12, False)]))
    store = Store(tmp_path)
    assert store.read("short_interest", known_at=T0).equals(after_a)
    assert store.read("short_interest", known_at=T0 + timedelta(days=1)).equals(live_table(tmp_path))


keys = st.tuples(st.sampled_from([D1, D2, D3, date(2024, 3, 28)]), st.sampled_from(["AAPL", "MSFT", "IWM"]))
commit_strategy = st.lists(  # one commit = one or two files
    st.lists(st.tuples(keys, st.integers(0, 3), st.booleans()), min_size=1, max_size=8),
    min_size=1,
    max_size=2,
)


@pytest.mark.filterwarnings("ignore")
@settings(
    max_examples=100 if os.environ.get("POSITIONING_STRESS") else 10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(commits=st.lists(commit_strategy, min_size=1, max_size=5))
def test_known_at_replays_history_exactly(tmp_path_factory, commits) -> None:
    root = tmp_path_factory.mktemp("pit")
    states = []
    n = 0
    for i, files in enumerate(commits):
        batches = []
        for rows in files:
            dedup = {k: (v, r) for k, v, r in rows}
            n += 1
            batches.append(batch(f"f{n}.csv", [(k[0], k[1], v, r) for k, (v, r) in dedup.items()]))
        ingest_at(root, T0 + timedelta(hours=i), *batches)
        states.append(live_table(root))
    store = Store(root)
    for i, expected in enumerate(states):
        assert store.read("short_interest", known_at=T0 + timedelta(hours=i, minutes=30)).equals(expected)
