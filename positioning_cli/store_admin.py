"""``positioning store info`` and ``store verify``: pure functions over a store, no printing.

``info`` summarises what the manifest records (cheap: no data file is read). ``verify`` checks the
files against the manifest and schema.py and returns every problem it finds (empty = OK); it takes
the shared read lock so no commit lands while it looks, and it repairs nothing. A valid pending
journal or a staging area is a note, not a problem: a commit in progress (the write lock is held)
or one a crash interrupted, which the next positioning run completes or removes. A journal that
does not check out (torn, or naming a path outside the store's layout) is damage.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from positioning_cli.errors import StoreError, UsageError
from positioning_cli.schema import TABLES
from positioning_cli.store import (
    JOURNAL,
    MANIFEST,
    READ_LOCK,
    SNAPSHOT,
    STAGING,
    VERSIONS,
    WRITE_LOCK,
    Store,
    _sha256_file,
    file_for,
    legacy_versions_schema,
    os_error_text,
    versions_schema,
)
from positioning_cli.store_meta import load_journal, lstat_kind, read_marker


@dataclass(frozen=True)
class TableInfo:
    name: str
    rows: int  # live rows (one per key)
    files: int
    bytes: int  # live files on disk
    first_date: date | None  # from the ingest log
    last_date: date | None
    version_rows: int  # every version ever kept in _versions
    version_files: int
    version_bytes: int


@dataclass(frozen=True)
class StoreInfo:
    root: str
    exists: bool
    format_version: int | None
    commits: int
    tables: list[TableInfo]
    total_bytes: int  # every data file recorded in the manifest, plus the manifest itself
    last_ingests: list[dict[str, Any]]  # newest last, as recorded in the manifest
    pending_commit: bool  # a journal is waiting to be rolled forward


@dataclass(frozen=True)
class Problem:
    # manifest | missing | special | size | checksum | schema | rows | partition | duplicates | orphan
    # | symlink | journal | staging | marker
    kind: str
    path: str  # relative to the store root ("" for the store itself)
    message: str

    def __str__(self) -> str:
        return f"{self.path or '.'}: {self.message}"


@dataclass
class VerifyResult:
    root: str
    problems: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)  # worth saying, not damage (exit 0)
    files_checked: int = 0
    rows_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def info(root: Path, last: int = 10) -> StoreInfo:
    """What the store holds: tables, rows, date ranges, sizes on disk, the last ``last`` ingests."""
    store = Store(root)
    if not store.exists():
        return StoreInfo(str(root), False, None, 0, [], 0, [], False)
    with store.read_locked():
        m = store.manifest()
        pending = os.path.lexists(Path(root) / JOURNAL)
        manifest_bytes = (Path(root) / MANIFEST).stat().st_size
    tables = []
    total = manifest_bytes
    for name in TABLES:
        files = m["tables"][name]["files"]
        versions = m["versions"][name]["files"]
        logged = [i for i in m["ingests"] if i["table"] == name]
        firsts = [date.fromisoformat(i["first_date"]) for i in logged if i.get("first_date")]
        lasts = [date.fromisoformat(i["last_date"]) for i in logged if i.get("last_date")]
        t = TableInfo(
            name=name,
            rows=sum(int(e["rows"]) for e in files.values()),
            files=len(files),
            bytes=sum(int(e["bytes"]) for e in files.values()),
            first_date=min(firsts) if firsts else None,
            last_date=max(lasts) if lasts else None,
            version_rows=sum(int(e["rows"]) for e in versions.values()),
            version_files=len(versions),
            version_bytes=sum(int(e["bytes"]) for e in versions.values()),
        )
        total += t.bytes + t.version_bytes
        tables.append(t)
    return StoreInfo(
        root=str(root),
        exists=True,
        format_version=m.get("format_version"),
        commits=int(m.get("commit", 0)),
        tables=tables,
        total_bytes=total,
        last_ingests=list(m["ingests"][-last:]) if last else [],
        pending_commit=pending,
    )


def verify(root: Path, wait: float = 60.0) -> VerifyResult:
    """Check every file of the store; ``result.problems`` is empty when the store is sound.

    Checks: the manifest parses; no symlink anywhere inside the store; no pending journal or
    staging leftover; every file the manifest names exists with its recorded size, sha256, row
    count and the schema of schema.py (``_versions`` row files: that schema plus ``published``, ``seq``);
    every row sits in the partition file its date says; no duplicate key in a live table; no file
    under a table or ``_versions`` folder that the manifest does not name.
    """
    root = Path(root)
    result = VerifyResult(str(root))
    add = result.problems.append
    if root.exists() and not root.is_dir():
        raise UsageError(f"--store {root}: a file, not a store folder")
    if not root.is_dir():
        add(Problem("manifest", "", "no store here"))
        return result
    # Symlinks first, without following any: refuse to read through them.
    links = _symlinks(root)
    for rel in links:
        add(Problem("symlink", rel, "symlink inside the store (refused: replace it with the real file)"))
    if MANIFEST in links or any(rel in links for rel in (WRITE_LOCK, READ_LOCK)):
        return result
    store = Store(root)
    try:
        with store.read_locked(wait):
            _verify_locked(store, result, set(links))
    except StoreError as exc:
        add(Problem("manifest", "", exc.message))
    return result


def _symlinks(root: Path) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for n in dirnames + filenames:
            p = Path(dirpath) / n
            if p.is_symlink():
                found.append(str(p.relative_to(root)))
    return sorted(found)


def _verify_locked(store: Store, result: VerifyResult, links: set[str]) -> None:
    root = store.root
    add = result.problems.append
    if not store.exists():
        add(Problem("manifest", MANIFEST, "no manifest: not a positioning store (or never written)"))
        return
    m = store.manifest()  # StoreError (unreadable, damaged, unsupported) is reported by the caller
    _check_commit_state(store, result, links)
    for name, spec in TABLES.items():
        sections = (
            (name, m["tables"][name]["files"], spec.schema, True),
            (f"{VERSIONS}/{name}", m["versions"][name]["files"], versions_schema(spec), False),
        )
        for folder, files, schema, live in sections:
            keys: list[pa.Table] = []
            for rel in sorted(files):
                path = f"{folder}/{rel}"
                if path in links or any(path.startswith(f"{link}/") for link in links):
                    continue  # reported as a symlink; never read through it
                # a snapshot version (a new partition's live file as committed) has the live schema
                own = spec.schema if files[rel].get("layout") == SNAPSHOT else schema
                # a version file written before the ``removed`` column existed is still valid
                legacy = legacy_versions_schema(spec) if not live and own is schema else None
                t = _check_file(root, path, files[rel], own, result, legacy)
                if t is None:
                    continue
                if live:
                    _check_partition(spec, rel, t, path, result)
                    keys.append(t.select(list(spec.key)))
            if live and keys:
                _check_duplicates(name, spec.key, pa.concat_tables(keys), result)
            _check_orphans(root, folder, set(files), links, result)


def _check_commit_state(store: Store, result: VerifyResult, links: set[str]) -> None:
    """The marker, a pending journal, a staging area: notes unless they do not check out."""
    root = store.root
    try:
        if read_marker(root) is None:
            result.notes.append(
                Problem("marker", "", "no store marker (an older store); the next ingest adds it")
            )
    except StoreError as exc:
        result.problems.append(Problem("marker", "", exc.message))
    if os.path.lexists(root / JOURNAL) and JOURNAL not in links:
        try:
            load_journal(root / JOURNAL)
            result.notes.append(
                Problem("journal", JOURNAL, "a commit is pending; the next positioning run completes it")
            )
        except StoreError as exc:
            result.problems.append(Problem("journal", JOURNAL, exc.message))
    if os.path.lexists(root / STAGING) and STAGING not in links:
        if store.writer_active():
            what = "a commit in progress (another process holds the write lock)"
        else:
            what = "left by an interrupted commit; the next writer removes it"
        result.notes.append(Problem("staging", STAGING, what))


def _check_file(
    root: Path,
    path: str,
    entry: dict[str, Any],
    schema: pa.Schema,
    result: VerifyResult,
    also: pa.Schema | None = None,
) -> pa.Table | None:
    """Check one data file against its manifest entry and ``schema`` (or ``also``, an older one)."""
    add = result.problems.append
    full = root / path
    kind = lstat_kind(full)
    if kind is None:
        add(Problem("missing", path, "named by the manifest but missing"))
        return None
    if kind != "file":  # a FIFO would block the read forever: never opened
        add(Problem("special", path, f"not a regular file ({kind}); refused, never opened"))
        return None
    result.files_checked += 1
    try:
        size = full.stat().st_size
        if size != int(entry.get("bytes", -1)):
            add(Problem("size", path, f"{size} bytes, the manifest says {entry.get('bytes')}"))
        digest = _sha256_file(full)
        if digest != entry.get("sha256"):
            add(
                Problem("checksum", path, "sha256 differs from the manifest (the file changed or is damaged)")
            )
            return None
        got = pq.read_schema(full)
        if also is not None and _compatible(got, also):
            schema = also
        if not _compatible(got, schema):
            add(Problem("schema", path, f"schema differs from schema.py: {_schema_diff(got, schema)}"))
            return None
        t = pq.read_table(full, schema=schema)
    except (OSError, pa.ArrowException) as exc:
        add(Problem("checksum", path, f"unreadable: {os_error_text(exc)}"))
        return None
    result.rows_checked += t.num_rows
    if t.num_rows != int(entry.get("rows", -1)):
        add(Problem("rows", path, f"{t.num_rows} rows, the manifest says {entry.get('rows')}"))
    return t


def _compatible(got: pa.Schema, want: pa.Schema) -> bool:
    """The schema of schema.py, except that a column schema.py has since allowed nulls in (prices'
    close: a file of adjusted closes only has none) may be declared non-null by older files."""
    if got.equals(want, check_metadata=False):
        return True
    return got.names == want.names and all(
        g.type == w.type and (g.nullable == w.nullable or w.nullable) for g, w in zip(got, want, strict=True)
    )


def _schema_diff(got: pa.Schema, want: pa.Schema) -> str:
    g = {f.name: f for f in got}
    w = {f.name: f for f in want}
    parts = [f"missing {n}" for n in w if n not in g]
    parts += [f"unexpected {n}" for n in g if n not in w]
    parts += [f"{n} is {g[n].type}, expected {w[n].type}" for n in w if n in g and not g[n].equals(w[n])]
    if not parts and got.names != want.names:
        parts.append("columns out of order")
    return "; ".join(parts) or "field metadata differs"


def _check_partition(spec: Any, rel: str, t: pa.Table, path: str, result: VerifyResult) -> None:
    if t.num_rows == 0:
        return
    dates = pc.unique(t.column(spec.date_column)).to_pylist()
    wrong = sorted({d for d in dates if file_for(spec, d) != rel})
    if wrong:
        result.problems.append(
            Problem(
                "partition", path, f"{len(wrong)} date(s) belong to other files, e.g. {wrong[0].isoformat()}"
            )
        )


def _check_duplicates(name: str, key: tuple[str, ...], keys: pa.Table, result: VerifyResult) -> None:
    counts = keys.group_by(list(key)).aggregate([([], "count_all")])
    dup = counts.filter(pc.greater(counts.column("count_all"), 1))
    if dup.num_rows:
        example = {k: str(v) for k, v in dup.slice(0, 1).to_pylist()[0].items() if k != "count_all"}
        result.problems.append(
            Problem(
                "duplicates",
                name,
                f"{dup.num_rows} key(s) appear more than once in the live table, e.g. {example}",
            )
        )


def _check_orphans(root: Path, folder: str, named: set[str], links: set[str], result: VerifyResult) -> None:
    base = root / folder
    if not base.is_dir() or base.is_symlink():
        return
    for dirpath, _dirnames, filenames in os.walk(base, followlinks=False):
        for n in filenames:
            p = Path(dirpath) / n
            rel = str(p.relative_to(base))
            full_rel = f"{folder}/{rel}"
            if rel not in named and full_rel not in links:
                result.problems.append(
                    Problem(
                        "orphan",
                        full_rel,
                        "not in the manifest (other engines globbing the folder would read it)",
                    )
                )
