"""The levels cache (STORE/.cache/levels.parquet) can never serve stale or foreign numbers.

Its rows are keyed by the content of their inputs and by a digest of the definitions that computed
them (levels_cache.definitions_digest), so editing a definition makes the next scan recompute; a
damaged, foreign or linked cache is ignored with one note on stderr and rebuilt.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from positioning_cli import levels_cache
from tests.conftest import ROOT, SAMPLE
from tests.test_store_hostile import cli

SI_FILES = sorted((SAMPLE / "short_interest").iterdir())[-6:]
MEDIAN_LINE = "median_of(CASE WHEN NOT r.quarantined THEN r.pct_so END) AS median_si_pct_so"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Members, prices and six FINRA files, scanned once so the cache exists."""
    store = tmp_path_factory.mktemp("levels_cache") / "store"
    prices = sorted(p for p in (SAMPLE / "prices").iterdir() if p.is_file())
    for kind, paths in (("members", [SAMPLE / "members"]), ("prices", prices), ("short-interest", SI_FILES)):
        r = cli("ingest", kind, *map(str, paths), store=store)
        assert r.code == 0, r.err
    return store


@pytest.fixture
def store(template: Path, tmp_path: Path) -> Path:
    root = tmp_path / "store"
    shutil.copytree(template, root, symlinks=True)
    shutil.rmtree(root / ".cache", ignore_errors=True)
    return root


def _notes(err: str) -> str:
    """stderr without the scan's data warnings (which go to stderr in every format): what the
    cache said, if anything."""
    return "".join(line for line in err.splitlines(keepends=True) if not line.startswith("warning: "))


def scan_rows(store: Path, package: Path = ROOT, **env: str) -> tuple[list[dict[str, object]], str]:
    """`positioning scan -f json` run by the package at ``package`` (a real process whose working
    folder is the store's parent, so no other copy of the package shadows it)."""
    full = (
        {k: v for k, v in os.environ.items() if k != "POSITIONING_STORE"} | env | {"PYTHONPATH": str(package)}
    )
    cmd = [sys.executable, "-m", "positioning_cli", "--store", str(store), "scan", "--format", "json"]
    p = subprocess.run(cmd, capture_output=True, text=True, env=full, cwd=store.parent, timeout=300)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)["rows"], _notes(p.stderr)


def in_process_scan(store: Path) -> tuple[list[dict[str, object]], str]:
    r = cli("scan", "--format", "json", store=store)
    assert r.code == 0, r.err
    return json.loads(r.out)["rows"], _notes(r.err)


def test_stale_definition_edit_recomputes_the_cache(store: Path, tmp_path: Path) -> None:
    """A developer changes median_of to avg in sql/levels.sql, in a copy of the package,
    and runs scan on a store whose cache the original code filled: the numbers are the edited
    definition's (equal to a run without any cache), not the cached ones."""
    original, _ = scan_rows(store)
    assert levels_cache.path(store).is_file()
    cached = pq.ParquetFile(levels_cache.path(store)).schema_arrow.metadata[levels_cache.MARKER]

    edited = tmp_path / "edited"
    shutil.copytree(ROOT / "positioning_cli", edited / "positioning_cli")
    sql = edited / "positioning_cli" / "analytics" / "sql" / "levels.sql"
    source = sql.read_text()
    assert source.count(MEDIAN_LINE) == 1
    sql.write_text(source.replace(MEDIAN_LINE, MEDIAN_LINE.replace("median_of(", "avg(")))

    with_edit, err = scan_rows(store, edited)
    without_cache, _ = scan_rows(store, edited, POSITIONING_NO_CACHE="1")
    assert with_edit == without_cache
    assert err == ""  # a definition change is routine: recomputed without a note
    # The edit does change the median SI % (a mean of skewed percentages is larger), so the
    # equality above is not two runs of the same cached number.
    before = {r["index"]: r["median_si_pct_so"] for r in original}
    after = {r["index"]: r["median_si_pct_so"] for r in with_edit}
    assert before.keys() == after.keys()
    assert all(after[i] != before[i] for i in before)
    # The rewritten cache carries the edited definitions' digest; the original code recomputes again.
    rebuilt = pq.ParquetFile(levels_cache.path(store)).schema_arrow.metadata[levels_cache.MARKER]
    assert rebuilt != cached
    again, _ = scan_rows(store)
    assert again == original


def test_definitions_digest_covers_every_definition_module(tmp_path: Path) -> None:
    """The digest changes when any one hashed module's or SQL file's text changes (a copied package
    on sys.path)."""
    code = (
        "from positioning_cli import levels_cache as c; "
        "print(c.definitions_digest(),"
        " c.definitions_digest.__wrapped__(c.DEFINITION_MODULES, c.DEFINITION_SQL))"
    )

    def digest(root: Path) -> str:
        env = {**os.environ, "PYTHONPATH": str(root)}
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True, cwd=root
        )
        first, second = out.stdout.split()
        assert first == second
        return first

    base = tmp_path / "base"
    shutil.copytree(ROOT / "positioning_cli", base / "positioning_cli")
    reference = digest(base)
    assert reference == levels_cache.definitions_digest()
    edits = [(m, m.replace(".", "/") + ".py", "#") for m in levels_cache.DEFINITION_MODULES]
    edits += [
        (f"sql-{n}", f"positioning_cli/analytics/sql/{n}.sql", "--") for n in levels_cache.DEFINITION_SQL
    ]
    assert "sql-levels" in {name for name, _, _ in edits}
    for name, rel, comment in edits:
        copy = tmp_path / name
        shutil.copytree(base, copy)
        source = copy / rel
        source.write_text(source.read_text() + f"\n{comment} an edit\n")
        assert digest(copy) != reference, name


def _foreign_cache(store: Path, tmp_path: Path) -> Path:
    """A valid Parquet file with the cache's columns but wrong numbers and no marker."""
    in_process_scan(store)
    table = pq.read_table(levels_cache.path(store))
    column = table.column("median_si_pct_so")
    forged = table.set_column(
        table.schema.get_field_index("median_si_pct_so"),
        "median_si_pct_so",
        pa.array([99.0] * len(column), pa.float64()),
    )
    out = tmp_path / "forged.parquet"
    pq.write_table(forged.replace_schema_metadata(None), out)
    return out


def _marked_forgery(store: Path, tmp_path: Path) -> Path:
    """A forged cache that even carries the marker: only reachable through a link."""
    out = _foreign_cache(store, tmp_path)
    table = pq.read_table(out).replace_schema_metadata(
        {levels_cache.MARKER: levels_cache.definitions_digest().encode()}
    )
    pq.write_table(table, out)
    return out


@pytest.mark.parametrize("kind", ["damaged", "foreign", "symlinked file", "symlinked folder", "folder"])
def test_damaged_foreign_or_symlinked_cache_is_ignored_and_rebuilt(
    store: Path, tmp_path: Path, kind: str
) -> None:
    reference, _ = scan_rows(store, POSITIONING_NO_CACHE="1")
    file = levels_cache.path(store)
    outside = tmp_path / "outside"
    outside.mkdir()
    if kind == "damaged":
        file.parent.mkdir()
        file.write_bytes(b"PAR1 not really parquet")
    elif kind == "foreign":
        forged = _foreign_cache(store, tmp_path)
        shutil.copyfile(forged, file)
    elif kind == "symlinked file":
        target = outside / "levels.parquet"
        shutil.copyfile(_marked_forgery(store, tmp_path), target)
        file.unlink()
        file.symlink_to(target)
    elif kind == "symlinked folder":
        shutil.copyfile(_marked_forgery(store, tmp_path), outside / "levels.parquet")
        shutil.rmtree(file.parent)
        file.parent.symlink_to(outside, target_is_directory=True)
    else:
        file.mkdir(parents=True)
    before_outside = {p.name: p.read_bytes() for p in outside.iterdir()}

    rows, err = in_process_scan(store)
    assert rows == reference
    notes = err.splitlines()
    assert len(notes) == 1 and notes[0].startswith("note: ") and "ignored" in notes[0], err
    assert "Traceback" not in err
    # Nothing outside the store was read into the numbers or written.
    assert {p.name: p.read_bytes() for p in outside.iterdir()} == before_outside
    if kind != "folder":  # a folder in the file's place is left alone (never deleted)
        assert not file.parent.is_symlink() and not file.is_symlink() and file.is_file()
        meta = pq.ParquetFile(file).schema_arrow.metadata
        assert meta[levels_cache.MARKER] == levels_cache.definitions_digest().encode()
        # Rebuilt: the next scan trusts it, silently, with the same numbers.
        again, err = in_process_scan(store)
        assert again == reference and err == ""


def test_a_damaged_store_file_read_by_the_engine_is_one_line_naming_it(store: Path) -> None:
    """Levels are computed by DuckDB from the store's files: a partition the manifest vouches for
    (same size) whose bytes are damaged is refused with the store's one-line error (exit 6) naming
    it, as the store's own reader does, never an engine traceback."""
    from positioning_cli.errors import ExitCode
    from tests.test_store_hostile import one_line

    oldest = sorted((store / "short_interest").rglob("part-*.parquet"))[0]
    damaged = bytearray(oldest.read_bytes())
    for i in range(200, 600):  # inside the first column chunk; size unchanged
        damaged[i] ^= 0x5A
    oldest.write_bytes(bytes(damaged))
    line = one_line(cli("scan", "-f", "json", store=store), ExitCode.STORE)
    assert str(oldest) in line and "cannot read" in line
