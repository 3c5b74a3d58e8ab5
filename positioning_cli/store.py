"""The only module that reads or writes the Parquet store.

Layout (a public contract, README "Store layout")::

    STORE/
      manifest.json                    the committed state: every data file with rows, bytes, sha256;
                                       the log of ingested source files
      short_interest/year=2026/part-20260814.parquet   one file per settlement date
      prices/year=2026/part-2026.parquet                one file per year
      members/year=2026/part-20260626.parquet           one file per as-of date
      .lock  .read.lock                writer lock; readers/commit-apply lock
      .staging/  .journal.json         only while a commit is in flight (or after a crash)

A commit is atomic even if the process is killed: new files are written and fsynced in
``.staging/`` (never under a table folder), then a journal naming every rename is made durable —
that is the commit point — then the renames are applied with ``os.replace`` (atomic per file)
and the journal removed. The next writer (or reader, when no writer is active) finding a journal
rolls it forward; staging leftovers without a journal are a commit that never happened and are
deleted. While the renames are applied the writer holds ``.read.lock`` exclusively, and readers
hold it shared, so a scan never sees half a commit.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from positioning_cli.errors import BusyError, StoreError
from positioning_cli.schema import INGESTED_AT, SOURCE_FILE, TABLES, TableSpec

MANIFEST = "manifest.json"
JOURNAL = ".journal.json"
STAGING = ".staging"
WRITE_LOCK = ".lock"
READ_LOCK = ".read.lock"
FORMAT_VERSION = 1
COMPRESSION = "zstd"


@dataclass(frozen=True)
class SourceBatch:
    """One parsed input file, ready to merge into a table."""

    table: pa.Table  # spec.parsed_schema
    source_file: str  # the file's name as the user gave it (lineage; never used as a path)
    sha256: str  # of the raw bytes, for idempotent re-ingest
    format: str


@dataclass(frozen=True)
class MergeResult:
    source_file: str
    table: str
    rows: int  # rows in the source
    changed: int  # rows that were new or replaced a different value
    skipped: bool  # the same bytes were ingested before: nothing to do
    first_date: date | None
    last_date: date | None


@dataclass
class _Plan:
    """Files staged for one commit and the manifest they lead to."""

    renames: list[tuple[str, str]] = field(default_factory=list)  # staged -> final, relative to root
    manifest: dict[str, Any] = field(default_factory=dict)


def default_store_path() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("positioning", appauthor=False)) / "store"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _empty_manifest() -> dict[str, Any]:
    return {"format_version": FORMAT_VERSION, "tables": {n: {"files": {}} for n in TABLES}, "ingests": []}


class Store:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # ----------------------------------------------------------------- state
    def exists(self) -> bool:
        return (self.root / MANIFEST).is_file()

    def manifest(self) -> dict[str, Any]:
        path = self.root / MANIFEST
        if not path.exists():
            return _empty_manifest()
        try:
            data: dict[str, Any] = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise StoreError(f"{path}: unreadable manifest: {exc}") from None
        if data.get("format_version") != FORMAT_VERSION:
            raise StoreError(f"{path}: unsupported store format {data.get('format_version')!r}")
        for name in TABLES:  # tables added in later versions start empty
            data["tables"].setdefault(name, {"files": {}})
        return data

    def files(self, table: str, manifest: dict[str, Any] | None = None) -> list[Path]:
        m = manifest if manifest is not None else self.manifest()
        return [self.root / table / rel for rel in sorted(m["tables"][table]["files"])]

    # ----------------------------------------------------------------- locks
    @contextlib.contextmanager
    def _flock(self, name: str, mode: int, wait: float, what: str) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / name
        if path.is_symlink():
            raise StoreError(f"{path}: refusing a symlink inside the store")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            deadline = time.monotonic() + max(wait, 0.0)
            while True:
                try:
                    fcntl.flock(fd, mode | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                        raise
                    if time.monotonic() >= deadline:
                        raise BusyError(
                            f"{self.root}: {what} is busy (another positioning process holds the lock);"
                            f" waited {wait:g}s — retry, or raise --wait"
                        ) from None
                    time.sleep(0.05)
            yield
        finally:
            os.close(fd)  # closing releases the flock

    @contextlib.contextmanager
    def reading(self, wait: float = 60.0) -> Iterator[dict[str, Any]]:
        """A consistent snapshot: the manifest, with commits held off while the caller reads."""
        if not self.exists():
            yield _empty_manifest()
            return
        if (self.root / JOURNAL).exists():
            # A crashed writer left a committed journal: finish it if no writer is active now.
            with contextlib.suppress(BusyError), self._flock(WRITE_LOCK, fcntl.LOCK_EX, 0, "store"):
                self._recover()
        with self._flock(READ_LOCK, fcntl.LOCK_SH, wait, "store"):
            yield self.manifest()

    # ----------------------------------------------------------------- reads
    def read(
        self,
        table: str,
        columns: Sequence[str] | None = None,
        manifest: dict[str, Any] | None = None,
    ) -> pa.Table:
        """The live table (one row per key) as Arrow; empty with the full schema when absent."""
        spec = TABLES[table]
        paths = self.files(table, manifest)
        schema = spec.schema if columns is None else pa.schema([spec.schema.field(c) for c in columns])
        if not paths:
            return schema.empty_table()
        try:
            parts = [pq.read_table(p, columns=list(schema.names), schema=spec.schema) for p in paths]
        except (OSError, pa.ArrowException) as exc:
            raise StoreError(f"{self.root / table}: cannot read table: {exc}") from None
        return pa.concat_tables(parts)

    # ----------------------------------------------------------------- writes
    @contextlib.contextmanager
    def writing(self, wait: float) -> Iterator[Writer]:
        """Exclusive writer session. Changes become visible only when the block exits cleanly."""
        with self._flock(WRITE_LOCK, fcntl.LOCK_EX, wait, "store"):
            self._recover()
            writer = Writer(self)
            try:
                yield writer
            except BaseException:
                writer.abort()
                raise
            writer.commit()

    def _recover(self) -> None:
        """Roll a committed journal forward; delete staging leftovers of uncommitted work."""
        journal = self.root / JOURNAL
        if journal.exists():
            try:
                plan = json.loads(journal.read_text("utf-8"))
            except ValueError:
                # The journal is written to a temp name and renamed, so a torn journal means the
                # rename never happened... unless the disk lied. Refuse rather than guess.
                raise StoreError(
                    f"{journal}: damaged commit journal; restore the store from a backup"
                ) from None
            self._apply(plan["renames"])
            journal.unlink()
            _fsync_dir(self.root)
        staging = self.root / STAGING
        if staging.exists():
            shutil.rmtree(staging)

    def _apply(self, renames: list[list[str]] | list[tuple[str, str]]) -> None:
        touched: set[Path] = set()
        for staged, final in renames:
            src, dst = self.root / staged, self.root / final
            if src.exists():  # already applied by an earlier, interrupted recovery otherwise
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.replace(src, dst)
                touched.add(dst.parent)
        for d in touched:
            _fsync_dir(d)


class Writer:
    """Collects merges for one commit. Use through ``Store.writing``."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.root = store.root
        self.base = store.manifest()
        self.next_manifest = json.loads(json.dumps(self.base))
        self.staging = self.root / STAGING
        self.plan = _Plan()
        self._staged_tables: dict[str, pa.Table] = {}  # final rel path -> content, for merges in one commit
        self.ingested_at = datetime.now(UTC).replace(microsecond=0)
        self._seq = 0

    def already_ingested(self, table: str, sha256: str) -> bool:
        return any(i["table"] == table and i["sha256"] == sha256 for i in self.next_manifest["ingests"])

    def merge(self, spec: TableSpec, batch: SourceBatch) -> MergeResult:
        """Stage ``batch`` into ``spec``'s table: the newest value per key wins (see _resolve)."""
        t = batch.table
        dates = t.column(spec.date_column)
        first = pc.min(dates).as_py() if len(t) else None
        last = pc.max(dates).as_py() if len(t) else None
        if self.already_ingested(spec.name, batch.sha256):
            return MergeResult(batch.source_file, spec.name, len(t), 0, True, first, last)
        self._seq += 1
        incoming = _with_lineage(spec, t, batch.source_file, self.ingested_at)
        changed = 0
        for rel, part in _split_by_file(spec, incoming):
            current = self._current(spec, rel)
            merged, n_changed = _resolve(spec, current, part)
            if n_changed:
                self._stage(spec, rel, merged)
                changed += n_changed
        self.next_manifest["ingests"].append(
            {
                "table": spec.name,
                "source_file": batch.source_file,
                "sha256": batch.sha256,
                "format": batch.format,
                "rows": len(t),
                "changed": changed,
                "first_date": first.isoformat() if first else None,
                "last_date": last.isoformat() if last else None,
                "ingested_at": self.ingested_at.isoformat(),
            }
        )
        return MergeResult(batch.source_file, spec.name, len(t), changed, False, first, last)

    def _current(self, spec: TableSpec, rel: str) -> pa.Table | None:
        key = f"{spec.name}/{rel}"
        if key in self._staged_tables:
            return self._staged_tables[key]
        if rel in self.base["tables"][spec.name]["files"]:
            return pq.read_table(self.root / spec.name / rel, schema=spec.schema)
        return None

    def _stage(self, spec: TableSpec, rel: str, table: pa.Table) -> None:
        final = f"{spec.name}/{rel}"
        self._staged_tables[final] = table

    def abort(self) -> None:
        if self.staging.exists():
            shutil.rmtree(self.staging)

    def commit(self) -> None:
        if not self._staged_tables and self.next_manifest == self.base:
            return  # nothing changed: leave every byte as it was
        self.staging.mkdir(parents=True, exist_ok=True)
        renames: list[tuple[str, str]] = []
        for final, table in sorted(self._staged_tables.items()):
            staged = self.staging / f"{uuid.uuid4().hex}.parquet"
            pq.write_table(table, staged, compression=COMPRESSION)
            with open(staged, "rb") as f:
                os.fsync(f.fileno())
            spec_name, rel = final.split("/", 1)
            self.next_manifest["tables"][spec_name]["files"][rel] = {
                "rows": table.num_rows,
                "bytes": staged.stat().st_size,
                "sha256": _sha256_file(staged),
            }
            renames.append((str(staged.relative_to(self.root)), final))
        staged_manifest = self.staging / f"{uuid.uuid4().hex}.json"
        staged_manifest.write_text(json.dumps(self.next_manifest, indent=1, sort_keys=True), "utf-8")
        with open(staged_manifest, "rb") as f:
            os.fsync(f.fileno())
        renames.append((str(staged_manifest.relative_to(self.root)), MANIFEST))
        _fsync_dir(self.staging)

        # Commit point: the journal becomes durable under its final name in one rename.
        journal_tmp = self.staging / "journal.tmp"
        journal_tmp.write_text(json.dumps({"renames": renames}), "utf-8")
        with open(journal_tmp, "rb") as f:
            os.fsync(f.fileno())
        with self.store._flock(READ_LOCK, fcntl.LOCK_EX, 300.0, "store readers"):
            os.replace(journal_tmp, self.root / JOURNAL)
            _fsync_dir(self.root)
            self.store._apply(renames)
            (self.root / JOURNAL).unlink()
            _fsync_dir(self.root)
        shutil.rmtree(self.staging, ignore_errors=True)


# --------------------------------------------------------------------- merging
def _with_lineage(spec: TableSpec, table: pa.Table, source_file: str, at: datetime) -> pa.Table:
    n = len(table)
    table = table.append_column(SOURCE_FILE, pa.array([source_file] * n, pa.string()))
    table = table.append_column(INGESTED_AT, pa.array([at] * n, pa.timestamp("us", tz="UTC")))
    return table.select(spec.schema.names).cast(spec.schema)


def file_for(spec: TableSpec, d: date) -> str:
    """The partition file a row dated ``d`` lives in. Built from a parsed date, never raw text."""
    if spec.file_per_date:
        return f"year={d.year}/part-{d:%Y%m%d}.parquet"
    return f"year={d.year}/part-{d.year}.parquet"


def _split_by_file(spec: TableSpec, table: pa.Table) -> Iterator[tuple[str, pa.Table]]:
    dates = table.column(spec.date_column)
    if spec.file_per_date:
        keys = pc.unique(dates).to_pylist()
        for d in sorted(keys):
            yield file_for(spec, d), table.filter(pc.equal(dates, pa.scalar(d, pa.date32())))
    else:
        years = pc.year(dates)
        for y in sorted(pc.unique(years).to_pylist()):
            yield file_for(spec, date(y, 1, 1)), table.filter(pc.equal(years, y))


def _resolve(spec: TableSpec, current: pa.Table | None, incoming: pa.Table) -> tuple[pa.Table, int]:
    """Merge ``incoming`` into ``current``: one row per key, the newest value wins.

    "Newest" is the later ingest (within one run, the later file on the command line), except that
    a FINRA row flagged as a revision beats an unflagged one whatever the order, so back-filling an
    old file never undoes a revision. A row whose values equal the current row's is not a change:
    the current row (and its lineage) stays, which makes re-ingesting identical data a no-op.
    Returns the merged table sorted by key and the number of rows that changed.
    """
    key = list(spec.key)
    if current is None or len(current) == 0:
        # A new partition (the common case: a new settlement date). Parsers return one row per
        # key, so there is nothing to resolve; skip the pandas round trip.
        if incoming.group_by(key).aggregate([]).num_rows == incoming.num_rows:
            return incoming.sort_by([(k, "ascending") for k in key]), incoming.num_rows

    import pandas as pd

    data_cols = [c for c in spec.schema.names if c not in (SOURCE_FILE, INGESTED_AT)]
    new = incoming.to_pandas(types_mapper=pd.ArrowDtype)
    if current is None or len(current) == 0:
        cur = new.iloc[0:0]
    else:
        cur = current.to_pandas(types_mapper=pd.ArrowDtype)
    # Rows identical in every data column to a current row change nothing.
    if len(cur):
        same = new.merge(cur[data_cols], on=data_cols, how="left", indicator=True)["_merge"].eq("both")
        new = new[~same.to_numpy()]
    if len(new) == 0:
        return current if current is not None else incoming, 0
    cur = cur.assign(_rank=0)
    new = new.assign(_rank=range(1, len(new) + 1))
    both = pd.concat([cur, new], ignore_index=True)
    order = key + (["revision_flag"] if "revision_flag" in both.columns else []) + ["_rank"]
    both = both.sort_values(order, kind="stable")
    winners = both.drop_duplicates(key, keep="last")
    changed = int((winners["_rank"] > 0).sum())
    winners = winners.drop(columns="_rank").sort_values(key, kind="stable")
    out = pa.Table.from_pandas(winners, schema=spec.schema, preserve_index=False)
    return out, changed
