"""Charts and the HTML report, assembled from the library's read commands.

Every chart and table here is drawn from the rows the same command gives as JSON (``history``,
``scan --by stock|sector``, ``cot``, ``stock``); nothing is recomputed, so a picture and the JSON
can never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from positioning_cli import api, report
from positioning_cli.charts import kinds
from positioning_cli.charts.model import Chart
from positioning_cli.errors import NoDataError, UsageError
from positioning_cli.schema import INDICES

CHART_KINDS = ("history", "quadrant", "sectors", "cot", "stock")
INDEX_CONTRACT = {"SPX": "ES", "NDX": "NQ", "RUT": "RTY"}


@dataclass(frozen=True)
class ChartQuery:
    kind: str
    index: str = "RUT"
    years: int | None = None  # the last N years of a series; None = all held
    symbol: str | None = None  # for kind "stock"
    contract: str | None = None  # for kind "cot" (default: the index's E-mini)
    as_of: date | None = None
    known_at: datetime | None = None


def _since(rows: Sequence[Mapping[str, object]], key: str, years: int | None) -> list[Mapping[str, object]]:
    if not years or not rows:
        return list(rows)
    last = max(date.fromisoformat(str(r[key])) for r in rows)
    start = last - timedelta(days=365 * years)
    return [r for r in rows if date.fromisoformat(str(r[key])) > start]


def proxy_closes(
    store_root: Path, index: str, known_at: datetime | None = None
) -> tuple[str, list[date], list[float]] | None:
    """The daily closes of the index's first price proxy held (api.DEFAULT_PROXIES order)."""
    import pyarrow.compute as pc

    from positioning_cli.store import Store

    store = Store(store_root)
    chain = api.DEFAULT_PROXIES[index]
    with store.reading(known_at=known_at) as manifest:
        table = api.read_prices(store, manifest, ranges=False)
    for symbol in chain:
        rows = table.filter(pc.equal(table.column("symbol"), symbol)).sort_by("date")
        if rows.num_rows:
            closes = rows.column("close").to_pylist()
            days = rows.column("date").to_pylist()
            kept = [(d, c) for d, c in zip(days, closes, strict=True) if c is not None]
            return symbol, [d for d, _ in kept], [float(c) for _, c in kept]
    return None


def cot_rows(store_root: Path, contract: str, known_at: datetime | None = None) -> list[dict[str, object]]:
    """Weekly net positions of one contract (futures only): report_date, lev_net, asset_mgr_net."""
    from positioning_cli import futures
    from positioning_cli.store import Store

    try:
        name, _ = futures.resolve_contract(contract)
    except ValueError as exc:
        raise UsageError(f"--contract {contract!r}: {exc}") from None
    store = Store(store_root)
    with store.reading(known_at=known_at) as manifest:
        table = store.read("cot", None, manifest)
    ser = futures.series(table, name, futures_only=True)
    if ser.empty:
        raise NoDataError(f"{store_root}: no CFTC reports for {name}; run `positioning ingest cot FILE...`")
    return [
        {
            "report_date": str(d)[:10],
            "lev_net": None if lev != lev else float(lev),
            "asset_mgr_net": None if am != am else float(am),
        }
        for d, lev, am in zip(ser.report_date, ser.lev_net, ser.asset_mgr_net, strict=True)
    ]


def chart(store_root: Path, q: ChartQuery) -> Chart:
    if q.kind not in CHART_KINDS:
        raise UsageError(f"unknown chart {q.kind!r}; expected one of {', '.join(CHART_KINDS)}")
    if q.index not in INDICES:
        raise UsageError(f"--index {q.index!r}: expected one of {', '.join(INDICES)}")
    if q.years is not None and q.years < 0:
        raise UsageError(f"--years {q.years}: expected 0 (every date held) or more")
    if q.kind == "history":
        total = api.history(
            store_root, index=q.index, metric="total_si_shares", as_of=q.as_of, known_at=q.known_at
        )
        median = api.history(
            store_root, index=q.index, metric="median_si_pct_so", as_of=q.as_of, known_at=q.known_at
        )
        t_rows = _since(total.rows, "settlement_date", q.years)
        m_rows = _since(median.rows, "settlement_date", q.years)
        return kinds.history_chart(q.index, t_rows, m_rows, proxy_closes(store_root, q.index, q.known_at))
    if q.kind == "quadrant":
        return kinds.quadrant_chart(q.index, _stock_rows(store_root, q.index, q.as_of, q.known_at))
    if q.kind == "sectors":
        return kinds.sectors_chart(_sector_rows(store_root, q.index, q.as_of, q.known_at))
    if q.kind == "cot":
        contract = q.contract or INDEX_CONTRACT[q.index]
        rows = _since(cot_rows(store_root, contract, q.known_at), "report_date", q.years or 3)
        return kinds.cot_chart(contract.upper(), rows)
    return kinds.stock_chart(*stock_rows(store_root, q))


def stock_rows(store_root: Path, q: ChartQuery) -> tuple[str, list[dict[str, object]]]:
    """The rows ``positioning stock SYMBOL -f json`` carries: its default last reports; with
    ``years`` every report in the last N years (the window ``_since`` keeps for the other kinds),
    0 meaning every report held (as for ``chart history``)."""
    from positioning_cli import stock_story

    if not q.symbol:
        raise UsageError("chart stock needs a SYMBOL: positioning chart stock GME")
    span = 365 * q.years if q.years else None
    result = stock_story.story(
        store_root,
        q.symbol,
        as_of=q.as_of,
        known_at=q.known_at,
        last=stock_story.DEFAULT_LAST if q.years is None else 0,
        span_days=span,
    )
    return str(result.rows[-1]["symbol"]), list(result.rows)


def _stock_rows(
    store_root: Path, idx: str, as_of: date | None, known_at: datetime | None
) -> list[dict[str, object]]:
    """Every ranked stock of one index (``scan --by stock --top 0``)."""
    return list(api.scan_stocks(store_root, as_of=as_of, known_at=known_at, indices=[idx], top=0).rows)


def _sector_rows(
    store_root: Path, idx: str, as_of: date | None, known_at: datetime | None
) -> list[dict[str, object]]:
    return list(api.scan_sectors(store_root, as_of=as_of, known_at=known_at, indices=[idx]).rows)


def provenance(store_root: Path, last: int = 20) -> list[dict[str, object]]:
    """The newest ingests behind the numbers: table, file, ingest time (UTC) and rows."""
    info = api.store_info(store_root, last=last)
    return [
        {
            "table": i.get("table"),
            "source_file": i.get("source_file") or i.get("file"),
            "ingested_at": i.get("ingested_at"),
            "rows": i.get("rows"),
        }
        for i in reversed(info.extra.get("last_ingests", []))
    ]


def now() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------------------------------- report
def build_report(
    store_root: Path,
    *,
    as_of: date | None = None,
    known_at: datetime | None = None,
    indices: Sequence[str] = INDICES,
    top: int = 10,
    charts: bool = True,
) -> report.Report:
    """Everything ``report`` shows, from the same calls as ``scan``, ``summary``, ``cot``, ``-f json``."""
    from positioning_cli.charts.files import svg_markup

    scan = api.scan(store_root, as_of=as_of, known_at=known_at, indices=indices)
    summary = api.summary(store_root, as_of=as_of, known_at=known_at, indices=indices)
    warnings = list(dict.fromkeys([*scan.warnings, *summary.warnings]))
    sentences = [s for idx in indices for s in summary.extra.get("text", {}).get(idx, [])]
    blocks: list[report.Section | report.Figure] = [
        report.Section("Indices, ranked by divergence", scan.rows, report.INDEX_COLUMNS, "index", "scan")
    ]

    def draw(kind: str, idx: str, rows: Sequence[kinds.Row] | None = None) -> None:
        if not charts:
            return
        try:
            if kind == "sectors" and rows is not None:
                drawn = kinds.sectors_chart(rows)
            elif kind == "quadrant" and rows is not None:
                drawn = kinds.quadrant_chart(idx, rows)
            else:
                drawn = chart(store_root, ChartQuery(kind, idx, as_of=as_of, known_at=known_at))
        except NoDataError as exc:
            warnings.append(f"{idx} {kind} chart: {exc}")
            return
        blocks.append(report.Figure(drawn.title, svg_markup(drawn)))

    for idx in indices:
        draw("history", idx)
        # Each table and its chart come from one call: the chart is the table's rows, drawn.
        try:
            sectors = _sector_rows(store_root, idx, as_of, known_at)
            blocks.append(
                report.Section(f"{idx} sectors", sectors, report.SECTOR_COLUMNS, "sector", f"sectors-{idx}")
            )
            draw("sectors", idx, sectors)
        except NoDataError as exc:
            warnings.append(f"{idx} sectors: {exc}")
        try:
            stocks = _stock_rows(store_root, idx, as_of, known_at)
            blocks.append(
                report.Section(
                    f"{idx}: top {top} stocks by divergence",
                    stocks[:top],
                    report.STOCK_COLUMNS,
                    "symbol",
                    f"stocks-{idx}",
                )
            )
            draw("quadrant", idx, stocks)
        except NoDataError as exc:
            warnings.append(f"{idx} quadrant: {exc}")
    try:
        cot = api.cot(store_root, as_of=as_of, known_at=known_at)
        notes = [str(cot.extra.get("caveat", ""))]
        blocks.append(
            report.Section(
                "Futures positioning (CFTC TFF)", cot.rows, report.COT_COLUMNS, "contract", "cot", notes
            )
        )
        for idx in indices:
            draw("cot", idx)
    except NoDataError as exc:
        warnings.append(f"futures: {exc}")
    return report.Report(
        as_of=scan.as_of,
        generated_at=now(),
        store=str(store_root),
        sentences=sentences,
        blocks=blocks,
        provenance=provenance(store_root),
        warnings=warnings,
    )
