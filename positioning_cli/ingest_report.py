"""What ``ingest`` writes to stderr: a progress bar on a terminal, one summary line per file.

Apart from render.py so an ingest (a cron job, usually not on a terminal) does not import rich.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, TextIO


@contextlib.contextmanager
def progress_bar(err: TextIO, enabled: bool) -> Iterator[Callable[[str, int, int], None]]:
    """A progress callback; draws a bar on a terminal only, silent otherwise."""
    if not enabled:
        yield lambda message, done, total: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=Console(file=err),
        transient=True,
    ) as bar:
        task = bar.add_task("ingest", total=None)

        def update(message: str, done: int, total: int) -> None:
            bar.update(task, description=message, completed=done, total=total)

        yield update


def file_summary(report: Any) -> str:
    dates = "no rows"
    if report.first_date is not None:
        dates = report.first_date.isoformat()
        if report.last_date != report.first_date:
            dates += f"…{report.last_date.isoformat()}"
    if report.skipped:
        tail = "already ingested, unchanged"
    else:
        tail = f"{report.changed:,} new or changed"
        if report.removed:
            tail += f", {report.removed:,} removed (not in this snapshot)"
    return f"{report.path}: {report.rows:,} rows, {dates}, {report.format}, {tail}"
