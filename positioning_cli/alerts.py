"""``--fail-on ... --once``: alert once per report, not on every cron run.

A cron job that runs ``positioning update && positioning scan --fail-on ... --once`` every morning
would otherwise exit 7 (and mail) every day until the next FINRA cycle. The store remembers which
rows already matched which rule for which report date, in ``STORE/state/once.json``; a match
already remembered exits 0 with a note. A row that matches for the first time on a report date (a
new index, or a revision that crosses the line) still alerts.

The rule is the command and its ``--fail-on`` expressions; the row is the row's label (an index, a
symbol, ``RUT/median_si_pct_so``). The file is small (the newest ``MAX_ENTRIES`` matches) and
written atomically under a lock. When it cannot be read or written (a read-only store, a damaged
or symlinked file) the alert is raised anyway, with a warning: a duplicate mail is better than a
missed one.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import stat
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path

STATE = "state"
ONCE_FILE = "once.json"
_LOCK = ".once.lock"
MAX_ENTRIES = 5_000  # ~150 bytes each: the file stays under 1 MB
_MAX_BYTES = 4 << 20


def rule_id(command: str, expressions: Iterable[str]) -> str:
    """A short stable id for a command and its --fail-on expressions (order and spacing ignored)."""
    canon = json.dumps([command, sorted("".join(e.split()) for e in expressions)])
    return hashlib.sha256(canon.encode()).hexdigest()[:16]


def _regular_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except FileNotFoundError:
        return False


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    fd = os.open(folder / _LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _read(path: Path) -> list[dict[str, str]]:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return []
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise ValueError("not a regular file")
        raw = f.read(_MAX_BYTES + 1)
    if len(raw) > _MAX_BYTES:
        raise ValueError("larger than 4 MiB")
    data = json.loads(raw)
    entries = data.get("alerted") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ValueError("no 'alerted' list")
    return [e for e in entries if isinstance(e, dict)]


def _write(path: Path, entries: list[dict[str, str]]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o666)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"version": 1, "alerted": entries[-MAX_ENTRIES:]}, f, indent=0)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def new_matches(
    store_root: Path, rule: str, report: date | None, rows: Iterable[str]
) -> tuple[list[str], str | None]:
    """The rows (labels) not yet alerted for ``rule`` on ``report``, which are recorded now; and a
    warning when the state could not be used (then every row counts as new)."""
    labels = list(dict.fromkeys(rows))
    day = report.isoformat() if report else ""
    folder = Path(store_root) / STATE
    try:
        if not _regular_dir(folder):
            if os.path.lexists(folder):
                raise ValueError(f"{folder} is not a folder")
            folder.mkdir(mode=0o777)
        with _locked(folder):
            path = folder / ONCE_FILE
            entries = _read(path)
            seen = {(e.get("rule"), e.get("report"), e.get("row")) for e in entries}
            fresh = [r for r in labels if (rule, day, r) not in seen]
            if fresh:
                at = datetime.now(UTC).isoformat(timespec="seconds")
                entries += [{"rule": rule, "report": day, "row": r, "at": at} for r in fresh]
                _write(path, entries)
            return fresh, None
    except (OSError, ValueError) as exc:
        why = getattr(exc, "strerror", None) or str(exc)
        return labels, f"--once: cannot use {folder / ONCE_FILE} ({why}); alerting anyway"
