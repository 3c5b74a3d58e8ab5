"""The library facade: what the CLI and tests call. No printing, no argument parsing.

Data flows one way: ingest parses files into validated Arrow tables and merges them into the
store in one atomic commit; scan reads one consistent snapshot of the store and computes
per-index rows with ``metrics``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from positioning_cli.errors import NoDataError, UsageError
from positioning_cli.schema import COT, INDICES, MEMBERS, PRICES, SHORT_INTEREST, TableSpec

KIND_TABLE: dict[str, TableSpec] = {
    "short-interest": SHORT_INTEREST,
    "prices": PRICES,
    "members": MEMBERS,
    "cot": COT,
}

# Price proxy per index, first one present in the store wins; overridable with --proxy.
DEFAULT_PROXIES: dict[str, tuple[str, ...]] = {
    "SPX": ("SPY", "^GSPC"),
    "NDX": ("QQQ", "^NDX"),
    "RUT": ("IWM", "^RUT"),
}
WINDOWS_DAYS = {"1y": 365, "5y": 5 * 365}


# ------------------------------------------------------------------------ ingest
@dataclass(frozen=True)
class FileReport:
    path: str
    format: str
    rows: int
    changed: int
    skipped: bool  # identical bytes were ingested before
    first_date: date | None
    last_date: date | None
    warnings: tuple[str, ...]


ProgressFn = Callable[[str, int, int], None]  # (message, done, total)


# Parsed rows merged per step of a long ingest: bounds memory (a 20-year history is ~10 million
# rows) and lets the writes of one step overlap the parsing of the next. Tables with a file per
# year take bigger steps, so hundreds of small price files cost one pass over each yearly file.
MERGE_STEP_ROWS = 250_000
MERGE_STEP_ROWS_YEARLY = 4 * MERGE_STEP_ROWS


def ingest(
    kind: str,
    paths: Iterable[Path],
    store_root: Path,
    options: Any = None,
    *,
    wait: float = 30.0,
    progress: ProgressFn | None = None,
) -> list[FileReport]:
    """Parse the files (several at once) and merge them all in one atomic commit.

    Merged steps are staged as parsing goes on, so memory does not grow with the history; any bad
    file aborts the commit before it happens, so a failed run leaves the store byte for byte as it
    was. Files whose exact bytes were ingested before are not parsed again.
    """
    from positioning_cli.ingest import ParseOptions, expand_paths, parse_file
    from positioning_cli.store import SourceBatch, Store

    if kind not in KIND_TABLE:
        raise UsageError(f"unknown kind {kind!r}; expected one of {', '.join(KIND_TABLE)}")
    spec = KIND_TABLE[kind]
    opts = options if options is not None else ParseOptions()
    files = expand_paths(list(paths))
    if not files:
        raise UsageError("no input files found")
    store = Store(store_root)
    # cron can point at a whole folder of history every day and pay only for the new file.
    seen = {i["sha256"]: i for i in store.manifest()["ingests"] if i.get("table") == spec.name}
    digests = _digests(files)
    reports: dict[int, FileReport] = {
        i: _already_ingested(path.name, seen[d])
        for i, (path, d) in enumerate(zip(files, digests, strict=True))
        if d and d in seen
    }
    todo = [i for i in range(len(files)) if i not in reports]
    if not todo:
        if store.has_leftovers():  # nothing new, but a killed run's leftovers are still ours to clean
            with store.writing(wait):
                pass
        return [reports[i] for i in range(len(files))]

    def parse(i: int) -> tuple[int, SourceBatch, tuple[str, ...]]:
        parsed = parse_file(kind, files[i], opts)
        return i, SourceBatch(parsed.table, files[i].name, digests[i], parsed.format), parsed.warnings

    with store.writing(wait) as writer:
        step: list[tuple[int, SourceBatch, tuple[str, ...]]] = []

        def merge_step() -> None:
            merged = writer.merge_many(spec, [b for _, b, _ in step])
            for (i, batch, warnings), r in zip(step, merged, strict=True):
                reports[i] = FileReport(
                    batch.source_file,
                    batch.format,
                    r.rows,
                    r.changed,
                    r.skipped,
                    r.first_date,
                    r.last_date,
                    warnings,
                )
            step.clear()
            writer.spill()

        for done, parsed in enumerate(_in_parallel(parse, todo)):
            if progress:
                progress(f"parsed {files[parsed[0]].name}", done + 1, len(todo))
            step.append(parsed)
            if sum(b.table.num_rows for _, b, _ in step) >= (
                MERGE_STEP_ROWS if spec.file_per_date else MERGE_STEP_ROWS_YEARLY
            ):
                merge_step()
        if step:
            merge_step()
        if progress:
            progress("committing", len(todo), len(todo))
    return [reports[i] for i in range(len(files))]


def _digests(files: Sequence[Path]) -> list[str]:
    """SHA-256 of each file's bytes (hashlib releases the GIL: files are hashed side by side).

    An unreadable file gets "" and is left to the parser, whose error names it.
    """

    def digest(path: Path) -> str:
        try:
            return hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            return ""

    return list(_in_parallel(digest, files))


def _in_parallel(fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterable[Any]:
    """``map(fn, items)`` on a few threads, in order, at most a few items ahead of the consumer.

    Parsing and hashing spend most of their time in Arrow, zlib and hashlib, which release the
    GIL, so the cores work side by side; the short look-ahead bounds memory. The first exception
    (in item order) propagates and the rest is cancelled.
    """
    import os
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    workers = min(len(items), os.cpu_count() or 1, 4)
    if workers <= 1:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(workers) as pool:
        ahead: deque[Any] = deque()
        try:
            for item in items:
                ahead.append(pool.submit(fn, item))
                if len(ahead) > 2 * workers:
                    yield ahead.popleft().result()
            while ahead:
                yield ahead.popleft().result()
        finally:
            for f in ahead:
                f.cancel()


def _already_ingested(name: str, entry: dict[str, Any]) -> FileReport:
    def day(key: str) -> date | None:
        v = entry.get(key)
        return date.fromisoformat(v) if v else None

    return FileReport(
        name,
        entry.get("format", "?"),
        int(entry.get("rows", 0)),
        0,
        True,
        day("first_date"),
        day("last_date"),
        (),
    )


# ------------------------------------------------------------------------ scan
@dataclass(frozen=True)
class Result:
    """What every read command returns; render.emit turns it into table/json/ndjson/csv."""

    command: str
    as_of: date | None
    rows: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # command-specific envelope additions


ScanResult = Result  # the name scan's callers know


def _none_if_nan(x: Any) -> Any:
    if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
        return None
    return x


# Keys that count shares, contracts, rows or ranks: JSON shows them as integers even when pandas
# carried them as floats (a column with a null becomes float64).
INTEGER_KEYS = frozenset(
    {
        "rank",
        "prev_rank",
        "members",
        "members_with_si",
        "members_with_denominator",
        "members_with_price",
        "quarantined",
        "split_excluded_symbols",
        "short_interest",
        "short_interest_prev",
        "avg_daily_volume",
        "shares_outstanding",
        "float_shares",
        "total_si_shares",
        "si_pct_1y_obs",
        "si_pct_5y_obs",
        "price_pct_1y_obs",
        "open_interest",
        "net",
        "change_1w",
        "change_4w",
        "lev_net",
        "lev_net_change",
        "n_obs_52w",
        "pct_1y_obs",
        "pct_3y_obs",
        "pct_all_obs",
        "obs_all",
    }
)


def _shape(row: dict[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    """A result row with exactly ``keys`` in order: NaN -> None, whole counts -> int."""
    out = {}
    for k in keys:
        v = _none_if_nan(row.get(k))
        if k in INTEGER_KEYS and isinstance(v, float) and v.is_integer():
            v = int(v)
        out[k] = v
    return out


def _parse_proxies(proxies: Mapping[str, str] | None) -> dict[str, tuple[str, ...]]:
    from positioning_cli.symbols import normalise_symbol

    out = dict(DEFAULT_PROXIES)
    for idx, sym in (proxies or {}).items():
        if idx not in INDICES:
            raise UsageError(f"--proxy {idx}={sym}: unknown index; expected one of {', '.join(INDICES)}")
        out[idx] = (normalise_symbol(sym),)
    return out


def _check_indices(indices: Sequence[str]) -> None:
    for idx in indices:
        if idx not in INDICES:
            raise UsageError(f"--index {idx}: unknown index; expected one of {', '.join(INDICES)}")


@dataclass
class _Frames:
    """One consistent snapshot of the store as pandas frames, dates as datetime64."""

    si: Any
    members: Any
    prices: Any
    dates: Any  # sorted settlement dates held
    cot: Any = None  # CFTC TFF rows (pandas), or None when the store holds none


SI_COLUMNS = [
    "settlement_date",
    "symbol",
    "short_interest",
    "avg_daily_volume",
    "split_flag",
    "shares_outstanding",
    "float_shares",
]
# Every membership field a read command uses: the stored columns but the format and lineage.
MEMBER_COLUMNS = [n for n in MEMBERS.parsed_schema.names if n != "source_format"]


def _load(store_root: Path, known_at: datetime | None = None) -> _Frames:
    """Read one consistent snapshot; with ``known_at``, the store exactly as it was at that time."""
    import pandas as pd

    from positioning_cli.store import Store

    store = Store(store_root)
    with store.reading(known_at=known_at) as manifest:
        members_table = store.read("members", MEMBER_COLUMNS, manifest)
        si = _si_frame(
            store.read(
                "short_interest",
                SI_COLUMNS,
                manifest,
                row_filter=_listed_rows(members_table.column("symbol")),
            )
        )
        frames = _reference_frames(store, manifest, members_table)
    if si.empty:
        _no_short_interest(store_root, known_at)
    frames.si = si
    frames.dates = pd.DatetimeIndex(sorted(si["settlement_date"].unique()))
    return frames


def _no_short_interest(store_root: Path, known_at: datetime | None) -> None:
    when = f" as known at {known_at.isoformat()}" if known_at else ""
    raise NoDataError(
        f"{store_root}: the store holds no short interest{when}; run `positioning ingest short-interest FILE...`"
    )


def _si_frame(table: Any) -> Any:
    """Short-interest rows as pandas, settlement dates as datetime64."""
    import pandas as pd
    import pyarrow as pa

    # Dates as datetime64[s] straight from Arrow: what pd.to_datetime makes of date objects,
    # without building millions of them first.
    table = table.set_column(0, "settlement_date", table.column(0).cast(pa.timestamp("s")))
    si = table.to_pandas(split_blocks=True, self_destruct=True)
    si["settlement_date"] = pd.to_datetime(si["settlement_date"])
    return si


def _reference_frames(
    store: Any, manifest: dict[str, Any], members_table: Any, price_symbols: set[str] | None = None
) -> _Frames:
    """Members, prices (only ``price_symbols`` when given) and futures as pandas; no short interest yet."""
    import pandas as pd

    members = members_table.to_pandas()
    members["as_of"] = pd.to_datetime(members["as_of"])
    cot_table = store.read("cot", None, manifest)
    cot = cot_table.to_pandas() if cot_table.num_rows else None
    return _Frames(None, members, _prices(store, manifest, price_symbols), None, cot)


def _prices(store: Any, manifest: dict[str, Any], symbols: set[str] | None = None) -> Any:
    """Daily prices as pandas; only ``symbols`` when given (the proxies: a store holding every
    constituent's prices has millions of rows that only index levels need)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    row_filter = None
    if symbols is not None:
        wanted = pa.array(sorted(symbols), pa.string())

        def row_filter(t: pa.Table) -> pa.Table:
            return t.filter(pc.is_in(t.column("symbol"), value_set=wanted))

    prices = store.read("prices", ["symbol", "date", "close", "high", "low"], manifest, row_filter=row_filter)
    prices = prices.to_pandas()
    prices["date"] = pd.to_datetime(prices["date"])
    return prices


def _index_snapshot(
    store_root: Path, as_of: date | None, known_at: datetime | None, proxy_map: Mapping[str, tuple[str, ...]]
) -> tuple[_Frames, Any, list[str]]:
    """``(frames, report date, warnings)`` for scan and summary: the cached-levels view of the live
    store, or (``--known-at``, or POSITIONING_NO_CACHE set) the whole table as of then."""
    import os

    warnings: list[str] = []
    if known_at is None and not os.environ.get("POSITIONING_NO_CACHE"):
        frames, d = _load_index_view(store_root, as_of, proxy_map, warnings)
        return frames, d, warnings
    frames = _load(store_root, known_at)
    return frames, _scan_date(frames, as_of, warnings), warnings


def _load_index_view(
    store_root: Path,
    as_of: date | None,
    proxy_map: Mapping[str, tuple[str, ...]],
    warnings: list[str],
) -> tuple[_Frames, Any]:
    """``(frames, d)`` for the index commands (scan, summary) without reading the whole history.

    Index rows need each index's levels on every date held — from the levels cache
    (levels_cache.py), computed here only for dates whose inputs changed — and short-interest rows
    only on the report date, the report before it and their change bases, plus the split flags
    inside those windows (for the split-excluded changes). The memo of the returned frames holds
    the levels and those rows, so the figures are exactly those of the whole-table path.
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    from positioning_cli import levels_cache
    from positioning_cli import metrics as m
    from positioning_cli.store import Store

    store = Store(store_root)
    with store.reading() as manifest:
        members_table = store.read("members", MEMBER_COLUMNS, manifest)
        # Stock prices matter only for levels not cached yet: read the proxies' alone for now.
        proxies = {s for syms in proxy_map.values() for s in syms}
        frames = _reference_frames(store, manifest, members_table, price_symbols=proxies)
        files = {
            levels_cache.partition_date(rel): rel for rel in manifest["tables"]["short_interest"]["files"]
        }
        if not files:
            _no_short_interest(store_root, None)
        frames.dates = dates = pd.DatetimeIndex(sorted(pd.Timestamp(x) for x in files))
        d = _scan_date(frames, as_of, warnings)
        # The report date, the one before (scan's previous rank) and the change bases of both.
        ends = [d, *dates[dates < d][-1:]]
        needed = set(ends)
        for end in ends:
            for kind in ("last", "ytd", "12m"):
                base = m.previous_date(dates, end, kind)
                if base is not None:
                    needed.add(base)
        listed = _listed_rows(members_table.column("symbol"))

        def flagged(t: pa.Table) -> pa.Table:
            return listed(t.filter(pc.fill_null(t.column("split_flag"), False)))

        def rel_of(days: Iterable[Any]) -> list[str]:
            return [files[pd.Timestamp(x).date()] for x in days]

        window = [x for x in dates if min(needed) < x <= d and x not in needed]
        si = _si_frame(
            pa.concat_tables(
                [
                    store.read(
                        "short_interest", SI_COLUMNS, manifest, row_filter=listed, partitions=rel_of(needed)
                    ),
                    store.read(
                        "short_interest", SI_COLUMNS, manifest, row_filter=flagged, partitions=rel_of(window)
                    ),
                ]
            )
        )
        si = si.sort_values("settlement_date", kind="stable").reset_index(drop=True)
        frames.si = si
        # Levels: cached where the inputs are unchanged, the rest computed from their own files.
        wanted = levels_cache.fingerprints(manifest, proxies)
        cached = levels_cache.load(store_root, wanted, m.LEVEL_DTYPES)
        with_members = [
            i for i in INDICES if not frames.members.empty and (frames.members["index"] == i).any()
        ]
        have = {i: set(cached[i].index) if i in cached else set() for i in with_members}
        missing = sorted({x for i in with_members for x in dates if x not in have[i]})
        if missing:
            every_price = _Frames(None, frames.members, _prices(store, manifest), dates, None)
            stock_closes = _stock_closes(every_price, proxy_map)
            fresh = _si_frame(
                store.read(
                    "short_interest", SI_COLUMNS, manifest, row_filter=listed, partitions=rel_of(missing)
                )
            )
            for i in with_members:
                computed = m.index_levels(fresh, frames.members, stock_closes, i)
                old = cached.get(i)
                cached[i] = computed if old is None else pd.concat([old, computed]).sort_index()
                cached[i] = cached[i][~cached[i].index.duplicated(keep="last")]
            levels_cache.save(store_root, cached, wanted)
    memo = _memo(frames)
    memo["member_si"] = si
    for i in with_members:
        memo[("levels", i)] = cached[i]
    return frames, d


def _listed_rows(listed: Any) -> Any:
    """Row filter for the SI files: rows of symbols listed in some index membership snapshot, and
    the first row of every settlement date (so the dates held stay complete).

    Every figure the read commands compute joins short interest with membership (index levels,
    sectors, stocks: each date against its own snapshot) and only counts the dates held otherwise;
    a split flag on an unlisted symbol removes nothing from a sum. So the numbers are those of the
    whole table, while a full-market store (~22,000 symbols a date, ~2,600 listed) is read into
    pandas at a fraction of the memory.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    value_set = pc.unique(listed.combine_chunks() if isinstance(listed, pa.ChunkedArray) else listed)

    def keep(t: pa.Table) -> pa.Table:
        if t.num_rows == 0:
            return t
        mask = np.array(pc.is_in(t.column("symbol"), value_set=value_set).to_numpy(), dtype=bool)
        days = t.column("settlement_date").to_numpy()
        mask[0] = True
        mask[1:] |= days[1:] != days[:-1]
        return t.filter(pa.array(mask))

    return keep


def _scan_date(frames: _Frames, as_of: date | None, warnings: list[str]) -> Any:
    """The settlement date to report on: the latest held, or the latest on or before ``as_of``."""
    import pandas as pd

    dates = frames.dates
    if as_of is None:
        return dates[-1]
    eligible = dates[dates <= pd.Timestamp(as_of)]
    if len(eligible) == 0:
        raise NoDataError(
            f"no short interest on or before {as_of.isoformat()}; the store starts at {dates[0].date()}"
        )
    d = eligible[-1]
    if d != pd.Timestamp(as_of):
        warnings.append(f"{as_of.isoformat()} is not a settlement date held; using {d.date()}")
    return d


def _proxy_prices(frames: _Frames, candidates: tuple[str, ...]) -> tuple[str | None, Any]:
    """The first candidate symbol held, and its date-indexed close/high/low frame."""
    prices = frames.prices
    for sym in candidates:
        sel = prices[prices["symbol"] == sym]
        if not sel.empty:
            return sym, sel.set_index("date")[["close", "high", "low"]].sort_index()
    return None, None


def _proxy_closes(frames: _Frames, candidates: tuple[str, ...]) -> tuple[str | None, Any]:
    sym, frame = _proxy_prices(frames, candidates)
    return sym, (None if frame is None else frame["close"])


def _stock_closes(frames: _Frames, proxy_map: Mapping[str, tuple[str, ...]]) -> Any:
    proxy_symbols = {s for syms in proxy_map.values() for s in syms}
    closes = frames.prices[~frames.prices["symbol"].isin(proxy_symbols)]
    return closes if not closes.empty else None


def _has_members(frames: _Frames, idx: str, warnings: list[str]) -> bool:
    if frames.members.empty or not (frames.members["index"] == idx).any():
        warnings.append(
            f"{idx}: no membership in the store; run `positioning ingest members FILE --index {idx}`"
        )
        return False
    return True


def scan(
    store_root: Path,
    *,
    as_of: date | None = None,
    known_at: datetime | None = None,
    indices: Sequence[str] = INDICES,
    proxies: Mapping[str, str] | None = None,
) -> Result:
    """Rank indices by divergence on the latest settlement date on or before ``as_of``.

    Each row also carries ``prev_rank``: its rank computed the same way on the previous report.
    """
    _check_indices(indices)
    proxy_map = _parse_proxies(proxies)
    frames, d, warnings = _index_snapshot(store_root, as_of, known_at, proxy_map)
    rows = _index_rows(frames, indices, d, proxy_map, warnings)
    if not rows:
        raise NoDataError(f"no index could be scanned on {d.date()}: " + "; ".join(warnings))
    prev = frames.dates[frames.dates < d]
    prev_ranks = (
        {r["index"]: r["rank"] for r in _index_rows(frames, indices, prev[-1], proxy_map, [], rank_only=True)}
        if len(prev)
        else {}
    )
    for r in rows:
        r["prev_rank"] = prev_ranks.get(r["index"])
    return Result("scan", d.date(), [_ordered(r) for r in rows], warnings)


_MEMO = "_memo"


def _memo(frames: _Frames) -> dict[Any, Any]:
    """Figures computed once per loaded snapshot (kept on the frames object itself)."""
    memo: dict[Any, Any] = vars(frames).setdefault(_MEMO, {})
    return memo


def _member_rows(frames: _Frames, d: Any) -> Any:
    """The SI rows up to ``d`` of symbols listed in some membership snapshot of any index.

    Index figures only ever join these rows (each settlement date against its own snapshot), and a
    split flag on any other symbol removes nothing from an index sum, so every number is the same
    as over the whole table; a full-market store holds ~22,000 symbols a date, the indices ~2,600.
    """
    import numpy as np
    import pandas as pd

    from positioning_cli import metrics as m

    si = frames.si
    upto = np.array((si["settlement_date"] <= d).to_numpy(dtype=bool))
    keep = upto & m.isin(si["symbol"], frames.members["symbol"]) if len(frames.members) else upto & False
    # One row of every date with short interest stays too, member or not: the levels hold a row for
    # every settlement date held (NaN when no constituent reported), and change bases count them.
    held = np.flatnonzero(upto & si["short_interest"].notna().to_numpy(dtype=bool))
    first = pd.Series(si["settlement_date"].to_numpy()[held]).drop_duplicates().index.to_numpy()
    keep[held[first]] = True
    return si[keep]


def _index_rows(
    frames: _Frames,
    indices: Sequence[str],
    d: Any,
    proxy_map: Mapping[str, tuple[str, ...]],
    warnings: list[str],
    *,
    rank_only: bool = False,
) -> list[dict[str, Any]]:
    """Index rows on ``d`` ranked by divergence score, from the store as known up to ``d``.

    ``rank_only``: rows hold just the index, its score and rank (scan's previous-rank pass).
    """
    from positioning_cli import metrics as m

    # scan reports d and the previous date from one snapshot: the member rows (and, in _index_row,
    # each index's levels) are computed once over the snapshot and cut at d, which gives the same
    # figures since every date's level depends only on that date's rows.
    cache = _memo(frames)
    if "member_si" not in cache:
        cache["member_si"] = _member_rows(frames, frames.dates[-1])
    msi = cache["member_si"]
    upto = _Frames(msi[msi["settlement_date"] <= d], frames.members, frames.prices, frames.dates, frames.cot)
    vars(upto)[_MEMO] = cache
    stock_closes = _stock_closes(upto, proxy_map)
    rows: list[dict[str, Any]] = []
    for idx in indices:
        if not _has_members(upto, idx, warnings):
            continue
        row = _index_row(m, upto, stock_closes, idx, d, proxy_map[idx], warnings, rank_only)
        if row is not None:
            rows.append(row)
    rows.sort(key=lambda r: (r["divergence_score"] is None, -(r["divergence_score"] or 0.0), r["index"]))
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    return rows


# The futures read each index row carries (see _futures_fields).
FUTURES_KEYS = (
    "futures_contract",
    "futures_report_date",
    "lev_net",
    "lev_net_pct_oi",
    "lev_net_pct_1y",
    "lev_weeks_since_lower",
    "lev_net_change",
    "futures_agree",
)

SCAN_KEYS = (
    "rank",
    "prev_rank",
    "index",
    "settlement_date",
    "membership_as_of",
    "members",
    "members_with_si",
    "members_with_denominator",
    "quarantined",
    "total_si_shares",
    "median_si_pct_so",
    "median_si_pct_float",
    "agg_days_to_cover",
    "median_days_to_cover",
    "si_change_last",
    "si_change_ytd",
    "si_change_12m",
    "si_base_last",
    "si_base_ytd",
    "si_base_12m",
    "split_excluded_symbols",
    "si_pct_1y",
    "si_pct_1y_obs",
    "si_pct_1y_complete",
    "si_pct_5y",
    "si_pct_5y_obs",
    "si_pct_5y_complete",
    "si_history_from",
    "price_symbol",
    "price_close",
    "price_return_last",
    "price_return_ytd",
    "price_return_12m",
    "price_pct_1y",
    "quadrant",
    "quadrant_key",
    "divergence_score",
    "trend_label",
    "ema_stack",
    "bollinger_pct_b",
    "keltner_pos",
    *FUTURES_KEYS,
)


def _ordered(row: dict[str, Any]) -> dict[str, Any]:
    return _shape(row, SCAN_KEYS)


def _index_row(
    m: Any,
    frames: _Frames,
    stock_closes: Any,
    idx: str,
    d: Any,
    proxy_candidates: tuple[str, ...],
    warnings: list[str],
    rank_only: bool = False,
) -> dict[str, Any] | None:
    import pandas as pd

    si, members = frames.si, frames.members
    cache = _memo(frames)
    if "member_si" in cache:
        if ("levels", idx) not in cache:
            cache[("levels", idx)] = m.index_levels(cache["member_si"], members, stock_closes, idx)
        levels = cache[("levels", idx)]
        levels = levels[levels.index <= d]
    else:
        levels = m.index_levels(si, members, stock_closes, idx)
    # A date can hold SI rows of other symbols only: then this index has nothing to report on it.
    if d not in levels.index or not (levels.loc[d, "members_with_si"] > 0):
        warnings.append(f"{idx}: no constituent has short interest on {d.date()}")
        return None
    if rank_only:  # the divergence score is all a rank needs: the same two percentiles as below
        si_pct = m.percentile(levels["total_si_shares"].astype(float), d, WINDOWS_DAYS["1y"]).value
        _, proxy = _proxy_prices(frames, proxy_candidates)
        px_pct = None if proxy is None else m.price_percentile(proxy["close"], d, WINDOWS_DAYS["1y"]).value
        return {"index": idx, "divergence_score": m.divergence_score(_nan(si_pct), _nan(px_pct))}
    lv = levels.loc[d]
    if bool(lv["before_first_snapshot"]):
        warnings.append(
            f"{idx}: membership before its first snapshot; using the list as of {pd.Timestamp(lv['membership_as_of']).date()}"
        )
    total = levels["total_si_shares"].astype(float)
    row: dict[str, Any] = {
        "index": idx,
        "settlement_date": d.date().isoformat(),
        "membership_as_of": pd.Timestamp(lv["membership_as_of"]).date().isoformat(),
    }
    for col in ("members", "members_with_si", "members_with_denominator", "quarantined", "total_si_shares"):
        row[col] = int(lv[col])
    for col in ("median_si_pct_so", "median_si_pct_float", "agg_days_to_cover", "median_days_to_cover"):
        row[col] = float(lv[col])

    excluded: set[int] = set()
    bases: dict[str, Any] = {}
    for kind in ("last", "ytd", "12m"):
        base = m.previous_date(levels.index, d, kind)
        bases[kind] = base
        row[f"si_base_{kind}"] = base.date().isoformat() if base is not None else None
        if base is None:
            row[f"si_change_{kind}"] = None
            continue
        in_window = (si["settlement_date"] > base) & (si["settlement_date"] <= d)
        if si["split_flag"][in_window].any():
            if "member_si" in cache:  # the join done once per index (same numbers, see SplitTotals)
                if ("split", idx) not in cache:
                    cache[("split", idx)] = m.SplitTotals(cache["member_si"], members, idx)
                value, n_excl = cache[("split", idx)].change(d, base)
            else:
                # Only the two dates and the window's split flags matter: hand over just those rows.
                ends = si["settlement_date"].isin([base, d])
                value, n_excl = m.split_excluded_total_change(
                    si[ends | (in_window & si["split_flag"])], members, idx, d, base
                )
        else:  # no split in the window: the plain change of the level (the slow path gives the same)
            value, n_excl = m.change(total, d, kind).value, 0
        row[f"si_change_{kind}"] = value
        excluded.add(n_excl)
    row["split_excluded_symbols"] = max(excluded) if excluded else 0

    for label, days in WINDOWS_DAYS.items():
        p = m.percentile(total, d, days)
        row[f"si_pct_{label}"] = p.value
        row[f"si_pct_{label}_obs"] = p.n_obs
        row[f"si_pct_{label}_complete"] = p.window_complete
        if not p.window_complete:
            held = p.covered_days / 365.0
            warnings.append(
                f"{idx}: {label.upper()} percentile covers {held:.1f} years ({p.n_obs} reports), not the full window"
            )
    row["si_history_from"] = levels.index[0].date().isoformat()

    row["price_symbol"], proxy = _proxy_prices(frames, proxy_candidates)
    closes = None if proxy is None else proxy["close"]
    row.update(_trend_fields(proxy, d))
    if closes is None:
        warnings.append(
            f"{idx}: no price series for {' or '.join(proxy_candidates)}; run `positioning ingest prices FILE`"
        )
        for kind in ("last", "ytd", "12m"):
            row[f"price_return_{kind}"] = None
        row["price_pct_1y"] = None
        row["price_close"] = None
    else:
        upto = closes[closes.index <= d]
        row["price_close"] = float(upto.iloc[-1]) if len(upto) else None
        for kind in ("last", "ytd", "12m"):
            base = bases[kind]
            row[f"price_return_{kind}"] = m.price_return(closes, base, d) if base is not None else None
        pp = m.price_percentile(closes, d, WINDOWS_DAYS["1y"])
        row["price_pct_1y"] = pp.value
    row.update(_futures_fields(frames, idx, d, bases["last"], row["si_change_last"], warnings))
    quad = m.quadrant(_nan(row["si_change_last"]), _nan(row["price_return_last"]))
    row["quadrant"] = quad
    row["quadrant_key"] = m.QUADRANT_KEYS.get(quad) if quad else None
    row["divergence_score"] = m.divergence_score(_nan(row["si_pct_1y"]), _nan(row["price_pct_1y"]))
    return row


# ------------------------------------------------------------------------ summary / history
INDEX_NAMES = {"RUT": "Russell 2000", "NDX": "Nasdaq-100", "SPX": "S&P 500"}
# index_levels columns a user can ask history for, with how to read them
LEVEL_METRICS: dict[str, str] = {
    "total_si_shares": "Σ short interest of constituents (shares)",
    "total_si_value": "Σ short interest × close on the settlement date ($)",
    "median_si_pct_so": "median of 100 × SI / shares outstanding (%)",
    "median_si_pct_float": "median of 100 × SI / float (%)",
    "cap_weighted_si_pct_so": "100 × Σ SI×close / Σ shares outstanding×close (%)",
    "agg_days_to_cover": "Σ SI / Σ average daily volume (days)",
    "median_days_to_cover": "median of per-stock days to cover, floor 1 (days)",
    "members_with_si": "constituents with a short-interest row",
}
SUMMARY_METRICS = ("median_si_pct_so", "total_si_shares", "total_si_value", "agg_days_to_cover")
SUMMARY_KEYS = (
    "index",
    "settlement_date",
    "metric",
    "symbol",
    "value",
    "pct_1y",
    "pct_1y_complete",
    "pct_5y",
    "pct_5y_complete",
    "pct_all",
    "obs_all",
    "history_from",
    "change_last",
    "change_ytd",
    "change_12m",
    "base_last",
    "base_ytd",
    "base_12m",
    "explain",
)
HISTORY_KEYS = ("index", "metric", "settlement_date", "value", "members_with_si", "membership_as_of")


def _iso(ts: Any) -> str | None:
    return None if ts is None else ts.date().isoformat()


def _level_changes(m: Any, frames: _Frames, series: Any, metric: str, idx: str, d: Any) -> dict[str, Any]:
    """Changes of one level since the last report / YTD / 12M; split-aware for total shares."""
    out: dict[str, Any] = {}
    for kind in ("last", "ytd", "12m"):
        base = m.previous_date(series.index, d, kind)
        out[f"base_{kind}"] = _iso(base)
        if base is None:
            out[f"change_{kind}"] = None
        elif metric == "total_si_shares":
            out[f"change_{kind}"] = _split_aware_change(m, frames, series, idx, d, base, kind)[0]
        else:
            out[f"change_{kind}"] = m.change(series, d, kind).value
    return out


def _split_changes(m: Any, frames: _Frames, total: Any, split: Any, d: Any) -> dict[str, Any]:
    """``_level_changes`` of total SI shares with the split-excluded sums from ``split``."""
    si = frames.si
    out: dict[str, Any] = {}
    for kind in ("last", "ytd", "12m"):
        base = m.previous_date(total.index, d, kind)
        out[f"base_{kind}"] = _iso(base)
        if base is None:
            out[f"change_{kind}"] = None
            continue
        in_window = (si["settlement_date"] > base) & (si["settlement_date"] <= d)
        if si["split_flag"][in_window].any():
            out[f"change_{kind}"] = split.change(d, base)[0]
        else:
            out[f"change_{kind}"] = m.change(total, d, kind).value
    return out


def _split_aware_change(
    m: Any, frames: _Frames, total: Any, idx: str, d: Any, base: Any, kind: str
) -> tuple[float, int]:
    si = frames.si
    in_window = (si["settlement_date"] > base) & (si["settlement_date"] <= d)
    if not si["split_flag"][in_window].any():  # no split in the window: the plain change of the level
        return m.change(total, d, kind).value, 0
    # Only the two dates and the window's split flags matter: hand over just those rows.
    ends = si["settlement_date"].isin([base, d])
    return m.split_excluded_total_change(
        si[ends | (in_window & si["split_flag"])], frames.members, idx, d, base
    )


def _percentiles(m: Any, series: Any, d: Any, tolerance: int | None = None) -> dict[str, Any]:
    kw = {} if tolerance is None else {"tolerance_days": tolerance}
    out: dict[str, Any] = {}
    for label, days in WINDOWS_DAYS.items():
        p = m.percentile(series, d, days, **kw)
        out[f"pct_{label}"] = p.value
        out[f"pct_{label}_complete"] = p.window_complete
    p_all = m.percentile(series, d, None)
    out["pct_all"] = p_all.value
    out["obs_all"] = p_all.n_obs
    out["history_from"] = _iso(p_all.first_obs)
    return out


def _explain(metric: str, lv: Any, row: dict[str, Any], d: Any) -> str:
    parts = [
        f"{metric} on {d.date()} = {LEVEL_METRICS.get(metric, metric)} over {int(lv['members_with_si'])} of "
        f"{int(lv['members'])} constituents with a short-interest row (membership as of "
        f"{lv['membership_as_of'].date()})",
        f"percentiles: share of reports in (d − W, d] with a value ≤ today's; all history: {row['obs_all']} "
        f"reports since {row['history_from']}",
    ]
    for kind, text in (
        ("last", "previous report"),
        ("ytd", "last report of the previous year"),
        ("12m", "last report on or before d − 365 days"),
    ):
        if row[f"base_{kind}"]:
            parts.append(f"change_{kind} = x({d.date()}) / x({row[f'base_{kind}']}) − 1 (base: {text})")
    return "; ".join(parts)


def summary(
    store_root: Path,
    *,
    as_of: date | None = None,
    known_at: datetime | None = None,
    indices: Sequence[str] = INDICES,
    proxies: Mapping[str, str] | None = None,
    explain: bool = False,
) -> Result:
    """Percentile summary per index: each headline level against its own history, and the price."""
    from positioning_cli import metrics as m

    _check_indices(indices)
    proxy_map = _parse_proxies(proxies)
    frames, d, warnings = _index_snapshot(store_root, as_of, known_at, proxy_map)
    frames.si = _member_rows(frames, d)
    stock_closes = _stock_closes(frames, proxy_map)
    rows: list[dict[str, Any]] = []
    text: dict[str, list[str]] = {}
    sparks: dict[str, list[float | None]] = {}
    for idx in indices:
        if not _has_members(frames, idx, warnings):
            continue
        levels = _memo(frames).get(("levels", idx))
        if levels is None:
            levels = m.index_levels(frames.si, frames.members, stock_closes, idx)
        levels = levels[levels.index <= d]
        if d not in levels.index or not (levels.loc[d, "members_with_si"] > 0):
            warnings.append(f"{idx}: no constituent has short interest on {d.date()}")
            continue
        lv = levels.loc[d]
        idx_rows = []
        for metric in SUMMARY_METRICS:
            series = levels[metric].astype(float)
            row: dict[str, Any] = {"index": idx, "settlement_date": d.date().isoformat(), "metric": metric}
            row["symbol"] = None
            row["value"] = float(series.loc[d])
            row.update(_percentiles(m, series, d))
            if metric == "total_si_shares":  # split-aware: the join done once (see SplitTotals)
                split = vars(frames).setdefault(_MEMO, {})
                if ("split", idx) not in split:
                    split[("split", idx)] = m.SplitTotals(frames.si, frames.members, idx)
                row.update(_split_changes(m, frames, series, split[("split", idx)], d))
            else:
                row.update(_level_changes(m, frames, series, metric, idx, d))
            row["explain"] = _explain(metric, lv, row, d) if explain else None
            idx_rows.append(row)
        sym, closes = _proxy_closes(frames, proxy_map[idx])
        if closes is None:
            warnings.append(f"{idx}: no price series for {' or '.join(proxy_map[idx])}")
        else:
            upto = closes[closes.index <= d]
            price: dict[str, Any] = {
                "index": idx,
                "settlement_date": d.date().isoformat(),
                "metric": "price_close",
            }
            price["symbol"] = sym
            price["value"] = float(upto.iloc[-1]) if len(upto) else None
            price.update(_percentiles(m, upto, d, tolerance=7))
            for kind in ("last", "ytd", "12m"):
                base = m.previous_date(levels.index, d, kind)
                price[f"base_{kind}"] = _iso(base)
                price[f"change_{kind}"] = m.price_return(closes, base, d) if base is not None else None
            price["explain"] = (
                f"close of {sym} on or before {d.date()}; percentiles over daily closes in (d − W, d]; "
                "changes are price returns between the same report dates as short interest"
                if explain
                else None
            )
            idx_rows.append(price)
        for r in idx_rows:
            if not r["pct_5y_complete"] and r["metric"] == "total_si_shares":
                warnings.append(
                    f"{idx}: 5Y percentile covers history from {r['history_from']} only ({r['obs_all']} reports)"
                )
        rows.extend(idx_rows)
        text[idx] = _sentences(idx, {r["metric"]: r for r in idx_rows})
        start = d - _days(5 * 365)
        sparks[idx] = [_none_if_nan(float(x)) for x in levels["total_si_shares"][levels.index > start]]
    if not rows:
        raise NoDataError(f"no index could be summarised on {d.date()}: " + "; ".join(warnings))
    return Result(
        "summary",
        d.date(),
        [_shape(r, SUMMARY_KEYS) for r in rows],
        warnings,
        extra={"text": text, "sparklines": sparks},
    )


def _days(n: int) -> Any:
    import pandas as pd

    return pd.Timedelta(days=n)


def _pct_word(p: float | None) -> str:
    if p is None or p != p:
        return "an unknown"
    n = int(round(p))
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"the {n}{suffix}"


def _signed(x: float | None) -> str:
    return "n/a" if x is None or x != x else f"{x * 100:+.1f}%"


def _sentences(idx: str, by_metric: dict[str, dict[str, Any]]) -> list[str]:
    """Two or three plain sentences, every number taken from the rows above."""
    name = INDEX_NAMES[idx]
    total = by_metric["total_si_shares"]
    med = by_metric["median_si_pct_so"]
    price = by_metric.get("price_close")
    p5 = _pct_word(total["pct_5y"]) + (" (of the history held)" if not total["pct_5y_complete"] else "")
    out = [
        f"Short interest across {name} constituents is at {_pct_word(total['pct_1y'])} percentile versus the "
        f"past 1Y and {p5} percentile versus 5Y."
    ]
    moves = (
        f"It is {_signed(total['change_ytd'])} YTD, {_signed(total['change_12m'])} over 12 months and "
        f"{_signed(total['change_last'])} since the last report"
    )
    if price is not None and price["change_last"] is not None and total["change_last"] is not None:
        si_up = total["change_last"] > 0
        px_up = price["change_last"] > 0
        tail = {
            (True, True): "while price rises — shorts are expanding into strength",
            (True, False): "as price falls — shorts are being confirmed",
            (False, True): "as price rises — a short-covering rally",
            (False, False): "as price falls — shorts are exiting into weakness",
        }[(si_up, px_up)]
        moves += (
            f"; {price['symbol']} is {_signed(price['change_last'])} over the same report and "
            f"{_signed(price['change_ytd'])} YTD, {tail}"
        )
    out.append(moves + ".")
    if med["value"] is not None:
        out.append(
            f"The median {name} stock has {med['value']:.1f}% of its shares outstanding sold short "
            f"({_pct_word(med['pct_1y'])} percentile of its 1Y range)."
        )
    return out


def history(
    store_root: Path,
    *,
    index: str,
    metric: str = "total_si_shares",
    as_of: date | None = None,
    known_at: datetime | None = None,
) -> Result:
    """The series behind the percentiles: one row per settlement date held, up to ``as_of``."""
    from positioning_cli import metrics as m

    _check_indices([index])
    if metric not in LEVEL_METRICS:
        raise UsageError(f"--metric {metric!r}: expected one of {', '.join(LEVEL_METRICS)}")
    frames = _load(store_root, known_at)
    warnings: list[str] = []
    d = _scan_date(frames, as_of, warnings)
    frames.si = frames.si[frames.si["settlement_date"] <= d]
    if not _has_members(frames, index, warnings):
        raise NoDataError("; ".join(warnings))
    levels = m.index_levels(frames.si, frames.members, _stock_closes(frames, DEFAULT_PROXIES), index)
    rows = [
        {
            "index": index,
            "metric": metric,
            "settlement_date": _iso(ts),
            "value": _none_if_nan(float(lv[metric])),
            "members_with_si": int(lv["members_with_si"]),
            "membership_as_of": lv["membership_as_of"].date().isoformat(),
        }
        for ts, lv in levels.iterrows()
    ]
    return Result("history", d.date(), rows, warnings, extra={"metric_definition": LEVEL_METRICS[metric]})


def _trend_fields(prices: Any, d: Any) -> dict[str, Any]:
    """Trend state of a date-indexed close/high/low frame on d (all null without prices)."""
    if prices is None or prices.empty:
        return {"trend_label": None, "ema_stack": None, "bollinger_pct_b": None, "keltner_pos": None}
    from positioning_cli.trend import trend_state

    t = trend_state(prices, d)
    return {
        "trend_label": t.label or None,
        "ema_stack": t.ema_stack,
        "bollinger_pct_b": t.bollinger_pct_b,
        "keltner_pos": t.keltner_pos,
    }


# ------------------------------------------------------------------------ futures (CFTC TFF)
def _futures_fields(
    frames: _Frames, idx: str, d: Any, prev: Any, si_change: float | None, warnings: list[str]
) -> dict[str, Any]:
    """The leveraged-fund read of the index's futures contract, from the latest report on or before d.

    ``lev_net_change`` is the change of the net between the reports read for the previous settlement
    date and for d — the same window as the short-interest change — and ``futures_agree`` says
    whether futures shorts and equity short interest grew (or shrank) together.
    """
    from positioning_cli import futures

    contract = futures.INDEX_CONTRACT[idx]
    out: dict[str, Any] = dict.fromkeys(FUTURES_KEYS, None)
    if frames.cot is None:
        return out
    ser = futures.series(frames.cot, contract)
    try:
        now = futures.read(ser, d, "lev")
    except ValueError:
        warnings.append(f"{idx}: no CFTC report for {contract} on or before {d.date()}")
        return out
    stale = (d.date() - now.report_date).days
    if stale > 14:
        warnings.append(
            f"{idx}: the latest CFTC report for {contract} is {now.report_date}, {stale} days before {d.date()}"
        )
    out.update(
        futures_contract=contract,
        futures_report_date=now.report_date.isoformat(),
        lev_net=now.net,
        lev_net_pct_oi=now.net_pct_oi,
        lev_net_pct_1y=now.pct_1y.pct,
        lev_weeks_since_lower=now.weeks_since_lower,
    )
    if prev is not None:
        try:
            before = futures.read(ser, prev, "lev")
        except ValueError:
            return out
        if before.report_date == now.report_date:
            return out  # no new report in the window: no change to compare
        change = now.net - before.net
        out["lev_net_change"] = change
        if (
            si_change is not None
            and si_change == si_change
            and change == change
            and si_change != 0
            and change != 0
        ):
            # equity shorts up with futures net falling (more short), or both unwinding
            out["futures_agree"] = (si_change > 0) == (change < 0)
    return out


COT_KEYS = (
    "contract",
    "contract_code",
    "group",
    "futures_only",
    "report_date",
    "open_interest",
    "net",
    "net_pct_oi",
    "change_1w",
    "change_4w",
    "pct_1y",
    "pct_1y_obs",
    "pct_1y_complete",
    "pct_3y",
    "pct_3y_obs",
    "pct_3y_complete",
    "pct_all",
    "pct_all_obs",
    "cot_index_52w",
    "zscore_52w",
    "n_obs_52w",
    "weeks_since_lower",
    "largest_net_short",
    "venue_break_in_window",
)


def cot(
    store_root: Path,
    *,
    contracts: Sequence[str] = ("ES", "NQ", "RTY"),
    as_of: date | None = None,
    known_at: datetime | None = None,
    combined: bool = False,
) -> Result:
    """Leveraged funds and asset managers per contract, from the latest report on or before ``as_of``."""
    import pandas as pd

    from positioning_cli import futures
    from positioning_cli.store import Store

    resolved = []
    for text in contracts:
        try:
            resolved.append(futures.resolve_contract(text))
        except ValueError as exc:
            raise UsageError(f"--contract {text!r}: {exc}") from None
    store = Store(store_root)
    with store.reading(known_at=known_at) as manifest:
        table = store.read("cot", None, manifest).to_pandas()
    if table.empty:
        raise NoDataError(
            f"{store_root}: the store holds no CFTC reports; run `positioning ingest cot FILE...`"
        )
    d = pd.Timestamp(as_of) if as_of else pd.Timestamp(table["report_date"].max())
    rows: list[dict[str, Any]] = []
    warnings: list[str] = []
    report_dates = set()
    for name, _codes in resolved:
        ser = futures.series(table, name, futures_only=not combined)
        if ser.empty:
            warnings.append(f"{name}: no {'combined' if combined else 'futures-only'} reports in the store")
            continue
        for group in ("lev", "asset_mgr"):
            try:
                r = futures.read(ser, d, group)
            except ValueError:
                warnings.append(f"{name}: no report on or before {d.date()}")
                break
            report_dates.add(r.report_date)
            wsl = r.weeks_since_lower
            if r.net < 0:
                largest = (
                    f"largest net short in {wsl} weeks"
                    if wsl is not None
                    else "largest net short in the history held"
                )
            else:
                largest = None
            rows.append(
                {
                    "contract": name,
                    "contract_code": r.contract_code,
                    "group": "lev_money" if group == "lev" else "asset_mgr",
                    "futures_only": not combined,
                    "report_date": r.report_date.isoformat(),
                    "open_interest": r.open_interest,
                    "net": r.net,
                    "net_pct_oi": r.net_pct_oi,
                    "change_1w": r.change_1w,
                    "change_4w": r.change_4w,
                    "pct_1y": r.pct_1y.pct,
                    "pct_1y_obs": r.pct_1y.n_obs,
                    "pct_1y_complete": r.pct_1y.window_complete,
                    "pct_3y": r.pct_3y.pct,
                    "pct_3y_obs": r.pct_3y.n_obs,
                    "pct_3y_complete": r.pct_3y.window_complete,
                    "pct_all": r.pct_all.pct,
                    "pct_all_obs": r.pct_all.n_obs,
                    "cot_index_52w": r.cot_index_52w,
                    "zscore_52w": r.zscore_52w,
                    "n_obs_52w": r.n_obs_52w,
                    "weeks_since_lower": wsl,
                    "largest_net_short": largest,
                    "venue_break_in_window": r.venue_break_in_window,
                }
            )
            if r.venue_break_in_window:
                warnings.append(
                    f"{name}: the 1Y window spans the venue change ICE 23977A -> CME 239742 (2017-08-15)"
                )
            for label, p in (("1Y", r.pct_1y), ("3Y", r.pct_3y)):
                if not p.window_complete and group == "lev":
                    warnings.append(
                        f"{name}: {label} percentile from {p.n_obs} reports; the window is not fully covered"
                    )
    if not rows:
        raise NoDataError("no CFTC report matches: " + "; ".join(warnings))
    as_of_report = max(report_dates)
    rows = [_shape(r, COT_KEYS) for r in rows]
    return Result("cot", as_of_report, rows, warnings, extra={"caveat": futures.BASIS_TRADE_CAVEAT})


# ------------------------------------------------------------------------ scan --by sector|stock
def _gates(gates: Any) -> Any:
    from positioning_cli.stocks import GateConfig

    return gates if gates is not None else GateConfig()


def _universe(indices: Sequence[str]) -> str | None:
    """One index, or None for the union of all held (stocks.py's convention)."""
    return indices[0] if len(indices) == 1 else None


def _in_indices(row: dict[str, Any], indices: Sequence[str]) -> bool:
    held = set((row.get("indices") or "").split(","))
    return bool(held & set(indices))


def _ranking_context(
    store_root: Path, as_of: date | None, known_at: datetime | None, indices: Sequence[str]
) -> tuple[_Frames, Any, Any, Any, list[str]]:
    """What --by stock and --by sector start from: the snapshot, SI up to d, d, the previous date."""
    _check_indices(indices)
    frames = _load(store_root, known_at)
    warnings: list[str] = []
    d = _scan_date(frames, as_of, warnings)
    prev = frames.dates[frames.dates < d]
    si = frames.si[frames.si["settlement_date"] <= d]
    _membership_warnings(frames, indices, d, warnings)
    return frames, si, d, (prev[-1] if len(prev) else None), warnings


def scan_stocks(
    store_root: Path,
    *,
    as_of: date | None = None,
    known_at: datetime | None = None,
    indices: Sequence[str] = INDICES,
    top: int = 20,
    gates: Any = None,
    show_excluded: bool = False,
) -> Result:
    """Rank the constituents by divergence; excluded stocks are counted and, on request, listed."""
    from positioning_cli import stocks

    frames, si, d, prev_d, warnings = _ranking_context(store_root, as_of, known_at, indices)
    table, excluded = stocks.stock_table(
        si,
        frames.members,
        frames.prices,
        _universe(indices),
        d,
        _gates(gates),
        prev_d,
    )
    rows = [r for r in stocks.to_records(table) if _in_indices(r, indices)]
    excl = [r for r in stocks.to_records(excluded) if _in_indices(r, indices)]
    if not rows and not excl:
        raise NoDataError(f"no constituent of {', '.join(indices)} has short interest on {d.date()}")
    shown = rows if top <= 0 else rows[:top]
    by_symbol = frames.prices.groupby("symbol")
    for r in shown:
        px = (
            by_symbol.get_group(r["symbol"]).set_index("date")[["close", "high", "low"]]
            if r["symbol"] in by_symbol.groups
            else None
        )
        r["trend_label"] = _trend_fields(px, d)["trend_label"]
    n_excluded = len({r["symbol"] for r in excl})
    if n_excluded:
        warnings.append(
            f"{n_excluded} stocks excluded by quality gates or quarantine"
            + ("" if show_excluded else "; --show-excluded lists them")
        )
    by_gate: dict[str, int] = {}
    for r in excl:
        by_gate[r["gate"]] = by_gate.get(r["gate"], 0) + 1
    extra = {
        "ranked": len(rows),
        "excluded": {"count": n_excluded, "by_gate": by_gate, "rows": excl if show_excluded else []},
    }
    keyed = [_shape(r, stock_keys()) for r in shown]
    return Result("scan", d.date(), keyed, warnings, extra=extra)


def scan_sectors(
    store_root: Path,
    *,
    as_of: date | None = None,
    known_at: datetime | None = None,
    indices: Sequence[str] = INDICES,
    gates: Any = None,
) -> Result:
    """Per GICS sector: coverage, median SI %, changes and percentiles, ranked by SI percentile."""
    from positioning_cli import stocks

    frames, si, d, prev_d, warnings = _ranking_context(store_root, as_of, known_at, indices)
    table = stocks.sector_table(
        si,
        frames.members,
        frames.prices,
        _universe(indices),
        d,
        _gates(gates),
        prev_d,
    )
    if len(indices) == 2:
        warnings.append("sectors of two indices are computed over the union of all three; pass one --index")
    rows = [_shape(r, sector_keys()) for r in stocks.to_records(table)]
    if not rows:
        raise NoDataError(f"no sector has short interest on {d.date()}")
    return Result("scan", d.date(), rows, warnings)


def _membership_warnings(frames: _Frames, indices: Sequence[str], d: Any, warnings: list[str]) -> None:
    """Say when the scan date precedes an index's first membership snapshot (its earliest list is used)."""
    for idx in indices:
        held = frames.members["as_of"][frames.members["index"] == idx]
        if len(held) and d < held.min():
            warnings.append(
                f"{idx}: membership before its first snapshot; using the list as of {held.min().date()}"
            )


def stock_keys() -> tuple[str, ...]:
    """JSON row keys of ``scan --by stock`` (stocks.py owns the order; trend last)."""
    from positioning_cli.stocks import STOCK_TABLE_COLUMNS

    return (*STOCK_TABLE_COLUMNS, "trend_label")


def sector_keys() -> tuple[str, ...]:
    from positioning_cli.stocks import SECTOR_TABLE_COLUMNS

    return tuple(SECTOR_TABLE_COLUMNS)


def _nan(x: Any) -> float:
    return float("nan") if x is None else float(x)


def resolve_as_of(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--as-of {text!r}: expected a date as YYYY-MM-DD") from None


def resolve_known_at(text: str | None) -> datetime | None:
    """``--known-at``: an ISO date (its end, UTC) or date-time (UTC unless it carries an offset)."""
    if text is None:
        return None
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time.max, tzinfo=UTC)
        t = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"--known-at {text!r}: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+HH:MM]"
        ) from None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


# ------------------------------------------------------------------------ store info / verify
STORE_INFO_KEYS = (
    "table",
    "rows",
    "files",
    "bytes",
    "first_date",
    "last_date",
    "version_rows",
    "version_files",
    "version_bytes",
)
VERIFY_KEYS = ("kind", "path", "message")


def store_info(store_root: Path, last: int = 10) -> Result:
    """Tables with rows, date ranges and sizes, and the last ingests (from the manifest)."""
    from positioning_cli import store_admin

    info = store_admin.info(store_root, last=last)
    if not info.exists:
        raise NoDataError(f"{store_root}: no store here yet; `positioning ingest ...` creates it")
    rows = []
    for t in info.tables:
        row = {"table": t.name} | {k: getattr(t, k) for k in STORE_INFO_KEYS[1:]}
        for k in ("first_date", "last_date"):
            row[k] = row[k].isoformat() if row[k] else None
        rows.append(row)
    extra = {
        "store": info.root,
        "format_version": info.format_version,
        "commits": info.commits,
        "total_bytes": info.total_bytes,
        "pending_commit": info.pending_commit,
        "last_ingests": info.last_ingests,
    }
    return Result("store info", None, rows, [], extra=extra)


def store_verify(store_root: Path, wait: float = 60.0) -> Result:
    """Every check of ``store_admin.verify``; the rows are the problems found (none = healthy)."""
    from positioning_cli import store_admin

    if not _store_exists(store_root):
        raise NoDataError(f"{store_root}: no store here yet; `positioning ingest ...` creates it")
    result = store_admin.verify(store_root, wait=wait)
    rows = [{"kind": p.kind, "path": p.path, "message": p.message} for p in result.problems]
    extra = {"ok": result.ok, "files_checked": result.files_checked, "rows_checked": result.rows_checked}
    return Result("store verify", None, rows, [], extra=extra)


def _store_exists(store_root: Path) -> bool:
    from positioning_cli.store import Store

    return Store(store_root).exists()
