"""Raw payloads under the store: ``STORE/raw/<source>/<file>`` plus ``STORE/raw/<source>/index.json``.

The index records, per file, the URL, SHA-256, ETag, Last-Modified, size and fetch time, so the next
run sends a conditional request and skips what is unchanged (304). Writes are atomic: a payload is
written to a temporary file in the same folder, fsynced and renamed over the old one, then the
index is rewritten the same way. A run killed at any point leaves either the old or the new file,
never part of one; a file whose index entry was not written yet is simply fetched again.

These files are what ``positioning ingest`` reads: ``update`` ingests them by path, so a user
ingesting the same file by hand goes through exactly the same parser.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from positioning_cli.errors import BusyError, StoreError

RAW = "raw"
INDEX = "index.json"
FETCH_LOCK = ".fetch.lock"
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")  # names are built by sources, checked anyway


class RawStore:
    def __init__(self, store_root: Path, source: str) -> None:
        if not _SAFE.match(source):
            raise ValueError(f"bad source name {source!r}")
        self.store_root = Path(store_root)
        self.folder = self.store_root / RAW / source

    def path(self, name: str) -> Path:
        if not _SAFE.match(name):
            raise ValueError(f"bad raw file name {name!r}")
        return self.folder / name

    def index(self) -> dict[str, dict[str, object]]:
        p = self.folder / INDEX
        if p.is_symlink():
            raise StoreError(f"{p}: refusing a symlink inside the store")
        try:
            data = json.loads(p.read_text("utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            return {}  # a damaged index only costs unconditional requests; files are re-fetched
        return data if isinstance(data, dict) else {}

    def entry(self, name: str) -> dict[str, object] | None:
        """The recorded entry for ``name`` when its file is still there, else None."""
        e = self.index().get(name)
        return e if isinstance(e, dict) and self.path(name).is_file() else None

    def conditional_headers(self, name: str) -> dict[str, str]:
        e = self.entry(name)
        if not e:
            return {}
        out = {}
        if e.get("etag"):
            out["If-None-Match"] = str(e["etag"])
        if e.get("last_modified"):
            out["If-Modified-Since"] = str(e["last_modified"])
        return out

    def save(self, name: str, body: bytes, *, url: str, etag: str = "", last_modified: str = "") -> Path:
        """Write the payload, then its index entry; both atomically."""
        dest = self.path(name)
        for p in (self.store_root / RAW, self.folder, dest):
            if p.is_symlink():
                raise StoreError(f"{p}: refusing a symlink inside the store")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            _write_atomic(dest, body)
            index = self.index()
            index[name] = {
                "url": url,
                "sha256": hashlib.sha256(body).hexdigest(),
                "bytes": len(body),
                "etag": etag,
                "last_modified": last_modified,
                "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            _write_atomic(self.folder / INDEX, json.dumps(index, indent=1, sort_keys=True).encode())
        except OSError as exc:
            raise StoreError(f"{dest}: cannot save the raw payload: {exc.strerror or exc}") from None
        return dest

    def forget(self, name: str) -> None:
        """Drop a payload that failed to ingest, so the next run downloads it again."""
        with contextlib.suppress(FileNotFoundError):
            self.path(name).unlink()
        index = self.index()
        if index.pop(name, None) is not None:
            _write_atomic(self.folder / INDEX, json.dumps(index, indent=1, sort_keys=True).encode())

    def files(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(p.name for p in self.folder.iterdir() if p.is_file() and not p.name.startswith("."))


def _write_atomic(dest: Path, data: bytes) -> None:
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    dfd = os.open(dest.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def clean_temporaries(store_root: Path) -> None:
    """Remove temporary files a killed run left behind (called under the fetch lock)."""
    base = Path(store_root) / RAW
    if not base.is_dir():
        return
    for p in base.glob("*/.*.tmp"):
        with contextlib.suppress(OSError):
            p.unlink()


@contextlib.contextmanager
def fetch_lock(store_root: Path, wait: float) -> Iterator[None]:
    """One fetching run per store at a time (ingest has its own store lock)."""
    from positioning_cli.store import Store

    root = Path(store_root)
    Store(root).claim()  # a foreign folder is refused before anything is downloaded into it
    path = root / FETCH_LOCK
    if path.is_symlink():
        raise StoreError(f"{path}: refusing a symlink inside the store")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    try:
        deadline = time.monotonic() + max(wait, 0.0)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise StoreError(f"{path}: cannot lock: {exc.strerror}") from None
                if time.monotonic() >= deadline:
                    raise BusyError(
                        f"{root}: another positioning fetch/update is running; waited {wait:g}s"
                    ) from None
                time.sleep(0.05)
        clean_temporaries(root)
        yield
    finally:
        os.close(fd)
