"""The store: atomic, idempotent merges; newest value wins; one writer; readable by other engines."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import time
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from positioning_cli.errors import BusyError
from positioning_cli.schema import SHORT_INTEREST
from positioning_cli.store import STAGING, SourceBatch, Store


def si_table(rows: list[tuple[date, str, int, bool]]) -> pa.Table:
    n = len(rows)
    return pa.table(
        {
            "settlement_date": [r[0] for r in rows],
            "symbol": [r[1] for r in rows],
            "short_interest": [r[2] for r in rows],
            "previous_short_interest": [None] * n,
            "avg_daily_volume": [None] * n,
            "days_to_cover": [None] * n,
            "revision_flag": [r[3] for r in rows],
            "split_flag": [False] * n,
            "issue_name": [None] * n,
            "market": [None] * n,
            "shares_outstanding": [None] * n,
            "float_shares": [None] * n,
            "source_format": ["test"] * n,
        }
    ).cast(SHORT_INTEREST.parsed_schema)


def batch(name: str, rows: list[tuple[date, str, int, bool]]) -> SourceBatch:
    t = si_table(rows)
    digest = hashlib.sha256(repr((name, rows)).encode()).hexdigest()
    return SourceBatch(t, name, digest, "test")


def ingest(root: Path, *batches: SourceBatch) -> None:
    with Store(root).writing(wait=1) as w:
        for b in batches:
            w.merge(SHORT_INTEREST, b)


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in (".lock", ".read.lock")
    }


def live(root: Path) -> dict[tuple[date, str], tuple[int, str]]:
    t = Store(root).read("short_interest").to_pylist()
    return {(r["settlement_date"], r["symbol"]): (r["short_interest"], r["source_file"]) for r in t}


D1, D2 = date(2026, 7, 31), date(2026, 8, 14)


def test_merge_newest_wins_and_lineage_kept(tmp_path: Path) -> None:
    ingest(tmp_path, batch("shrt20260731.csv", [(D1, "AAPL", 100, False), (D1, "MSFT", 50, False)]))
    ingest(tmp_path, batch("shrt20260814.csv", [(D1, "AAPL", 120, True), (D2, "AAPL", 130, False)]))
    assert live(tmp_path) == {
        (D1, "AAPL"): (120, "shrt20260814.csv"),
        (D1, "MSFT"): (50, "shrt20260731.csv"),
        (D2, "AAPL"): (130, "shrt20260814.csv"),
    }


def test_backfilling_an_old_file_never_undoes_a_revision(tmp_path: Path) -> None:
    ingest(tmp_path, batch("revised.json", [(D1, "AAPL", 120, True)]))
    ingest(tmp_path, batch("shrt20260731.csv", [(D1, "AAPL", 100, False)]))
    assert live(tmp_path)[(D1, "AAPL")] == (120, "revised.json")


def test_same_file_twice_leaves_every_byte(tmp_path: Path) -> None:
    b = batch("shrt20260731.csv", [(D1, "AAPL", 100, False)])
    ingest(tmp_path, b)
    before = snapshot(tmp_path)
    ingest(tmp_path, b)
    assert snapshot(tmp_path) == before


def test_identical_values_from_another_file_change_nothing(tmp_path: Path) -> None:
    ingest(tmp_path, batch("a.csv", [(D1, "AAPL", 100, False)]))
    ingest(tmp_path, batch("copy-of-a.csv", [(D1, "AAPL", 100, False)]))
    assert live(tmp_path)[(D1, "AAPL")] == (100, "a.csv")


def test_failure_inside_a_commit_leaves_store_as_it_was(tmp_path: Path) -> None:
    ingest(tmp_path, batch("a.csv", [(D1, "AAPL", 100, False)]))
    before = snapshot(tmp_path)
    with pytest.raises(RuntimeError), Store(tmp_path).writing(wait=1) as w:
        w.merge(SHORT_INTEREST, batch("b.csv", [(D1, "AAPL", 999, False)]))
        raise RuntimeError("boom")
    assert snapshot(tmp_path) == before
    assert not (tmp_path / STAGING).exists()


def test_a_committed_journal_is_rolled_forward_by_the_next_reader(tmp_path: Path, monkeypatch) -> None:
    """Kill after the commit point (journal durable) but before the renames: the next open finishes it."""
    ingest(tmp_path, batch("a.csv", [(D1, "AAPL", 100, False)]))
    store = Store(tmp_path)
    monkeypatch.setattr(Store, "_apply", lambda self, renames: (_ for _ in ()).throw(SystemExit(9)))
    with pytest.raises(SystemExit), store.writing(wait=1) as w:
        w.merge(SHORT_INTEREST, batch("b.csv", [(D1, "AAPL", 200, False)]))
    monkeypatch.undo()
    assert (tmp_path / ".journal.json").exists()
    with store.reading() as manifest:
        assert store.read("short_interest", ["short_interest"], manifest).column(0).to_pylist() == [200]
    assert not (tmp_path / ".journal.json").exists()


def _hold_lock(root: str, ready: multiprocessing.synchronize.Event, seconds: float) -> None:
    with Store(Path(root)).writing(wait=1):
        ready.set()
        time.sleep(seconds)


def test_second_writer_gets_busy_after_wait(tmp_path: Path) -> None:
    ready = multiprocessing.get_context("fork").Event()
    p = multiprocessing.get_context("fork").Process(target=_hold_lock, args=(str(tmp_path), ready, 2.0))
    p.start()
    try:
        assert ready.wait(10)
        t0 = time.monotonic()
        with pytest.raises(BusyError, match="busy"), Store(tmp_path).writing(wait=0.3):
            pass
        assert time.monotonic() - t0 >= 0.3
    finally:
        p.join()


def test_other_engines_read_the_tables_with_hive_partitioning(tmp_path: Path) -> None:
    ingest(
        tmp_path,
        batch(
            "a.csv",
            [(date(2025, 12, 31), "AAPL", 10, False), (D1, "AAPL", 100, False), (D2, "MSFT", 5, False)],
        ),
    )
    dataset = ds.dataset(tmp_path / "short_interest", format="parquet", partitioning="hive")
    t = dataset.to_table()
    assert t.num_rows == 3
    assert sorted(t.column("year").to_pylist()) == [2025, 2026, 2026]
    assert t.schema.field("settlement_date").type == pa.date32()
    duckdb = pytest.importorskip("duckdb", reason="duckdb is a dev dependency")
    glob = f"{tmp_path}/short_interest/**/*.parquet"
    n, total = duckdb.sql(
        f"select count(*), sum(short_interest) from read_parquet('{glob}', hive_partitioning=true)"
    ).fetchall()[0]
    assert (n, total) == (3, 115)
    # no temporary file ever sits under a table folder
    assert all(p.suffix == ".parquet" for p in (tmp_path / "short_interest").rglob("*") if p.is_file())


rows_strategy = st.lists(
    st.tuples(
        st.dates(min_value=date(2019, 1, 1), max_value=date(2026, 12, 31)),
        st.sampled_from(["AAPL", "MSFT", "BRKB", "IWM", "XYZ"]),
        st.integers(min_value=0, max_value=2**40),
        st.booleans(),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=rows_strategy, second=rows_strategy)
def test_store_equals_a_plain_dict_model(tmp_path_factory, first, second) -> None:
    """Write then read back equals a dictionary model of 'revision beats plain, later beats earlier'."""
    root = tmp_path_factory.mktemp("store")
    model: dict[tuple[date, str], tuple[int, bool]] = {}
    for rows in (first, second):
        dedup: dict[tuple[date, str], tuple[int, bool]] = {}
        for d, s, v, r in rows:  # a parser keeps one row per key per file; mimic: last wins
            dedup[(d, s)] = (v, r)
        for k, (v, r) in dedup.items():
            old = model.get(k)
            if old is None or r or not old[1]:
                model[k] = (v, r)
        ingest(
            root,
            batch(
                f"f{len(model)}-{os.urandom(4).hex()}", [(k[0], k[1], v, r) for k, (v, r) in dedup.items()]
            ),
        )
    got = {
        (r["settlement_date"], r["symbol"]): (r["short_interest"], r["revision_flag"])
        for r in Store(root).read("short_interest").to_pylist()
    }
    assert got == model


# ------------------------------------------------------------------ store info / store verify
def test_info_and_verify_on_a_sound_store(tmp_path: Path) -> None:
    from positioning_cli.store_admin import info, verify

    ingest(tmp_path, batch("a.csv", [(date(2025, 12, 31), "AAPL", 10, False), (D1, "AAPL", 100, False)]))
    ingest(tmp_path, batch("b.csv", [(D1, "AAPL", 120, True), (D2, "MSFT", 5, False)]))
    i = info(tmp_path)
    si = next(t for t in i.tables if t.name == "short_interest")
    assert (si.rows, si.files, si.first_date, si.last_date) == (3, 3, date(2025, 12, 31), D2)
    assert si.version_rows == 4 and si.bytes > 0 and i.commits == 2
    assert [x["source_file"] for x in i.last_ingests] == ["a.csv", "b.csv"]
    r = verify(tmp_path)
    assert r.ok, r.problems
    # versions: a's two new partitions (their committed files); b: D1's row, D2's new partition
    assert r.files_checked == 3 + 4 and r.rows_checked == 3 + 4


def test_verify_finds_every_kind_of_damage(tmp_path: Path) -> None:
    import json
    import shutil

    import pyarrow.parquet as pq

    from positioning_cli.store_admin import verify

    ingest(tmp_path, batch("a.csv", [(D1, "AAPL", 100, False), (D2, "MSFT", 5, False)]))
    d1 = tmp_path / "short_interest" / "year=2026" / "part-20260731.parquet"
    d2 = tmp_path / "short_interest" / "year=2026" / "part-20260814.parquet"
    # a duplicate key, with the manifest updated to match
    t = pq.read_table(d1, schema=SHORT_INTEREST.schema)
    pq.write_table(pa.concat_tables([t, t]), d1)
    m = json.loads((tmp_path / "manifest.json").read_text())
    entry = m["tables"]["short_interest"]["files"]["year=2026/part-20260731.parquet"]
    entry.update(rows=2, bytes=d1.stat().st_size, sha256=hashlib.sha256(d1.read_bytes()).hexdigest())
    (tmp_path / "manifest.json").write_text(json.dumps(m))
    d2.write_bytes(d2.read_bytes()[:-10] + b"0123456789")  # checksum
    (tmp_path / "short_interest" / "year=2026" / "stray.parquet").write_bytes(b"x")  # orphan
    (tmp_path / STAGING).mkdir()
    (tmp_path / "short_interest" / "year=2027").symlink_to(tmp_path / "short_interest" / "year=2026")
    checked = verify(tmp_path)
    problems = checked.problems
    assert sorted({p.kind for p in problems}) == ["checksum", "duplicates", "orphan", "symlink"], problems
    # an abandoned staging area is a note (the next writer removes it), not damage
    assert [n.kind for n in checked.notes] == ["staging"], checked.notes
    assert all("\n" not in str(p) for p in problems)
    shutil.rmtree(tmp_path / STAGING)
    # a file with another schema
    bad = tmp_path / "elsewhere.parquet"
    pq.write_table(pa.table({"x": [1]}), bad)
    shutil.copy(bad, d1)
    m["tables"]["short_interest"]["files"]["year=2026/part-20260731.parquet"].update(
        bytes=d1.stat().st_size, sha256=hashlib.sha256(d1.read_bytes()).hexdigest()
    )
    (tmp_path / "manifest.json").write_text(json.dumps(m))
    assert "schema" in {p.kind for p in verify(tmp_path).problems}
    (tmp_path / "manifest.json").write_text("{not json")
    assert "manifest" in {p.kind for p in verify(tmp_path).problems}


# JSON values as a manifest holds them: objects with text keys, lists, and scalars.
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(_json_values)
def test_manifest_text_and_copy_are_the_json_they_stand_for(value) -> None:
    import json

    from positioning_cli.store_meta import copy_json, manifest_text

    doc = {"commit": 1, "ingests": [value], "tables": {"t": {"files": {"r": value}}}, "x": value}
    assert json.loads(manifest_text(doc)) == json.loads(json.dumps(doc))
    copied = copy_json(doc)
    assert copied == doc
    # nothing shared that a writer could change through the copy
    assert copied["ingests"] is not doc["ingests"] and copied["tables"]["t"] is not doc["tables"]["t"]
    if isinstance(value, dict | list):
        assert copied["x"] is not value


def test_written_manifest_has_one_entry_a_line_and_reads_back(tmp_path: Path) -> None:
    import json

    ingest(tmp_path, batch("a.csv", [(D1, "AAPL", 100, False)]))
    ingest(tmp_path, batch("b.csv", [(D2, "MSFT", 5, False), (D1, "AAPL", 101, True)]))
    text = (tmp_path / "manifest.json").read_text()
    m = json.loads(text)
    assert m == Store(tmp_path).manifest()
    lines = [ln.removesuffix(",") for ln in text.splitlines()]
    # each ingest entry and each file entry is one line, keys sorted
    for entry in m["ingests"]:
        assert "  " + json.dumps(entry, sort_keys=True, separators=(",", ":")) in lines
    for rel, entry in m["tables"]["short_interest"]["files"].items():
        assert f'    "{rel}": ' + json.dumps(entry, sort_keys=True, separators=(",", ":")) in lines
    assert [ln for ln in lines if not ln.startswith(" ")] == ["{", "}"]
    assert lines[1:3] == [f' "commit": {m["commit"]}', ' "format_version": 1']
