"""One self-contained HTML report: the scan, the summary, charts, sectors, top stocks, futures.

Nothing is fetched when the page opens: the CSS is inline, the charts are inline SVG, there is no
script. Every number cell carries the JSON's raw value (``data-key``, ``data-value``) beside the
text shown, so a test (or a reader's tool) can check the page against ``-f json``. The numbers are
formatted by render's helpers: the page reads the way the terminal tables do.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from positioning_cli.render import number, pct_change, pct_level, percentile

Row = Mapping[str, object]
Fmt = Callable[[object], str]


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    fmt: Fmt


@dataclass(frozen=True)
class Section:
    title: str
    rows: Sequence[Row]
    columns: Sequence[Column]
    row_key: str  # the data attribute naming a row: index, sector, symbol, contract
    name: str = ""  # data-section of the table, so a test can find it
    notes: Sequence[str] = ()


@dataclass(frozen=True)
class Figure:
    title: str
    svg: str  # inline <svg> markup


@dataclass(frozen=True)
class Report:
    as_of: date | None
    generated_at: datetime
    store: str
    sentences: Sequence[str]
    blocks: Sequence[Section | Figure]  # in page order: tables and the charts drawn from them
    provenance: Sequence[Row]  # files behind the numbers: table, source_file, ingested_at, rows
    warnings: Sequence[str] = field(default_factory=tuple)


def _f(fn: Callable[[float | None], str]) -> Fmt:
    return lambda v: fn(v if isinstance(v, int | float) else None)


PCT_CHANGE, PCT_LEVEL = _f(pct_change), _f(pct_level)
INT, TWO = _f(number), _f(lambda v: number(v, 2))
PCTILE = _f(percentile)
TEXT: Fmt = lambda v: "–" if v is None else str(v)  # noqa: E731

QUADRANT: Fmt = lambda v: {  # noqa: E731
    "pressing_into_strength": "SI up, price up",
    "shorts_confirmed": "SI up, price down",
    "short_covering_rally": "SI down, price up",
    "exiting_weakness": "SI down, price down",
}.get(str(v), "–")
SCORE = _f(lambda v: number(v, 1))

INDEX_COLUMNS = (
    Column("rank", "#", TEXT),
    Column("index", "Index", TEXT),
    Column("divergence_score", "Score", SCORE),
    Column("quadrant_key", "Quadrant", QUADRANT),
    Column("median_si_pct_so", "Median SI % SO", PCT_LEVEL),
    Column("total_si_shares", "Total SI", INT),
    Column("si_change_last", "SI Δ last", PCT_CHANGE),
    Column("si_change_ytd", "SI Δ YTD", PCT_CHANGE),
    Column("si_pct_1y", "SI pct 1Y", PCTILE),
    Column("si_pct_5y", "SI pct 5Y", PCTILE),
    Column("price_symbol", "Proxy", TEXT),
    Column("price_return_ytd", "Price Δ YTD", PCT_CHANGE),
    Column("price_pct_1y", "Price pct 1Y", PCTILE),
)
SECTOR_COLUMNS = (
    Column("sector", "Sector", TEXT),
    Column("median_si_pct_so", "Median SI % SO", PCT_LEVEL),
    Column("si_change_last", "SI Δ last", PCT_CHANGE),
    Column("si_pct_1y", "SI pct 1Y", PCTILE),
    Column("price_return_last", "Price Δ last", PCT_CHANGE),
    Column("divergence_score", "Score", SCORE),
)
STOCK_COLUMNS = (
    Column("rank", "#", TEXT),
    Column("symbol", "Symbol", TEXT),
    Column("sector", "Sector", TEXT),
    Column("si_pct_so", "SI % SO", PCT_LEVEL),
    Column("si_change_last", "SI Δ last", PCT_CHANGE),
    Column("days_to_cover", "Days to cover", TWO),
    Column("price_return_last", "Price Δ last", PCT_CHANGE),
    Column("divergence_score", "Score", SCORE),
)
COT_COLUMNS = (
    Column("contract", "Contract", TEXT),
    Column("group", "Group", TEXT),
    Column("report_date", "Report", TEXT),
    Column("net", "Net", INT),
    Column("net_pct_oi", "Net % OI", PCT_LEVEL),
    Column("change_1w", "Δ 1W", INT),
    Column("pct_1y", "Pct 1Y", PCTILE),
    Column("largest_net_short", "Note", TEXT),
)

CSS = """
:root { color-scheme: light; --ink: #1d2430; --muted: #5b6676; --rule: #d8dde5; --accent: #1f5fa8; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       margin: 0 auto; max-width: 1100px; padding: 16px; }
h1 { font-size: 1.5rem; margin: 0 0 4px; } h2 { font-size: 1.15rem; margin: 28px 0 8px; }
.meta, .note, caption, figcaption { color: var(--muted); font-size: 0.85rem; }
.scroll { overflow-x: auto; -webkit-overflow-scrolling: touch; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 8px; border-bottom: 1px solid var(--rule); white-space: nowrap; }
th { text-align: left; font-weight: 600; } td.n { text-align: right; }
figure { margin: 16px 0; } figure svg { width: 100%; height: auto; display: block; }
ul.sentences li { margin: 4px 0; } .warn { color: #8a4b00; }
@media print { body { max-width: none; font-size: 11px; } figure, table { break-inside: avoid; }
               .scroll { overflow: visible; } }
"""


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _raw(value: object) -> str:
    """The JSON spelling of a value (null for None/NaN), as ``-f json`` writes it."""
    if isinstance(value, float) and value != value:
        value = None
    if isinstance(value, date):
        value = value.isoformat()
    return json.dumps(value)


def _section(s: Section) -> str:
    head = "".join(f"<th>{_esc(c.label)}</th>" for c in s.columns)
    body = []
    for r in s.rows:
        cells = []
        for c in s.columns:
            value = r.get(c.key)
            cls = ' class="n"' if isinstance(value, int | float) and not isinstance(value, bool) else ""
            cells.append(
                f'<td{cls} data-key="{_esc(c.key)}" data-value="{_esc(_raw(value))}">{_esc(c.fmt(value))}</td>'
            )
        body.append(f'<tr data-{_esc(s.row_key)}="{_esc(r.get(s.row_key))}">{"".join(cells)}</tr>')
    notes = "".join(f'<p class="note">{_esc(n)}</p>' for n in s.notes)
    return (
        f'<section data-section="{_esc(s.name)}"><h2>{_esc(s.title)}</h2>{notes}'
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div></section>"
    )


def render_html(report: Report) -> str:
    day = report.as_of.isoformat() if report.as_of else "no date"
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Positioning report {day}</title><style>{CSS}</style></head><body>",
        f"<header><h1>Positioning report — {day}</h1>",
        f'<p class="meta">Generated {_esc(report.generated_at.isoformat(timespec="seconds"))} from the store '
        f"{_esc(report.store)}. Short interest is FINRA's, published about two weeks after its settlement "
        "date.</p></header>",
    ]
    if report.warnings:
        items = "".join(f'<li class="warn">{_esc(w)}</li>' for w in report.warnings)
        parts.append(f"<section><h2>Warnings</h2><ul>{items}</ul></section>")
    if report.sentences:
        items = "".join(f"<li>{_esc(t)}</li>" for t in report.sentences)
        parts.append(f'<section><h2>Summary</h2><ul class="sentences">{items}</ul></section>')
    for block in report.blocks:
        if isinstance(block, Figure):
            parts.append(f"<figure>{block.svg}<figcaption>{_esc(block.title)}</figcaption></figure>")
        elif block.rows:
            parts.append(_section(block))
    parts.append(
        _section(
            Section(
                "Provenance: the files behind these numbers",
                report.provenance,
                [
                    Column("table", "Table", TEXT),
                    Column("source_file", "File", TEXT),
                    Column("ingested_at", "Ingested (UTC)", TEXT),
                    Column("rows", "Rows", INT),
                ],
                "source_file",
                "provenance",
            )
        )
    )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
