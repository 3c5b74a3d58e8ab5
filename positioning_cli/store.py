"""The only module that reads or writes the Parquet store.

Layout (a public contract, README "Store layout")::

    STORE/
      manifest.json                    the committed state: every data file with rows, bytes, sha256;
                                       the log of ingested source files; the commit counter
      short_interest/year=2026/part-20260814.parquet   one file per settlement date
      prices/year=2026/part-2026.parquet                one file per year
      members/year=2026/part-20260626.parquet           one file per as-of date
      _versions/short_interest/year=2026/part-c00000003.parquet
      _versions/short_interest/year=2026/part-20260814-c00000003.parquet
                                       every version of every row ever ingested (see below)
      .positioning-store               the marker: this folder is a store, and its format version
      .lock  .read.lock                writer lock; readers/commit-apply lock (holders' pid inside)
      .staging/  .journal.json         only while a commit is in flight (or after a crash)

The live tables hold one row per key (the newest, see ``_resolve``); a plain glob over
``STORE/<table>/**/*.parquet`` never double counts. Every version of a row — including those a
later ingest superseded and those that lost to a revision — is kept, append-only, under
``STORE/_versions/<table>/year=YYYY/``. Rows merged into existing partitions go to
``part-cNNNNNNNN.parquet``: one file per commit (``NNNNNNNN`` is the commit number) and year,
holding the table's columns plus ``published`` (the publication date when the source gives one,
else null) and ``seq`` (the global order of the merge that brought the row). A partition the
commit creates is recorded as a byte copy of its live file as committed,
``part-YYYYMMDD-cNNNNNNNN.parquet`` (``layout: "snapshot"`` in the manifest, with the commit's
last ``seq``): no row is encoded twice, and rows superseded inside the commit, which no reader
could ever see, are not kept — except those a restatement (``SourceBatch.restates``, FINRA's
revised previous cycle) replaced, kept as rows so that forgetting the restating file restores
them. Rows identical in value to the live row change nothing and add no version, so re-ingesting
identical data adds nothing. A column a source does not carry
(``SourceBatch.absent``) keeps the live row's value; a whole-snapshot source (``SourceBatch.snapshot``)
removes the keys of its ``TableSpec.snapshot_scope`` it lacks, and each removal is a ``_versions``
row with ``removed`` true (a tombstone), so the history replays it. ``Store.versions`` reads both kinds as one
table; ``Store.read(..., known_at=T)`` rebuilds the live table as it was after the last commit
with ``ingested_at <= T`` from them.

A commit is atomic even if the process is killed: new files are written and fsynced in
``.staging/`` (never under a table folder), then a journal naming every rename is made durable —
that is the commit point — then the renames are applied with ``os.replace`` (atomic per file)
and the journal removed. The next writer (or reader) finding a journal rolls it forward; staging
leftovers without a journal are a commit that never happened and are deleted. While the renames
are applied the writer holds ``.read.lock`` exclusively, and readers hold it shared, so a scan
through ``Store.reading`` never sees half a commit. Another engine reading the files directly
right after a crash (before any positioning process opened the store) may see a commit half
applied: open the store once with positioning (any ``scan``/``store verify``/``ingest``) first.

Failures: an ``OSError`` (disk full, I/O error, failing fsync/rename) before the commit point
removes the staging files and raises ``StoreError`` — the store is unchanged, byte for byte.
After the commit point the commit is logically done: the renames are retried once; if they still
fail, ``StoreError`` says so and the next positioning run on the store completes the commit.

Symlinks inside the store are refused (``StoreError``) whenever a file is opened, read or written;
file names are built from parsed dates and counters, never from data. Nothing the store's metadata
says is trusted blindly (``store_meta``): every path in the manifest or journal must name a file of
the layout above, the manifest's fields are checked on load, the journal's renames all before the
first one is applied, and a data file is opened only when ``lstat`` finds a regular file of the
size the manifest records. Writers refuse a non-empty folder that has neither marker nor manifest.
Signals: SIGINT/SIGTERM (``signals.Interrupted``) unwind like any error before the commit point
(staging removed) and are held off from the commit point until the renames are done.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import hashlib
import itertools
import json
import math
import os
import shutil
import stat
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_all
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from positioning_cli import arrays, signals
from positioning_cli.errors import BusyError, StoreError, UsageError
from positioning_cli.schema import INGESTED_AT, RESTATES_FROM, RESTATES_TO, SOURCE_FILE, TABLES, TableSpec
from positioning_cli.store_meta import (
    COMMITTED,
    FORMAT_VERSION,
    JOURNAL,
    MANIFEST,
    MARKER,
    READ_LOCK,
    SNAPSHOT,
    STAGING,
    VERSIONS,
    WRITE_LOCK,
    check_manifest,
    check_rel,
    classify_folder,
    copy_json,
    load_journal,
    lstat_kind,
    manifest_text,
    os_error_text,
    read_json,
    read_marker,
    require_regular,
    write_marker,
)

__all__ = ["FORMAT_VERSION", "JOURNAL", "MANIFEST", "MARKER", "READ_LOCK", "SNAPSHOT", "STAGING"]
__all__ += ["VERSIONS", "WRITE_LOCK", "SourceBatch", "MergeResult", "Store", "Writer", "os_error_text"]

PUBLISHED = "published"
# A price file that moves a close already held by more than this (relative) is said: float noise
# between sources stays below it; a split, a different dialect or a wrong --symbol does not.
CLOSE_CHANGE_TOLERANCE = 0.001
SEQ = "seq"
REMOVED = "removed"  # a _versions row that records the key's removal by a snapshot (a tombstone)
# Columns a partial source can never leave "not provided": they decide which row wins.
_ALWAYS_PROVIDED = frozenset({"revision_flag", "source_format"})
COMPRESSION = "zstd"
READ_THREADS_FILES = 32  # files in one read from which it runs on a thread per core
# Lock files a reader cannot open on a read-only store (mount, or permissions): it reads unlocked.
_READ_ONLY_ERRNOS = frozenset({errno.EACCES, errno.EROFS, errno.EPERM})
_said_unlocked = False  # "reading without the lock" is said once per process


@dataclass(frozen=True)
class SourceBatch:
    """One parsed input file, ready to merge into a table."""

    table: pa.Table  # spec.parsed_schema
    source_file: str  # the file's name as the user gave it (lineage; never used as a path)
    sha256: str  # of the raw bytes, for idempotent re-ingest
    format: str
    published: date | None = None  # publication date when the source gives one (kept in _versions)
    # The options that shaped the rows (--as-of, --index, --map, ...): with the bytes, the
    # ingest's identity; the same bytes read with other options replace what they gave before.
    options: dict[str, str] | None = None
    # Columns the source does not carry: they keep the value another source gave (never erased).
    absent: frozenset[str] = frozenset()
    # The source is the whole of each snapshot scope it holds (``TableSpec.snapshot_scope``): keys of
    # those scopes it lacks are removed. Otherwise it only adds and updates rows.
    snapshot: bool = False
    # Values the source gives for rows of other dates (a FINRA row flagged R: the previous cycle's
    # corrected figure). Columns: the key without its date, RESTATES_FROM and RESTATES_TO (the
    # dates the restated row may have), and the restated columns. The newest row held for the key
    # in that span (by the store, or by this or an earlier file of the run) takes the values, as a
    # new version with this source's lineage; its other columns keep their held values. None held
    # in the span: nothing to restate (``MergeResult.not_restated``).
    restates: pa.Table | None = None


@dataclass(frozen=True)
class MergeResult:
    source_file: str
    table: str
    rows: int  # rows in the source
    changed: int  # rows that were new or replaced a different value
    skipped: bool  # the same bytes were ingested before: nothing to do
    first_date: date | None
    last_date: date | None
    warnings: tuple[str, ...] = ()  # e.g. existing closes this file moved (CLOSE_CHANGE_TOLERANCE)
    removed: int = 0  # rows of the live table this snapshot source removed
    restatements: int = 0  # rows of ``SourceBatch.restates`` (FINRA: R rows with a previous figure)
    restated: int = 0  # held rows this source's restatements changed (a new version each)
    not_restated: int = 0  # restatements with no row held in their span: nothing to restate


def versions_schema(spec: TableSpec) -> pa.Schema:
    """Schema of ``STORE/_versions/<table>/`` files: the table's columns, ``published``, ``seq``,
    ``removed`` (True: the row records that a snapshot removed the key; null or False otherwise)."""
    return pa.schema([*legacy_versions_schema(spec), pa.field(REMOVED, pa.bool_())])


def legacy_versions_schema(spec: TableSpec) -> pa.Schema:
    """The ``_versions`` schema before ``removed`` existed: such files are read as never removed."""
    return pa.schema(
        [*spec.schema, pa.field(PUBLISHED, pa.date32()), pa.field(SEQ, pa.int64(), nullable=False)]
    )


def default_store_path() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("positioning", appauthor=False)) / "store"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _empty_manifest() -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "commit": 0,
        "seq": 0,
        "tables": {n: {"files": {}} for n in TABLES},
        "versions": {n: {"files": {}} for n in TABLES},
        "ingests": [],
    }


def _parse_time(text: str) -> datetime:
    t = datetime.fromisoformat(text)
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _as_utc(t: datetime) -> datetime:
    return t.astimezone(UTC) if t.tzinfo else t.replace(tzinfo=UTC)


class Store:
    def __init__(self, root: Path, on_wait: Callable[[str], None] | None = None) -> None:
        self.root = Path(root)
        # Told once per lock when it has to wait for it, what it waits for (the ingest progress
        # bar shows it instead of a silent empty bar).
        self.on_wait = on_wait

    # ----------------------------------------------------------------- paths
    def refuse_symlinks(self, path: Path, _seen: set[Path] | None = None) -> None:
        """Raise StoreError if ``path`` or any folder between the store root and it is a symlink."""
        try:
            rel = path.relative_to(self.root)
        except ValueError:
            raise StoreError(f"{path}: outside the store {self.root}") from None
        p = self.root
        for part in rel.parts:
            p = p / part
            if _seen is not None and p in _seen:
                continue
            if p.is_symlink():
                raise StoreError(f"{p}: refusing a symlink inside the store")
            if _seen is not None and p != path:
                _seen.add(p)

    # ----------------------------------------------------------------- state
    def exists(self) -> bool:
        """True when the store has a manifest (a regular file: anything else is refused)."""
        if self.root.exists() and not self.root.is_dir():
            raise UsageError(f"--store {self.root}: a file, not a store folder")
        return require_regular(self.root / MANIFEST, "manifest")

    def manifest(self) -> dict[str, Any]:
        """The committed state, its shape checked (``store_meta.check_manifest``)."""
        path = self.root / MANIFEST
        if not self.exists():
            return _empty_manifest()
        return check_manifest(read_json(path, "manifest"), str(path))

    def _has_versions_section(self) -> bool:
        """False for a store written before ``_versions`` existed (and holding data)."""
        if not self.exists():
            return True
        data = read_json(self.root / MANIFEST, "manifest")
        return isinstance(data, dict) and "versions" in data

    def files(self, table: str, manifest: dict[str, Any] | None = None) -> list[Path]:
        m = manifest if manifest is not None else self.manifest()
        return [self.root / table / rel for rel in sorted(m["tables"][table]["files"])]

    def _live(self, table: str, m: dict[str, Any], rels: Iterable[str]) -> list[tuple[Path, int | None]]:
        """Live files with the size the manifest records (each checked against it when opened)."""
        named = m["tables"][table]["files"]
        return [(self._path(f"{table}/{rel}", ("live",)), int(named[rel]["bytes"])) for rel in rels]

    def _path(self, rel: str, kinds: tuple[str, ...]) -> Path:
        """The path of ``rel``, a name read from the store's metadata: checked against the layout
        (``store_meta.check_rel``) before it is used, whoever handed it over."""
        return self.root / check_rel(rel, kinds, str(self.root / MANIFEST))

    def version_files(
        self, table: str, manifest: dict[str, Any] | None = None, known_at: datetime | None = None
    ) -> list[Path]:
        """``_versions`` files of ``table`` in commit order, only those ingested <= ``known_at``."""
        return [path for path, _ in self._version_entries(table, manifest, known_at)]

    def _version_entries(
        self, table: str, manifest: dict[str, Any] | None, known_at: datetime | None
    ) -> list[tuple[Path, dict[str, Any]]]:
        m = manifest if manifest is not None else self.manifest()
        entries = m["versions"][table]["files"]
        picked = [
            (e.get("commit", 0), rel)
            for rel, e in entries.items()
            if known_at is None or _parse_time(e["ingested_at"]) <= _as_utc(known_at)
        ]
        return [
            (self._path(f"{VERSIONS}/{table}/{rel}", ("versions",)), entries[rel])
            for _, rel in sorted(picked)
        ]

    def versions(
        self,
        table: str,
        columns: Sequence[str] | None = None,
        manifest: dict[str, Any] | None = None,
        known_at: datetime | None = None,
    ) -> pa.Table:
        """Every kept version of ``table``'s rows (ingested <= ``known_at``), in commit order, with
        ``published`` and ``seq``: from row files, and from snapshots of new partitions (whose
        ``seq`` is their commit's last and ``published`` that of the row's source file)."""
        spec = TABLES[table]
        m = manifest if manifest is not None else self.manifest()
        vschema = versions_schema(spec)
        names = list(vschema.names) if columns is None else list(columns)
        parts = []
        for path, entry in self._version_entries(table, m, known_at):
            if entry.get("layout") != SNAPSHOT:
                parts += self._read_files([(path, int(entry["bytes"]))], vschema, names)
                continue
            live = [c for c in names if c not in (PUBLISHED, SEQ, REMOVED)]
            need = list(dict.fromkeys([*live, SOURCE_FILE, INGESTED_AT]))
            t = self._read_files([(path, int(entry["bytes"]))], spec.schema, need)[0]
            n = t.num_rows
            if PUBLISHED in names:
                t = t.append_column(PUBLISHED, _published(m, table, t))
            if SEQ in names:
                t = t.append_column(SEQ, arrays.from_numpy(np.full(n, int(entry["seq"]), dtype=np.int64)))
            if REMOVED in names:
                t = t.append_column(REMOVED, pa.nulls(n, pa.bool_()))
            parts.append(t.select(names).cast(pa.schema([vschema.field(c) for c in names])))
        if not parts:
            return pa.schema([vschema.field(c) for c in names]).empty_table()
        return pa.concat_tables(parts)

    # ----------------------------------------------------------------- locks
    @contextlib.contextmanager
    def _flock(
        self, name: str, mode: int, wait: float, *, shown_wait: float | None = None, reader: bool = False
    ) -> Iterator[bool]:
        """Hold lock file ``name`` in ``mode``; wait up to ``wait`` s, then ``BusyError`` saying what
        holds it. Yields True when locked; False only for a ``reader`` on a read-only store (a
        lock file it can neither create nor open), which then reads unlocked, saying so once."""
        path = self.root / name
        if path.is_symlink():
            raise StoreError(f"{path}: refusing a symlink inside the store")
        try:
            fd = _open_lock(path, reader)
        except OSError as exc:
            if reader and exc.errno in _READ_ONLY_ERRNOS:
                _say_once(
                    f"note: {path}: cannot take the read lock ({os_error_text(exc)}); reading without it"
                    " (a commit landing meanwhile could be seen half applied)"
                )
                yield False
                return
            raise StoreError(f"{path}: cannot open the lock file: {os_error_text(exc)}") from None
        try:
            deadline = time.monotonic() + max(wait, 0.0)
            told = False
            while True:
                try:
                    fcntl.flock(fd, mode | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                        raise StoreError(f"{path}: cannot lock: {os_error_text(exc)}") from None
                    if self.on_wait is not None and not told:
                        told = True
                        shown = wait if shown_wait is None else shown_wait
                        self.on_wait(f"waiting (up to {shown:g}s, --wait): {_holder(fd, name, mode)}")
                    if time.monotonic() >= deadline:
                        raise BusyError(
                            f"{self.root}: the store is busy: {_holder(fd, name, mode)};"
                            f" waited {wait if shown_wait is None else shown_wait:g}s — retry, or raise --wait"
                        ) from None
                    time.sleep(0.02)
            if mode == fcntl.LOCK_EX:  # say who holds it, for the busy message of whoever waits
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, 0)
                    os.pwrite(fd, f"pid {os.getpid()}\n".encode(), 0)
            yield True
        finally:
            os.close(fd)  # closing releases the flock

    @contextlib.contextmanager
    def read_locked(self, wait: float = 60.0) -> Iterator[None]:
        """Hold commits off (shared read lock) without recovering anything: for ``store verify``."""
        with self._flock(READ_LOCK, fcntl.LOCK_SH, wait, reader=True):
            yield

    def writer_active(self) -> bool:
        """True while another process holds the write lock (a commit may be in progress)."""
        try:
            fd = os.open(self.root / WRITE_LOCK, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            return False  # no lock file (or a symlink, reported elsewhere): no writer
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return True
        finally:
            os.close(fd)
        return False

    def has_leftovers(self) -> bool:
        """A journal or staging files left by an interrupted commit (the next writer cleans them)."""
        return self._journal_pending() or (self.root / STAGING).exists()

    def _journal_pending(self) -> bool:
        return os.path.lexists(self.root / JOURNAL)

    @contextlib.contextmanager
    def reading(self, wait: float = 60.0, known_at: datetime | None = None) -> Iterator[dict[str, Any]]:
        """A consistent snapshot: the manifest, with commits held off while the caller reads.

        A committed journal left by a crashed or failed writer is rolled forward first (waiting
        for the write lock if a writer is active), so the snapshot is always a whole commit.
        With ``known_at`` the manifest is a point-in-time view (see ``as_of_view``): pass it to
        ``read`` to get the tables as they were after the last commit ingested <= ``known_at``.
        """
        if not self.exists():
            yield as_of_view(_empty_manifest(), known_at) if known_at else _empty_manifest()
            return
        deadline = time.monotonic() + max(wait, 0.0)
        while True:
            if self._journal_pending():
                with self._flock(WRITE_LOCK, fcntl.LOCK_EX, deadline - time.monotonic(), shown_wait=wait):
                    self._recover()
            left = deadline - time.monotonic()
            with self._flock(READ_LOCK, fcntl.LOCK_SH, left, shown_wait=wait, reader=True):
                if self._journal_pending():
                    continue  # a writer failed mid-apply after we looked: finish its commit first
                m = self.manifest()
                yield as_of_view(m, known_at) if known_at else m
                return

    # ----------------------------------------------------------------- reads
    def read(
        self,
        table: str,
        columns: Sequence[str] | None = None,
        manifest: dict[str, Any] | None = None,
        known_at: datetime | None = None,
        row_filter: Callable[[pa.Table], pa.Table] | None = None,
        partitions: Iterable[str] | None = None,
    ) -> pa.Table:
        """The live table (one row per key) as Arrow; empty with the full schema when absent.

        With ``known_at`` (or a manifest from ``reading(known_at=...)``), the table exactly as it was
        after the last commit whose ``ingested_at <= known_at``, rebuilt from ``_versions``.
        ``row_filter`` (rows -> the rows to keep) is applied file by file as they are read, so a
        reader that needs a small part of a large table never holds all of it. ``partitions``
        (file paths relative to the table folder, as the manifest names them) reads only those.
        """
        spec = TABLES[table]
        m = manifest if manifest is not None else self.manifest()
        if known_at is None and m.get("known_at"):
            known_at = _parse_time(m["known_at"])
        if known_at is not None:
            if partitions is not None:
                raise ValueError("partitions cannot be combined with known_at (history is rebuilt whole)")
            whole = self._read_known_at(spec, columns, m, known_at)
            return whole if row_filter is None else row_filter(whole)
        files = self._live(table, m, self._rels(table, m, partitions))
        schema = spec.schema if columns is None else pa.schema([spec.schema.field(c) for c in columns])
        if not files:
            return pa.Table.from_batches([], schema=schema)  # (schema.empty_table() imports pandas)
        parts = self._read_files(files, spec.schema, list(schema.names), row_filter)
        return pa.concat_tables(parts)

    def _rels(self, table: str, m: dict[str, Any], partitions: Iterable[str] | None) -> list[str]:
        named = m["tables"][table]["files"]
        return sorted(named) if partitions is None else sorted(set(partitions) & set(named))

    def data_files(
        self, table: str, manifest: dict[str, Any], partitions: Iterable[str] | None = None
    ) -> list[str]:
        """The live files of ``table`` (only ``partitions`` when given) for another Parquet reader
        (the DuckDB engine), after the checks ``read`` makes before opening a file. Not for a
        point-in-time manifest, whose tables are rebuilt in memory (``read``)."""
        if manifest.get("known_at"):
            raise ValueError("a known_at manifest has no live files: read the table instead")
        files = self._live(table, manifest, self._rels(table, manifest, partitions))
        self._check_files(files)
        return [str(p) for p, _ in files]

    def _check_files(self, files: list[tuple[Path, int | None]]) -> None:
        seen: set[Path] = set()
        for p, size in files:
            self.refuse_symlinks(p, seen)
            _check_data_file(p, size)

    def _read_files(
        self,
        files: list[tuple[Path, int | None]],
        schema: pa.Schema,
        columns: list[str],
        row_filter: Callable[[pa.Table], pa.Table] | None = None,
    ) -> list[pa.Table]:
        """Read ``(path, size the manifest records or None for a staging file)`` pairs.

        Each file is checked before it is opened: no symlink on the way, a regular file (a FIFO
        would block the read forever), the size the manifest says (a file replaced behind the
        manifest's back is refused, not read). Errors name the file.
        """
        self._check_files(files)

        def one(p: Path) -> pa.Table:
            try:
                t = _read_one(p, columns, schema)
            except (OSError, pa.ArrowException) as exc:
                raise StoreError(f"{p}: cannot read this data file: {os_error_text(exc)}") from None
            return t if row_filter is None else row_filter(t)

        paths = [p for p, _ in files]
        # a filter, or many small files (a year of daily short-volume files): worth the threads
        many = row_filter is not None or len(paths) >= READ_THREADS_FILES
        workers = min(len(paths), os.cpu_count() or 1, 8) if many else 1
        if workers <= 1:
            return [one(p) for p in paths]
        # Arrow decodes and filters without the GIL: one file per core at a time.
        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(one, paths))

    def _read_known_at(
        self, spec: TableSpec, columns: Sequence[str] | None, m: dict[str, Any], known_at: datetime
    ) -> pa.Table:
        schema = spec.schema if columns is None else pa.schema([spec.schema.field(c) for c in columns])
        vschema = versions_schema(spec)
        key = list(spec.key)
        need = list(
            dict.fromkeys(
                [
                    *key,
                    spec.date_column,
                    "revision_flag",
                    SEQ,
                    REMOVED,
                    INGESTED_AT,
                    SOURCE_FILE,
                    *schema.names,
                ]
            )
        )
        need = [c for c in need if c in vschema.names]
        allv = self.versions(spec.name, need, m, known_at)
        if allv.num_rows == 0:
            return schema.empty_table()
        at = pa.scalar(_as_utc(known_at), pa.timestamp("us", tz="UTC"))
        allv = allv.filter(pc.less_equal(allv.column(INGESTED_AT), at))
        forgotten = forgotten_ingests(m, spec.name, known_at)
        allv = allv.filter(pc.invert(_from_ingests(allv, forgotten)))
        if not forgotten:
            return newest_versions(spec, allv, schema)
        # with lineage and date, to leave out the restatements whose restated rows were forgotten
        traced = pa.schema([vschema.field(c) for c in need if c not in (SEQ, REMOVED)])
        live = newest_versions(spec, allv, traced)
        orphans = _orphans(m, spec, live, allv)
        if orphans.any():
            live = live.filter(arrays.from_numpy(~orphans))
        return live.select(schema.names).cast(schema)

    # ----------------------------------------------------------------- writes
    @contextlib.contextmanager
    def writing(self, wait: float, distinct_time: bool = False) -> Iterator[Writer]:
        """Exclusive writer session. Changes become visible only when the block exits cleanly.

        ``wait`` bounds each wait: for the write lock, and for readers to finish before the commit
        is applied. Only a store (marker or manifest), a missing or an empty folder is written to.
        """
        self._claim()
        with self._flock(WRITE_LOCK, fcntl.LOCK_EX, wait):
            self._mark()
            self._recover()
            writer = Writer(self, wait, distinct_time)
            try:
                yield writer
            except BaseException:
                writer.abort()
                raise
            writer.commit()

    def claim(self) -> None:
        """Make this folder a store before anything is written into it (``fetch`` keeps raw
        payloads in the store before the first ingest): refuse a foreign folder, create a
        missing one, write the marker. Idempotent."""
        self._claim()
        self._mark()

    def _mark(self) -> None:
        if read_marker(self.root) is None:  # a new store, or one written before markers
            try:
                write_marker(self.root)
            except OSError as exc:
                raise StoreError(
                    f"{self.root}: cannot write the store marker: {os_error_text(exc)}"
                ) from None

    def _claim(self) -> None:
        """Refuse to write into a folder that is not a store; create a missing one."""
        kind = classify_folder(self.root)
        if kind == "not-a-folder":
            raise UsageError(f"--store {self.root}: a file, not a store folder")
        if kind == "foreign":
            raise UsageError(
                f"--store {self.root}: not a positioning store (no {MARKER} or {MANIFEST}) and not"
                " empty; refusing to write into it: give a new or empty folder"
            )
        if kind == "missing":
            try:
                self.root.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"{self.root}: cannot create the store: {os_error_text(exc)}") from None

    def _recover(self) -> None:
        """Roll a committed journal forward; delete staging leftovers of uncommitted work.

        The journal is checked whole before anything moves (``store_meta.load_journal``): a
        torn one means the disk lied about its rename, and one naming a path outside the layout
        was not written by positioning. Either is refused (``StoreError``), nothing moved.
        """
        journal = self.root / JOURNAL
        staging = self.root / STAGING
        for p in (journal, staging):
            if p.is_symlink():
                raise StoreError(f"{p}: refusing a symlink inside the store")
        try:
            if os.path.lexists(journal):
                self._apply(load_journal(journal))
                journal.unlink()
                _fsync_dir(self.root)
            kind = lstat_kind(staging)
            if kind == "dir":
                shutil.rmtree(staging)
            elif kind is not None:
                staging.unlink()
        except OSError as exc:
            raise StoreError(
                f"{self.root}: cannot complete an interrupted commit: {os_error_text(exc)}"
            ) from None

    def _apply(self, renames: list[tuple[str, str]]) -> None:
        """Move each staged file into place. Every pair is checked before the first move: both
        names in the layout, no symlink on the way, nothing but regular files at either end."""
        seen: set[Path] = set()
        moves = []
        for staged, final in renames:
            src, dst = self._path(staged, ("staging",)), self._path(final, COMMITTED)
            for p in (src, dst):
                self.refuse_symlinks(p, seen)
                if lstat_kind(p) not in (None, "file"):
                    raise StoreError(f"{p}: not a regular file; the commit cannot be applied")
            moves.append((src, dst))
        touched: set[Path] = set()
        for src, dst in moves:
            if os.path.lexists(src):  # already applied by an earlier, interrupted recovery otherwise
                dst.parent.mkdir(parents=True, exist_ok=True)
                self.refuse_symlinks(dst, seen)
                os.replace(src, dst)
                touched.add(dst.parent)
        for d in sorted(touched, key=lambda p: len(p.parts), reverse=True):
            _fsync_dir(d)
            if d != self.root:
                _fsync_dir(d.parent)  # a new year= or table folder must be durable too


def _check_data_file(path: Path, size: int | None) -> None:
    """Refuse a data file that is not a regular file, or not the size the manifest records."""
    try:
        st = os.lstat(path)
    except OSError as exc:
        raise StoreError(f"{path}: cannot read this data file: {os_error_text(exc)}") from None
    if not stat.S_ISREG(st.st_mode):
        raise StoreError(f"{path}: not a regular file; refusing to open it (see `positioning store verify`)")
    if size is not None and st.st_size != size:
        raise StoreError(
            f"{path}: {st.st_size} bytes but the manifest records {size}: the file was changed"
            " outside positioning (see `positioning store verify`)"
        )


def _read_one(path: Path, columns: list[str], schema: pa.Schema) -> pa.Table:
    """``pq.read_table(path, columns=columns, schema=schema)``, without its per-file dataset setup
    when the file holds every column with the expected type (always, for files this module wrote):
    a 20-year store has ~500 files per table and the setup was half the read time."""
    f = pq.ParquetFile(path)
    have = f.schema_arrow
    want = [schema.field(c) for c in columns]
    if all(have.get_field_index(w.name) >= 0 and have.field(w.name).type == w.type for w in want):
        t = f.read(columns=columns, use_threads=False)
        return t.cast(pa.schema(want)) if t.schema != pa.schema(want) else t
    return pq.read_table(path, columns=columns, schema=schema)


def as_of_view(manifest: dict[str, Any], known_at: datetime) -> dict[str, Any]:
    """A manifest describing the store as it was after the last commit ingested <= ``known_at``.

    Good for ``Store.read``: it carries ``known_at`` and the ``_versions`` files of that time; its
    ``tables`` are empty (the live files of that time were overwritten since) and its ``ingests``
    log stops at ``known_at``.
    """
    at = _as_utc(known_at)
    view = copy_json(manifest)
    view["known_at"] = at.isoformat()
    for name in TABLES:
        view["tables"][name] = {"files": {}}
        files = view["versions"][name]["files"]
        view["versions"][name]["files"] = {
            rel: e for rel, e in files.items() if _parse_time(e["ingested_at"]) <= at
        }
    view["ingests"] = [i for i in view["ingests"] if _parse_time(i["ingested_at"]) <= at]
    return view


class _Staged:
    """A partition file of the commit: in memory until ``Writer.spill`` hands it to a writer thread."""

    def __init__(self, spec: TableSpec, table: pa.Table) -> None:
        self.spec = spec
        self.table: pa.Table | None = table
        self.written: Future[tuple[Path, dict[str, Any]]] | None = None
        self.copy: Path | None = None  # its byte copy for _versions (a partition new in the commit)


class Writer:
    """Collects merges for one commit. Use through ``Store.writing``.

    Memory stays bounded however much is ingested in one commit: ``spill`` writes the staged
    partition files (on a pool of threads: Parquet encoding and fsync release the GIL) and the
    buffered ``_versions`` rows to ``.staging`` as the caller goes, and ``commit`` only finishes
    what is left. A partition touched again later in the same commit is read back from staging.
    """

    def __init__(self, store: Store, wait: float = 30.0, distinct_time: bool = False) -> None:
        self.store = store
        self.wait = wait  # how long the commit waits for readers before it is applied
        self.root = store.root
        self.base = store.manifest()
        self.next_manifest = copy_json(self.base)
        self.staging = self.root / STAGING
        self._staged: dict[str, _Staged] = {}  # final rel path -> content of this commit
        self._versions: dict[str, list[pa.Table]] = {}  # table/year=YYYY -> buffered version rows
        self._version_files: dict[str, tuple[pq.ParquetWriter, Path]] = {}  # the same -> open file
        self._seed: dict[str, list[pa.Table]] = {}  # version rows for a store older than _versions
        self._snapshots: set[str] = set()  # partitions new in this commit: their live file is the version
        self._pool: ThreadPoolExecutor | None = None
        self._serial: dict[str, ThreadPoolExecutor] = {}  # one thread per open version file
        self._serial_jobs: list[Future[Any]] = []
        self.ingested_at = datetime.now(UTC).replace(microsecond=0)
        last = [_parse_time(i["ingested_at"]) for i in self.base["ingests"][-1:]]
        if last and self.ingested_at <= last[0]:
            # a clock step back (or two commits in one second) must not reorder commits in time
            self.ingested_at = last[0]
            if distinct_time:
                # Rows are traced to (source file, ingested_at): a commit that forgets an ingest
                # and may bring the same file name back needs a time of its own.
                self.ingested_at = last[0] + timedelta(seconds=1)
        self._seq = 0

    def already_ingested(self, table: str, sha256: str, options: dict[str, str] | None = None) -> bool:
        """The same bytes, read with the same options, were ingested and not forgotten since."""
        return any(
            i["table"] == table
            and i["sha256"] == sha256
            and not i.get("forgotten_at")
            and i.get("options", {}) == (options or {})
            for i in self.next_manifest["ingests"]
        )

    def forget(self, spec: TableSpec, sha256: str) -> list[dict[str, Any]]:
        """Remove what the ingests of the file with these bytes contributed to ``spec``'s table.

        Their rows leave the live table; each such key falls back to the newest version another
        ingest (not forgotten) gave it, or disappears when none did. The entries stay in the log,
        marked ``forgotten_at``: ``read(known_at=...)`` before this commit still sees their rows.
        Returns the entries forgotten (none: nothing to do).
        """
        gone = [
            e
            for e in self.next_manifest["ingests"]
            if e["table"] == spec.name and e["sha256"] == sha256 and not e.get("forgotten_at")
        ]
        if not gone:
            return []
        for e in gone:
            e["forgotten_at"] = self.ingested_at.isoformat()
        rels = set(self.base["tables"][spec.name]["files"])
        rels |= {f.split("/", 1)[1] for f in self._staged if f.split("/", 1)[0] == spec.name}
        key = list(spec.key)
        # The keys a forgotten snapshot removed come back too (their tombstones are its rows).
        unremoved: dict[str, pa.Table] = {}
        if spec.snapshot_scope:
            where = list(dict.fromkeys([*key, spec.date_column]))
            tomb = self.store.versions(spec.name, [*where, REMOVED, SOURCE_FILE, INGESTED_AT], self.base)
            tomb = tomb.filter(pc.and_(pc.fill_null(tomb.column(REMOVED), False), _from_ingests(tomb, gone)))
            unremoved = dict(_split_by_file(spec, tomb.select(where)))
        fallback: pa.Table | None = None
        allv: pa.Table | None = None
        for rel in sorted(rels):
            current = self._current(spec, rel)
            if current is None:
                continue
            mine = _from_ingests(current, gone)
            if not pc.any(mine).as_py() and rel not in unremoved:
                continue
            if allv is None:
                allv = self.store.versions(spec.name, None, self.base)
                allv = allv.filter(
                    pc.invert(_from_ingests(allv, forgotten_ingests(self.next_manifest, spec.name)))
                )
                fallback = newest_versions(spec, allv, spec.schema)
            assert fallback is not None
            kept = current.filter(pc.invert(mine))
            removed = current.filter(mine).select(key)
            if rel in unremoved:  # removed by the forgotten snapshot and not held since
                lost = unremoved[rel].select(key).join(kept.select(key), key, join_type="left anti")
                removed = pa.concat_tables([removed, lost.cast(removed.schema)])
            back = fallback.join(removed, key, join_type="inner").select(spec.schema.names)
            merged = pa.concat_tables([kept, back.cast(spec.schema)])
            assert allv is not None
            merged = merged.filter(arrays.from_numpy(~_orphans(self.next_manifest, spec, merged, allv)))
            merged = merged.take(pc.sort_indices(merged, [(k, "ascending") for k in spec.key]))
            self._staged[f"{spec.name}/{rel}"] = _Staged(spec, merged)
        return gone

    def merge(self, spec: TableSpec, batch: SourceBatch) -> MergeResult:
        """Stage one batch; see ``merge_many``."""
        return self.merge_many(spec, [batch])[0]

    def merge_many(self, spec: TableSpec, batches: Sequence[SourceBatch]) -> list[MergeResult]:  # noqa: PLR0915 (over 60 statements: to split, issue 11)
        """Stage ``batches`` (in order) into ``spec``'s table: the newest value per key wins.

        All batches are resolved together, one pass per partition file, so ingesting hundreds of
        files costs one read and one write of each partition they touch (see _resolve for the rule;
        a later batch is newer than an earlier one). Rows are tagged with an ``origin``: ``2 * i``
        for batch ``i``'s own rows, ``2 * i + 1`` for the held rows its restatements change
        (``SourceBatch.restates``), so those come right after the batch and before the next one.
        """
        results: list[MergeResult | None] = [None] * len(batches)
        parts: dict[str, list[tuple[int, pa.Table]]] = {}  # partition -> (origin, its rows)
        moved: dict[int, list[tuple[str, date, float, float]]] = {}  # batch -> closes it moved
        entries: dict[int, dict[str, Any]] = {}
        seqs: dict[int, int] = {}
        for i, batch in enumerate(batches):
            t = batch.table
            dates = t.column(spec.date_column)
            first = pc.min(dates).as_py() if len(t) else None
            last = pc.max(dates).as_py() if len(t) else None
            if self.already_ingested(spec.name, batch.sha256, batch.options):
                results[i] = MergeResult(batch.source_file, spec.name, len(t), 0, True, first, last)
                continue
            self._seq += 1
            self.next_manifest["seq"] = seqs[i] = int(self.next_manifest.get("seq", 0)) + 1
            for rel, part in _split_by_file(
                spec, _with_lineage(spec, t, batch.source_file, self.ingested_at)
            ):
                parts.setdefault(rel, []).append((2 * i, part))
            entries[i] = {
                "table": spec.name,
                "source_file": batch.source_file,
                "sha256": batch.sha256,
                "format": batch.format,
                "rows": len(t),
                "changed": 0,
                "first_date": first.isoformat() if first else None,
                "last_date": last.isoformat() if last else None,
                "published": batch.published.isoformat() if batch.published else None,
                "ingested_at": self.ingested_at.isoformat(),
            }
            if batch.options:
                entries[i]["options"] = dict(batch.options)
            self.next_manifest["ingests"].append(entries[i])
            asked = 0 if batch.restates is None else len(batch.restates)
            results[i] = MergeResult(
                batch.source_file, spec.name, len(t), 0, False, first, last, restatements=asked
            )
        restated_rows, not_restated = self._restatements(spec, batches, set(entries))
        for i, wanted in restated_rows.items():
            lineage = _with_lineage(spec, wanted, batches[i].source_file, self.ingested_at)
            for rel, part in _split_by_file(spec, lineage):
                parts.setdefault(rel, []).append((2 * i + 1, part))
                parts[rel].sort(key=lambda p: p[0])  # stable: a batch's rows keep their order
        changed: dict[int, int] = {}
        removed: dict[int, int] = {}
        restated: dict[int, int] = {}
        absent = {2 * i: b.absent - set(spec.key) - _ALWAYS_PROVIDED for i, b in enumerate(batches)}
        # A restated row gives only its restated columns: the others keep the value held for its key.
        absent |= {2 * i + 1: _restated_absent(spec, batches[i]) for i in restated_rows}
        snapshots = frozenset(2 * i for i, b in enumerate(batches) if b.snapshot and spec.snapshot_scope)
        restating = frozenset(2 * i + 1 for i in restated_rows)
        for rel in sorted(parts):
            # One contiguous table per partition: take/filter on many small chunks is slow.
            rows = pa.concat_tables([p for _, p in parts[rel]]).combine_chunks()
            origin = np.repeat([o for o, _ in parts[rel]], [p.num_rows for _, p in parts[rel]])
            current = self._current(spec, rel)
            if spec.keep_held:
                rows, moves = _keep_held(spec, current, rows)
                for j, move in moves:
                    moved.setdefault(int(origin[j]) // 2, []).append(move)
            res = _resolve_restating(spec, current, rows, origin, absent, snapshots, restating)
            own = origin % 2 == 0
            if len(res.winners) or len(res.removed_by):
                self._staged[f"{spec.name}/{rel}"] = _Staged(spec, res.table)
                won = origin[res.winners]
                for i, n in zip(*np.unique(won[won % 2 == 0] // 2, return_counts=True), strict=True):
                    changed[int(i)] = changed.get(int(i), 0) + int(n)
                for i, n in zip(*np.unique(res.removed_by // 2, return_counts=True), strict=True):
                    removed[int(i)] = removed.get(int(i), 0) + int(n)
            for i, n in zip(*np.unique(origin[res.recorded & ~own] // 2, return_counts=True), strict=True):
                restated[int(i)] = restated.get(int(i), 0) + int(n)
            if rel not in self.base["tables"][spec.name]["files"]:
                # A partition new in this commit: its live file, as written, records its versions
                # (rows superseded within the commit were never visible to any reader), except the
                # rows a restatement replaced: kept, so forgetting the restating file restores them.
                self._snapshots.add(f"{spec.name}/{rel}")
                self._record_replaced(spec, rel, res, seqs)
                continue
            rows, recorded = res.incoming, res.recorded
            if recorded.all():
                self._record_versions(spec, rel, rows, origin // 2, batches, seqs)
            elif recorded.any():
                sel = np.flatnonzero(recorded)
                self._record_versions(spec, rel, rows.take(sel), origin[sel] // 2, batches, seqs)
            if len(res.removed_by):
                # Tombstones: the removed rows, stamped with the lineage of the snapshot that removed them.
                gone = res.removed.drop_columns([SOURCE_FILE, INGESTED_AT])
                by = res.removed_by // 2
                names = [batches[int(i)].source_file for i in by]
                gone = _with_lineage(spec, gone, "", self.ingested_at)
                gone = gone.set_column(
                    gone.schema.get_field_index(SOURCE_FILE), SOURCE_FILE, arrays.strings(names)
                )
                self._record_versions(spec, rel, gone, by, batches, seqs, removed=True)
        for i in set(changed) | set(removed) | set(restated) | set(not_restated):
            n, gone_n = changed.get(i, 0), removed.get(i, 0)
            entries[i]["changed"] = n
            entries[i]["removed"] = gone_n
            if i in restated or i in not_restated:
                entries[i]["restated"] = restated.get(i, 0)
                entries[i]["not_restated"] = not_restated.get(i, 0)
            r = results[i]
            assert r is not None
            results[i] = dataclasses.replace(
                r, changed=n, removed=gone_n, restated=restated.get(i, 0), not_restated=not_restated.get(i, 0)
            )
        for i, closes_moved in moved.items():
            r = results[i]
            assert r is not None
            results[i] = dataclasses.replace(r, warnings=(_moved_closes(closes_moved),))
        return [r for r in results if r is not None]

    def _restatements(
        self, spec: TableSpec, batches: Sequence[SourceBatch], live: set[int]
    ) -> tuple[dict[int, pa.Table], dict[int, int]]:
        """Per batch (of those in ``live``, not skipped), the rows its restatements change: the key
        of the newest row held in each restatement's span, the restated values, placeholders for
        the other columns (``_resolve`` fills them from the held row); and how many found none.

        "Held" at batch ``i`` is what the store holds (with this commit's earlier steps) and the
        rows of batches up to ``i`` in this run: ingest order, as if each file were its own commit.
        Only the key columns of the partitions in the restatements' spans are read.
        """
        asks = {
            i: b.restates
            for i, b in enumerate(batches)
            if i in live and b.restates is not None and len(b.restates)
        }
        if not asks:
            return {}, {}
        keys = [*(k for k in spec.key if k != spec.date_column), spec.date_column]
        spans = {
            i: (pc.min(t.column(RESTATES_FROM)).as_py(), pc.max(t.column(RESTATES_TO)).as_py())
            for i, t in asks.items()
        }
        rels = sorted({rel for lo, hi in spans.values() for rel in self._rels_between(spec, lo, hi)})
        # (first date, last date, keys) of each held part: the partitions, then the batches in order
        held = [_dated(spec, t) for rel in rels if (t := self._held_keys(spec, rel, keys)) is not None]
        found: dict[int, pa.Table] = {}
        missing: dict[int, int] = {}
        for i in sorted(live):
            held.append(_dated(spec, batches[i].table.select(keys)))
            if i in asks:
                lo, hi = spans[i]
                near = [t for first, last, t in held if first is not None and first <= hi and last >= lo]
                candidates = pa.concat_tables(near) if near else held[-1][2].slice(0, 0)
                found[i], missing[i] = _restated_rows(spec, asks[i], candidates)
        return {i: t for i, t in found.items() if len(t)}, missing

    def _held_keys(self, spec: TableSpec, rel: str, keys: list[str]) -> pa.Table | None:
        """The key columns of partition ``rel`` as this commit holds it so far (None: not held)."""
        if f"{spec.name}/{rel}" in self._staged:
            current = self._current(spec, rel)
            return None if current is None else current.select(keys)
        if rel in self.base["tables"][spec.name]["files"]:
            return self.store._read_files(self.store._live(spec.name, self.base, [rel]), spec.schema, keys)[0]
        return None

    def _rels_between(self, spec: TableSpec, lo: date, hi: date) -> list[str]:
        """Partition files (held or staged in this commit) that may hold rows dated in [lo, hi]."""
        rels = set(self.base["tables"][spec.name]["files"])
        rels |= {f.split("/", 1)[1] for f in self._staged if f.split("/", 1)[0] == spec.name}
        wanted = {file_for(spec, lo + timedelta(days=n)) for n in range((hi - lo).days + 1)}
        return sorted(rels & wanted)

    def _record_replaced(self, spec: TableSpec, rel: str, res: _Resolved, seqs: dict[int, int]) -> None:
        """Keep the rows a restatement replaced in a partition new in this commit (they are not
        in its snapshot): just before the restating batch in merge order, with their own lineage."""
        if not len(res.replaced_by):
            return
        seq = np.asarray([seqs[int(o) // 2] - 1 for o in res.replaced_by], dtype=np.int64)
        self._record_rows(
            spec, rel, res.replaced, seq, _published(self.next_manifest, spec.name, res.replaced)
        )

    def _record_versions(
        self,
        spec: TableSpec,
        rel: str,
        rows: pa.Table,
        origin: np.ndarray,
        batches: Sequence[SourceBatch],
        seqs: dict[int, int],
        *,
        removed: bool = False,
    ) -> None:
        """Keep ``rows`` (with their batch's publication date and merge order) in ``_versions``;
        ``removed``: they are tombstones, the keys a snapshot removed."""
        present = sorted(set(origin.tolist()))
        at = np.searchsorted(present, origin)
        seq = np.asarray([seqs[i] for i in present], dtype=np.int64)[at]
        published = _dates([batches[i].published for i in present])
        self._record_rows(
            spec, rel, rows, seq, published.take(arrays.from_numpy(at.astype(np.int64))), removed=removed
        )

    def _record_rows(
        self,
        spec: TableSpec,
        rel: str,
        rows: pa.Table,
        seq: np.ndarray,
        published: pa.Array,
        *,
        removed: bool = False,
    ) -> None:
        """Buffer ``rows`` for this commit's ``_versions`` file of their year, with these columns."""
        rows = (
            rows.append_column(PUBLISHED, published)
            .append_column(SEQ, arrays.from_numpy(seq))
            .append_column(REMOVED, arrays.from_numpy(np.full(len(rows), removed)))
        )
        year_dir = rel.split("/", 1)[0]  # year=YYYY, built from a parsed date
        self._versions.setdefault(f"{spec.name}/{year_dir}", []).append(rows.cast(versions_schema(spec)))

    def _current(self, spec: TableSpec, rel: str) -> pa.Table | None:
        staged = self._staged.get(f"{spec.name}/{rel}")
        if staged is not None:
            if staged.table is not None:
                return staged.table
            assert staged.written is not None
            with self._disk_errors():
                path, _ = staged.written.result()
            return self.store._read_files([(path, None)], spec.schema, list(spec.schema.names))[0]
        if rel in self.base["tables"][spec.name]["files"]:
            files = self.store._live(spec.name, self.base, [rel])
            return self.store._read_files(files, spec.schema, list(spec.schema.names))[0]
        return None

    def spill(self) -> None:
        """Hand every staged partition to the writer threads and write buffered ``_versions`` rows,
        so what a long ingest has merged so far no longer has to stay in memory."""
        with self._disk_errors():
            self._spill()

    @contextlib.contextmanager
    def _disk_errors(self) -> Iterator[None]:
        """Disk trouble while staging: the commit cannot happen, and the store is untouched."""
        try:
            yield
        except (OSError, pa.ArrowException) as exc:
            raise StoreError(
                f"{self.root}: commit failed, the store is unchanged: {os_error_text(exc)}"
            ) from None

    def _spill(self) -> None:
        for final, staged in self._staged.items():
            if staged.written is None:
                table, staged.table = staged.table, None
                assert table is not None
                if final in self._snapshots:  # copied by the same job, as soon as it is written
                    staged.copy = self.staging / f"{uuid.uuid4().hex}.parquet"
                staged.written = self._submit(self._stage_file, table, staged.spec, staged.copy)
        self._write_versions()

    def _submit(self, fn: Callable[..., Any], *args: Any, serial: str | None = None) -> Future[Any]:
        """Run ``fn`` on the writer threads. Jobs with the same ``serial`` key (appends to one open
        version file) run one after another, in order, on a thread of their own."""
        if self._pool is None:
            self.staging.mkdir(parents=True, exist_ok=True)
            self.store.refuse_symlinks(self.staging)
            self._pool = ThreadPoolExecutor(min(os.cpu_count() or 1, 4))
        if serial is None:
            return self._pool.submit(fn, *args)
        future = self._serial.setdefault(serial, ThreadPoolExecutor(1)).submit(fn, *args)
        self._serial_jobs.append(future)
        return future

    def _write_versions(self) -> None:
        """Append the buffered version rows of each year to this commit's file for that year."""
        for table_year, buffered in self._versions.items():
            if not buffered:
                continue
            if table_year not in self._version_files:
                self.staging.mkdir(parents=True, exist_ok=True)
                self.store.refuse_symlinks(self.staging)
                path = self.staging / f"{uuid.uuid4().hex}.parquet"
                spec = TABLES[table_year.split("/", 1)[0]]
                self._version_files[table_year] = (_version_writer(path, spec), path)
            writer, _ = self._version_files[table_year]
            self._submit(writer.write_table, pa.concat_tables(buffered), serial=table_year)
            buffered.clear()

    def abort(self) -> None:
        """Remove staging (never raises: a leftover is removed by the next writer anyway)."""
        self._close_files()
        _remove_staging(self.staging)

    def _close_files(self) -> None:
        """Wait for the writer threads and close open version files (errors: the caller's concern)."""
        for pool in (self._pool, *self._serial.values()):
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
        self._pool, self._serial = None, {}
        files, self._version_files = self._version_files, {}
        for writer, _ in files.values():
            with contextlib.suppress(OSError, pa.ArrowException):
                writer.close()

    def _seed_versions(self) -> None:
        """A store written before ``_versions`` existed: its live rows become commit 0's versions.

        Only the rows live at the upgrade are known (what they superseded was never kept); each
        keeps its own ``ingested_at``, which ``read(known_at=...)`` filters on row by row.
        """
        if self.store._has_versions_section():
            return
        for name, spec in TABLES.items():
            for rel in sorted(self.base["tables"][name]["files"]):
                files = self.store._live(name, self.base, [rel])
                t = self.store._read_files(files, spec.schema, list(spec.schema.names))[0]
                n = t.num_rows
                t = t.append_column(PUBLISHED, pa.array([None] * n, pa.date32()))
                t = t.append_column(SEQ, pa.array([0] * n, pa.int64()))
                t = t.append_column(REMOVED, pa.nulls(n, pa.bool_())).cast(versions_schema(spec))
                self._seed.setdefault(f"{name}/{rel.split('/', 1)[0]}", []).append(t)

    def _stage_file(
        self, table: pa.Table, spec: TableSpec, copy: Path | None = None
    ) -> tuple[Path, dict[str, Any]]:
        staged = self.staging / f"{uuid.uuid4().hex}.parquet"
        pq.write_table(
            table, staged, compression=COMPRESSION, use_dictionary=_dictionary_columns(spec, table.schema)
        )
        sealed = self._seal(staged, table.num_rows)
        if copy is not None:
            _copy(staged, copy)
        return sealed

    @staticmethod
    def _seal(staged: Path, rows: int) -> tuple[Path, dict[str, Any]]:
        """fsync a finished staging file; the file and its manifest entry."""
        _fsync_file(staged)
        return staged, {"rows": rows, "bytes": staged.stat().st_size, "sha256": _sha256_file(staged)}

    def _write_staging(self) -> list[tuple[str, str]]:
        """Write and fsync every new file and the journal in ``.staging``; return the renames."""
        self.staging.mkdir(parents=True, exist_ok=True)
        self.store.refuse_symlinks(self.staging)
        commit = int(self.base.get("commit", 0)) + 1
        self.next_manifest["commit"] = commit
        self._spill()
        # (table/year=YYYY, commit number, ingested_at, the file being finished)
        versions: list[tuple[str, int, datetime, Future[tuple[Path, dict[str, Any]]]]] = []
        for job in self._serial_jobs:  # every append to the version files done (or raising)
            job.result()
        for table_year, (writer, path) in sorted(self._version_files.items()):
            writer.close()
            rows = pq.ParquetFile(path).metadata.num_rows
            versions.append((table_year, commit, self.ingested_at, self._submit(self._seal, path, rows)))
        self._version_files.clear()
        for table_year, parts in sorted(self._seed.items()):
            table = pa.concat_tables(parts)
            at = pc.max(table.column(INGESTED_AT)).as_py()
            spec = TABLES[table_year.split("/", 1)[0]]
            versions.append((table_year, 0, at, self._submit(self._stage_file, table, spec)))
        # Every write must have finished (or failed) before the manifest is built or staging removed.
        written = [s.written for s in self._staged.values() if s.written is not None]
        wait_all([*written, *(v[3] for v in versions)])
        renames: list[tuple[str, str]] = []
        for final, staged in sorted(self._staged.items()):
            assert staged.written is not None
            path, info = staged.written.result()
            spec_name, rel = final.split("/", 1)
            self.next_manifest["tables"][spec_name]["files"][rel] = info
            renames.append((str(path.relative_to(self.root)), final))
        for table_year, number, at, done in versions:
            path, info = done.result()
            spec_name, year_dir = table_year.split("/", 1)
            rel = f"{year_dir}/part-c{number:08d}.parquet"
            info.update(commit=number, ingested_at=at.isoformat())
            self.next_manifest["versions"][spec_name]["files"][rel] = info
            renames.append((str(path.relative_to(self.root)), f"{VERSIONS}/{spec_name}/{rel}"))
        for final in sorted(self._snapshots):
            snapshot = self._staged[final]
            assert snapshot.written is not None and snapshot.copy is not None
            _, info = snapshot.written.result()
            copy = snapshot.copy
            spec_name, rel = final.split("/", 1)
            vrel = rel.removesuffix(".parquet") + f"-c{commit:08d}.parquet"
            entry = dict(info, commit=commit, ingested_at=self.ingested_at.isoformat())
            self.next_manifest["versions"][spec_name]["files"][vrel] = entry | {
                "seq": int(self.next_manifest["seq"]),
                "layout": SNAPSHOT,
            }
            renames.append((str(copy.relative_to(self.root)), f"{VERSIONS}/{spec_name}/{vrel}"))
        staged_manifest = self.staging / f"{uuid.uuid4().hex}.json"
        staged_manifest.write_text(manifest_text(self.next_manifest), "utf-8")
        _fsync_file(staged_manifest)
        renames.append((str(staged_manifest.relative_to(self.root)), MANIFEST))
        journal_tmp = self.staging / "journal.tmp"
        journal_tmp.write_text(json.dumps({"renames": renames}), "utf-8")
        _fsync_file(journal_tmp)
        _fsync_dir(self.staging)
        return renames

    def commit(self) -> None:
        if not self._staged and self.next_manifest == self.base:
            return  # nothing changed: leave every byte as it was
        journal = self.root / JOURNAL
        try:
            self._seed_versions()
            renames = self._write_staging()
        except (OSError, pa.ArrowException) as exc:
            self.abort()
            raise StoreError(
                f"{self.root}: commit failed, the store is unchanged: {os_error_text(exc)}"
            ) from None
        except BaseException:
            self.abort()
            raise
        try:
            apply_lock = self.store._flock(READ_LOCK, fcntl.LOCK_EX, self.wait)
            apply_lock.__enter__()
        except BaseException:
            self.abort()
            raise
        # From the commit point on, SIGINT/SIGTERM wait for the renames: the commit lands whole.
        with signals.deferred():
            self._apply_committed(journal, renames, apply_lock)

    def _apply_committed(
        self,
        journal: Path,
        renames: list[tuple[str, str]],
        apply_lock: contextlib.AbstractContextManager[bool],
    ) -> None:
        try:
            try:
                os.replace(self.staging / "journal.tmp", journal)
            except OSError as exc:
                if not os.path.lexists(journal):  # the rename did not happen: nothing committed
                    self.abort()
                    raise StoreError(
                        f"{self.root}: commit failed, the store is unchanged: {os_error_text(exc)}"
                    ) from None
            # Commit point passed: the commit is logically done. Apply it; retry once on failure.
            try:
                self._finish(renames)
            except OSError:
                try:
                    self._finish(renames)
                except OSError as exc:
                    if not os.path.lexists(journal):  # all applied; only a final fsync failed
                        _remove_staging(self.staging)
                    raise StoreError(
                        f"{self.root}: the commit is recorded but could not be applied"
                        f" ({os_error_text(exc)}); the next positioning run on this store completes it"
                    ) from None
        finally:
            apply_lock.__exit__(None, None, None)
        _remove_staging(self.staging)

    def _finish(self, renames: list[tuple[str, str]]) -> None:
        _fsync_dir(self.root)
        self.store._apply(renames)
        journal = self.root / JOURNAL
        if journal.exists():
            journal.unlink()
        _fsync_dir(self.root)


def _open_lock(path: Path, reader: bool) -> int:
    """Open (creating) a lock file. A reader that may not write it opens it read-only: a shared
    ``flock`` needs no write access."""
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | nofollow, 0o644)
    except OSError as exc:
        if not (reader and exc.errno in _READ_ONLY_ERRNOS):
            raise
        try:
            return os.open(path, os.O_RDONLY | nofollow)
        except OSError:
            raise exc from None


def _holder(fd: int, name: str, mode: int) -> str:
    """What holds lock ``name``, for the busy message (exclusive holders record their pid)."""
    try:
        pid = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
    except OSError:
        pid = ""
    who = f" ({pid})" if pid.startswith("pid ") and pid[4:].isdigit() else ""
    if name == WRITE_LOCK:
        return f"another writer{who} holds {WRITE_LOCK} (an ingest is running)"
    if mode == fcntl.LOCK_EX:
        return f"a reader holds {READ_LOCK} (a scan, summary, history or store verify is running)"
    return f"a writer{who} holds {READ_LOCK} while it applies a commit"


def _say_once(line: str) -> None:
    global _said_unlocked
    if not _said_unlocked:
        _said_unlocked = True
        sys.stderr.write(line + "\n")


def _copy(src: Path, dst: Path) -> None:
    """A durable byte copy (the kernel copies: nothing is encoded again). Not a hard link: a
    live file edited in place by some other tool must not change its recorded version."""
    shutil.copyfile(src, dst)
    _fsync_file(dst)


def _published(manifest: dict[str, Any], table: str, rows: pa.Table) -> pa.Array:
    """Per row, the publication date of the ingest that brought it (its source file and time)."""
    epoch, micro = datetime(1970, 1, 1, tzinfo=UTC), timedelta(microseconds=1)
    by_ingest = {
        (i["source_file"], (_parse_time(i["ingested_at"]) - epoch) // micro): i.get("published")
        for i in manifest["ingests"]
        if i.get("table") == table
    }
    sources = rows.column(SOURCE_FILE).to_pylist()
    # times as microseconds: converting aware timestamps to Python would import pandas on ingest
    times = arrays.to_numpy(rows.column(INGESTED_AT).cast(pa.int64())).tolist()
    found = [by_ingest.get(k) for k in zip(sources, times, strict=True)]
    return _dates([date.fromisoformat(d) if d else None for d in found])


def _dates(values: Sequence[date | None]) -> pa.Array:
    """A date32 array of ``values`` (None: null), built from buffers: no pandas import on ingest."""
    days = np.array([_epoch_days(d) for d in values], dtype=np.float64)
    missing = np.isnan(days)
    return (
        arrays.from_numpy(np.where(missing, 0, days).astype(np.int64), missing)
        .cast(pa.int32())
        .cast(pa.date32())
    )


def _remove_staging(staging: Path) -> None:
    """Delete ``.staging`` (flat: files only); fall back to plain unlinks if rmtree fails."""
    with contextlib.suppress(OSError):
        if staging.is_symlink():
            staging.unlink()
            return
        if not staging.exists():
            return
        try:
            shutil.rmtree(staging)
        except OSError:
            for entry in os.scandir(staging):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
            os.rmdir(staging)


# --------------------------------------------------------------------- merging
def _with_lineage(spec: TableSpec, table: pa.Table, source_file: str, at: datetime) -> pa.Table:
    # Built from buffers (arrays.py): pyarrow would import pandas to convert the Python values.
    n = len(table)
    micros = (at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    stamps = arrays.from_numpy(np.full(n, micros, dtype=np.int64)).cast(pa.timestamp("us", tz="UTC"))
    table = table.append_column(SOURCE_FILE, arrays.repeat(source_file, n))
    table = table.append_column(INGESTED_AT, stamps)
    return table.select(spec.schema.names).cast(spec.schema)


def _restated_absent(spec: TableSpec, batch: SourceBatch) -> frozenset[str]:
    """The columns a restatement of ``batch`` does not give: every one but the key and the restated."""
    assert batch.restates is not None
    given = {*spec.key, *batch.restates.column_names}
    return frozenset(f.name for f in spec.parsed_schema if f.name not in given)


_KEY_SEPARATOR = arrays.strings(["\x1f"])[0]  # an Arrow scalar: a Python one would import pandas


def _key_text(rows: pa.Table, columns: Sequence[str]) -> pa.Array:
    """One string per row naming its values in ``columns``: a composite key for Arrow's set
    lookups (``is_in``, ``index_in``), which need no join engine (Arrow's would import pandas)."""
    parts = [pc.cast(rows.column(c), pa.string()).combine_chunks() for c in columns]
    return parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, _KEY_SEPARATOR)


def _key_mask(rows: pa.Table, keys: pa.Table, key: list[str]) -> np.ndarray:
    """Mask of ``rows`` whose key is one of ``keys``'."""
    return arrays.flags(pc.is_in(_key_text(rows, key), value_set=_key_text(keys, key)))


def _unique_keys(rows: pa.Table, key: list[str]) -> bool:
    return len(pc.unique(_key_text(rows, key))) == len(rows)


def _restating(manifest: dict[str, Any], spec: TableSpec, rows: pa.Table) -> np.ndarray:
    """Mask of ``rows`` dated outside the dates of the ingest that brought them: values that file
    restated for another date (FINRA's revisions), not rows of its own."""
    spans = [
        (e["source_file"], _parse_time(e["ingested_at"]), e.get("first_date"), e.get("last_date"))
        for e in manifest["ingests"]
        if e["table"] == spec.name and e.get("first_date") and e.get("last_date")
    ]
    mask = np.zeros(len(rows), dtype=bool)
    if not spans or not len(rows):
        return mask
    names, times, firsts, lasts = zip(*spans, strict=True)
    ingests = pa.table(
        {
            SOURCE_FILE: arrays.strings(names),
            INGESTED_AT: pa.array(times, pa.timestamp("us", tz="UTC")),
            "_first": _dates([date.fromisoformat(d) for d in firsts]),
            "_last": _dates([date.fromisoformat(d) for d in lasts]),
        }
    )
    # one span per lineage (a name ingested twice in one commit: the union of its dates)
    ingests = ingests.group_by([SOURCE_FILE, INGESTED_AT]).aggregate([("_first", "min"), ("_last", "max")])
    lineage = rows.select([SOURCE_FILE, INGESTED_AT, spec.date_column])
    numbered = lineage.append_column("_row", arrays.from_numpy(np.arange(len(rows), dtype=np.int64)))
    joined = numbered.join(ingests, [SOURCE_FILE, INGESTED_AT], join_type="inner")
    d = joined.column(spec.date_column)
    outside = pc.or_(pc.less(d, joined.column("_first_min")), pc.greater(d, joined.column("_last_max")))
    mask[arrays.to_numpy(joined.filter(outside).column("_row")).astype(np.int64)] = True
    return mask


def _orphans(manifest: dict[str, Any], spec: TableSpec, rows: pa.Table, kept: pa.Table) -> np.ndarray:
    """Mask of ``rows`` that restate a key (FINRA's revised previous cycle) no other row of
    ``kept`` (the versions of ingests not forgotten) gives: a restatement never outlives what it
    restated, so forgetting the revised cycle's file takes it along."""
    key = list(spec.key)
    restating = _restating(manifest, spec, rows)
    if not restating.any():
        return restating
    asked = rows.filter(arrays.from_numpy(restating)).select(key)
    near = kept.filter(arrays.from_numpy(_key_mask(kept, asked, key)))
    given = ~_restating(manifest, spec, near)
    if REMOVED in near.column_names:
        given &= ~arrays.flags(near.column(REMOVED))
    based = near.filter(arrays.from_numpy(given)).select(key)
    return restating & ~_key_mask(rows, based, key)


def _dated(spec: TableSpec, keys: pa.Table) -> tuple[date | None, date | None, pa.Table]:
    """``keys`` with the first and last of its dates (None, None when empty)."""
    span = pc.min_max(keys.column(spec.date_column)).as_py()
    return span["min"], span["max"], keys


def _restated_rows(spec: TableSpec, asks: pa.Table, held: pa.Table) -> tuple[pa.Table, int]:
    """The rows ``asks`` (a ``SourceBatch.restates`` table) restate among the ``held`` keys: per
    restatement, the newest held date of its key in its span, its restated values, placeholders
    elsewhere (filled from the held row by ``_resolve``). Also how many found no held row."""
    d = spec.date_column
    others = [k for k in spec.key if k != d]
    first, last = arrays.days(asks.column(RESTATES_FROM)), arrays.days(asks.column(RESTATES_TO))
    days = arrays.days(held.column(d))
    wanted, have = _key_text(asks, others), _key_text(held, others)
    target = np.full(len(asks), -1, dtype=np.int64)  # per restatement, its held row
    for lo, hi in {(a, b) for a, b in zip(first.tolist(), last.tolist(), strict=True)}:
        asking = np.flatnonzero((first == np.datetime64(lo)) & (last == np.datetime64(hi)))
        inside = np.flatnonzero((days >= np.datetime64(lo)) & (days <= np.datetime64(hi)))
        newest_first = inside[np.argsort(days[inside], kind="stable")[::-1]]
        # index_in finds the first occurrence: the newest held date of the key in the span
        at = pc.index_in(
            wanted.take(arrays.from_numpy(asking)), value_set=have.take(arrays.from_numpy(newest_first))
        )
        hit = arrays.valid(at)
        target[asking[hit]] = newest_first[arrays.to_numpy(at)[hit].astype(np.int64)]
    found = np.flatnonzero(target >= 0)
    picked = asks.take(arrays.from_numpy(found))
    n = len(picked)
    columns = {
        f.name: held.column(d).take(arrays.from_numpy(target[found]))
        if f.name == d
        else picked.column(f.name)
        if f.name in picked.column_names
        else _placeholder(f, n)
        for f in spec.parsed_schema
    }
    return pa.table(columns).cast(spec.parsed_schema), len(asks) - n


def _placeholder(f: pa.Field, n: int) -> pa.Array:
    """A column ``_resolve`` overwrites with the held value; any value of the right type."""
    if f.nullable:
        return pa.nulls(n, f.type)
    if pa.types.is_string(f.type):
        return arrays.repeat("", n)
    if pa.types.is_boolean(f.type):
        return arrays.from_numpy(np.zeros(n, dtype=bool))
    return arrays.from_numpy(np.zeros(n, dtype=np.int64)).cast(f.type)  # built from buffers: no pandas


def _epoch_days(d: date | None) -> float:
    return math.nan if d is None else float((d - date(1970, 1, 1)).days)


def _dictionary_columns(spec: TableSpec, schema: pa.Schema) -> list[str]:
    """Dictionary-encode the repetitive text columns (market, sector, lineage...). Numbers and
    per-row names are written plain: measured on a 22,797-row FINRA date, dictionary pages there
    cost more time than they save space (17 ms and 546 kB plain vs 22 ms and 627 kB)."""
    return [f.name for f in schema if pa.types.is_string(f.type) and f.name not in spec.plain_encoded]


def _version_writer(path: Path, spec: TableSpec) -> pq.ParquetWriter:
    schema = versions_schema(spec)
    return pq.ParquetWriter(
        path, schema, compression=COMPRESSION, use_dictionary=_dictionary_columns(spec, schema)
    )


def file_for(spec: TableSpec, d: date) -> str:
    """The partition file a row dated ``d`` lives in. Built from a parsed date, never raw text."""
    if spec.file_per_date:
        return f"year={d.year}/part-{d:%Y%m%d}.parquet"
    return f"year={d.year}/part-{d.year}.parquet"


def _split_by_file(spec: TableSpec, table: pa.Table) -> Iterator[tuple[str, pa.Table]]:
    """``table``'s rows by partition file, in file order; row order kept within each file."""
    dates = table.column(spec.date_column)
    keys = dates if spec.file_per_date else pc.year(dates)
    distinct = pc.unique(keys)
    if len(distinct) <= 1:  # the common case: one file of one settlement date
        for k in distinct.to_pylist():
            yield _file_of(spec, k), table
        return
    order = pc.sort_indices(keys)  # stable: rows of one file keep their order
    table, keys = table.take(order), keys.take(order)
    values = keys.to_numpy(zero_copy_only=False)
    cuts = [0, *(np.flatnonzero(values[1:] != values[:-1]) + 1).tolist(), len(values)]
    for lo, hi in itertools.pairwise(cuts):
        yield _file_of(spec, keys[lo].as_py()), table.slice(lo, hi - lo)


def _file_of(spec: TableSpec, key: date | int) -> str:
    return file_for(spec, key if isinstance(key, date) else date(key, 1, 1))


def _strictly_increasing(table: pa.Table, key: Sequence[str]) -> bool:
    """True when the rows are in ascending key order with no key twice (keys are never null)."""
    n = table.num_rows
    if n < 2:
        return True
    before: pa.Array | None = None  # row i < row i+1 on the key columns compared so far
    tied: pa.Array | None = None  # row i == row i+1 on those columns
    for k in key:
        col = table.column(k)
        a, b = col.slice(0, n - 1), col.slice(1)
        lt, eq = pc.less(a, b), pc.equal(a, b)
        before = lt if before is None or tied is None else pc.or_(before, pc.and_(tied, lt))
        tied = eq if tied is None else pc.and_(tied, eq)
    return bool(pc.all(before).as_py())


def _keep_held(
    spec: TableSpec, current: pa.Table | None, rows: pa.Table
) -> tuple[pa.Table, list[tuple[int, tuple[str, date, float, float]]]]:
    """``rows`` (one partition's incoming rows, in merge order) with their nulls in
    ``spec.keep_held`` columns filled from the value prevailing for their key: the partition as
    held, then the earlier incoming rows. Also the closes an incoming row moves by more than
    CLOSE_CHANGE_TOLERANCE: (row position, (symbol, date, old, new)).

    One sort per partition: per key, the held row then the incoming ones in order; a column is
    forward-filled within each key by carrying the index of its last non-null value.
    """
    n_cur = 0 if current is None else current.num_rows
    key = list(spec.key)
    if n_cur == 0 and _strictly_increasing(rows, key):
        return rows, []  # a new partition with one row per key: nothing prevails
    cols = list(spec.keep_held)
    parts = (
        [rows.select(key + cols)]
        if current is None or n_cur == 0
        else [current.select(key + cols), rows.select(key + cols)]
    )
    both = pa.concat_tables(parts).combine_chunks()
    n = both.num_rows
    positions = np.arange(n, dtype=np.int64)
    order = arrays.to_numpy(
        pc.sort_indices(
            both.append_column("_pos", arrays.from_numpy(positions)),
            [(k, "ascending") for k in key] + [("_pos", "ascending")],
        ).cast(pa.int64())
    )
    ordered = both.take(arrays.from_numpy(order))
    start = np.zeros(n, dtype=bool)  # the first row of its key, in sorted order
    start[0] = True
    for k in key:
        col = ordered.column(k)
        differs = pc.fill_null(pc.not_equal(col.slice(1), col.slice(0, n - 1)), True)
        start[1:] |= arrays.to_numpy(differs).astype(bool)
    where = np.empty(n, dtype=np.int64)
    where[order] = positions  # sorted position of each row of ``both``
    incoming = where[n_cur:]
    out = rows
    filled: dict[str, pa.Array] = {}
    for c in cols:
        valid = ~arrays.to_numpy(ordered.column(c).is_null()).astype(bool)
        last_valid = np.maximum.accumulate(np.where(valid | start, positions, 0))
        filled[c] = ordered.column(c).take(arrays.from_numpy(last_valid))
        out = out.set_column(out.schema.get_field_index(c), c, filled[c].take(arrays.from_numpy(incoming)))
    moves: list[tuple[int, tuple[str, date, float, float]]] = []
    if "close" in filled:
        close = arrays.floats(filled["close"])
        before = np.where(start, np.nan, np.roll(close, 1))  # the value prevailing before each row
        with np.errstate(divide="ignore", invalid="ignore"):
            far = np.abs(close / before - 1) > CLOSE_CHANGE_TOLERANCE
        far_in = np.flatnonzero(far[incoming])
        if len(far_in):
            symbols = rows.column("symbol")
            days = rows.column(spec.date_column)
            for j in far_in.tolist():
                sp = incoming[j]
                moves.append((j, (symbols[j].as_py(), days[j].as_py(), float(before[sp]), float(close[sp]))))
    return out, moves


def _moved_closes(moved: list[tuple[str, date, float, float]]) -> str:
    symbols = sorted({m[0] for m in moved})
    sym, day, old, new = max(moved, key=lambda m: abs(m[3] / m[2] - 1))
    whose = symbols[0] if len(symbols) == 1 else f"{len(symbols)} symbols"
    n = len(moved)
    return (
        f"{n:,} existing close{'s' if n > 1 else ''} of {whose} changed by more than"
        f" {CLOSE_CHANGE_TOLERANCE:.1%} (largest: {sym} {day.isoformat()} {old:.6g} -> {new:.6g});"
        " the newer file's closes are kept"
    )


def forgotten_ingests(
    manifest: dict[str, Any], table: str, known_at: datetime | None = None
) -> list[dict[str, Any]]:
    """The ingest log entries of ``table`` forgotten (``store forget``, or replaced by the same file
    ingested with other options) at or before ``known_at`` (None: ever)."""
    return [
        e
        for e in manifest["ingests"]
        if e["table"] == table
        and e.get("forgotten_at")
        and (known_at is None or _parse_time(e["forgotten_at"]) <= _as_utc(known_at))
    ]


def _from_ingests(rows: pa.Table, entries: Iterable[dict[str, Any]]) -> pa.Array:
    """Mask of the rows whose lineage (source file, ingested_at) is one of these ingests'."""
    mask = pa.array(np.zeros(rows.num_rows, dtype=bool))
    for name, at in sorted({(e["source_file"], e["ingested_at"]) for e in entries}):
        stamp = pa.scalar(_parse_time(at), pa.timestamp("us", tz="UTC"))
        same = pc.and_(pc.equal(rows.column(SOURCE_FILE), name), pc.equal(rows.column(INGESTED_AT), stamp))
        mask = pc.or_(mask, pc.fill_null(same, False))
    return mask


def newest_versions(spec: TableSpec, versions: pa.Table, schema: pa.Schema) -> pa.Table:
    """The live rows ``versions`` (in commit order, with ``seq``) resolve to: per key the newest,
    a revision beating an unflagged row (the rule of ``_resolve``), in the live table's order. A
    tombstone (``removed``: a snapshot removed the key) drops every version of its key before it."""
    import pandas as pd

    key = list(spec.key)
    if versions.num_rows == 0:
        return schema.empty_table()
    # file order = commit order, rows in merge order: a row position breaks ties within a merge
    df = versions.to_pandas(types_mapper=pd.ArrowDtype).assign(_pos=range(versions.num_rows))
    if REMOVED in df.columns:
        tomb = df[REMOVED].fillna(False).to_numpy(dtype=bool)
        if tomb.any():
            # A removal ends a key's history: only what came after the last one counts.
            cut = df[tomb].groupby(key, sort=False)[SEQ].max().rename("_cut").reset_index()
            df = df.merge(cut, on=key, how="left")
            df = df[df["_cut"].isna().to_numpy() | (df[SEQ] > df["_cut"]).fillna(False).to_numpy(dtype=bool)]
            if df.empty:
                return schema.empty_table()
    order = key + (["revision_flag"] if "revision_flag" in df.columns else []) + [SEQ, "_pos"]
    winners = df.sort_values(order, kind="stable").drop_duplicates(key, keep="last")
    # the live table's order: partition file (date or year), then key within the file
    dates = winners[spec.date_column]
    winners = winners.assign(_part=dates if spec.file_per_date else dates.dt.year)
    winners = winners.sort_values(["_part", *key], kind="stable")
    return pa.Table.from_pandas(winners[list(schema.names)], schema=schema, preserve_index=False)


@dataclass(frozen=True)
class _Resolved:
    table: pa.Table  # the merged partition, sorted by key
    winners: np.ndarray  # positions in ``incoming`` of the rows that won (new or changed values)
    recorded: np.ndarray  # mask over ``incoming``: new versions (all but those equal to the live row)
    incoming: pa.Table  # ``incoming`` with the columns its source lacks filled from the live row
    removed: pa.Table  # live rows a snapshot removed (their last value)
    removed_by: np.ndarray  # per removed row, the batch (``origin`` value) that removed it
    # Rows (held or incoming) a restating row replaced, and per row the restating ``origin``.
    replaced: pa.Table | None = None
    replaced_by: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def _resolve(  # noqa: PLR0915 (over 60 statements: to split, issue 11)
    spec: TableSpec,
    current: pa.Table | None,
    incoming: pa.Table,
    origin: np.ndarray | None = None,
    absent: Mapping[int, frozenset[str]] | None = None,
    snapshots: frozenset[int] = frozenset(),
    restating: frozenset[int] = frozenset(),
) -> _Resolved:
    """Merge ``incoming`` into ``current``: one row per key, the newest value wins.

    "Newest" is the later ingest (within one run, the later file on the command line, i.e. the later
    row of ``incoming``), except that a FINRA row flagged as a revision beats an unflagged one
    whatever the order, so back-filling an old file never undoes a revision. A row whose values
    equal the current row's is not a change: the current row (and its lineage) stays, which makes
    re-ingesting identical data a no-op.

    ``origin`` gives each incoming row's batch (ascending = later). A column in ``absent[batch]`` is
    one that batch's source does not carry: its rows take that column from the value prevailing
    for the key, so a partial source never erases what another gave. A batch in ``snapshots`` is the
    whole of each ``spec.snapshot_scope`` it holds: a key of such a scope that neither it nor a
    later batch holds is removed. A batch in ``restating`` restates held rows
    (``SourceBatch.restates``): its rows never add a key (one not held at that point is dropped)
    and always replace the prevailing value, revision or not, unless they equal it.
    """
    key = list(spec.key)
    n_in = incoming.num_rows
    origin = np.zeros(n_in, dtype=np.int64) if origin is None else np.asarray(origin, dtype=np.int64)
    present = set(np.unique(origin).tolist())
    partial = {i: a for i, a in (absent or {}).items() if a and i in present}
    snapshots = frozenset(i for i in snapshots if i in present)
    restates = np.isin(origin, list(restating))
    nothing_removed = (pa.Table.from_batches([], schema=incoming.schema), np.zeros(0, dtype=np.int64))
    if (
        (current is None or len(current) == 0)
        and ((not partial and not snapshots) or len(np.unique(origin)) <= 1)
        and not restates.any()
    ):
        # A new partition (the common case: a new settlement date). When the keys are unique there
        # is nothing to resolve; skip the pandas round trip (and the sort, for a sorted file).
        everything = (np.arange(n_in), np.ones(n_in, dtype=bool), incoming, *nothing_removed)
        if _strictly_increasing(incoming, key):
            return _Resolved(incoming, *everything)
        ordered = incoming.take(pc.sort_indices(incoming, [(k, "ascending") for k in key]))
        if _strictly_increasing(
            ordered, key
        ):  # unique keys, told without Table.group_by (acero imports pandas)
            return _Resolved(ordered, *everything)

    import pandas as pd

    # Every key's rows in order: the current row, then the incoming ones as given. Each incoming
    # row is judged against the value prevailing at that point, exactly as if it came in its own
    # later commit, so how a run's files are grouped into merges never changes the outcome.
    cur = current if current is not None else incoming.schema.empty_table()
    both = pa.concat_tables([cur, incoming])
    n_cur = cur.num_rows
    pos = np.concatenate([np.full(n_cur, -1, dtype=np.int64), np.arange(n_in, dtype=np.int64)])
    batch = np.concatenate([np.full(n_cur, -1, dtype=np.int64), origin])
    frame = both.drop_columns([SOURCE_FILE, INGESTED_AT]).to_pandas(types_mapper=pd.ArrowDtype)
    key_id = frame.groupby(key, sort=False).ngroup().to_numpy()
    counts = np.bincount(key_id)
    restates = np.concatenate([np.zeros(n_cur, dtype=bool), restates])
    single = counts[key_id] == 1
    win = single & ~restates  # the row each key ends with (a restatement never adds a key)
    rec = win & (pos >= 0)  # incoming rows that are new versions (a value not prevailing before)
    replaced: list[tuple[int, int]] = []  # (row a restatement replaced, the restating row)
    fillable = sorted(set().union(*partial.values())) if partial else []
    # Per fillable column, the row whose value each row takes (itself, or the prevailing row's
    # source when its batch lacks the column), and each row's value as an id (nulls alike).
    source = {c: np.arange(len(both), dtype=np.int64) for c in fillable}
    value_of = {c: pd.factorize(frame[c], use_na_sentinel=False)[0] for c in fillable}
    # Removals by snapshots: per scope (a settlement date; an index on an as-of date), the batches
    # that are whole snapshots of it, ascending. A removal resets the key: what comes after starts
    # afresh, exactly as in separate commits. Each removed row is kept as (row, removing batch).
    scope_id = np.zeros(len(both), dtype=np.int64)
    by_scope: dict[int, np.ndarray] = {}
    if snapshots:
        scope_id = frame.groupby(list(spec.snapshot_scope), sort=False).ngroup().to_numpy()
        in_snapshot = np.isin(batch, list(snapshots))
        for sid in np.unique(scope_id[in_snapshot]).tolist():
            by_scope[sid] = np.unique(batch[in_snapshot & (scope_id == sid)])
    tombstones: list[tuple[int, int]] = []

    def removed_between(row: int, after: int, before: int) -> int | None:
        """The first snapshot of ``row``'s scope later than batch ``after`` and earlier than ``before``."""
        snaps = by_scope.get(int(scope_id[row]))
        if snaps is None:
            return None
        i = int(np.searchsorted(snaps, after, side="right"))
        return int(snaps[i]) if i < len(snaps) and snaps[i] < before else None

    multi = np.flatnonzero(~single)
    if len(multi):
        compared = [c for c in frame.columns if c not in fillable]
        value_id = frame.groupby(compared, sort=False, dropna=False).ngroup().to_numpy()
        revision = (
            frame["revision_flag"].fillna(False).to_numpy(dtype=bool)
            if "revision_flag" in frame.columns
            else np.zeros(len(frame), dtype=bool)
        )
        multi = multi[np.lexsort((pos[multi], key_id[multi]))]
        state, state_key, held = -1, -1, -1  # held: the last batch holding the key so far
        for r in multi.tolist():
            if key_id[r] != state_key:
                if state >= 0:
                    win[state] = True
                state, state_key = -1, key_id[r]
            if pos[r] < 0:
                state, held = r, -1
                continue
            if state >= 0 and by_scope:
                by = removed_between(r, held, int(batch[r]))
                if by is not None:  # a snapshot after the last batch holding the key removed it
                    tombstones.append((state, by))
                    state = -1
            held = int(batch[r])
            if state < 0 and restates[r]:
                continue  # nothing held to restate (removed since the restatement was matched)
            if state >= 0:
                for c in partial.get(int(batch[r]), ()):
                    source[c][r] = source[c][state]  # not in this source: the prevailing value
                if value_id[r] == value_id[state] and all(
                    value_of[c][source[c][r]] == value_of[c][source[c][state]] for c in fillable
                ):
                    continue  # the value it already has: no change, no version
            rec[r] = True
            # the later row wins, except that an unflagged row never replaces a revision; a
            # restatement takes the held row's flag, so it always replaces what it restates
            if restates[r]:
                replaced.append((state, r))
                state = r
            elif state < 0 or not (revision[state] and not revision[r]):
                state = r
        if state >= 0:
            win[state] = True
    for c in fillable:
        if (source[c] != np.arange(len(both))).any():
            column = both.column(c).take(arrays.from_numpy(source[c]))
            both = both.set_column(both.schema.get_field_index(c), both.schema.field(c), column)
    if by_scope:
        # The rows left standing that a later snapshot of their scope does not hold go too.
        last_seen = np.full(key_id.max() + 1, -1, dtype=np.int64)
        np.maximum.at(last_seen, key_id, batch)
        last_snapshot = np.full(scope_id.max() + 1, -1, dtype=np.int64)
        for sid, snaps in by_scope.items():
            last_snapshot[sid] = snaps[-1]
        for r in np.flatnonzero(win & (last_snapshot[scope_id] > last_seen[key_id])).tolist():
            by = removed_between(r, int(last_seen[key_id[r]]), np.iinfo(np.int64).max)
            if by is not None:
                tombstones.append((r, by))
                win[r] = False
    gone = np.asarray([t[0] for t in tombstones], dtype=np.int64)
    removed_by = np.asarray([t[1] for t in tombstones], dtype=np.int64)
    recorded = rec[n_cur:]
    won = pos[win & (pos >= 0)]
    filled_incoming = both.slice(n_cur)
    swapped = np.asarray(replaced, dtype=np.int64).reshape(-1, 2)
    lost = (both.take(arrays.from_numpy(swapped[:, 0])), batch[swapped[:, 1]])
    if len(won) == 0 and not len(gone):
        assert current is not None
        return _Resolved(
            current, np.zeros(0, dtype=np.int64), recorded, filled_incoming, *nothing_removed, *lost
        )
    kept = both.filter(pa.array(win))
    out = kept.take(pc.sort_indices(kept, [(k, "ascending") for k in key]))
    removed = both.take(arrays.from_numpy(gone))
    return _Resolved(out, np.sort(won), recorded, filled_incoming, removed, removed_by, *lost)


def _resolve_restating(
    spec: TableSpec,
    current: pa.Table | None,
    incoming: pa.Table,
    origin: np.ndarray,
    absent: Mapping[int, frozenset[str]],
    snapshots: frozenset[int],
    restating: frozenset[int],
) -> _Resolved:
    """``_resolve`` for a partition some rows of which restate held rows: the keys they restate
    (a few) are resolved apart from the others, so the partition's other rows keep the fast paths
    (a new date, or a held one nothing else touches). Only when no snapshot can remove a key
    across the two parts: no snapshot with a held partition, or one batch besides the restatements
    on a new one. Otherwise, and without restating rows, plain ``_resolve``."""
    is_restating = np.isin(origin, list(restating))
    others = np.unique(origin[~is_restating])
    whole = bool(snapshots & set(others.tolist())) and (
        (current is not None and len(current) > 0) or len(others) > 1
    )
    if not is_restating.any() or whole:
        return _resolve(spec, current, incoming, origin, absent, snapshots, restating)
    key = list(spec.key)
    restated = incoming.filter(arrays.from_numpy(is_restating)).select(key)

    in_a = _key_mask(incoming, restated, key)
    cur_a = cur_b = None
    if current is not None:
        held_a = _key_mask(current, restated, key)
        cur_a, cur_b = current.filter(arrays.from_numpy(held_a)), current.filter(arrays.from_numpy(~held_a))
    rows_a, rows_b = np.flatnonzero(in_a), np.flatnonzero(~in_a)
    inc_a = incoming.take(arrays.from_numpy(rows_a))
    a = _restate_simply(spec, cur_a, inc_a, origin[rows_a], absent, restating) or _resolve(
        spec, cur_a, inc_a, origin[rows_a], absent, snapshots, restating
    )
    if len(rows_b):
        b = _resolve(
            spec,
            cur_b,
            incoming.take(arrays.from_numpy(rows_b)),
            origin[rows_b],
            absent,
            snapshots,
            restating,
        )
    else:  # nothing but restatements: the rest of the partition stays as held
        assert cur_b is not None
        b = _Resolved(
            cur_b,
            np.zeros(0, dtype=np.int64),
            np.zeros(0, dtype=bool),
            incoming.take(arrays.from_numpy(rows_b)),
            pa.Table.from_batches([], schema=incoming.schema),
            np.zeros(0, dtype=np.int64),
        )
    table = pa.concat_tables([a.table, b.table])
    table = table.take(pc.sort_indices(table, [(k, "ascending") for k in key]))
    recorded = np.zeros(len(incoming), dtype=bool)
    recorded[rows_a], recorded[rows_b] = a.recorded, b.recorded
    order = np.argsort(np.concatenate([rows_a, rows_b]), kind="stable")
    filled = pa.concat_tables([a.incoming, b.incoming]).take(arrays.from_numpy(order.astype(np.int64)))
    return _Resolved(
        table,
        np.sort(np.concatenate([rows_a[a.winners], rows_b[b.winners]])),
        recorded,
        filled,
        pa.concat_tables([a.removed, b.removed]),
        np.concatenate([a.removed_by, b.removed_by]),
        a.replaced,
        a.replaced_by,
    )


def _restate_simply(
    spec: TableSpec,
    current: pa.Table | None,
    incoming: pa.Table,
    origin: np.ndarray,
    absent: Mapping[int, frozenset[str]],
    restating: frozenset[int],
) -> _Resolved | None:
    """``_resolve`` of restated keys without pandas, in the usual case: each key restated once,
    after at most one row held or given earlier in the run (None: not that case). The restating
    row takes that row's other columns; equal to it, it changes nothing; with none, it is dropped."""
    key = list(spec.key)
    is_restating = np.isin(origin, list(restating))
    regular = np.flatnonzero(~is_restating)
    later = np.flatnonzero(is_restating)
    if len(regular) and regular.max() > later.min():
        return None  # a file after the restating one gives these keys too
    held = pa.Table.from_batches([], schema=incoming.schema) if current is None else current
    prior = pa.concat_tables([held, incoming.take(arrays.from_numpy(regular))])
    restated = incoming.take(arrays.from_numpy(later))
    if (
        not _unique_keys(prior, key)
        or not _unique_keys(restated, key)
        or len({absent.get(int(o), frozenset()) for o in np.unique(origin[later])}) != 1
    ):
        return None
    gives = [c for c in restated.column_names if c not in absent[int(origin[later[0]])]]
    at = pc.index_in(_key_text(restated, key), value_set=_key_text(prior, key))  # keys unique
    r = np.flatnonzero(arrays.valid(at))
    p = arrays.to_numpy(at)[r].astype(np.int64)
    # the restated row: the prior row with the restated columns and the restating file's lineage
    filled = prior.take(arrays.from_numpy(p))
    for c in gives:
        filled = filled.set_column(
            filled.schema.get_field_index(c),
            filled.schema.field(c),
            restated.column(c).take(arrays.from_numpy(r)),
        )
    same = np.ones(len(r), dtype=bool)
    for c in (c for c in gives if c not in key and c not in (SOURCE_FILE, INGESTED_AT)):
        a, b = prior.column(c).take(arrays.from_numpy(p)), restated.column(c).take(arrays.from_numpy(r))
        same &= arrays.flags(pc.equal(a, b)) | arrays.flags(pc.and_(pc.is_null(a), pc.is_null(b)))
    changed = ~same
    n_cur, n_in = held.num_rows, incoming.num_rows
    recorded = np.zeros(n_in, dtype=bool)
    recorded[regular] = True  # a new key (a held key given again is not this case)
    recorded[later[r[changed]]] = True
    gone = np.zeros(len(prior), dtype=bool)
    gone[p[changed]] = True
    table = pa.concat_tables(
        [prior.filter(arrays.from_numpy(~gone)), filled.filter(arrays.from_numpy(changed))]
    )
    table = table.take(pc.sort_indices(table, [(k, "ascending") for k in key]))
    winners = np.sort(np.concatenate([regular[~gone[n_cur:]], later[r[changed]]]))
    # the restating rows as filled (placeholders where nothing was held: they are dropped)
    filled_in = pa.concat_tables(
        [filled, restated.take(arrays.from_numpy(np.setdiff1d(np.arange(len(restated)), r)))]
    )
    order = np.argsort(np.concatenate([r, np.setdiff1d(np.arange(len(restated)), r)]), kind="stable")
    filled_in = filled_in.take(arrays.from_numpy(order.astype(np.int64)))
    whole_in = pa.concat_tables([incoming.take(arrays.from_numpy(regular)), filled_in])
    back = np.argsort(np.concatenate([regular, later]), kind="stable")
    nothing = pa.Table.from_batches([], schema=incoming.schema)
    return _Resolved(
        table,
        winners,
        recorded,
        whole_in.take(arrays.from_numpy(back.astype(np.int64))),
        nothing,
        np.zeros(0, dtype=np.int64),
        prior.take(arrays.from_numpy(p[changed])),
        origin[later[r[changed]]],
    )
