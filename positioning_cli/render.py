"""The only module that knows output formats (table, json, ndjson, csv) and imports rich.

Machine formats never go through rich (it wraps lines and eats ``[...]`` as markup): they are
written with ``TextIO.write``, NaN/inf become null, and JSON is dumped with ``allow_nan=False``.
The JSON envelope ``{"schema_version", "command", "as_of", "rows", "warnings"}`` is stable.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from typing import Any, TextIO

from rich import box
from rich.console import Console
from rich.table import Table

SCHEMA_VERSION = "1"
FORMATS = ("auto", "table", "json", "ndjson", "csv")


def _clean(value: Any) -> Any:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, date):
        return value.isoformat()
    return value


def envelope(
    command: str, as_of: date | None, rows: Sequence[dict[str, Any]], warnings: Sequence[str]
) -> dict:
    return {
        "schema_version": SCHEMA_VERSION,
        "command": command,
        "as_of": as_of.isoformat() if as_of else None,
        "rows": [{k: _clean(v) for k, v in r.items()} for r in rows],
        "warnings": list(warnings),
    }


def emit(
    result: Any,
    fmt: str,
    out: TextIO,
    err: TextIO,
    *,
    is_tty: bool,
    keys: Sequence[str],
    table_renderer: Callable[[Any], Any],
    width: int | None = None,
) -> None:
    """Write ``result`` (command, as_of, rows, warnings) to ``out`` in ``fmt``."""
    if fmt == "auto":
        fmt = "table" if is_tty else "json"
    doc = envelope(result.command, result.as_of, result.rows, result.warnings)
    if fmt == "json":
        out.write(json.dumps(doc, indent=2, allow_nan=False) + "\n")
    elif fmt == "ndjson":
        for row in doc["rows"]:
            out.write(json.dumps(row, allow_nan=False) + "\n")
        _warn(err, result.warnings)
    elif fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=list(keys), lineterminator="\n")
        writer.writeheader()
        for row in doc["rows"]:
            writer.writerow({k: "" if row.get(k) is None else row[k] for k in keys})
        _warn(err, result.warnings)
    elif fmt == "table":
        console = Console(file=out, width=width, highlight=False, force_terminal=is_tty, no_color=not is_tty)
        console.print(table_renderer(result))
        _warn(err, result.warnings)
    else:  # guarded by the CLI's choices
        raise ValueError(fmt)


def _warn(err: TextIO, warnings: Sequence[str]) -> None:
    for w in warnings:
        err.write(f"warning: {w}\n")


# ------------------------------------------------------------------ formatting
def pct_change(x: float | None) -> str:
    return "–" if x is None else f"{x * 100:+.1f}%"


def pct_level(x: float | None, digits: int = 2) -> str:
    return "–" if x is None else f"{x:.{digits}f}%"


def number(x: float | int | None, digits: int = 0) -> str:
    if x is None:
        return "–"
    return f"{x:,.{digits}f}"


def percentile(x: float | None, complete: bool | None = True) -> str:
    if x is None:
        return "–"
    return f"{x:.0f}" + ("" if complete or complete is None else "*")


# Short quadrant names for an 80-column table; JSON carries the full label and a key.
QUADRANT_SHORT = {
    "pressing_into_strength": "↑↑ pressing",
    "shorts_confirmed": "↑↓ confirmed",
    "short_covering_rally": "↓↑ covering",
    "exiting_weakness": "↓↓ exiting",
}


def scan_table(result: Any) -> Table:
    """Indices as columns in rank order, metrics as rows: fits 80 columns for three indices."""
    rows = result.rows
    table = Table(
        title=f"Positioning scan — {result.as_of.isoformat()}, ranked by divergence",
        caption=(
            "Score = √(SI percentile 1Y × price percentile 1Y), 0–100: 100 = short interest and price both "
            "at their 1Y highs (shorts expanding into strength). Quadrant = signs of the SI and price "
            "changes since the last report. * = window not fully covered by the store."
        ),
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
    )
    table.add_column("", justify="left", no_wrap=True)
    for r in rows:
        table.add_column(f"#{r['rank']} {r['index']}", justify="right", no_wrap=True)

    def line(label: str, fn: Callable[[dict[str, Any]], str]) -> None:
        table.add_row(label, *[fn(r) for r in rows])

    line("Divergence score", lambda r: number(r["divergence_score"], 1))
    line("Quadrant SI / price", lambda r: QUADRANT_SHORT.get(r["quadrant_key"] or "", "–"))
    line(
        "Members / with SI / with SO",
        lambda r: f"{r['members']}/{r['members_with_si']}/{r['members_with_denominator']}",
    )
    line("Total short interest", lambda r: number(r["total_si_shares"]))
    line("Median SI % shares out", lambda r: pct_level(r["median_si_pct_so"]))
    line("Median SI % float", lambda r: pct_level(r["median_si_pct_float"]))
    line("Days to cover (aggregate)", lambda r: number(r["agg_days_to_cover"], 2))
    line("SI Δ last report", lambda r: pct_change(r["si_change_last"]))
    line("SI Δ YTD", lambda r: pct_change(r["si_change_ytd"]))
    line("SI Δ 12M", lambda r: pct_change(r["si_change_12m"]))
    line(
        "SI percentile 1Y / 5Y",
        lambda r: (
            f"{percentile(r['si_pct_1y'], r['si_pct_1y_complete'])} / "
            f"{percentile(r['si_pct_5y'], r['si_pct_5y_complete'])}"
        ),
    )
    line(
        "Price", lambda r: f"{r['price_symbol']} {number(r['price_close'], 2)}" if r["price_symbol"] else "–"
    )
    line("Price Δ last report", lambda r: pct_change(r["price_return_last"]))
    line("Price Δ YTD", lambda r: pct_change(r["price_return_ytd"]))
    line("Price Δ 12M", lambda r: pct_change(r["price_return_12m"]))
    line("Price percentile 1Y", lambda r: percentile(r["price_pct_1y"]))
    return table


# ------------------------------------------------------------------ stderr side
def error_console(err: TextIO) -> Console:
    return Console(file=err, highlight=False, soft_wrap=True)


@contextlib.contextmanager
def progress_bar(err: TextIO, enabled: bool) -> Iterator[Callable[[str, int, int], None]]:
    """A progress callback; draws a bar on a terminal only, silent otherwise."""
    if not enabled:
        yield lambda message, done, total: None
        return
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
    return f"{report.path}: {report.rows:,} rows, {dates}, {report.format}, {tail}"
