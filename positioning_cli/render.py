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
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, TextIO

from positioning_cli.errors import UsageError
from positioning_cli.terminal import can_encode, no_color_requested, to_ascii

if TYPE_CHECKING:  # rich is imported where a table is drawn: JSON/CSV output never loads it
    from rich.console import Console, Group
    from rich.table import Table
    from rich.text import Text

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
    table_renderer: Callable[[Any, Layout], Any],
    width: int | None = None,
    columns: Sequence[str] = (),
    wide: bool = False,
) -> None:
    """Write ``result`` (command, as_of, rows, warnings) to ``out`` in ``fmt``.

    A table fits ``width`` (default: the terminal's, or 80): columns are dropped, lowest priority
    first, rather than cut; ``columns`` picks them by name and ``wide`` keeps them all. ANSI
    styling only on a terminal and never with NO_COLOR.
    """
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

        color = is_tty and not no_color_requested()
        # color_system=None: rich writes no escape codes at all, bold, italic and dim included.
        console = Console(
            file=out,
            width=width,
            highlight=False,
            force_terminal=is_tty,
            color_system="auto" if color else None,
        )
        layout = Layout(console.width, tuple(columns), wide, ascii_only=not can_encode(out))
        renderable = table_renderer(result, layout)
        if layout.ascii_only:
            renderable = _ascii_texts(renderable)
        needed = _needed_width(renderable)
        if needed > console.width:  # only a too-narrow terminal or --wide: never cut a number
            console.width = needed
        console.print(renderable)
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


# Colour carries meaning only: the sign of a change, and a percentile at an extreme of its window.
RISE_STYLE, FALL_STYLE = "green", "red"
HIGH_PCT_STYLE, LOW_PCT_STYLE = "bold magenta", "bold cyan"
EXTREME_PCT = 10  # a percentile >= 100 - EXTREME_PCT or <= EXTREME_PCT is highlighted


def _styled(text: str, style: str | None) -> Text:
    from rich.text import Text

    return Text(text, style=style or "")


def change_cell(x: float | None) -> Text:
    """A change as ``pct_change`` writes it, green when up and red when down."""
    return _styled(pct_change(x), None if not x else RISE_STYLE if x > 0 else FALL_STYLE)


def percentile_cell(x: float | None, complete: bool | None = True) -> Text:
    """A percentile as ``percentile`` writes it, highlighted at >= 90 and <= 10."""
    style = None
    if x is not None:
        style = HIGH_PCT_STYLE if x >= 100 - EXTREME_PCT else LOW_PCT_STYLE if x <= EXTREME_PCT else None
    return _styled(percentile(x, complete), style)


def _joined(*parts: Text, sep: str = " / ") -> Text:
    from rich.text import Text

    out = Text()
    for i, part in enumerate(parts):
        if i:
            out.append(sep)
        out.append_text(part)
    return out


# ------------------------------------------------------------------ fitting a table to the terminal
@dataclass(frozen=True)
class Layout:
    """How wide a table may be and which columns the user asked for (--columns, --wide)."""

    width: int = 80
    columns: tuple[str, ...] = ()
    wide: bool = False
    ascii_only: bool = False  # the output cannot encode Unicode: cells are made ASCII before layout


@dataclass(frozen=True)
class Col:
    key: str  # the name --columns uses: the JSON key the column shows
    header: str
    cell: Callable[[dict[str, Any]], Any]
    priority: int  # 0 is kept longest; the highest number is dropped first
    justify: str = "right"
    wrap: bool = False  # text that may wrap; numbers never do


def _measuring_console() -> Console:
    from rich.console import Console

    return Console(width=100_000, color_system=None, highlight=False)


def _needed_width(renderable: Any) -> int:
    """The narrowest width that shows ``renderable`` without cutting anything.

    Text may wrap (its longest word is the limit); a table needs its no-wrap columns at full width
    and its wrapping columns at their longest word. (Rich's own minimum lets no-wrap columns
    shrink, which is what ellipsises numbers.)
    """
    from rich.console import Group
    from rich.measure import Measurement
    from rich.table import Table

    console = _measuring_console()
    if isinstance(renderable, Group):
        return max((_needed_width(r) for r in renderable.renderables), default=0)
    if not isinstance(renderable, Table):
        return Measurement.get(console, console.options, renderable).minimum
    saved = [c.max_width for c in renderable.columns]
    try:
        for c in renderable.columns:
            if not c.no_wrap:
                c.max_width = max(
                    Measurement.get(console, console.options, x).minimum for x in [c.header, *c.cells]
                )
        return Measurement.get(console, console.options, renderable).maximum
    finally:
        for c, width in zip(renderable.columns, saved, strict=True):
            c.max_width = width


def _choose(cols: Sequence[Col], layout: Layout, *, primary: bool) -> list[Col]:
    if not (primary and layout.columns):
        return list(cols)
    by_key = {c.key: c for c in cols}
    unknown = [k for k in layout.columns if k not in by_key]
    if unknown:
        raise UsageError(
            f"--columns {','.join(unknown)}: not in this table; its columns are {','.join(by_key)}"
        )
    return [by_key[k] for k in layout.columns]


def _fitted(
    title: str | None,
    cols: Sequence[Col],
    rows: Sequence[dict[str, Any]],
    layout: Layout,
    *,
    primary: bool = True,
    keep: int = 1,
    **options: Any,
) -> tuple[Table, list[str]]:
    """The table of ``cols`` over ``rows`` within ``layout.width``, and the keys of the columns dropped.

    Whole columns go, the highest ``priority`` number first, until the table fits (``keep``
    columns are always kept). Digits are never cut: a table that still does not fit is printed wider.
    """
    chosen = _choose(cols, layout, primary=primary)
    cells = {c.key: [_plain_if(layout.ascii_only, c.cell(r)) for r in rows] for c in chosen}
    dropped: list[str] = []
    while True:
        table = _table(title, layout.ascii_only, **options)
        for c in chosen:
            header = to_ascii(c.header) if layout.ascii_only else c.header
            table.add_column(header, justify=c.justify, no_wrap=not c.wrap)  # type: ignore[arg-type]
        for i in range(len(rows)):
            table.add_row(*(cells[c.key][i] for c in chosen))
        if (
            layout.wide
            or (primary and layout.columns)
            or len(chosen) <= keep
            or _needed_width(table) <= layout.width
        ):
            return table, dropped
        lowest = max(chosen, key=lambda c: c.priority)
        chosen.remove(lowest)
        dropped.insert(0, lowest.key)


def _ascii_texts(renderable: Any) -> Any:
    """The Text parts of a view (notes, sentences) in ASCII stand-ins, before rich wraps them."""
    from rich.console import Group
    from rich.text import Text

    if isinstance(renderable, Group):
        return Group(*(_ascii_texts(r) for r in renderable.renderables))
    if isinstance(renderable, Text):
        return Text(to_ascii(renderable.plain), style=renderable.style)
    return renderable


def _plain_if(ascii_only: bool, cell: Any) -> Any:
    """``cell`` in ASCII stand-ins (style kept) when the output cannot encode it: done before the
    layout, so a multi-character stand-in such as "chg" for "Δ" keeps the columns aligned."""
    if not ascii_only:
        return cell
    from rich.text import Text

    if isinstance(cell, Text):
        return Text(to_ascii(cell.plain), style=cell.style)
    return to_ascii(str(cell))


def _lookup(cells: dict[str, Any], key: str) -> Callable[[dict[str, Any]], Any]:
    """The cell function of a transposed table: the cell stored under the row's ``key`` value."""
    return lambda row: cells[row[key]]


def _text_of(key: str) -> Callable[[dict[str, Any]], str]:
    return lambda row: "–" if row.get(key) is None else str(row[key])


def _dropped_note(dropped: Sequence[str], layout: Layout) -> list[Text]:
    from rich.text import Text

    if not dropped:
        return []
    return [
        Text(
            f"Hidden to fit {layout.width} columns: {', '.join(dropped)} (--wide shows every column, "
            "--columns chooses)."
        )
    ]


# Short quadrant names for an 80-column table; JSON carries the full label and a key.
QUADRANT_SHORT = {
    "pressing_into_strength": "↑↑ pressing",
    "shorts_confirmed": "↑↓ confirmed",
    "short_covering_rally": "↓↑ covering",
    "exiting_weakness": "↓↓ exiting",
}


def scan_table(result: Any, layout: Layout = Layout()) -> Group:
    """Indices as columns in rank order, metrics as rows: fits 80 columns for three indices."""
    from rich.console import Group

    rows = result.rows
    # --trend-bars 4h: the trend rows say so (an index without bars falls back, and is warned about)
    bars_tag = " (4h)" if (getattr(result, "extra", None) or {}).get("trend_bars") == "4h" else ""
    labels: list[tuple[str, Callable[[dict[str, Any]], Any]]] = [
        ("Divergence score", lambda r: number(r["divergence_score"], 1)),
        ("Quadrant SI / price", lambda r: QUADRANT_SHORT.get(r["quadrant_key"] or "", "–")),
        (
            "Members / with SI / with SO",
            lambda r: f"{r['members']}/{r['members_with_si']}/{r['members_with_denominator']}",
        ),
        ("Total short interest", lambda r: number(r["total_si_shares"])),
        ("Median SI % shares out", lambda r: pct_level(r["median_si_pct_so"])),
        ("Median SI % float", lambda r: pct_level(r["median_si_pct_float"])),
        ("Days to cover (aggregate)", lambda r: number(r["agg_days_to_cover"], 2)),
        ("SI Δ last report", lambda r: change_cell(r["si_change_last"])),
        ("SI Δ YTD", lambda r: change_cell(r["si_change_ytd"])),
        ("SI Δ 12M", lambda r: change_cell(r["si_change_12m"])),
        (
            "SI percentile 1Y / 5Y",
            lambda r: _joined(
                percentile_cell(r["si_pct_1y"], r["si_pct_1y_complete"]),
                percentile_cell(r["si_pct_5y"], r["si_pct_5y_complete"]),
            ),
        ),
        (
            "Price",
            lambda r: f"{r['price_symbol']} {number(r['price_close'], 2)}" if r["price_symbol"] else "–",
        ),
        ("Price Δ last report", lambda r: change_cell(r["price_return_last"])),
        ("Price Δ YTD", lambda r: change_cell(r["price_return_ytd"])),
        ("Price Δ 12M", lambda r: change_cell(r["price_return_12m"])),
        ("Price percentile 1Y", lambda r: percentile_cell(r["price_pct_1y"])),
        (f"EMA stack 8/21/50{bars_tag}", lambda r: r["ema_stack"] or "–"),
        (
            f"Bollinger %B / Keltner{bars_tag}",
            lambda r: f"{number(r['bollinger_pct_b'], 2)} / {number(r['keltner_pos'], 2)}",
        ),
        ("Rank last report", lambda r: "–" if r["prev_rank"] is None else str(r["prev_rank"])),
    ]
    if any(r["futures_contract"] for r in rows):
        labels += [
            ("Lev funds net (futures)", lambda r: number(r["lev_net"]) if r["futures_contract"] else "–"),
            (
                "Lev net pct 1Y / Δ",
                lambda r: _joined(
                    percentile_cell(r["lev_net_pct_1y"]), _styled(number(r["lev_net_change"]), None)
                ),
            ),
            ("Futures agree with SI", lambda r: {True: "yes", False: "no", None: "–"}[r["futures_agree"]]),
        ]
    sv_caption = ""
    if any(r.get("sv_ratio") is not None for r in rows):
        # A flow, not a position: the caption says so (FINRA's caveat, in full in the JSON).
        labels += [
            ("Short-sale vol ratio", lambda r: _ratio_pct(r.get("sv_ratio"))),
            ("  on", lambda r: r["sv_date"].isoformat() if r.get("sv_date") else "–"),
            (
                "  avg 5d / 20d",
                lambda r: f"{_ratio_pct(r.get('sv_ratio_avg_5d'))} / {_ratio_pct(r.get('sv_ratio_avg_20d'))}",
            ),
            (
                "  pct 1Y / z",
                lambda r: _joined(
                    percentile_cell(r.get("sv_ratio_pct_1y"), r.get("sv_ratio_pct_1y_complete")),
                    _styled(number(r.get("sv_ratio_z_1y"), 2), None),
                ),
            ),
        ]
        sv_caption = " Short-sale vol ratio = FINRA daily short-sale volume / total volume: a flow, not short interest."
    # The table is transposed: its rows are the labels, its columns the indices (by rank).
    lines = [{"label": label} for label, _ in labels]
    cols = [Col("metric", "", lambda line: line["label"], 0, justify="left")]
    for r in rows:
        cells = {label: fn(r) for label, fn in labels}
        cols.append(Col(r["index"], f"#{r['rank']} {r['index']}", _lookup(cells, "label"), r["rank"]))
    table, dropped = _fitted(
        f"Positioning scan — {result.as_of.isoformat()}, ranked by divergence",
        cols,
        lines,
        layout,
        keep=2,  # the labels and the top-ranked index
        caption=(
            "Score = √(SI percentile 1Y × price percentile 1Y), 0–100: 100 = short interest and price both "
            "at their 1Y highs (shorts expanding into strength). Quadrant = signs of the SI and price "
            "changes since the last report. SI Δ = like for like: today's constituents with short "
            "interest on both dates. * = window not fully covered by the store."
            + sv_caption
            + _no_score_notes(rows, "index")
            + _thin_notes(rows, "index")
            + _denominator_notes(result.extra.get("denominators", {}), rows)
        ),
        caption_justify="left",
    )
    return Group(table, *_dropped_note(dropped, layout))


def _denominator_notes(counts: dict[str, dict[str, int]], rows: Sequence[dict[str, Any]]) -> str:
    """Where each index's members with SI got their shares outstanding (when SEC values are held)."""
    notes = []
    for r in rows:
        c = counts.get(r["index"])
        if c:
            notes.append(
                f"{r['index']} denominators: {c['members_file']} members file, {c['short_interest_file']} "
                f"SI file, {c['sec']} SEC ({c['sec_quarantined']} quarantined), {c['none']} none."
            )
    return "".join(f"\n{n}" for n in notes)


def _thin_notes(rows: Sequence[dict[str, Any]], name: str) -> str:
    """Caption text naming the rows whose membership list was taken after their date (look-ahead)
    and the sparse settlement dates among them; empty when there are none."""
    notes = []
    ahead: dict[str, list[str]] = {}
    for r in rows:
        if r.get("membership_look_ahead"):
            ahead.setdefault(str(r.get("membership_as_of")), []).append(str(r[name]))
    for as_of, names in ahead.items():
        who = ", ".join(names) if len(names) <= 3 else f"{len(names)} rows"
        notes.append(
            f"Look-ahead: {who} use the membership list as of {as_of}, taken after the report date "
            "(no earlier list is held)."
        )
    sparse = list(dict.fromkeys(str(r["settlement_date"]) for r in rows if r.get("sparse_date")))
    if sparse:
        notes.append(
            f"Sparse settlement date{'s' if len(sparse) > 1 else ''} {', '.join(sparse)}: too few symbols "
            "held, left out of percentiles and change bases (its own percentiles are null)."
        )
    return "".join(f"\n{n}" for n in notes)


def _no_score_notes(rows: Sequence[dict[str, Any]], name: str) -> str:
    """Caption text saying why each unscored row (ranked last) has no score; empty when all have one."""
    notes = [f"{r[name]}: no score ({r['score_missing']})." for r in rows if r.get("score_missing")]
    return "".join(f"\n{n}" for n in notes)


def _ratio_pct(x: float | None) -> str:
    """A fraction (0.452) as a level in percent (45.2%)."""
    return pct_level(None if x is None else 100 * x, 1)


def _table(title: str | None, ascii_only: bool = False, **options: Any) -> Table:
    """The house style of every table view: a rule under the header, no outer edges, tight padding.

    ``ascii_only``: the same rule drawn with "-" (rich's own ASCII substitute adds "|" between
    columns, which would make the table wider than the layout measured).
    """
    from rich import box
    from rich.table import Table

    if ascii_only:  # rich lays out the text before the stream's stand-ins could lengthen it
        title = to_ascii(title) if title else title
        if options.get("caption"):
            options["caption"] = to_ascii(options["caption"])
    style = (
        box.Box("    \n    \n -- \n    \n    \n    \n    \n    \n", ascii=True)
        if ascii_only
        else box.SIMPLE_HEAD
    )
    return Table(title=title, box=style, collapse_padding=True, show_edge=False, pad_edge=False, **options)


def _rank_cell(r: dict[str, Any]) -> str:
    prev = r.get("prev_rank")
    return f"{r['rank']}" + ("" if prev is None else f" ({prev})")


STOCK_COLUMNS = (
    Col("rank", "#", lambda r: _rank_cell(r), 1),
    Col("symbol", "Symbol", lambda r: r["symbol"], 0, justify="left"),
    Col("si_pct_so", "SI%SO", lambda r: pct_level(r["si_pct_so"], 1), 3),
    Col("days_to_cover", "DTC", lambda r: number(r["days_to_cover"], 1), 7),
    Col("si_change_last", "SI Δ", lambda r: change_cell(r["si_change_last"]), 4),
    Col("si_pct_1y", "SI 1Y", lambda r: percentile_cell(r["si_pct_1y"], r["si_pct_1y_complete"]), 5),
    Col("price_return_last", "Px Δ", lambda r: change_cell(r["price_return_last"]), 6),
    Col("price_pct_1y", "Px 1Y", lambda r: percentile_cell(r["price_pct_1y"], r["price_pct_1y_complete"]), 8),
    Col(
        "quadrant_key",
        "Quadrant",
        lambda r: QUADRANT_SHORT.get(r["quadrant_key"] or "", "–"),
        9,
        justify="left",
    ),
    Col("divergence_score", "Score", lambda r: number(r["divergence_score"], 1), 2),
    # Shown when the terminal has room, dropped first and silently (the symbol says who it is).
    # The short-sale volume ratio (a flow, not short interest: the caption says so), when held.
    Col("sv_ratio", "SV%", lambda r: _ratio_pct(r.get("sv_ratio")), 18),
    Col(
        "sv_ratio_pct_1y",
        "SV 1Y",
        lambda r: percentile_cell(r.get("sv_ratio_pct_1y"), r.get("sv_ratio_pct_1y_complete")),
        19,
    ),
    Col("indices", "Index", lambda r: r.get("indices") or "–", 20, justify="left"),
    Col("sector", "Sector", lambda r: (r.get("sector") or "–")[:22], 21, justify="left"),
    Col("name", "Name", lambda r: (r.get("name") or "–")[:22], 22, justify="left"),
)
STOCK_EXTRA_KEYS = ("sv_ratio", "sv_ratio_pct_1y", "indices", "sector", "name")
SV_KEYS = ("sv_ratio", "sv_ratio_pct_1y")


def stock_view(result: Any, layout: Layout = Layout()) -> Group:
    """Ranked stocks: rank (previous), SI level and change, percentiles, quadrant, score."""
    from rich.console import Group
    from rich.text import Text

    has_sv = any(r.get("sv_ratio") is not None for r in result.rows)
    table, dropped = _fitted(
        f"Stocks — {result.as_of.isoformat()}, ranked by divergence (previous rank in brackets)",
        STOCK_COLUMNS
        if has_sv or layout.columns
        else tuple(c for c in STOCK_COLUMNS if c.key not in SV_KEYS),
        result.rows,
        layout,
    )
    parts: list[Any] = [table]
    excluded = result.extra.get("excluded", {})
    if excluded.get("rows"):
        ex_cols = (
            Col("symbol", "Symbol", lambda r: r["symbol"], 0, justify="left"),
            Col("gate", "Gate", lambda r: r["gate"], 1, justify="left"),
            Col("reason", "Reason", lambda r: r["reason"], 2, justify="left", wrap=True),
        )
        ex, _ = _fitted("Excluded", ex_cols, excluded["rows"], layout, primary=False, title_justify="left")
        parts.append(ex)
    notes = _no_score_notes(result.rows, "symbol") + _thin_notes(result.rows, "symbol")
    if notes:
        parts.append(Text(notes.strip("\n")))
    parts.append(
        Text(
            f"{result.extra.get('ranked', len(result.rows))} ranked, {excluded.get('count', 0)} excluded. SI Δ and Px Δ "
            "since the last report; SI 1Y and Px 1Y = percentiles in the stock's 1Y window; * = window "
            "not fully covered."
            + (
                " SV% = FINRA short-sale volume / total volume on the latest day held (a flow, not short"
                " interest), SV 1Y its percentile."
                if has_sv and not set(SV_KEYS) <= set(dropped)
                else ""
            )
        )
    )
    return Group(*parts, *_dropped_note([d for d in dropped if d not in STOCK_EXTRA_KEYS], layout))


SECTOR_COLUMNS = (
    Col("rank", "#", lambda r: _rank_cell(r), 1),
    Col("sector", "Sector", lambda r: r["sector"], 0, justify="left", wrap=True),
    Col("members_with_si", "N", lambda r: str(r["members_with_si"]), 8),
    Col("median_si_pct_so", "Med SI%", lambda r: pct_level(r["median_si_pct_so"]), 3),
    Col("si_change_last", "SI Δ", lambda r: change_cell(r["si_change_last"]), 4),
    Col("si_change_ytd", "Δ YTD", lambda r: change_cell(r["si_change_ytd"]), 7),
    Col("si_pct_1y", "1Y", lambda r: percentile_cell(r["si_pct_1y"], r["si_pct_1y_complete"]), 5),
    Col("si_pct_5y", "5Y", lambda r: percentile_cell(r["si_pct_5y"], r["si_pct_5y_complete"]), 9),
    Col("price_return_last", "Px Δ", lambda r: change_cell(r["price_return_last"]), 6),
    Col("divergence_score", "Score", lambda r: number(r["divergence_score"], 1), 2),
)


def sector_view(result: Any, layout: Layout = Layout()) -> Group:
    from rich.console import Group

    # One table per index: sectors are ranked within their index, and the title says which.
    by_index: dict[str, list[dict[str, Any]]] = {}
    for r in result.rows:
        by_index.setdefault(r["index"], []).append(r)
    parts: list[Any] = []
    dropped: list[str] = []
    for idx, rows in by_index.items():
        notes = _no_score_notes(rows, "sector") + _thin_notes(rows, "sector")
        table, dropped = _fitted(
            f"{idx} sectors — {result.as_of.isoformat()}, ranked by median SI % percentile (previous rank in brackets)",
            SECTOR_COLUMNS,
            rows,
            layout,
            caption=notes.strip("\n") or None,
            caption_justify="left",
        )
        parts.append(table)
    return Group(*parts, *_dropped_note(dropped, layout))


COT_COLUMNS = (
    Col("contract", "", lambda r: r["contract"], 0, justify="left"),
    Col(
        "group",
        "Group",
        lambda r: "lev funds" if r["group"] == "lev_money" else "asset mgr",
        1,
        justify="left",
    ),
    Col("net", "Net", lambda r: _compact(r["net"]), 2),
    Col("net_pct_oi", "% OI", lambda r: pct_level(r["net_pct_oi"], 1), 7),
    Col("change_1w", "Δ 1w", lambda r: _signed_compact(r["change_1w"]), 4),
    Col("change_4w", "Δ 4w", lambda r: _signed_compact(r["change_4w"]), 8),
    Col("pct_1y", "1Y", lambda r: percentile_cell(r["pct_1y"], r["pct_1y_complete"]), 3),
    Col("pct_3y", "3Y", lambda r: percentile_cell(r["pct_3y"], r["pct_3y_complete"]), 6),
    Col("pct_all", "All", lambda r: percentile_cell(r["pct_all"]), 9),
    Col("cot_index_52w", "COT", lambda r: number(r["cot_index_52w"], 0), 5),
    Col("zscore_52w", "z", lambda r: number(r["zscore_52w"], 2), 10),
)


def _signed_compact(x: float | None) -> Text:
    return _styled(_compact(x), None if not x else RISE_STYLE if x > 0 else FALL_STYLE)


def cot_view(result: Any, layout: Layout = Layout()) -> Group:
    from rich.console import Group
    from rich.text import Text

    table, dropped = _fitted(
        f"CFTC Traders in Financial Futures — report {result.as_of.isoformat()}",
        COT_COLUMNS,
        result.rows,
        layout,
    )
    notes = [
        Text(f"{r['contract']} leveraged funds: {r['largest_net_short']}.")
        for r in result.rows
        if r["largest_net_short"] and r["group"] == "lev_money"
    ]
    return Group(
        table, *notes, Text(f"Caveat: {result.extra.get('caveat', '')}"), *_dropped_note(dropped, layout)
    )


STORE_COLUMNS = (
    Col("table", "Table", lambda r: r["table"], 0, justify="left"),
    Col("rows", "Rows", lambda r: number(r["rows"]), 1),
    Col("files", "Files", lambda r: number(r["files"]), 5),
    Col("bytes", "Size", lambda r: f"{_compact(r['bytes'])}B", 4),
    Col("first_date", "From", lambda r: r["first_date"] or "–", 3, justify="left"),
    Col("last_date", "To", lambda r: r["last_date"] or "–", 2, justify="left"),
    Col("version_rows", "Versions", lambda r: number(r["version_rows"]), 6),
)
INGEST_COLUMNS = (
    Col("ingested_at", "When (UTC)", lambda i: str(i.get("ingested_at", ""))[:19], 1, justify="left"),
    Col("table", "Table", lambda i: i.get("table", ""), 3, justify="left"),
    Col("source_file", "File", lambda i: i.get("source_file", ""), 0, justify="left", wrap=True),
    Col("rows", "Rows", lambda i: number(i.get("rows")), 4),
    Col("changed", "Changed", lambda i: number(i.get("changed")), 2),
)


def store_info_view(result: Any, layout: Layout = Layout()) -> Group:
    from rich.console import Group
    from rich.text import Text

    e = result.extra
    table, dropped = _fitted(
        f"Store {e['store']} — {e['commits']} commits, {_compact(e['total_bytes'])}B",
        STORE_COLUMNS,
        result.rows,
        layout,
    )
    recent, dropped_recent = _fitted("Last ingests", INGEST_COLUMNS, e["last_ingests"], layout, primary=False)
    parts: list[Any] = [table, recent]
    if e.get("pending_commit"):
        parts.append(Text("A commit is pending; the next positioning run completes it."))
    return Group(*parts, *_dropped_note(dropped + dropped_recent, layout))


def verify_view(result: Any, layout: Layout = Layout()) -> Group:
    from rich.console import Group
    from rich.text import Text

    e = result.extra
    head = Text(
        f"{'OK' if e['ok'] else 'PROBLEMS'}: {e['files_checked']} files and {e['rows_checked']:,} rows checked, "
        f"{len(result.rows)} problem(s)"
    )
    if not result.rows:
        return Group(head)
    cols = (
        Col("kind", "Kind", lambda r: r["kind"], 0, justify="left", wrap=True),
        Col("path", "Path", lambda r: r["path"], 1, justify="left", wrap=True),
        Col("message", "Problem", lambda r: r["message"], 0, justify="left", wrap=True),
    )
    table, dropped = _fitted(None, cols, result.rows, layout)
    return Group(head, table, *_dropped_note(dropped, layout))


STATUS_STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red"}


def _status_cell(r: dict[str, Any]) -> Text:
    return _styled(r["status"].upper(), STATUS_STYLE.get(r["status"]))


def _age_cell(r: dict[str, Any]) -> str:
    return "–" if r.get("age_days") is None else f"{r['age_days']}d"


# Per doctor section: its title and the columns between the name/status and the reason.
DOCTOR_SECTIONS = (
    (
        "table",
        "Tables",
        (
            Col("rows", "Rows", lambda r: number(r["rows"]), 2),
            Col("newest", "Newest", _text_of("newest"), 3, justify="left"),
            Col("age_days", "Age", _age_cell, 4),
        ),
    ),
    (
        "coverage",
        "Coverage on the newest settlement date",
        (
            Col("members", "Members", lambda r: number(r["members"]), 2),
            Col("pct_with_si", "With SI", lambda r: pct_level(r["pct_with_si"], 1), 3),
            Col("pct_with_denominator", "With SO", lambda r: pct_level(r["pct_with_denominator"], 1), 4),
        ),
    ),
    (
        "proxy",
        "Index price proxies",
        (
            Col("symbol", "Symbol", _text_of("symbol"), 2, justify="left"),
            Col("newest", "Newest", _text_of("newest"), 3, justify="left"),
        ),
    ),
    ("view", "Views", (Col("rows", "Rows", lambda r: number(r["rows"]), 2),)),
)


def doctor_view(result: Any, layout: Layout = Layout()) -> Group:
    """One table per section (tables, coverage, proxies, views); the reason column wraps to fit."""
    from rich.console import Group
    from rich.text import Text

    e = result.extra
    counts = e["counts"]
    parts: list[Any] = [
        Text(
            f"{e['status'].upper()}: {counts['ok']} ok, {counts['warn']} warn, {counts['fail']} fail "
            f"(store {e['store']}, now {e['now']})"
        )
    ]
    dropped: list[str] = []
    for section, title, figures in DOCTOR_SECTIONS:
        rows = [r for r in result.rows if r["section"] == section]
        if not rows:
            continue
        cols = (
            Col("name", "Check", lambda r: r["name"], 0, justify="left"),
            Col("status", "Status", _status_cell, 0, justify="left"),
            *figures,
            Col("reason", "Reason", lambda r: r["reason"], 1, justify="left", wrap=True),
        )
        table, gone = _fitted(title, cols, rows, layout, primary=False, keep=3)
        parts.append(table)
        dropped += [k for k in gone if k not in dropped]
    return Group(*parts, *_dropped_note(dropped, layout))


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


SUMMARY_COLUMNS = (
    Col("metric", "", lambda r: SUMMARY_LABELS.get(r["metric"], r["metric"]), 0, justify="left"),
    Col("value", "Level", lambda r: _summary_value(r), 1),
    Col("pct_1y", "1Y", lambda r: percentile_cell(r["pct_1y"], r["pct_1y_complete"]), 2),
    Col("pct_5y", "5Y", lambda r: percentile_cell(r["pct_5y"], r["pct_5y_complete"]), 4),
    Col("pct_all", "All", lambda r: percentile_cell(r["pct_all"]), 7),
    Col("change_last", "Δ last", lambda r: change_cell(r["change_last"]), 3),
    Col("change_ytd", "Δ YTD", lambda r: change_cell(r["change_ytd"]), 5),
    Col("change_12m", "Δ 12M", lambda r: change_cell(r["change_12m"]), 6),
)


def _spark_width(layout: Layout, label: str, most: int = 60) -> int:
    """A sparkline as long as fits on one line after ``label`` (at most ``most`` characters)."""
    return max(10, min(most, layout.width - len(label)))


def summary_view(result: Any, layout: Layout = Layout()) -> Group:
    """Per index: a table of levels vs their history, a 5Y sparkline, and the sentences."""
    from rich.console import Group
    from rich.text import Text

    parts: list[Any] = []
    dropped: list[str] = []
    by_index: dict[str, list[dict[str, Any]]] = {}
    for r in result.rows:
        by_index.setdefault(r["index"], []).append(r)
    for idx, rows in by_index.items():
        table, dropped = _fitted(
            f"{idx} — percentile summary, {result.as_of.isoformat()}",
            SUMMARY_COLUMNS,
            rows,
            layout,
            title_justify="left",
        )
        parts.append(table)
        label = "Total SI, last 5Y: "
        spark = sparkline(result.extra.get("sparklines", {}).get(idx, []), _spark_width(layout, label))
        if spark:
            parts.append(Text(label + spark))
        for sentence in result.extra.get("text", {}).get(idx, []):
            parts.append(Text(sentence))
        for r in rows:
            if r.get("explain"):
                parts.append(Text(f"· {r['explain']}", style="dim"))
        thin = _thin_notes(rows[:1], "index")
        if thin:
            parts.append(Text(thin.strip("\n")))
        parts.append(Text(""))
    parts.append(Text("Percentiles: 100 = highest in the window. * = window not fully covered by the store."))
    return Group(*parts, *_dropped_note([d for d in dropped if d not in STOCK_EXTRA_KEYS], layout))


def _level(v: float | None) -> str:
    """Whole numbers for share counts and dollars, two decimals for percentages and days."""
    return number(v, 2) if v is not None and abs(v) < 1000 else number(v)


def history_view(result: Any, layout: Layout = Layout()) -> Group:
    from rich.console import Group
    from rich.text import Text

    rows = result.rows
    head = rows[0] if rows else {"index": "", "metric": ""}
    values = [r["value"] for r in rows]
    cols = (
        Col("settlement_date", "Settlement date", lambda r: r["settlement_date"], 0, justify="left"),
        Col("value", head["metric"], lambda r: _level(r["value"]), 1),
        Col("members_with_si", "Members with SI", lambda r: str(r["members_with_si"]), 2),
        Col("membership_as_of", "Membership as of", lambda r: r["membership_as_of"], 3, justify="left"),
    )
    table, dropped = _fitted(None, cols, rows, layout)
    nums = [v for v in values if v is not None]
    lines = [
        Text(f"{head['index']} {head['metric']}: {result.extra.get('metric_definition', '')}"),
        Text(sparkline(values, _spark_width(layout, ""))),
    ]
    if nums:
        lines.append(Text(f"min {_level(min(nums))}  max {_level(max(nums))}  reports {len(values)}"))
    thin = _thin_notes(rows, "settlement_date")
    notes = [Text(thin.strip("\n"))] if thin else []
    return Group(*lines, table, *notes, *_dropped_note(dropped, layout))


def _usd(x: float | None) -> str:
    """Signed dollars in millions or billions: +$1.23B, -$450M."""
    if x is None:
        return "–"
    sign = "+" if x >= 0 else "-"
    v = abs(x)
    return f"{sign}${v / 1e9:.2f}B" if v >= 1e9 else f"{sign}${v / 1e6:.0f}M"


def flows_view(result: Any, layout: Layout = Layout()) -> Group:
    """Per index: a row per session, then a sparkline per column."""
    from rich.console import Group
    from rich.text import Text

    parts: list[Any] = []
    by_index: dict[str, list[dict[str, Any]]] = {}
    for r in result.rows:
        by_index.setdefault(r["index"], []).append(r)
    for idx, rows in by_index.items():
        table = _table(f"{idx} flows ({rows[0]['proxy_symbol']})", title_justify="left")
        for name in ("Date", "Return", "LETF rebalance", "% of ADV$", "Cover days", "Short-vol ratio"):
            table.add_column(name, justify="left" if name == "Date" else "right", no_wrap=True)
        for r in rows:
            table.add_row(
                str(r["date"]),
                pct_change(r["index_return"]),
                _usd(r["letf_rebalance_usd"]),
                number(r["letf_rebalance_pct_adv"], 2),
                number(r["covering_days"], 2),
                _ratio_pct(r["sv_ratio"]),
            )
        parts.append(table)
        for label, key in (
            ("Return", "index_return"),
            ("LETF rebalance", "letf_rebalance_usd"),
            ("Cover days", "covering_days"),
            ("Short-vol ratio", "sv_ratio"),
        ):
            spark = sparkline([r[key] for r in rows], width=len(rows))
            if spark:
                parts.append(Text(f"{label:<16}{spark}"))
        parts.append(Text(""))
    parts.append(Text(f"Rebalance: {result.extra.get('method', '')}."))
    parts.append(Text(f"Short-vol ratio: {result.extra.get('short_volume_caveat', '')}."))
    return Group(*parts)


def plain_rows_view(result: Any, layout: Layout = Layout()) -> Group:
    """A plain table of the rows' keys in order (``calendar``, ``config show``): no computed cells."""
    from rich.console import Group

    keys = list(result.rows[0]) if result.rows else []
    cols = [Col(k, k, _text_of(k), i, justify="left", wrap=True) for i, k in enumerate(keys)]
    table, dropped = _fitted(None, cols, result.rows, layout)
    return Group(table, *_dropped_note(dropped, layout))


def stock_story_view(result: Any, layout: Layout = Layout()) -> Group:
    """One stock over time: memberships, sparklines, then a row per settlement date."""
    from rich.console import Group
    from rich.text import Text

    rows = result.rows
    head = rows[-1] if rows else {}
    parts: list[Any] = []
    title = f"{head.get('symbol', '')}"
    if head.get("name"):
        title += f" — {head['name']}"
    if head.get("sector"):
        title += f", {head['sector']}"
    parts.append(Text(title))
    for ms in result.extra.get("memberships", []):
        span = (
            ms["first_as_of"]
            if ms["first_as_of"] == ms["last_as_of"]
            else f"{ms['first_as_of']}…{ms['last_as_of']}"
        )
        latest = "" if ms.get("in_latest", True) else f" (not in the latest, {ms['index_latest_as_of']})"
        parts.append(Text(f"{ms['index']}: in {ms['snapshots']} membership snapshot(s), {span}{latest}"))
    sparks = result.extra.get("sparklines", {})
    for key, label in (
        ("short_interest", "Short interest"),
        ("si_pct_so", "SI % shares out"),
        ("days_to_cover", "Days to cover"),
        ("close", "Close"),
    ):
        line = sparkline(sparks.get(key, []))
        if line:
            parts.append(Text(f"{label:<16} {line}"))
    table = _table(None)
    for name in ("Date", "SI", "SI %SO", "DTC", "Close", "SI pct", "Px pct", "Quadrant", "Flags"):
        table.add_column(
            name, justify="left" if name in ("Date", "Quadrant", "Flags") else "right", no_wrap=True
        )
    for r in rows:
        flags = (
            ("R" if r["revision_flag"] else "")
            + ("S" if r["split_flag"] else "")
            + ("Q" if r["quarantined"] else "")
        )
        table.add_row(
            r["settlement_date"],
            _compact(r["short_interest"]),
            pct_level(r["si_pct_so"], 1),
            number(r["days_to_cover"], 1),
            number(r["close"], 2),
            percentile(r["si_pct_1y"], r["si_pct_1y_complete"]),
            percentile(r["price_pct_1y"], r["price_pct_1y_complete"]),
            QUADRANT_SHORT.get(r["quadrant_key"] or "", "–"),
            flags or "",
        )
    parts.append(table)
    parts.append(
        Text(
            "pct = percentile in the stock's 1Y window (* = window not fully covered). Flags: R = FINRA "
            "revision, S = split in the cycle (changes across it are not computed), Q = quarantined."
        )
    )
    return Group(*parts)


def _points(x: float | None) -> str:
    """A difference of two ratios (fractions) in percentage points."""
    return "–" if x is None else f"{100 * x:+.1f} pts"


def _band(r: dict[str, Any]) -> str:
    if r["band_low"] is None or r["band_high"] is None:
        return "–"
    return f"{pct_change(r['band_low'])} to {pct_change(r['band_high'])}"


def nowcast_view(result: Any, layout: Layout = Layout()) -> Group:
    """The estimate per index with its band and backtest, then per index its verdict and inputs."""
    from rich.console import Group
    from rich.text import Text

    rows = result.rows
    level = int(round(100 * result.extra.get("band_level", 0.8)))
    cols = (
        Col("index", "Index", lambda r: r["index"], 0, justify="left"),
        Col(
            "target_settlement_date", "Next report", lambda r: r["target_settlement_date"], 7, justify="left"
        ),
        Col("estimate", "Estimate", lambda r: pct_change(r["estimate"]), 1),
        Col("band_low", f"{level}% band", _band, 2),
        Col(
            "mae_model",
            "MAE",
            lambda r: pct_level(None if r["mae_model"] is None else 100 * r["mae_model"]),
            3,
        ),
        Col(
            "mae_naive",
            "No-change MAE",
            lambda r: pct_level(None if r["mae_naive"] is None else 100 * r["mae_naive"]),
            4,
        ),
        Col("hit_rate", "Hit", lambda r: _ratio_pct(r["hit_rate"]), 6),
        Col("test_intervals", "Tests", lambda r: str(r["test_intervals"]), 5),
    )
    table, dropped = _fitted(None, cols, rows, layout)
    parts: list[Any] = [
        Text("Nowcast: change of total short interest (shares) on the next report"),
        table,
        *_dropped_note(dropped, layout),
    ]
    for r in rows:
        observed = f"{r['sessions_observed']} of {r['sessions_in_interval']} sessions"
        parts.append(Text(""))
        parts.append(Text(f"{r['index']}: {r['verdict']}."))
        skill = "–" if r["skill"] is None else f"{100 * r['skill']:+.1f}%"
        if r["skill_t"] is not None:
            skill += f" (t {r['skill_t']:.1f})"
        parts.append(
            Text(
                f"  model {pct_change(r['model_estimate'])}, skill {skill}; SI rose in "
                f"{_ratio_pct(r['up_share'])} of {r['test_intervals']} tested reports"
            )
        )
        since = f"  since {r['last_settlement_date']} ({observed}"
        parts.append(Text(f"{since}, through {r['inputs_through'] or '–'}):"))
        reasons = {reason.split(":")[0]: reason for reason in filter(None, (r["left_out"] or "").split("; "))}
        used = (r["inputs"] or "").split(",")
        for name, label, text in (
            ("proxy_return", "proxy return", pct_change(r["x_proxy_return"])),
            ("prev_si_change", "previous report's change", pct_change(r["x_prev_si_change"])),
            ("sv_flow", "short-volume flow", _points(r["x_sv_flow"])),
        ):
            shown = f"{r['proxy_symbol']} return" if name == "proxy_return" and r["proxy_symbol"] else label
            if name in used:
                coef = r[f"coef_{name}"]
                parts.append(Text(f"    {shown} {text} (coefficient {coef:+.3f})"))
            elif label in reasons:
                parts.append(Text(f"    {shown} {text}: left out, {reasons[label].split(': ', 1)[1]}"))
    parts.append(Text(""))
    parts.append(Text(f"Method: {result.extra.get('method', '')}."))
    parts.append(Text(f"Short-volume flow: {result.extra.get('short_volume_caveat', '')}."))
    return Group(*parts)
