"""The only module that knows output formats (table, json, ndjson, csv) and imports rich.

Machine formats never go through rich (it wraps lines and eats ``[...]`` as markup): they are
written with ``TextIO.write``, NaN/inf become null, and JSON is dumped with ``allow_nan=False``.
The JSON envelope ``{"schema_version", "command", "as_of", "rows", "warnings"}`` is stable. Warnings
also go to stderr in every format, so a cron job that keeps stdout as data still logs them.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:  # rich is imported where a table is drawn: JSON/CSV output never loads it
    from rich.console import Group
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
    command: str,
    as_of: date | None,
    rows: Sequence[dict[str, Any]],
    warnings: Sequence[str],
    extra: dict[str, Any] | None = None,
) -> dict:
    """The JSON document every read command emits; ``extra`` adds command-specific keys after these."""
    doc = {
        "schema_version": SCHEMA_VERSION,
        "command": command,
        "as_of": as_of.isoformat() if as_of else None,
        "rows": [{k: _clean(v) for k, v in r.items()} for r in rows],
        "warnings": list(warnings),
    }
    doc.update(extra or {})
    return doc


def resolve_format(fmt: str, is_tty: bool) -> str:
    """``auto`` is a table on a terminal and JSON elsewhere; any other format is itself."""
    if fmt == "auto":
        return "table" if is_tty else "json"
    return fmt


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
    fmt = resolve_format(fmt, is_tty)
    doc = envelope(result.command, result.as_of, result.rows, result.warnings, getattr(result, "extra", None))
    if fmt == "json":
        out.write(json.dumps(doc, indent=2, allow_nan=False) + "\n")
        _warn(err, result.warnings)  # in the document for programs, on stderr for the log
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
        from rich.console import Console

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
    table = _table(
        f"Positioning scan — {result.as_of.isoformat()}, ranked by divergence",
        caption=(
            "Score = √(SI percentile 1Y × price percentile 1Y), 0–100: 100 = short interest and price both "
            "at their 1Y highs (shorts expanding into strength). Quadrant = signs of the SI and price "
            "changes since the last report. * = window not fully covered by the store."
        ),
        caption_justify="left",
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
    line("EMA stack 8/21/50", lambda r: r["ema_stack"] or "–")
    line(
        "Bollinger %B / Keltner",
        lambda r: f"{number(r['bollinger_pct_b'], 2)} / {number(r['keltner_pos'], 2)}",
    )
    line("Rank last report", lambda r: "–" if r["prev_rank"] is None else str(r["prev_rank"]))
    if any(r["futures_contract"] for r in rows):
        line("Lev funds net (futures)", lambda r: number(r["lev_net"]) if r["futures_contract"] else "–")
        line(
            "Lev net pct 1Y / Δ",
            lambda r: f"{percentile(r['lev_net_pct_1y'])} / {number(r['lev_net_change'])}",
        )
        line("Futures agree with SI", lambda r: {True: "yes", False: "no", None: "–"}[r["futures_agree"]])
    return table


def _table(title: str | None, **options: Any) -> Table:
    """The house style of every table view: a rule under the header, no outer edges, tight padding."""
    from rich import box
    from rich.table import Table

    return Table(
        title=title, box=box.SIMPLE_HEAD, collapse_padding=True, show_edge=False, pad_edge=False, **options
    )


def _rank_cell(r: dict[str, Any]) -> str:
    prev = r.get("prev_rank")
    return f"{r['rank']}" + ("" if prev is None else f" ({prev})")


def stock_view(result: Any) -> Group:
    """Ranked stocks: rank (previous), SI level and change, percentiles, quadrant, score."""
    from rich.console import Group
    from rich.text import Text

    table = _table(f"Stocks — {result.as_of.isoformat()}, ranked by divergence (previous rank in brackets)")
    for name in ("#", "Symbol", "SI %SO", "DTC", "SI Δ", "SI pct", "Px Δ", "Px pct", "Quadrant", "Score"):
        table.add_column(name, justify="left" if name in ("Symbol", "Quadrant") else "right", no_wrap=True)
    for r in result.rows:
        table.add_row(
            _rank_cell(r),
            r["symbol"],
            pct_level(r["si_pct_so"], 1),
            number(r["days_to_cover"], 1),
            pct_change(r["si_change_last"]),
            percentile(r["si_pct_1y"], r["si_pct_1y_complete"]),
            pct_change(r["price_return_last"]),
            percentile(r["price_pct_1y"], r["price_pct_1y_complete"]),
            QUADRANT_SHORT.get(r["quadrant_key"] or "", "–"),
            number(r["divergence_score"], 1),
        )
    parts: list[Any] = [table]
    excluded = result.extra.get("excluded", {})
    if excluded.get("rows"):
        ex = _table("Excluded", title_justify="left")
        ex.add_column("Symbol", no_wrap=True)
        ex.add_column("Gate", no_wrap=True)
        ex.add_column("Reason")
        for r in excluded["rows"]:
            ex.add_row(r["symbol"], r["gate"], r["reason"])
        parts.append(ex)
    parts.append(
        Text(
            f"{result.extra.get('ranked', len(result.rows))} ranked, {excluded.get('count', 0)} excluded. SI Δ and Px Δ "
            "since the last report; pct = percentile in the stock's 1Y window; * = window not fully covered."
        )
    )
    return Group(*parts)


def sector_view(result: Any) -> Table:
    table = _table(
        f"Sectors — {result.as_of.isoformat()}, ranked by median SI % percentile (previous rank in brackets)"
    )
    for name in ("#", "Sector", "N", "Med SI%", "SI Δ", "Δ YTD", "1Y", "5Y", "Px Δ", "Score"):
        table.add_column(name, justify="left" if name == "Sector" else "right", no_wrap=name != "Sector")
    for r in result.rows:
        table.add_row(
            _rank_cell(r),
            r["sector"],
            str(r["members_with_si"]),
            pct_level(r["median_si_pct_so"]),
            pct_change(r["si_change_last"]),
            pct_change(r["si_change_ytd"]),
            percentile(r["si_pct_1y"], r["si_pct_1y_complete"]),
            percentile(r["si_pct_5y"], r["si_pct_5y_complete"]),
            pct_change(r["price_return_last"]),
            number(r["divergence_score"], 1),
        )
    return table


def cot_view(result: Any) -> Group:
    from rich.console import Group
    from rich.text import Text

    table = _table(f"CFTC Traders in Financial Futures — report {result.as_of.isoformat()}")
    for name in ("", "Group", "Net", "% OI", "Δ 1w", "Δ 4w", "1Y", "3Y", "All", "COT", "z"):
        table.add_column(name, justify="left" if name in ("", "Group") else "right", no_wrap=True)
    for r in result.rows:
        table.add_row(
            r["contract"],
            "lev funds" if r["group"] == "lev_money" else "asset mgr",
            _compact(r["net"]),
            pct_level(r["net_pct_oi"], 1),
            _compact(r["change_1w"]),
            _compact(r["change_4w"]),
            percentile(r["pct_1y"], r["pct_1y_complete"]),
            percentile(r["pct_3y"], r["pct_3y_complete"]),
            percentile(r["pct_all"]),
            number(r["cot_index_52w"], 0),
            number(r["zscore_52w"], 2),
        )
    notes = [
        Text(f"{r['contract']} leveraged funds: {r['largest_net_short']}.")
        for r in result.rows
        if r["largest_net_short"] and r["group"] == "lev_money"
    ]
    return Group(table, *notes, Text(f"Caveat: {result.extra.get('caveat', '')}"))


def store_info_view(result: Any) -> Group:
    from rich.console import Group
    from rich.text import Text

    e = result.extra
    table = _table(f"Store {e['store']} — {e['commits']} commits, {_compact(e['total_bytes'])}B")
    for name in ("Table", "Rows", "Files", "Size", "From", "To", "Versions"):
        table.add_column(name, justify="left" if name in ("Table", "From", "To") else "right", no_wrap=True)
    for r in result.rows:
        table.add_row(
            r["table"],
            number(r["rows"]),
            number(r["files"]),
            f"{_compact(r['bytes'])}B",
            r["first_date"] or "–",
            r["last_date"] or "–",
            number(r["version_rows"]),
        )
    recent = _table("Last ingests")
    for name in ("When (UTC)", "Table", "File", "Rows", "Changed"):
        recent.add_column(
            name, justify="right" if name in ("Rows", "Changed") else "left", no_wrap=name != "File"
        )
    for i in e["last_ingests"]:
        recent.add_row(
            str(i.get("ingested_at", ""))[:19],
            i.get("table", ""),
            i.get("source_file", ""),
            number(i.get("rows")),
            number(i.get("changed")),
        )
    parts: list[Any] = [table, recent]
    if e.get("pending_commit"):
        parts.append(Text("A commit is pending; the next positioning run completes it."))
    return Group(*parts)


def verify_view(result: Any) -> Group:
    from rich.console import Group
    from rich.text import Text

    e = result.extra
    head = Text(
        f"{'OK' if e['ok'] else 'PROBLEMS'}: {e['files_checked']} files and {e['rows_checked']:,} rows checked, "
        f"{len(result.rows)} problem(s)"
    )
    if not result.rows:
        return Group(head)
    table = _table(None)
    for name in ("Kind", "Path", "Problem"):
        table.add_column(name)
    for r in result.rows:
        table.add_row(r["kind"], r["path"], r["message"])
    return Group(head, table)


SPARK_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float | None], width: int = 60) -> str:
    """At most ``width`` characters scaled between the series' min and max; gaps as spaces.

    Longer series are thinned to the last value of each of ``width`` equal buckets, so the final
    character is always the latest value.
    """
    if len(values) > width:
        n = len(values)
        values = [values[min(n - 1, ((i + 1) * n) // width - 1)] for i in range(width)]
    nums = [v for v in values if v is not None]
    if not nums:
        return ""
    lo, hi = min(nums), max(nums)
    span = hi - lo
    out = []
    for v in values:
        if v is None:
            out.append(" ")
        else:
            i = 0 if span == 0 else int(round((v - lo) / span * (len(SPARK_BARS) - 1)))
            out.append(SPARK_BARS[i])
    return "".join(out)


def _compact(x: float | None, unit: str = "") -> str:
    if x is None:
        return "–"
    for div, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(x) >= div:
            return f"{'-' if x < 0 else ''}{unit}{abs(x) / div:,.2f}{suffix}"
    return f"{unit}{x:,.0f}"


SUMMARY_LABELS = {
    "median_si_pct_so": "Median SI % shares out",
    "total_si_shares": "Total SI (shares)",
    "total_si_value": "Total SI value",
    "agg_days_to_cover": "Days to cover",
    "price_close": "Price",
}


def _summary_value(r: dict[str, Any]) -> str:
    metric, v = r["metric"], r["value"]
    if metric == "median_si_pct_so":
        return pct_level(v)
    if metric == "total_si_shares":
        return _compact(v)
    if metric == "total_si_value":
        return _compact(v, "$")
    if metric == "price_close":
        return f"{r['symbol']} {number(v, 2)}"
    return number(v, 2)


def summary_view(result: Any) -> Group:
    """Per index: a table of levels vs their history, a 5Y sparkline, and the sentences."""
    from rich.console import Group
    from rich.text import Text

    parts: list[Any] = []
    by_index: dict[str, list[dict[str, Any]]] = {}
    for r in result.rows:
        by_index.setdefault(r["index"], []).append(r)
    for idx, rows in by_index.items():
        table = _table(f"{idx} — percentile summary, {result.as_of.isoformat()}", title_justify="left")
        for name, justify in (
            ("", "left"),
            ("Level", "right"),
            ("1Y", "right"),
            ("5Y", "right"),
            ("All", "right"),
            ("Δ last", "right"),
            ("Δ YTD", "right"),
            ("Δ 12M", "right"),
        ):
            table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
        for r in rows:
            table.add_row(
                SUMMARY_LABELS.get(r["metric"], r["metric"]),
                _summary_value(r),
                percentile(r["pct_1y"], r["pct_1y_complete"]),
                percentile(r["pct_5y"], r["pct_5y_complete"]),
                percentile(r["pct_all"]),
                pct_change(r["change_last"]),
                pct_change(r["change_ytd"]),
                pct_change(r["change_12m"]),
            )
        parts.append(table)
        spark = sparkline(result.extra.get("sparklines", {}).get(idx, []))
        if spark:
            parts.append(Text(f"Total SI, last 5Y: {spark}"))
        for sentence in result.extra.get("text", {}).get(idx, []):
            parts.append(Text(sentence))
        for r in rows:
            if r.get("explain"):
                parts.append(Text(f"· {r['explain']}", style="dim"))
        parts.append(Text(""))
    parts.append(Text("Percentiles: 100 = highest in the window. * = window not fully covered by the store."))
    return Group(*parts)


def _level(v: float | None) -> str:
    """Whole numbers for share counts and dollars, two decimals for percentages and days."""
    return number(v, 2) if v is not None and abs(v) < 1000 else number(v)


def history_view(result: Any) -> Group:
    from rich.console import Group
    from rich.text import Text

    rows = result.rows
    head = rows[0] if rows else {"index": "", "metric": ""}
    values = [r["value"] for r in rows]
    table = _table(None)
    table.add_column("Settlement date")
    table.add_column(head["metric"], justify="right")
    table.add_column("Members with SI", justify="right")
    table.add_column("Membership as of")
    for r in rows:
        table.add_row(
            r["settlement_date"], _level(r["value"]), str(r["members_with_si"]), r["membership_as_of"]
        )
    nums = [v for v in values if v is not None]
    lines = [
        Text(f"{head['index']} {head['metric']}: {result.extra.get('metric_definition', '')}"),
        Text(sparkline(values)),
    ]
    if nums:
        lines.append(Text(f"min {_level(min(nums))}  max {_level(max(nums))}  reports {len(values)}"))
    return Group(*lines, table)


def plain_rows_view(result: Any) -> Table:
    """A plain table of the rows' keys in order (``calendar``, ``config show``): no computed cells."""
    table = _table(None)
    keys = list(result.rows[0]) if result.rows else []
    for k in keys:
        table.add_column(k)
    for r in result.rows:
        table.add_row(*("–" if r.get(k) is None else str(r[k]) for k in keys), end_section=False)
    return table
