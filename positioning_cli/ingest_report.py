"""What ``ingest`` reports: a progress bar on a terminal, a line per file and a total, or one JSON object.

Apart from render.py so an ingest (a cron job, usually not on a terminal) does not import rich.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TextIO


@contextlib.contextmanager
def progress_bar(err: TextIO, enabled: bool) -> Iterator[Callable[[str, int, int], None]]:
    """A progress callback; draws a bar on a terminal only, silent otherwise.

    The callback takes (message, done, total); a total of 0 means "not counting" (e.g. waiting
    for another writer's lock): the message is shown without a count.
    """
    if not enabled:
        yield lambda message, done, total: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, Task, TextColumn, TimeElapsedColumn
    from rich.text import Text

    from positioning_cli.terminal import no_color_requested

    class Count(TextColumn):
        def render(self, task: Task) -> Text:
            return Text(count_text(task.completed, task.total))

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        Count(""),
        TimeElapsedColumn(),
        console=Console(file=err, color_system=None if no_color_requested() else "auto"),
        transient=True,
    ) as bar:
        task = bar.add_task("starting", total=None)

        def update(message: str, done: int, total: int) -> None:
            bar.update(task, description=message, completed=done, total=total or None)

        yield update


def count_text(done: float, total: float | None) -> str:
    """``done/total`` once there is something to count; nothing before (never "0/None")."""
    return f"{done:g}/{total:g}" if total else ""


SCHEMA_VERSION = "1"


def file_summary(report: Any) -> str:
    dates = "no rows"
    if report.first_date is not None:
        dates = report.first_date.isoformat()
        if report.last_date != report.first_date:
            dates += f"…{report.last_date.isoformat()}"
    if report.skipped:
        # Only the same bytes with the same options are skipped: say how to change either.
        tail = (
            "already ingested with these options, unchanged (other options re-read it and replace its rows;"
            f" `positioning store forget {report.path}` removes them)"
        )
    else:
        tail = f"{report.changed:,} new or changed"
        if getattr(report, "replaced", False):
            tail += ", replacing the rows its earlier ingest with other options gave"
        if report.removed:
            tail += f", {report.removed:,} removed (not in this snapshot)"
        tail += revisions_text(report)
    return f"{report.path}: {report.rows:,} rows, {dates}, {report.format}, {tail}"


def revisions_text(report: Any) -> str:
    """ ", N previous-cycle figures revised" for a file with FINRA revisions (R rows), and why the
    others changed nothing; "" for a file without."""
    total = getattr(report, "revisions", 0)
    if not total:
        return ""
    revised, unheld = report.revised, report.revisions_not_held
    text = f", {revised:,} previous-cycle figure{'s' if revised != 1 else ''} revised"
    if unheld:
        text += f" ({unheld:,} not held: nothing to correct"
    same = total - revised - unheld
    if same:
        text += f"{'; ' if unheld else ' ('}{same:,} already as revised"
    return text + (")" if unheld or same else "")


def totals(reports: Sequence[Any]) -> dict[str, int]:
    """Files by status, and rows read and new or changed over the files ingested now."""
    ingested = [r for r in reports if r.status == "ingested"]
    return {
        "files": len(reports),
        "ingested": len(ingested),
        "unchanged": sum(r.status == "unchanged" for r in reports),
        "failed": sum(r.status == "failed" for r in reports),
        "rows": sum(r.rows for r in ingested),
        "changed": sum(r.changed for r in ingested),
    }


def total_line(reports: Sequence[Any]) -> str:
    t = totals(reports)
    line = (
        f"total: {t['files']:,} file(s), {t['ingested']:,} ingested ({t['changed']:,} rows new or changed), "
        f"{t['unchanged']:,} already ingested"
    )
    return line + (f", {t['failed']:,} failed" if t["failed"] else "")


def document(kind: str, reports: Sequence[Any]) -> dict[str, Any]:
    """``ingest -f json``: one object, a stable schema (README "Ingest summary as JSON")."""
    return {
        "schema_version": SCHEMA_VERSION,
        "command": "ingest",
        "kind": kind,
        "files": [
            {
                "path": r.path,
                "status": r.status,
                "format": None if r.error else r.format,
                "rows": r.rows,
                "changed": r.changed,
                "first_date": r.first_date.isoformat() if r.first_date else None,
                "last_date": r.last_date.isoformat() if r.last_date else None,
                "revisions": getattr(r, "revisions", 0),
                "revised": getattr(r, "revised", 0),
                "revisions_not_held": getattr(r, "revisions_not_held", 0),
                "warnings": list(r.warnings),
                "error": r.error,
            }
            for r in reports
        ],
        "totals": totals(reports),
    }
