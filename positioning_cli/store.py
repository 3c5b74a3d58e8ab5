"""The only module that reads or writes the Parquet store.

Layout (a public contract, README "Store layout")::

    STORE/
      manifest.json                    the committed state: every data file with rows, bytes, sha256;
                                       the log of ingested source files; the commit counter
      short_interest/year=2026/part-20260814.parquet   one file per settlement date
      prices/year=2026/part-2026.parquet                one file per year
      members/year=2026/part-20260626.parquet           one file per as-of date
      _versions/short_interest/year=2026/part-c00000003.parquet
                                       every version of every row ever ingested (see below)
      .lock  .read.lock                writer lock; readers/commit-apply lock
      .staging/  .journal.json         only while a commit is in flight (or after a crash)

The live tables hold one row per key (the newest, see ``_resolve``); a plain glob over
``STORE/<table>/**/*.parquet`` never double counts. Every version of a row — including those a
later ingest superseded and those that lost to a revision — is kept, append-only, under
``STORE/_versions/<table>/year=YYYY/part-cNNNNNNNN.parquet``: one file per commit (``NNNNNNNN`` is
the commit number) and year, holding the table's columns plus ``published`` (the publication
date when the source gives one, else null) and ``seq`` (the global order of the merge that
brought the row). Rows identical in value to the live row change nothing and add no version, so
re-ingesting identical data adds nothing. ``Store.read(..., known_at=T)`` rebuilds the live table
as it was after the last commit with ``ingested_at <= T`` from these files.

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
file names are built from parsed dates and counters, never from data.
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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
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
VERSIONS = "_versions"
PUBLISHED = "published"
SEQ = "seq"
FORMAT_VERSION = 1
COMPRESSION = "zstd"
APPLY_LOCK_WAIT = 300.0  # how long a commit waits for readers to finish before giving up


@dataclass(frozen=True)
class SourceBatch:
    """One parsed input file, ready to merge into a table."""

    table: pa.Table  # spec.parsed_schema
    source_file: str  # the file's name as the user gave it (lineage; never used as a path)
    sha256: str  # of the raw bytes, for idempotent re-ingest
    format: str
    published: date | None = None  # publication date when the source gives one (kept in _versions)


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


def versions_schema(spec: TableSpec) -> pa.Schema:
    """Schema of ``STORE/_versions/<table>/`` files: the table's columns, ``published``, ``seq``."""
    return pa.schema(
        [*spec.schema, pa.field(PUBLISHED, pa.date32()), pa.field(SEQ, pa.int64(), nullable=False)]
    )


def default_store_path() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("positioning", appauthor=False)) / "store"


def os_error_text(exc: BaseException) -> str:
    """One line for an OSError/Arrow I/O error, with the errno name when there is one."""
    no = getattr(exc, "errno", None)
    if isinstance(no, int) and no in errno.errorcode:
        where = getattr(exc, "filename", None)
        return f"{os.strerror(no)} ({errno.errorcode[no]})" + (f": {where}" if where else "")
    return " ".join(str(exc).split()) or type(exc).__name__


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
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

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
        path = self.root / MANIFEST
        if path.is_symlink():
            raise StoreError(f"{path}: refusing a symlink inside the store")
        return path.is_file()

    def manifest(self) -> dict[str, Any]:
        path = self.root / MANIFEST
        if not self.exists():
            return _empty_manifest()
        try:
            data: dict[str, Any] = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise StoreError(f"{path}: unreadable manifest: {os_error_text(exc)}") from None
        if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
            got = data.get("format_version") if isinstance(data, dict) else None
            raise StoreError(f"{path}: unsupported store format {got!r}")
        try:
            for section in ("tables", "versions"):  # tables added in later versions start empty
                data.setdefault(section, {})
                for name in TABLES:
                    data[section].setdefault(name, {"files": {}})
                    if not isinstance(data[section][name].get("files"), dict):
                        raise TypeError(section)
            data.setdefault("commit", 0)
            data.setdefault("seq", 0)
            if not isinstance(data.setdefault("ingests", []), list):
                raise TypeError("ingests")
        except (AttributeError, TypeError) as exc:
            raise StoreError(f"{path}: damaged manifest ({exc})") from None
        return data

    def _has_versions_section(self) -> bool:
        """False for a store written before ``_versions`` existed (and holding data)."""
        if not self.exists():
            return True
        try:
            return "versions" in json.loads((self.root / MANIFEST).read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise StoreError(f"{self.root / MANIFEST}: unreadable manifest: {os_error_text(exc)}") from None

    def files(self, table: str, manifest: dict[str, Any] | None = None) -> list[Path]:
        m = manifest if manifest is not None else self.manifest()
        return [self.root / table / rel for rel in sorted(m["tables"][table]["files"])]

    def version_files(
        self, table: str, manifest: dict[str, Any] | None = None, known_at: datetime | None = None
    ) -> list[Path]:
        """``_versions`` files of ``table`` in commit order, only those ingested <= ``known_at``."""
        m = manifest if manifest is not None else self.manifest()
        entries = m["versions"][table]["files"]
        picked = [
            (e.get("commit", 0), rel)
            for rel, e in entries.items()
            if known_at is None or _parse_time(e["ingested_at"]) <= _as_utc(known_at)
        ]
        return [self.root / VERSIONS / table / rel for _, rel in sorted(picked)]

    # ----------------------------------------------------------------- locks
    @contextlib.contextmanager
    def _flock(self, name: str, mode: int, wait: float, what: str) -> Iterator[None]:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{self.root}: cannot create the store: {os_error_text(exc)}") from None
        path = self.root / name
        if path.is_symlink():
            raise StoreError(f"{path}: refusing a symlink inside the store")
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except OSError as exc:
            raise StoreError(f"{path}: cannot open the lock file: {os_error_text(exc)}") from None
        try:
            deadline = time.monotonic() + max(wait, 0.0)
            while True:
                try:
                    fcntl.flock(fd, mode | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                        raise StoreError(f"{path}: cannot lock: {os_error_text(exc)}") from None
                    if time.monotonic() >= deadline:
                        raise BusyError(
                            f"{self.root}: {what} is busy (another positioning process holds the lock);"
                            f" waited {wait:g}s — retry, or raise --wait"
                        ) from None
                    time.sleep(0.02)
            yield
        finally:
            os.close(fd)  # closing releases the flock

    @contextlib.contextmanager
    def read_locked(self, wait: float = 60.0) -> Iterator[None]:
        """Hold commits off (shared read lock) without recovering anything: for ``store verify``."""
        with self._flock(READ_LOCK, fcntl.LOCK_SH, wait, "store"):
            yield

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
                with self._flock(WRITE_LOCK, fcntl.LOCK_EX, deadline - time.monotonic(), "store"):
                    self._recover()
            with self._flock(READ_LOCK, fcntl.LOCK_SH, deadline - time.monotonic(), "store"):
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
    ) -> pa.Table:
        """The live table (one row per key) as Arrow; empty with the full schema when absent.

        With ``known_at`` (or a manifest from ``reading(known_at=...)``), the table exactly as it was
        after the last commit whose ``ingested_at <= known_at``, rebuilt from ``_versions``.
        ``row_filter`` (rows -> the rows to keep) is applied file by file as they are read, so a
        reader that needs a small part of a large table never holds all of it.
        """
        spec = TABLES[table]
        m = manifest if manifest is not None else self.manifest()
        if known_at is None and m.get("known_at"):
            known_at = _parse_time(m["known_at"])
        if known_at is not None:
            whole = self._read_known_at(spec, columns, m, known_at)
            return whole if row_filter is None else row_filter(whole)
        paths = self.files(table, m)
        schema = spec.schema if columns is None else pa.schema([spec.schema.field(c) for c in columns])
        if not paths:
            return schema.empty_table()
        parts = self._read_files(paths, spec.schema, list(schema.names), self.root / table, row_filter)
        return pa.concat_tables(parts)

    def _read_files(
        self,
        paths: list[Path],
        schema: pa.Schema,
        columns: list[str],
        where: Path,
        row_filter: Callable[[pa.Table], pa.Table] | None = None,
    ) -> list[pa.Table]:
        seen: set[Path] = set()
        for p in paths:
            self.refuse_symlinks(p, seen)
        try:
            if row_filter is not None:
                # Arrow decodes and filters without the GIL: one file per core at a time.
                from concurrent.futures import ThreadPoolExecutor

                def one(p: Path) -> pa.Table:
                    return row_filter(_read_one(p, columns, schema))

                workers = min(len(paths), os.cpu_count() or 1, 8)
                if workers <= 1:
                    return [one(p) for p in paths]
                with ThreadPoolExecutor(workers) as pool:
                    return list(pool.map(one, paths))
            return [_read_one(p, columns, schema) for p in paths]
        except (OSError, pa.ArrowException) as exc:
            raise StoreError(f"{where}: cannot read table: {os_error_text(exc)}") from None

    def _read_known_at(
        self, spec: TableSpec, columns: Sequence[str] | None, m: dict[str, Any], known_at: datetime
    ) -> pa.Table:
        import pandas as pd

        schema = spec.schema if columns is None else pa.schema([spec.schema.field(c) for c in columns])
        paths = self.version_files(spec.name, m, known_at)
        if not paths:
            return schema.empty_table()
        vschema = versions_schema(spec)
        key = list(spec.key)
        need = list(dict.fromkeys([*key, spec.date_column, "revision_flag", SEQ, INGESTED_AT, *schema.names]))
        need = [c for c in need if c in vschema.names]
        parts = self._read_files(paths, vschema, need, self.root / VERSIONS / spec.name)
        allv = pa.concat_tables(parts)
        at = pa.scalar(_as_utc(known_at), pa.timestamp("us", tz="UTC"))
        allv = allv.filter(pc.less_equal(allv.column(INGESTED_AT), at))
        # file order = commit order, rows in merge order: a row position breaks ties within a merge
        df = allv.to_pandas(types_mapper=pd.ArrowDtype).assign(_pos=range(allv.num_rows))
        order = key + (["revision_flag"] if "revision_flag" in df.columns else []) + [SEQ, "_pos"]
        winners = df.sort_values(order, kind="stable").drop_duplicates(key, keep="last")
        # the live table's order: partition file (date or year), then key within the file
        dates = winners[spec.date_column]
        winners = winners.assign(_part=dates if spec.file_per_date else dates.dt.year)
        winners = winners.sort_values(["_part", *key], kind="stable")
        return pa.Table.from_pandas(winners[list(schema.names)], schema=schema, preserve_index=False)

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
        staging = self.root / STAGING
        for p in (journal, staging):
            if p.is_symlink():
                raise StoreError(f"{p}: refusing a symlink inside the store")
        try:
            if journal.exists():
                try:
                    plan = json.loads(journal.read_text("utf-8"))
                    renames = plan["renames"]
                except (ValueError, KeyError, TypeError):
                    # The journal is written to a temp name and renamed, so a torn journal means the
                    # rename never happened... unless the disk lied. Refuse rather than guess.
                    raise StoreError(
                        f"{journal}: damaged commit journal; restore the store from a backup"
                    ) from None
                self._apply(renames)
                journal.unlink()
                _fsync_dir(self.root)
            if staging.exists():
                shutil.rmtree(staging)
        except OSError as exc:
            raise StoreError(
                f"{self.root}: cannot complete an interrupted commit: {os_error_text(exc)}"
            ) from None

    def _apply(self, renames: list[list[str]] | list[tuple[str, str]]) -> None:
        touched: set[Path] = set()
        seen: set[Path] = set()
        for staged, final in renames:
            src, dst = self.root / staged, self.root / final
            self.refuse_symlinks(src, seen)
            if src.exists():  # already applied by an earlier, interrupted recovery otherwise
                dst.parent.mkdir(parents=True, exist_ok=True)
                self.refuse_symlinks(dst, seen)
                os.replace(src, dst)
                touched.add(dst.parent)
        for d in sorted(touched, key=lambda p: len(p.parts), reverse=True):
            _fsync_dir(d)
            if d != self.root:
                _fsync_dir(d.parent)  # a new year= or table folder must be durable too


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
    view = json.loads(json.dumps(manifest))
    view["known_at"] = at.isoformat()
    for name in TABLES:
        view["tables"][name] = {"files": {}}
        files = view["versions"][name]["files"]
        view["versions"][name]["files"] = {
            rel: e for rel, e in files.items() if _parse_time(e["ingested_at"]) <= at
        }
    view["ingests"] = [i for i in view["ingests"] if _parse_time(i["ingested_at"]) <= at]
    return view


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
        self._versions: dict[str, list[pa.Table]] = {}  # table/year=YYYY -> version rows of this commit
        self._seed: dict[str, list[pa.Table]] = {}  # the same, for a store older than _versions
        self.ingested_at = datetime.now(UTC).replace(microsecond=0)
        last = [_parse_time(i["ingested_at"]) for i in self.base["ingests"][-1:]]
        if last and self.ingested_at <= last[0]:
            # a clock step back (or two commits in one second) must not reorder commits in time
            self.ingested_at = last[0]
        self._seq = 0

    def already_ingested(self, table: str, sha256: str) -> bool:
        return any(i["table"] == table and i["sha256"] == sha256 for i in self.next_manifest["ingests"])

    def merge(self, spec: TableSpec, batch: SourceBatch) -> MergeResult:
        """Stage one batch; see ``merge_many``."""
        return self.merge_many(spec, [batch])[0]

    def merge_many(self, spec: TableSpec, batches: Sequence[SourceBatch]) -> list[MergeResult]:
        """Stage ``batches`` (in order) into ``spec``'s table: the newest value per key wins.

        All batches are resolved together, one pass per partition file, so ingesting hundreds of
        files costs one read and one write of each partition they touch (see _resolve for the rule;
        a later batch is newer than an earlier one).
        """
        results: list[MergeResult | None] = [None] * len(batches)
        pending: list[tuple[int, int, pa.Table]] = []  # (batch position, seq, rows with lineage)
        entries: dict[int, dict[str, Any]] = {}
        for i, batch in enumerate(batches):
            t = batch.table
            dates = t.column(spec.date_column)
            first = pc.min(dates).as_py() if len(t) else None
            last = pc.max(dates).as_py() if len(t) else None
            if self.already_ingested(spec.name, batch.sha256):
                results[i] = MergeResult(batch.source_file, spec.name, len(t), 0, True, first, last)
                continue
            self._seq += 1
            self.next_manifest["seq"] = seq = int(self.next_manifest.get("seq", 0)) + 1
            pending.append((i, seq, _with_lineage(spec, t, batch.source_file, self.ingested_at)))
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
            self.next_manifest["ingests"].append(entries[i])
            results[i] = MergeResult(batch.source_file, spec.name, len(t), 0, False, first, last)
        if pending:
            origin = pa.array([i for i, _, t in pending for _ in range(t.num_rows)], pa.int64())
            seqs = {i: seq for i, seq, _ in pending}
            # One contiguous table: take/filter on hundreds of small chunks is what made this slow.
            incoming = (
                pa.concat_tables([t for _, _, t in pending]).combine_chunks().append_column("_origin", origin)
            )
            changed: dict[int, int] = {}
            for rel, part in _split_by_file(spec, incoming):
                part_origin = part.column("_origin").to_numpy()
                rows = part.drop_columns(["_origin"])
                current = self._current(spec, rel)
                merged, winners, recorded = _resolve(spec, current, rows)
                if len(winners):
                    self._stage(spec, rel, merged)
                    for i, n in zip(*np.unique(part_origin[winners], return_counts=True), strict=True):
                        changed[int(i)] = changed.get(int(i), 0) + int(n)
                if recorded.any():
                    sel = np.flatnonzero(recorded)
                    src = part_origin[sel]
                    self._record_versions(
                        spec,
                        rel,
                        rows.take(sel),
                        [batches[int(i)].published for i in src],
                        [seqs[int(i)] for i in src],
                    )
            for i, n in changed.items():
                entries[i]["changed"] = n
                r = results[i]
                assert r is not None
                results[i] = MergeResult(r.source_file, r.table, r.rows, n, False, r.first_date, r.last_date)
        return [r for r in results if r is not None]

    def _record_versions(
        self, spec: TableSpec, rel: str, rows: pa.Table, published: Sequence[date | None], seq: Sequence[int]
    ) -> None:
        """Keep ``rows`` (with their publication date and merge order, one per row) in ``_versions``."""
        rows = rows.append_column(PUBLISHED, pa.array(published, pa.date32()))
        rows = rows.append_column(SEQ, pa.array(seq, pa.int64()))
        year_dir = rel.split("/", 1)[0]  # year=YYYY, built from a parsed date
        self._versions.setdefault(f"{spec.name}/{year_dir}", []).append(rows.cast(versions_schema(spec)))

    def _current(self, spec: TableSpec, rel: str) -> pa.Table | None:
        key = f"{spec.name}/{rel}"
        if key in self._staged_tables:
            return self._staged_tables[key]
        if rel in self.base["tables"][spec.name]["files"]:
            path = self.root / spec.name / rel
            return self.store._read_files([path], spec.schema, list(spec.schema.names), path)[0]
        return None

    def _stage(self, spec: TableSpec, rel: str, table: pa.Table) -> None:
        final = f"{spec.name}/{rel}"
        self._staged_tables[final] = table

    def abort(self) -> None:
        """Remove staging (never raises: a leftover is removed by the next writer anyway)."""
        _remove_staging(self.staging)

    def _seed_versions(self) -> None:
        """A store written before ``_versions`` existed: its live rows become commit 0's versions.

        Only the rows live at the upgrade are known (what they superseded was never kept); each
        keeps its own ``ingested_at``, which ``read(known_at=...)`` filters on row by row.
        """
        if self.store._has_versions_section():
            return
        for name, spec in TABLES.items():
            for path in self.store.files(name, self.base):
                t = self.store._read_files([path], spec.schema, list(spec.schema.names), path)[0]
                rel = str(path.relative_to(self.root / name))
                n = t.num_rows
                t = t.append_column(PUBLISHED, pa.array([None] * n, pa.date32()))
                t = t.append_column(SEQ, pa.array([0] * n, pa.int64())).cast(versions_schema(spec))
                self._seed.setdefault(f"{name}/{rel.split('/', 1)[0]}", []).append(t)

    def _stage_file(self, table: pa.Table) -> tuple[Path, dict[str, Any]]:
        staged = self.staging / f"{uuid.uuid4().hex}.parquet"
        pq.write_table(table, staged, compression=COMPRESSION)
        _fsync_file(staged)
        info = {"rows": table.num_rows, "bytes": staged.stat().st_size, "sha256": _sha256_file(staged)}
        return staged, info

    def _write_staging(self) -> list[tuple[str, str]]:
        """Write and fsync every new file and the journal in ``.staging``; return the renames."""
        self.staging.mkdir(parents=True, exist_ok=True)
        self.store.refuse_symlinks(self.staging)
        commit = int(self.base.get("commit", 0)) + 1
        self.next_manifest["commit"] = commit
        renames: list[tuple[str, str]] = []
        for final, table in sorted(self._staged_tables.items()):
            staged, info = self._stage_file(table)
            spec_name, rel = final.split("/", 1)
            self.next_manifest["tables"][spec_name]["files"][rel] = info
            renames.append((str(staged.relative_to(self.root)), final))
        for number, versions in ((0, self._seed), (commit, self._versions)):
            for table_year, parts in sorted(versions.items()):
                spec_name, year_dir = table_year.split("/", 1)
                rel = f"{year_dir}/part-c{number:08d}.parquet"
                table = pa.concat_tables(parts)
                staged, info = self._stage_file(table)
                at = pc.max(table.column(INGESTED_AT)).as_py() if number == 0 else self.ingested_at
                info.update(commit=number, ingested_at=at.isoformat())
                self.next_manifest["versions"][spec_name]["files"][rel] = info
                renames.append((str(staged.relative_to(self.root)), f"{VERSIONS}/{spec_name}/{rel}"))
        staged_manifest = self.staging / f"{uuid.uuid4().hex}.json"
        staged_manifest.write_text(json.dumps(self.next_manifest, indent=1, sort_keys=True), "utf-8")
        _fsync_file(staged_manifest)
        renames.append((str(staged_manifest.relative_to(self.root)), MANIFEST))
        journal_tmp = self.staging / "journal.tmp"
        journal_tmp.write_text(json.dumps({"renames": renames}), "utf-8")
        _fsync_file(journal_tmp)
        _fsync_dir(self.staging)
        return renames

    def commit(self) -> None:
        if not self._staged_tables and self.next_manifest == self.base:
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
            apply_lock = self.store._flock(READ_LOCK, fcntl.LOCK_EX, APPLY_LOCK_WAIT, "store readers")
            apply_lock.__enter__()
        except BaseException:
            self.abort()
            raise
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


def _resolve(
    spec: TableSpec, current: pa.Table | None, incoming: pa.Table
) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """Merge ``incoming`` into ``current``: one row per key, the newest value wins.

    "Newest" is the later ingest (within one run, the later file on the command line, i.e. the later
    row of ``incoming``), except that a FINRA row flagged as a revision beats an unflagged one
    whatever the order, so back-filling an old file never undoes a revision. A row whose values
    equal the current row's is not a change: the current row (and its lineage) stays, which makes
    re-ingesting identical data a no-op.
    Returns the merged table sorted by key, the positions in ``incoming`` of the rows that won (new
    or changed values), and a mask of the incoming rows that are new versions (all but those
    identical to the current row) for ``_versions``.
    """
    key = list(spec.key)
    n_in = incoming.num_rows
    if current is None or len(current) == 0:
        # A new partition (the common case: a new settlement date). When the keys are unique there
        # is nothing to resolve; skip the pandas round trip.
        if incoming.group_by(key).aggregate([]).num_rows == n_in:
            order = pc.sort_indices(incoming, [(k, "ascending") for k in key])
            return incoming.take(order), np.arange(n_in), np.ones(n_in, dtype=bool)

    import pandas as pd

    data_cols = [c for c in spec.schema.names if c not in (SOURCE_FILE, INGESTED_AT)]
    new = incoming.to_pandas(types_mapper=pd.ArrowDtype).assign(_pos=np.arange(n_in))
    cur = (
        new.iloc[0:0]
        if current is None or len(current) == 0
        else current.to_pandas(types_mapper=pd.ArrowDtype)
    )
    recorded = np.ones(n_in, dtype=bool)
    # Rows identical in every data column to a current row change nothing.
    if len(cur):
        same = new.merge(cur[data_cols], on=data_cols, how="left", indicator=True)["_merge"].eq("both")
        recorded = ~same.to_numpy()
        new = new[recorded]
    if len(new) == 0:
        assert current is not None
        return current, np.zeros(0, dtype=np.int64), recorded
    both = pd.concat([cur.assign(_pos=-1), new], ignore_index=True)
    order = key + (["revision_flag"] if "revision_flag" in both.columns else []) + ["_pos"]
    winners = both.sort_values(order, kind="stable").drop_duplicates(key, keep="last")
    won = winners["_pos"].to_numpy()
    winners = winners.drop(columns="_pos").sort_values(key, kind="stable")
    out = pa.Table.from_pandas(winners, schema=spec.schema, preserve_index=False)
    return out, np.sort(won[won >= 0]).astype(np.int64), recorded
