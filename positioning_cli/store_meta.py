"""The store's own metadata, checked before anything in it is trusted.

Everything a store says about itself — the manifest, the commit journal, the marker file — is
data on disk that a crash, a bad disk or a person may have altered. This module is the one place
that knows the layout (which relative paths a store may name) and the shape of each metadata file;
``store.py`` and ``store_admin.py`` go through it whenever they read one:

- ``check_rel``: a relative path read from metadata must name a file the layout allows (a live
  partition, a ``_versions`` file, a staging file, the manifest). No ``..``, no absolute path, no
  other name: it cannot leave the store.
- ``read_json``: a metadata file is opened only when ``lstat`` says it is a regular file (a FIFO
  would block the reader forever, a symlink could lead outside), and any JSON trouble — truncated,
  deeply nested, not UTF-8 — is one ``StoreError``.
- ``check_manifest`` / ``load_journal``: the expected shape, field by field, with one line naming
  the field that is wrong.
- ``read_marker`` / ``write_marker``: ``.positioning-store`` says a folder is a store and which
  format it is written in; without it (and without a manifest) a non-empty folder is not ours.
- ``manifest_text`` / ``copy_json``: the manifest as written, one file entry or ingest entry a
  line; a deep copy of it for a writer to change.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import stat
from datetime import date, datetime
from pathlib import Path
from typing import Any

from positioning_cli.errors import StoreError
from positioning_cli.schema import TABLES

MANIFEST = "manifest.json"
JOURNAL = ".journal.json"
STAGING = ".staging"
VERSIONS = "_versions"
WRITE_LOCK = ".lock"
READ_LOCK = ".read.lock"
MARKER = ".positioning-store"
FORMAT_VERSION = 1
SNAPSHOT = "snapshot"  # a _versions file that is a new partition's live file as its commit wrote it
# What a folder may hold and still count as empty (a new store): the lock files and the marker's
# temporary file that a first ingest creates before anything else, if it stopped right there.
EMPTY_OK = frozenset({WRITE_LOCK, READ_LOCK, f"{MARKER}.tmp"})
MAX_METADATA_BYTES = 1 << 30  # a manifest holds ~300 bytes per ingested file: far below this

# The layout, in one place. Digits are ASCII only ([0-9], not \d, which matches any Unicode digit).
_TABLE = "|".join(re.escape(n) for n in TABLES)
_LIVE_FILE = r"year=[0-9]{1,5}/part-[0-9]{1,12}\.parquet"  # inside a table folder
_VERSION_FILE = r"year=[0-9]{1,5}/part-(?:[0-9]{1,12}-)?c[0-9]{8,12}\.parquet"  # inside _versions/TABLE
_IN_TABLE = {"live": re.compile(_LIVE_FILE), "versions": re.compile(_VERSION_FILE)}
_LAYOUT = {
    "live": re.compile(rf"(?:{_TABLE})/{_LIVE_FILE}"),
    "versions": re.compile(rf"{VERSIONS}/(?:{_TABLE})/{_VERSION_FILE}"),
    "staging": re.compile(rf"{re.escape(STAGING)}/[0-9a-f]{{32}}\.(?:parquet|json)"),
    "manifest": re.compile(re.escape(MANIFEST)),
}
COMMITTED = ("live", "versions", "manifest")  # where a journal may move a staged file


def os_error_text(exc: BaseException) -> str:
    """One line for an OSError/Arrow I/O error, with the errno name when there is one."""
    no = getattr(exc, "errno", None)
    if isinstance(no, int) and no in errno.errorcode:
        where = getattr(exc, "filename", None)
        return f"{os.strerror(no)} ({errno.errorcode[no]})" + (f": {where}" if where else "")
    return " ".join(str(exc).split()) or type(exc).__name__


def check_rel(rel: object, kinds: tuple[str, ...], where: str) -> str:
    """``rel`` if it is a path (relative to the store root) the layout allows as one of ``kinds``.

    Anything else — ``..``, an absolute path, another name, not a string — is a ``StoreError``
    naming ``where`` (the metadata file that holds it): it is never used as a path.
    """
    if isinstance(rel, str) and any(_LAYOUT[k].fullmatch(rel) for k in kinds):
        return rel
    shown = repr(rel) if len(repr(rel)) <= 80 else repr(rel)[:77] + "..."
    raise StoreError(f"{where}: names {shown}, not a file of the store's layout; nothing was read or moved")


def lstat_kind(path: Path) -> str | None:
    """``None`` (missing), ``"file"`` (regular), ``"dir"``, ``"symlink"`` or ``"special"``, by lstat."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        return None
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    return "special"


def require_regular(path: Path, what: str) -> bool:
    """True when ``path`` is a regular file, False when missing; else a ``StoreError``."""
    kind = lstat_kind(path)
    if kind in (None, "file"):
        return kind == "file"
    if kind == "symlink":
        raise StoreError(f"{path}: refusing a symlink inside the store")
    raise StoreError(f"{path}: the {what} is not a regular file ({kind}); refusing to open it")


def read_json(path: Path, what: str) -> object:
    """The JSON in ``path`` (a regular file, checked before it is opened), or ``StoreError``."""
    if not require_regular(path, what):
        raise StoreError(f"{path}: the {what} is missing")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):  # swapped since the lstat
                raise StoreError(f"{path}: the {what} is not a regular file; refusing to read it")
            # f.read(n) allocates n bytes up front: ask for what the file holds (a process under a
            # memory cap could not allocate the whole limit)
            size = os.fstat(f.fileno()).st_size
            raw = f.read(min(size, MAX_METADATA_BYTES) + 1)
    except OSError as exc:
        raise StoreError(f"{path}: unreadable {what}: {os_error_text(exc)}") from None
    if len(raw) > MAX_METADATA_BYTES:
        raise StoreError(f"{path}: damaged {what}: larger than {MAX_METADATA_BYTES} bytes")
    try:
        return json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise StoreError(f"{path}: damaged {what}: JSON nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        text = " ".join(str(exc).split())[:120]
        raise StoreError(f"{path}: damaged {what} (not valid JSON: {text})") from None


# ---------------------------------------------------------------- manifest shape
class _Shape:
    """Field checks for one metadata file; each failure is one line naming the field."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, field: str, problem: str) -> StoreError:
        return StoreError(f"{self.where}: damaged manifest: {field} {problem}")

    def obj(self, value: object, field: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(field, f"is {type(value).__name__}, expected an object")
        return value

    def count(self, d: dict[str, Any], key: str, field: str, default: int | None = None) -> None:
        v = d.get(key, default)
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise self.fail(f"{field}.{key}", f"is {v!r}, expected a non-negative integer")
        d[key] = v

    def text(self, d: dict[str, Any], key: str, field: str, optional: bool = False) -> None:
        v = d.get(key)
        if not (isinstance(v, str) or (optional and v is None)):
            raise self.fail(f"{field}.{key}", f"is {type(v).__name__}, expected a string")

    def when(self, d: dict[str, Any], key: str, field: str, kind: type[date], optional: bool) -> None:
        v = d.get(key)
        if optional and v is None:
            return
        try:
            if not isinstance(v, str):
                raise ValueError
            kind.fromisoformat(v)
        except ValueError:
            shown = repr(v)[:40]
            raise self.fail(f"{field}.{key}", f"is {shown}, expected an ISO {kind.__name__}") from None

    def sha(self, d: dict[str, Any], field: str) -> None:
        v = d.get("sha256")
        if not (isinstance(v, str) and re.fullmatch(r"[0-9a-f]{64}", v)):
            raise self.fail(f"{field}.sha256", "is not a SHA-256 hex digest")


def check_manifest(data: object, where: str) -> dict[str, Any]:
    """``data`` (a parsed manifest) checked field by field, with defaults for sections a later
    version added; a ``StoreError`` naming the first field that is wrong otherwise.

    The shape (README "The store")::

        {"format_version": 1, "commit": int, "seq": int,
         "tables":   {TABLE: {"files": {REL: {"rows": int, "bytes": int, "sha256": hex}}}},
         "versions": {TABLE: {"files": {REL: {... as above, "commit": int, "ingested_at": iso,
                                              "seq"?: int, "layout"?: "snapshot"}}}},
         "ingests":  [{"table": str, "source_file": str, "sha256": str, "ingested_at": iso,
                       "first_date"/"last_date"/"published": iso date or null, ...}]}

    Every REL must name a file of the layout (``check_rel``).
    """
    s = _Shape(where)
    m = s.obj(data, "the manifest")
    got = m.get("format_version")
    if got != FORMAT_VERSION or isinstance(got, bool):
        raise StoreError(f"{where}: unsupported store format {got!r} (this version reads {FORMAT_VERSION})")
    s.count(m, "commit", "", 0)
    s.count(m, "seq", "", 0)
    for section, prefix in (("tables", ""), ("versions", f"{VERSIONS}/")):
        tables = s.obj(m.setdefault(section, {}), section)  # tables added in later versions start empty
        for name in TABLES:
            t = s.obj(tables.setdefault(name, {"files": {}}), f"{section}.{name}")
            files = s.obj(t.get("files"), f"{section}.{name}.files")
            in_table = _IN_TABLE["versions" if prefix else "live"]
            for rel, entry in files.items():
                if in_table.fullmatch(rel) and _file_entry_ok(entry, bool(prefix)):
                    continue  # the common case, checked fast; the rest says what is wrong
                check_rel(f"{prefix}{name}/{rel}", ("versions" if prefix else "live",), where)
                _check_file_entry(s, entry, f"{section}.{name}.files[{rel[:60]!r}]", bool(prefix))
    ingests = m.setdefault("ingests", [])
    if not isinstance(ingests, list):
        raise s.fail("ingests", f"is {type(ingests).__name__}, expected a list")
    for i, entry in enumerate(ingests):
        if not _ingest_ok(entry):
            _check_ingest(s, entry, f"ingests[{i}]")
    return m


_SHA256 = re.compile(r"[0-9a-f]{64}")


def _n(v: object) -> bool:
    return type(v) is int and v >= 0


def _iso(v: object, kind: type[date]) -> bool:
    try:
        return type(v) is str and bool(kind.fromisoformat(v))
    except ValueError:
        return False


def _file_entry_ok(e: object, versions: bool) -> bool:
    """True for a well-formed file entry (fast; ``_check_file_entry`` names what is wrong)."""
    if not (type(e) is dict and _n(e.get("rows")) and _n(e.get("bytes"))):
        return False
    sha = e.get("sha256")
    if not (type(sha) is str and _SHA256.fullmatch(sha)):
        return False
    if not versions:
        return True
    return (
        _n(e.get("commit", 0))
        and _iso(e.get("ingested_at"), datetime)
        and ("seq" not in e or _n(e["seq"]))
        and e.get("layout") in (None, SNAPSHOT)
    )


def _check_file_entry(s: _Shape, entry: object, field: str, versions: bool) -> None:
    e = s.obj(entry, field)
    s.count(e, "rows", field)
    s.count(e, "bytes", field)
    s.sha(e, field)
    if versions:
        s.count(e, "commit", field, 0)
        s.when(e, "ingested_at", field, datetime, optional=False)
        if "seq" in e:
            s.count(e, "seq", field)
        if e.get("layout") not in (None, SNAPSHOT):
            raise s.fail(f"{field}.layout", f"is {e.get('layout')!r}")


def _ingest_ok(e: object) -> bool:
    """True for a well-formed ingest log entry (fast, no generators: a manifest logs thousands;
    ``_check_ingest`` names what is wrong)."""
    if type(e) is not dict:
        return False
    g = e.get
    if type(g("table")) is not str or type(g("source_file")) is not str or type(g("sha256")) is not str:
        return False
    fmt, rows, changed = g("format"), g("rows", 0), g("changed", 0)
    if (fmt is not None and type(fmt) is not str) or not (_n(rows) and _n(changed)):
        return False
    at = g("ingested_at")
    if type(at) is not str:
        return False
    try:
        datetime.fromisoformat(at)
        for key in ("first_date", "last_date", "published"):
            v = g(key)
            if v is not None:
                date.fromisoformat(v)
        forgotten = g("forgotten_at")
        if forgotten is not None:
            datetime.fromisoformat(forgotten)
    except (TypeError, ValueError):
        return False
    options = g("options", {})
    return type(options) is dict and all(type(k) is str and type(v) is str for k, v in options.items())


def _check_ingest(s: _Shape, entry: object, field: str) -> None:
    e = s.obj(entry, field)
    for key in ("table", "source_file", "sha256"):
        s.text(e, key, field)
    s.text(e, "format", field, optional=True)
    s.when(e, "ingested_at", field, datetime, optional=False)
    for key in ("first_date", "last_date", "published"):
        s.when(e, key, field, date, optional=True)
    for key in ("rows", "changed"):
        if key in e:
            s.count(e, key, field)
    s.when(e, "forgotten_at", field, datetime, optional=True)
    options = e.get("options", {})
    if not (isinstance(options, dict) and all(isinstance(v, str) for v in options.values())):
        raise s.fail(f"{field}.options", "is not a mapping of option names to text")


def load_journal(path: Path) -> list[tuple[str, str]]:
    """The renames of a committed journal, each checked: a staging file to a committed file."""
    where = str(path)
    try:
        data = read_json(path, "commit journal")
    except StoreError as exc:
        raise StoreError(f"{exc.message}; restore the store from a backup") from None
    renames = data.get("renames") if isinstance(data, dict) else None
    if not isinstance(renames, list):
        raise StoreError(
            f"{where}: damaged commit journal (no list of renames); restore the store from a backup"
        )
    out: list[tuple[str, str]] = []
    for i, pair in enumerate(renames):
        if not (isinstance(pair, list) and len(pair) == 2):
            raise StoreError(f"{where}: damaged commit journal (rename {i} is not a pair); nothing was moved")
        out.append((check_rel(pair[0], ("staging",), where), check_rel(pair[1], COMMITTED, where)))
    return out


# ---------------------------------------------------------------- marker
def read_marker(root: Path) -> int | None:
    """The format version the marker records; None when there is no marker."""
    path = root / MARKER
    if not require_regular(path, "store marker"):
        return None
    data = read_json(path, "store marker")
    version = data.get("format_version") if isinstance(data, dict) else None
    if isinstance(version, bool) or not isinstance(version, int):
        raise StoreError(f"{path}: damaged store marker (no format_version)")
    if version != FORMAT_VERSION:
        raise StoreError(
            f"{root}: the store is in format {version}; this version of positioning reads format"
            f" {FORMAT_VERSION} (upgrade positioning)"
        )
    return version


def write_marker(root: Path) -> None:
    """Write the marker durably (temp file, fsync, rename): a torn marker is never seen."""
    tmp = root / f"{MARKER}.tmp"
    body = json.dumps({"positioning_store": True, "format_version": FORMAT_VERSION}) + "\n"
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, 0o644)
    try:
        os.write(fd, body.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, root / MARKER)
    fd = os.open(root, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def manifest_text(manifest: dict[str, Any]) -> str:
    """The manifest as JSON, keys sorted: the manifest itself, a list, or an object whose values
    are all objects (the sections, the tables, their ``files``), one member a line; anything else
    (a file entry, an ingest entry) on one line. Each line is C-encoded: ``json.dumps(indent=...)`` runs the pure
    Python encoder, which took a fifth of a one-day ingest once the log held five years of daily
    files (a manifest of ~2 MB); this takes ~20 ms and still diffs entry by entry."""
    out: list[str] = []
    _encode(manifest, "", out)
    return "".join(out) + "\n"


_COMPACT = json.JSONEncoder(sort_keys=True, separators=(",", ":"))  # built once: json.dumps builds one a call


def _encode(value: object, pad: str, out: list[str]) -> None:
    if isinstance(value, dict) and value and (not pad or all(isinstance(v, dict) for v in value.values())):
        members: list[tuple[str, object]] = [(_COMPACT.encode(k), value[k]) for k in sorted(value)]
        opening, closing = "{", "}"
    elif isinstance(value, list) and value:
        members = [("", v) for v in value]
        opening, closing = "[", "]"
    else:
        out.append(_COMPACT.encode(value))
        return
    inner = pad + " "
    out.append(opening)
    for n, (key, member) in enumerate(members):
        out.append(("," if n else "") + "\n" + inner + (f"{key}: " if key else ""))
        _encode(member, inner, out)
    out.append("\n" + pad + closing)


_SCALARS = (str, int, float, bool, type(None))


def copy_json(value: Any) -> Any:
    """A deep copy of parsed JSON (dicts, lists, scalars): ``json.loads(json.dumps(m))`` without
    the text in between, about four times faster on a manifest of thousands of entries."""
    kind = type(value)
    if kind is dict:
        return {k: v if type(v) in _SCALARS else copy_json(v) for k, v in value.items()}
    if kind is list:
        return [v if type(v) in _SCALARS else copy_json(v) for v in value]
    return value


def classify_folder(root: Path) -> str:
    """``"missing"``, ``"empty"`` (nothing but what a first ingest leaves before its marker),
    ``"store"`` (a marker, or a manifest: a store written before markers existed) or ``"foreign"``.
    A path that is not a folder is a usage error for the caller to report."""
    try:  # the store folder itself may be a symlink (to another disk): follow it
        if not stat.S_ISDIR(os.stat(root).st_mode):
            return "not-a-folder"
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        raise StoreError(f"{root}: cannot open the store: {os_error_text(exc)}") from None
    if read_marker(root) is not None or require_regular(root / MANIFEST, "manifest"):
        return "store"
    with contextlib.suppress(OSError), os.scandir(root) as entries:
        if all(e.name in EMPTY_OK for e in entries):
            return "empty"
    return "foreign"
