"""The library facade: what the CLI and tests call. No printing, no argument parsing.

Data flows one way: ingest parses files into validated Arrow tables and merges them into the
store in one atomic commit; scan reads one consistent snapshot of the store and computes
per-index rows with ``metrics``.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from positioning_cli.errors import InputError, NoDataError, StoreError, UsageError
from positioning_cli.indices import FUTURES_KEYS, LEVEL_METRICS, PRICE_CONTEXT_KEYS
from positioning_cli.measures import LIKE_FOR_LIKE_COUNT_KEYS
from positioning_cli.schema import (
    BARS,
    COT,
    FUNDS,
    INDICES,
    MEMBERS,
    PRICES,
    SHARES_OUTSTANDING,
    SHORT_INTEREST,
    SHORT_VOLUME,
    TableSpec,
)

KIND_TABLE: dict[str, TableSpec] = {
    "short-interest": SHORT_INTEREST,
    "prices": PRICES,
    "members": MEMBERS,
    "cot": COT,
    "short-volume": SHORT_VOLUME,
    "funds": FUNDS,
    "shares": SHARES_OUTSTANDING,
    "bars": BARS,
}


def proxy_chain(*symbols: str) -> tuple[str, ...]:
    """The symbols in order, each index level followed by its other spellings (``^GSPC``, ``^SPX``)."""
    from positioning_cli.symbols import index_level_spellings

    return tuple(dict.fromkeys(s for sym in symbols for s in index_level_spellings(sym)))


# The short-sale volume column group of scan rows (index and stock), README "Short-sale volume".
SHORT_VOLUME_KEYS = (
    "sv_date",
    "sv_ratio",
    "sv_ratio_avg_5d",
    "sv_ratio_avg_20d",
    "sv_ratio_pct_1y",
    "sv_ratio_pct_1y_obs",
    "sv_ratio_pct_1y_complete",
    "sv_ratio_z_1y",
    "sv_members_with_volume",
)

# Price proxy per index, first one present in the store wins; overridable with --proxy.
DEFAULT_PROXIES: dict[str, tuple[str, ...]] = {
    "SPX": proxy_chain("SPY", "^GSPC"),
    "NDX": proxy_chain("QQQ", "^NDX"),
    "RUT": proxy_chain("IWM", "^RUT"),
}


# ------------------------------------------------------------------------ ingest
@dataclass(frozen=True)
class FileReport:
    path: str
    format: str
    rows: int
    changed: int
    skipped: bool  # identical bytes were ingested before, with the same options
    first_date: date | None
    last_date: date | None
    warnings: tuple[str, ...]
    replaced: bool = False  # the same bytes were ingested before with other options: their rows gave way
    removed: int = 0  # live rows this file (a whole snapshot) removed because it lacks them
    # FINRA revisions (R rows): how many the file carries, how many previous-cycle figures they
    # changed, and how many name a previous cycle the store does not hold (nothing to correct).
    revisions: int = 0
    revised: int = 0
    revisions_not_held: int = 0
    error: str | None = None  # with keep_going: why this file was left out (nothing of it stored)

    @property
    def status(self) -> str:
        """``failed``, ``unchanged`` (these bytes were ingested before) or ``ingested``."""
        return "failed" if self.error else "unchanged" if self.skipped else "ingested"


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
    keep_going: bool = False,
) -> list[FileReport]:
    """Parse the files (several at once) and merge them all in one atomic commit.

    Merged steps are staged as parsing goes on, so memory does not grow with the history; any bad
    file aborts the commit before it happens, so a failed run leaves the store byte for byte as it
    was. Files whose exact bytes were ingested before are not parsed again. With ``keep_going`` a
    file that fails to parse is left out instead (its report carries the ``error``) and the good
    files are committed: a cron job over a folder is not held up by one stray or half-downloaded file.
    """
    from positioning_cli.ingest import ParseOptions, expand_paths, parse_file
    from positioning_cli.ingest.text import STDIN, display_name
    from positioning_cli.store import SourceBatch, Store

    if kind not in KIND_TABLE:
        raise UsageError(f"unknown kind {kind!r}; expected one of {', '.join(KIND_TABLE)}")
    spec = KIND_TABLE[kind]
    opts = options if options is not None else ParseOptions()
    files = expand_paths(list(paths))
    if not files:
        raise UsageError("no input files found")
    store = Store(store_root, on_wait=(lambda message: progress(message, 0, 0)) if progress else None)
    identity = row_options(opts)
    # cron can point at a whole folder of history every day and pay only for the new file. The
    # options that shape the rows are part of a file's identity: other options re-read it.
    logged = store.manifest()["ingests"]  # read once: a manifest of years of daily files is ~2 MB
    live = [i for i in logged if i.get("table") == spec.name and not i.get("forgotten_at")]
    seen = {i["sha256"]: i for i in live if i.get("options", {}) == identity}
    read_otherwise = {i["sha256"] for i in live}
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

    def parse(i: int) -> tuple[int, SourceBatch | InputError, tuple[str, ...]]:
        try:
            parsed = parse_file(kind, files[i], opts)
        except InputError as exc:
            if not keep_going:
                raise
            return i, exc, ()
        batch = SourceBatch(
            parsed.table,
            display_name(files[i]) if str(files[i]) == STDIN else files[i].name,
            digests[i] or parsed.sha256,  # a pipe is hashed as it is read, once
            parsed.format,
            options=identity,
            absent=parsed.absent,
            snapshot=parsed.snapshot,
            restates=parsed.restates,
        )
        return i, batch, parsed.warnings

    replacing = {i for i in todo if digests[i] in read_otherwise}
    forgotten_names = {i["source_file"] for i in logged if i.get("forgotten_at")}
    distinct = bool(replacing) or any(files[i].name in forgotten_names for i in todo)
    with store.writing(wait, distinct_time=distinct) as writer:
        step: list[tuple[int, SourceBatch, tuple[str, ...]]] = []

        def merge_step() -> None:
            for i, batch, _ in step:
                if i in replacing:  # what the earlier reading of these bytes gave goes first
                    writer.forget(spec, batch.sha256)
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
                    warnings + r.warnings,
                    replaced=i in replacing,
                    removed=r.removed,
                    revisions=r.restatements,
                    revised=r.restated,
                    revisions_not_held=r.not_restated,
                )
            step.clear()
            writer.spill()

        for done, (i, batch, warnings) in enumerate(_in_parallel(parse, todo)):
            if progress:
                progress(f"parsed {files[i].name}", done + 1, len(todo))
            if isinstance(batch, InputError):
                name = display_name(files[i]) if str(files[i]) == STDIN else files[i].name
                reports[i] = FileReport(name, "?", 0, 0, False, None, None, (), error=batch.message)
                continue
            step.append((i, batch, warnings))
            if sum(b.table.num_rows for _, b, _ in step) >= (
                MERGE_STEP_ROWS if spec.file_per_date else MERGE_STEP_ROWS_YEARLY
            ):
                merge_step()
        if step:
            merge_step()
        if progress:
            progress("committing", len(todo), len(todo))
    if spec.name == "short_interest":
        _sparse_dates_ingested(store, reports)
    return [reports[i] for i in range(len(files))]


def _sparse_dates_ingested(store: Any, reports: dict[int, FileReport]) -> None:
    """A warning on each file ingested now for every sparse settlement date it holds, judged over
    the store as committed (analytics/coverage.py)."""
    from dataclasses import replace

    from positioning_cli.analytics import coverage
    from positioning_cli.measures import to_date

    held = coverage.from_manifest(store.manifest())
    sparse = [to_date(x) for x in held.sparse_days()]
    for i, r in reports.items():
        if r.status != "ingested" or r.first_date is None or r.last_date is None:
            continue
        mine = [x for x in sparse if r.first_date <= x <= r.last_date]
        if mine:
            reports[i] = replace(r, warnings=r.warnings + tuple(held.note(x) for x in mine))


def row_options(options: Any) -> dict[str, str]:
    """The options that shape the rows read from a file, as text (those set only): with the
    file's bytes, the identity of an ingest."""
    out: dict[str, str] = {}
    for name in ("format", "date_format", "symbol", "index", "as_of", "interval", "tz"):
        value = getattr(options, name, None)
        if value is not None:
            out[name] = str(value)
    tickers = getattr(options, "tickers", None)
    if tickers is not None:  # the SEC ticker map shapes the rows: its bytes are part of the identity
        out["tickers"] = _digests([Path(tickers)])[0]
    mapping = getattr(options, "mapping", None) or {}
    if mapping:
        out["mapping"] = ",".join(f"{k}={v}" for k, v in sorted(mapping.items()))
    return out


def forget(store_root: Path, source_file: Path | str, *, wait: float = 30.0) -> list[dict[str, Any]]:
    """Remove what one ingested file contributed (by its bytes when the path holds an ingested
    file, else by the name it was ingested under), as a new commit: each of its rows gives way to
    the value an earlier ingest gave, or goes. ``--known-at`` before this commit still sees them.
    Returns the ingest log entries forgotten; a file never ingested is a UsageError."""
    from positioning_cli.store import Store

    store = Store(store_root)
    path = Path(source_file)
    digest = _digests([path])[0] if path.is_file() else ""
    live = [i for i in store.manifest()["ingests"] if not i.get("forgotten_at")]
    # by its bytes; a file edited since (or gone) by the name it was ingested under
    named = [i for i in live if digest and i["sha256"] == digest]
    named = named or [i for i in live if i["source_file"] == path.name]
    if not named:
        raise UsageError(
            f"{path.name}: no ingest of this file in the store (see `positioning store info --last 50`)"
        )
    gone: list[dict[str, Any]] = []
    with store.writing(wait, distinct_time=True) as writer:
        for table, sha in sorted({(i["table"], i["sha256"]) for i in named}):
            gone += writer.forget(KIND_TABLE[_kind_of(table)], sha)
    return gone


def _kind_of(table: str) -> str:
    return next(k for k, spec in KIND_TABLE.items() if spec.name == table)


def _digests(files: Sequence[Path]) -> list[str]:
    """SHA-256 of each file's bytes (hashlib releases the GIL: files are hashed side by side).

    Only regular files within the input limit are hashed here, in chunks: a pipe or standard input
    can be read only once, so the parser hashes it as it reads it; an unreadable or oversized file
    gets "" too and is left to the parser, whose error names it.
    """
    from positioning_cli.ingest.text import MAX_INPUT_BYTES, STDIN

    def digest(path: Path) -> str:
        try:
            if str(path) == STDIN or not path.is_file() or path.stat().st_size > MAX_INPUT_BYTES:
                return ""
            h = hashlib.sha256()
            with open(path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            return h.hexdigest()
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
        *LIKE_FOR_LIKE_COUNT_KEYS,
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
        out[idx] = proxy_chain(normalise_symbol(sym))
    return out


def _check_indices(indices: Sequence[str]) -> None:
    for idx in indices:
        if idx not in INDICES:
            raise UsageError(f"--index {idx}: unknown index; expected one of {', '.join(INDICES)}")


@dataclass
class _Frames:
    """One consistent snapshot of the store as pandas frames (dates as datetime64), futures as Arrow."""

    si: Any
    members: Any
    prices: Any
    dates: Any  # sorted settlement dates held
    cot: Any = None  # CFTC TFF rows (Arrow), or None when the store holds none
    coverage: Any = None  # analytics.coverage.Coverage of every short-interest row held
    shares: Any = None  # SEC shares outstanding (Arrow, SHARES_COLUMNS): the index levels' SEC denominators


SI_COLUMNS = [
    "settlement_date",
    "symbol",
    "short_interest",
    "previous_short_interest",  # FINRA restates it on a split report: the split ratio (analytics/splits.py)
    "avg_daily_volume",
    "split_flag",
    "shares_outstanding",
    "float_shares",
]
SHARES_COLUMNS = ["symbol", "period_end", "filed", "shares", "share_classes"]
# Every membership field a read command uses: the stored columns but the format and lineage.
MEMBER_COLUMNS = [n for n in MEMBERS.parsed_schema.names if n != "source_format"]


def _load(store_root: Path, known_at: datetime | None = None) -> _Frames:
    """Read one consistent snapshot; with ``known_at``, the store exactly as it was at that time."""
    import pandas as pd

    from positioning_cli.analytics import coverage
    from positioning_cli.store import Store

    store = Store(store_root)
    listed = None
    counts: list[Any] = []

    def counted(t: Any) -> Any:
        # Every row counts towards its date's coverage (store-wide), before the unlisted go.
        counts.append(coverage.count_rows(t))  # list.append is atomic: the filter runs on threads
        return listed(t) if listed is not None else t

    with store.reading(known_at=known_at) as manifest:
        members_table = store.read("members", MEMBER_COLUMNS, manifest)
        listed = _listed_rows(members_table.column("symbol"))
        si = _si_frame(store.read("short_interest", SI_COLUMNS, manifest, row_filter=counted))
        frames = _reference_frames(store, manifest, members_table)
    if si.empty:
        _no_short_interest(store_root, known_at)
    frames.si = si
    frames.coverage = coverage.Coverage.from_arrow_counts(counts)
    frames.dates = pd.DatetimeIndex(sorted(si["settlement_date"].unique()))
    return split_adjusted(frames)


def split_adjusted(frames: _Frames) -> _Frames:
    """Short interest, membership denominators and prices on one share basis, the latest held
    (analytics/splits.py): every view reads these frames, so no number mixes bases."""
    from positioning_cli.analytics import splits

    found = splits.events(frames.si, frames.prices)
    if found:
        frames.si = splits.restate_si(frames.si, found)
        frames.members = splits.restate_members(frames.members, found)
        frames.prices = splits.restate_prices(frames.prices, found)
        frames.shares = splits.restate_shares(frames.shares, found)
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


def _reference_frames(store: Any, manifest: dict[str, Any], members_table: Any) -> _Frames:
    """Members and prices as pandas, futures as Arrow; no short interest yet."""
    import pandas as pd

    from positioning_cli.metrics import with_sec

    members = members_table.to_pandas()
    members["as_of"] = pd.to_datetime(members["as_of"])
    # SEC denominators travel with the membership into the stock and sector views' join
    # (metrics._joined); index levels take them as an explicit input (_Frames.shares).
    shares = store.read("shares_outstanding", SHARES_COLUMNS, manifest)
    members = with_sec(members, shares.to_pandas() if shares.num_rows else None)
    cot_table = store.read("cot", None, manifest)
    cot = cot_table if cot_table.num_rows else None
    return _Frames(None, members, _prices(store, manifest), None, cot=cot, shares=shares)


def read_prices(
    store: Any,
    manifest: dict[str, Any],
    row_filter: Callable[[Any], Any] | None = None,
    *,
    ranges: bool = True,
    partitions: list[str] | None = None,
) -> Any:
    """Daily prices (Arrow: symbol, date, close, and high, low with ``ranges``) as the read commands
    use them: the quoted close, or the adjusted close on a day only an adjusted-prices file
    (yfinance) gave — the store keeps both as they are, this is the one place they meet."""
    import pyarrow.compute as pc

    extra = ["high", "low"] if ranges else []
    t = store.read(
        "prices",
        ["symbol", "date", "close", "adj_close", *extra],
        manifest,
        row_filter=row_filter,
        partitions=partitions,
    )
    close = pc.coalesce(t.column("close"), t.column("adj_close"))
    return t.set_column(t.schema.get_field_index("close"), "close", close).drop_columns(["adj_close"])


def _prices(store: Any, manifest: dict[str, Any]) -> Any:
    """Daily prices as pandas."""
    import pandas as pd

    prices = read_prices(store, manifest).to_pandas()
    prices["date"] = pd.to_datetime(prices["date"])
    return prices


def _listed_rows(listed: Any) -> Any:
    """Row filter for the SI files: rows of symbols listed in some index membership snapshot, and
    the first row of every settlement date (so the dates held stay complete).

    Every figure the read commands compute joins short interest with membership (index levels,
    sectors, stocks: each date against its own snapshot) and only counts the dates held otherwise;
    a split flag on an unlisted symbol removes nothing from a sum. So the numbers are those of the
    whole table, while a full-market store (~22,000 symbols a date, ~2,600 listed) is read into
    pandas at a fraction of the memory.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from positioning_cli import arrays

    value_set = pc.unique(listed.combine_chunks() if isinstance(listed, pa.ChunkedArray) else listed)

    def keep(t: pa.Table) -> pa.Table:
        if t.num_rows == 0:
            return t
        mask = arrays.flags(pc.is_in(t.column("symbol"), value_set=value_set))
        days = arrays.days(t.column("settlement_date"))
        mask[0] = True
        mask[1:] |= days[1:] != days[:-1]
        return t.filter(arrays.from_numpy(mask))

    return keep


def _pick_date(dates: Any, as_of: date | None, warnings: list[str]) -> Any:
    """The settlement date to report on (datetime64[D]): the latest held, or the latest on or
    before ``as_of``."""
    from positioning_cli.measures import day, iso

    if as_of is None:
        return dates[-1]
    asked = day(as_of)
    eligible = dates[dates <= asked]
    if len(eligible) == 0:
        raise NoDataError(
            f"no short interest on or before {as_of.isoformat()}; the store starts at {iso(dates[0])}"
        )
    d = eligible[-1]
    if d != asked:
        warnings.append(f"{as_of.isoformat()} is not a settlement date held; using {iso(d)}")
    return d


# Two FINRA cycles after a settlement date are at least ~22 days on, and publication adds 7
# sessions: a report held within this many days cannot be two cycles behind (no calendar needed).
_SURELY_CURRENT_DAYS = 28


def _warn_if_behind(newest: date, known_at: datetime | None, warnings: list[str]) -> None:
    """A warning when FINRA has published more than one report after ``newest`` (the newest held)
    by now: the numbers are a cycle or more out of date. Not for a ``--known-at`` replay, which
    shows what the store knew then, on purpose."""
    if known_at is not None:
        return
    from positioning_cli.fetch import calendar as cal  # cheap: the exchange calendar loads lazily

    now = cal.now_et()
    if (now.date() - newest).days < _SURELY_CURRENT_DAYS:
        return  # the common case for a current store, without loading the exchange calendar
    missed = cal.finra_behind(newest, now)
    if len(missed) > 1:
        warnings.append(
            f"the newest short interest held is for {newest.isoformat()}; FINRA has published"
            f" {len(missed)} reports since (latest {missed[-1].isoformat()}): run `positioning update`"
        )


def _scan_date(frames: _Frames, as_of: date | None, warnings: list[str]) -> Any:
    """``_pick_date`` over the loaded frames, as a pandas Timestamp."""
    import pandas as pd

    from positioning_cli.measures import days

    return pd.Timestamp(_pick_date(days(frames.dates), as_of, warnings))


def _index_view(
    store_root: Path, as_of: date | None, known_at: datetime | None, proxy_map: Mapping[str, tuple[str, ...]]
) -> tuple[Any, Any, list[str]]:
    """``(view, report date, warnings)`` for scan and summary: the cached-levels view of the live
    store, or (``--known-at``, or POSITIONING_NO_CACHE set) one computed from the whole table as
    of then. Both feed the same index-row code (indices.py)."""
    import os

    warnings: list[str] = []
    if known_at is None and not os.environ.get("POSITIONING_NO_CACHE"):
        view, d = _cached_index_view(store_root, as_of, proxy_map, warnings)
    else:
        frames = _load(store_root, known_at)
        view = _whole_index_view(frames, proxy_map)
        d = _pick_date(view.dates, as_of, warnings)
    _sparse_warnings(view.coverage, d, warnings)
    return view, d, warnings


def _sparse_warnings(coverage: Any, d: Any, warnings: list[str]) -> None:
    """Say when the report date is sparse, and which earlier sparse dates were left out."""
    if coverage.is_sparse(d):
        warnings.append(coverage.note(d) + "; this report's own percentiles are null")
    before = coverage.left_out(d)
    if before:
        warnings.append(before)


def _whole_index_view(frames: _Frames, proxy_map: Mapping[str, tuple[str, ...]]) -> Any:
    """The index view computed from every short-interest row loaded (pandas joins)."""
    from positioning_cli.indices import IndexView, Prices, SplitTotals
    from positioning_cli.measures import days

    levels = _index_levels(frames.si, frames, proxy_map)
    prices = {}
    for sym in sorted({s for syms in proxy_map.values() for s in syms}):
        sel = frames.prices[frames.prices["symbol"] == sym]
        if len(sel):
            prices[sym] = Prices.of(sym, sel["date"], sel["close"], sel["high"], sel["low"])
    split = SplitTotals.from_frames(_unresolved_as_flag(frames.si), frames.members)
    return IndexView(days(frames.dates), levels, split, prices, frames.cot, frames.coverage)


def _unresolved_as_flag(si: Any) -> Any:
    """SI rows whose ``split_flag`` marks only the splits the model could not resolve: a restated
    total needs no symbol left out (analytics/splits.py)."""
    from positioning_cli.analytics import splits

    return si.assign(split_flag=si[splits.UNRESOLVED]) if splits.UNRESOLVED in si else si


def _kept_split_events(
    store_root: Path, store: Any, manifest: dict[str, Any], listed: Any, files: dict[Any, str]
) -> list[Any]:
    """``_split_events``, kept in STORE/.cache for the inputs and code that found them: finding
    them reads every short-interest file, which a warm scan otherwise does not."""
    from positioning_cli import levels_cache
    from positioning_cli.analytics import splits

    folder = Path(store_root) / levels_cache.CACHE_DIR
    key = splits.events_key(manifest, levels_cache.definitions_digest())
    found = splits.load_events(folder, key)
    if found is None:
        found = _split_events(store, manifest, listed, files)
        splits.save_events(folder, key, found)
    return found


def _split_events(store: Any, manifest: dict[str, Any], listed: Any, files: dict[Any, str]) -> list[Any]:
    """The store's split events (analytics/splits.py) from the flagged symbols' reports and closes,
    without reading the rest of the history."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from positioning_cli import arrays
    from positioning_cli.analytics import splits

    def flagged(t: pa.Table) -> pa.Table:
        return listed(t.filter(arrays.from_numpy(arrays.flags(t.column("split_flag")))))

    # The flags alone first (three narrow columns of every file), then the flagged symbols' rows.
    marks = store.read(
        "short_interest",
        ["settlement_date", "symbol", "split_flag"],
        manifest,
        row_filter=flagged,
        partitions=list(files.values()),
    )
    marks = marks.filter(arrays.from_numpy(arrays.flags(marks.column("split_flag"))))
    if not marks.num_rows:
        return []
    names = pc.unique(marks.column("symbol"))

    def theirs(t: pa.Table) -> pa.Table:
        return t.filter(pc.is_in(t.column("symbol"), value_set=names))

    # Every report of the flagged symbols: each event's previous report is the symbol's own (it may
    # have missed a cycle), so the events equal those of the whole-table view.
    si = _si_frame(store.read("short_interest", SI_COLUMNS, manifest, row_filter=theirs))
    si = si.sort_values(["symbol", "settlement_date"], kind="stable")
    after = si.groupby("symbol", sort=False)["settlement_date"].shift(1)
    flag = si["split_flag"].fillna(False).astype(bool).to_numpy()
    # Closes only of the years a split window touches (price files are yearly partitions).
    ends = [*si["settlement_date"][flag], *after[flag].dropna()]
    years = {f"year={x.year}" for x in ends}
    rels = [rel for rel in manifest["tables"]["prices"]["files"] if rel.split("/")[0] in years]
    prices = read_prices(store, manifest, theirs, ranges=False, partitions=rels).to_pandas()
    return splits.events(si, prices)


def _indices_with_members(listed_indices: Iterable[str]) -> list[str]:
    held = set(listed_indices)
    return [i for i in INDICES if i in held]


def _cached_index_view(
    store_root: Path,
    as_of: date | None,
    proxy_map: Mapping[str, tuple[str, ...]],
    warnings: list[str],
    *,
    every_change: bool = False,
) -> tuple[Any, Any]:
    """``(view, d)`` for the index commands (scan, summary) without reading the whole history.

    Index rows need each index's levels on every date held — from the levels cache
    (levels_cache.py), computed here only for dates whose inputs changed — and short-interest rows
    only on the report date, the report before it and their change bases (for the like-for-like
    changes), plus the split flags inside those windows. So the figures are exactly those of
    the whole-table view, and a warm scan imports no pandas.

    ``every_change``: the view answers the change since the last report on every date held (the
    nowcast's history), so it holds the constituents' rows of every date: a like-for-like change
    compares the same symbols on both dates, which the levels alone cannot tell.
    """
    import numpy as np
    import pyarrow as pa

    from positioning_cli import arrays, levels_cache
    from positioning_cli.analytics import coverage, splits
    from positioning_cli.indices import IndexView, SplitTotals
    from positioning_cli.levels import Levels
    from positioning_cli.measures import previous_date, to_date
    from positioning_cli.store import Store

    store = Store(store_root)
    with store.reading() as manifest:
        members_table = store.read("members", MEMBER_COLUMNS, manifest)
        proxies = {s for syms in proxy_map.values() for s in syms}
        files = {
            levels_cache.partition_date(rel): rel
            for rel, entry in manifest["tables"]["short_interest"]["files"].items()
            if int(entry["rows"])  # a date whose every row was forgotten (store forget) is not held
        }
        if not files:
            _no_short_interest(store_root, None)
        dates = np.array(sorted(files), dtype="datetime64[D]")
        d = _pick_date(dates, as_of, warnings)
        held = coverage.from_manifest(manifest)
        # The report date, the one before (scan's previous rank) and the change bases of both,
        # none of them a sparse date but d (indices._levels_on skips those the same way).
        solid = dates[~held.sparse_at(dates)]
        ends = [d, *solid[solid < d][-1:]]
        needed = set(ends)
        for end in ends:
            for kind in ("last", "ytd", "12m"):
                base = previous_date(dates[held.keep(dates, end)], end, kind)
                if base is not None:
                    needed.add(base)
        listed = _listed_rows(members_table.column("symbol"))

        def flagged(t: pa.Table) -> pa.Table:
            return listed(t.filter(arrays.from_numpy(arrays.flags(t.column("split_flag")))))

        def rel_of(days: Iterable[Any]) -> list[str]:
            return [files[to_date(x)] for x in days]

        columns = ["settlement_date", "symbol", "short_interest", "split_flag"]
        if every_change:  # a like-for-like change on every date needs every date's rows
            si = store.read("short_interest", columns, manifest, row_filter=listed, partitions=rel_of(dates))
        else:
            window = [x for x in dates if min(needed) < x <= d and x not in needed]
            si = pa.concat_tables(
                [
                    store.read(
                        "short_interest", columns, manifest, row_filter=listed, partitions=rel_of(needed)
                    ),
                    store.read(
                        "short_interest", columns, manifest, row_filter=flagged, partitions=rel_of(window)
                    ),
                ]
            )
        # Levels: cached where the inputs are unchanged, the rest computed from their own files.
        # A new split event restates every earlier date (one share basis): it is in each fingerprint.
        events = _kept_split_events(store_root, store, manifest, listed, files)
        si = splits.restate_arrow_si(si, events)  # SplitTotals sums on the levels' basis
        # Only resolved events restate levels (_computed_levels); an unresolved one, as each new
        # split-flagged report brings, must not invalidate every cached date.
        restating = [e for e in events if e.ratio is not None]
        wanted = levels_cache.fingerprints(manifest, proxies, extra=repr(restating))
        levels = levels_cache.load(store_root, wanted)
        with_members = _indices_with_members(members_table.column("index").to_pylist())
        missing = sorted(
            {x for i in with_members for x in dates if i not in levels or levels[i].pos(x) is None}
        )
        if missing:
            fresh = _computed_levels(
                store, manifest, members_table, proxy_map, listed, rel_of(missing), events
            )
            for i in with_members:
                levels[i] = fresh[i] if i not in levels else levels[i].merged(fresh[i])
            levels_cache.save(store_root, levels, wanted)
        prices = _proxy_prices(store, manifest, proxies)
        cot = store.read("cot", None, manifest)
    view = IndexView(
        dates,
        {i: levels.get(i, Levels.empty()) for i in with_members},
        SplitTotals(si, members_table),
        prices,
        cot if cot.num_rows else None,
        held,
    )
    return view, d


def _computed_levels(
    store: Any,
    manifest: dict[str, Any],
    members_table: Any,
    proxy_map: Mapping[str, tuple[str, ...]],
    listed: Any,
    partitions: list[str],
    events: list[Any],
) -> dict[str, Any]:
    """Index levels of the settlement dates in ``partitions``, per index, on the share basis of the
    store's split ``events``. Without a split the engine reads the store's files (those partitions,
    every members, prices and SEC file) itself; with one, the same SQL runs over the frames restated
    by the split model (analytics/splits.py), so no level mixes share bases."""
    from positioning_cli.analytics import engine, splits

    # Only a resolved split restates anything a level sums; an unresolved one (no ratio) changes
    # no level, so the engine then reads the files as they are.
    if any(e.ratio is not None for e in events):
        frames = _reference_frames(store, manifest, members_table)
        si = _si_frame(
            store.read("short_interest", SI_COLUMNS, manifest, row_filter=listed, partitions=partitions)
        )
        si = splits.restate_si(si, events)
        frames.members = splits.restate_members(frames.members, events)
        frames.prices = splits.restate_prices(frames.prices, events)
        frames.shares = splits.restate_shares(frames.shares, events)
        return _index_levels(si, frames, proxy_map)
    proxies = _proxy_symbols(proxy_map)
    return _known_indices(
        _on_store_files(
            store,
            manifest,
            {"short_interest": partitions},
            lambda inputs: engine.index_levels(inputs, proxies),
        )
    )


def _on_store_files(
    store: Any, manifest: dict[str, Any], partitions: Mapping[str, list[str]], call: Callable[[Any], Any]
) -> Any:
    """``call(engine.LevelInputs)`` over the store's live files (each table's ``partitions`` when
    given, else all of them), with a file DuckDB cannot decode reported as the store reports it."""
    import duckdb

    from positioning_cli.analytics import engine

    parts = {t: partitions.get(t) for t in ("short_interest", "members", "prices", "shares_outstanding")}
    try:
        return call(engine.LevelInputs(*(store.data_files(t, manifest, p) for t, p in parts.items())))
    except duckdb.Error as exc:
        # A file the manifest vouches for (size and links checked) that DuckDB cannot decode: the
        # store's own reader names it; else say what DuckDB said, on one line.
        for table, p in parts.items():
            store.read(table, None, manifest, partitions=p)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StoreError(
            f"{store.root}: cannot read the store's data files: {first} (see `positioning store verify`)"
        ) from None


def _index_levels(si: Any, frames: _Frames, proxy_map: Mapping[str, tuple[str, ...]]) -> dict[str, Any]:
    """Each index's levels on the settlement dates of ``si``, from the frames in memory (a
    ``--known-at`` snapshot is rebuilt there; the same SQL as ``_computed_levels``)."""
    from positioning_cli.analytics import engine

    inputs = engine.LevelInputs(si, frames.members, frames.prices, frames.shares)
    return _known_indices(engine.index_levels(inputs, _proxy_symbols(proxy_map)))


def _known_indices(levels: dict[str, Any]) -> dict[str, Any]:
    return {i: levels[i] for i in _indices_with_members(levels)}


def _proxy_symbols(proxy_map: Mapping[str, tuple[str, ...]]) -> set[str]:
    return {s for syms in proxy_map.values() for s in syms}


def _proxy_prices(store: Any, manifest: dict[str, Any], symbols: set[str]) -> dict[str, Any]:
    """The daily prices of the proxy symbols held (only these: a store holding every constituent's
    prices has millions of rows that only index levels need)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from positioning_cli import arrays
    from positioning_cli.indices import Prices

    wanted = arrays.strings(sorted(symbols))

    def row_filter(t: pa.Table) -> pa.Table:
        return t.filter(pc.is_in(t.column("symbol"), value_set=wanted))

    table = read_prices(store, manifest, row_filter)
    out = {}
    for i, sym in enumerate(sorted(symbols)):
        rows = table.filter(pc.equal(table.column("symbol"), wanted[i]))
        if rows.num_rows:
            out[sym] = Prices.of(
                sym,
                arrays.days(rows.column("date")),
                *(arrays.floats(rows.column(c)) for c in ("close", "high", "low")),
            )
    return out


def scan(
    store_root: Path,
    *,
    as_of: date | None = None,
    known_at: datetime | None = None,
    indices: Sequence[str] = INDICES,
    proxies: Mapping[str, str] | None = None,
    trend_bars: str | None = None,
) -> Result:
    """Rank indices by divergence on the latest settlement date on or before ``as_of``.

    Each row also carries ``prev_rank``: its rank computed the same way on the previous report.
    ``trend_bars``: "1d" (the daily closes; the default) or "4h" (the proxy's 4-hour session bars
    from the ``bars`` table, bars.py; an index whose proxy has none keeps the daily trend, with a
    warning); given, the JSON says which under ``trend_bars`` and ``trend_bars_source``.
    """
    from positioning_cli.indices import index_rows, price_context_by_index
    from positioning_cli.measures import iso, to_date

    _check_indices(indices)
    proxy_map = _parse_proxies(proxies)
    view, d, warnings = _index_view(store_root, as_of, known_at, proxy_map)
    if as_of is None:
        _warn_if_behind(to_date(d), known_at, warnings)
    rows = index_rows(view, indices, d, proxy_map, warnings)
    if not rows:
        raise NoDataError(f"no index could be scanned on {iso(d)}: " + "; ".join(warnings))
    prev = view.dates[view.dates < d]
    prev = prev[~view.coverage.sparse_at(prev)]  # the previous report that is not sparse
    prev_ranks = (
        {r["index"]: r["rank"] for r in index_rows(view, indices, prev[-1], proxy_map, [], rank_only=True)}
        if len(prev)
        else {}
    )
    context = price_context_by_index(view, [r["index"] for r in rows], d, proxy_map)
    for r in rows:
        r["prev_rank"] = prev_ranks.get(r["index"])
        r.update(context[r["index"]])
    volume = _short_volume_fields(store_root, as_of, known_at, "index")
    for r in rows:
        r.update(volume.get(r["index"], {}))
    extra: dict[str, Any] = {"short_volume_caveat": _sv_caveat()} if volume else {}
    denominators = _denominator_counts(store_root, to_date(d), [r["index"] for r in rows], known_at)
    if denominators:
        extra["denominators"] = denominators
    if trend_bars is not None:
        extra.update(_trend_bars(store_root, known_at, rows, d, proxy_map, trend_bars, warnings))
    return Result("scan", to_date(d), [_ordered(r) for r in rows], warnings, extra=extra)


def _denominator_counts(
    store_root: Path, d: date, indices: Sequence[str], known_at: datetime | None
) -> dict[str, dict[str, int]]:
    """Per index, where the members with SI on ``d`` got their shares outstanding: the members
    file, the SI file, SEC (and how many of those are quarantined), or none (sql/levels.sql). Only
    when the store holds SEC values (a store without them reads as before)."""
    import pyarrow.compute as pc

    from positioning_cli.analytics import engine
    from positioning_cli.store import Store

    store = Store(store_root)
    with store.reading(known_at=known_at) as manifest:
        if known_at is None:
            held = any(int(e["rows"]) for e in manifest["tables"]["shares_outstanding"]["files"].values())
        else:  # a point-in-time view names no live files: the table as it was tells
            held = store.read("shares_outstanding", ["symbol"], manifest).num_rows > 0
        if not held:
            return {}
        if known_at is None:  # only d's short-interest file; no prices (no close is counted)
            from positioning_cli.levels_cache import partition_date

            files = manifest["tables"]["short_interest"]["files"]
            parts = {"short_interest": [r for r in files if partition_date(r) == d], "prices": []}
            return _on_store_files(
                store, manifest, parts, lambda inputs: engine.denominator_counts(inputs, d, indices)
            )
        # --known-at: the tables as they were, rebuilt in memory, through the same SQL.
        si = store.read(
            "short_interest",
            SI_COLUMNS,
            manifest,
            row_filter=lambda t: t.filter(pc.equal(t.column("settlement_date"), pa_date(d))),
        )
        inputs = engine.LevelInputs(
            si,
            store.read("members", MEMBER_COLUMNS, manifest),
            None,
            store.read("shares_outstanding", SHARES_COLUMNS, manifest),
        )
        return engine.denominator_counts(inputs, d, indices)


def pa_date(d: date) -> Any:
    import pyarrow as pa

    return pa.scalar(d, pa.date32())


def _trend_bars(
    store_root: Path,
    known_at: datetime | None,
    rows: list[dict[str, Any]],
    d: Any,
    proxy_map: Mapping[str, tuple[str, ...]],
    trend_bars: str,
    warnings: list[str],
) -> dict[str, Any]:
    """Replace each row's trend fields by those of its proxy's 4-hour session bars (the first
    symbol of the proxy chain with bars; its shortest interval held). Returns the JSON keys."""
    from positioning_cli.bars import TREND_BARS

    if trend_bars not in TREND_BARS:
        raise UsageError(f"--trend-bars {trend_bars!r}: expected one of {', '.join(TREND_BARS)}")
    if trend_bars == "1d":
        return {"trend_bars": "1d"}
    import numpy as np
    import pyarrow.compute as pc

    from positioning_cli import arrays
    from positioning_cli import bars as b
    from positioning_cli.fetch.calendar import early_closes
    from positioning_cli.indices import Prices, trend_fields
    from positioning_cli.measures import iso
    from positioning_cli.store import Store

    wanted = sorted({s for r in rows for s in proxy_map[r["index"]]})
    store = Store(store_root)
    with store.reading(known_at=known_at) as manifest:
        table = store.read(
            "bars",
            ["symbol", "interval", "ts", "high", "low", "close", "open", "volume"],
            manifest,
            row_filter=lambda t: t.filter(pc.is_in(t.column("symbol"), value_set=arrays.strings(wanted))),
        )
    held: dict[str, list[str]] = {}
    pairs = zip(table.column("symbol").to_pylist(), table.column("interval").to_pylist(), strict=True)
    for sym, interval in set(pairs):
        held.setdefault(sym, []).append(interval)
    source: dict[str, Any] = {}
    for r in rows:
        idx = r["index"]
        sym = next((s for s in proxy_map[idx] if s in held), None)
        if sym is None:
            source[idx] = None
            warnings.append(
                f"{idx}: no intraday bars for {' or '.join(proxy_map[idx])}; trend from daily closes"
                f" (`positioning ingest bars FILE --symbol {proxy_map[idx][0]}`)"
            )
            continue
        minutes = min(b.interval_minutes(i) for i in held[sym])
        rows_of = table.filter(
            pc.and_(
                pc.equal(table.column("symbol"), sym),
                pc.equal(table.column("interval"), b.interval_name(minutes)),
            )
        )
        col = {c: arrays.floats(rows_of.column(c)) for c in ("open", "high", "low", "close", "volume")}
        ts = rows_of.column("ts").cast("int64").to_numpy().view("datetime64[us]")
        try:
            four = b.session_bars(b.Bars(ts, **col), minutes, early_closes=early_closes())
        except ValueError as exc:  # bars that do not fit the grid: as if there were none
            source[idx] = None
            warnings.append(f"{idx}: {sym} {b.interval_name(minutes)} bars: {exc}; trend from daily closes")
            continue
        upto = four.ts[four.ts < (np.datetime64(iso(d)) + np.timedelta64(1, "D")).astype("datetime64[us]")]
        if not len(upto):
            source[idx] = None
            warnings.append(f"{idx}: no {sym} bars on or before {iso(d)}; trend from daily closes")
            continue
        r.update(trend_fields(Prices(sym, four.ts, four.close, four.high, four.low), d))
        source[idx] = {
            "symbol": sym,
            "interval": b.interval_name(minutes),
            "bars_4h": int(len(upto)),
            "last_bar": str(upto[-1].astype("datetime64[s]")) + "Z",
        }
    return {"trend_bars": trend_bars, "trend_bars_source": source}


def _sv_caveat() -> str:
    from positioning_cli.analytics.short_volume import CAVEAT

    return CAVEAT


def _short_volume_fields(
    store_root: Path, as_of: date | None, known_at: datetime | None, kind: str
) -> dict[str, dict[str, Any]]:
    """The short-volume column group per index (or per symbol), on the newest day held on or before
    ``as_of`` (or the newest held): the flow since the last report. Empty when none is held."""
    from positioning_cli.analytics import short_volume as sv
    from positioning_cli.store import Store

    store = Store(store_root)
    with store.reading(known_at=known_at) as manifest:
        volume, members, newest = sv.read_store(store, manifest, as_of)
    if newest is None:
        return {}
    return {
        s.key: {
            "sv_date": s.date,
            "sv_ratio": s.ratio,
            "sv_ratio_avg_5d": s.avg_5d,
            "sv_ratio_avg_20d": s.avg_20d,
            "sv_ratio_pct_1y": s.pct_1y,
            "sv_ratio_pct_1y_obs": s.pct_1y_obs,
            "sv_ratio_pct_1y_complete": s.pct_1y_complete,
            "sv_ratio_z_1y": s.z_1y,
            "sv_members_with_volume": s.members_with_volume,
        }
        for s in sv.stats(volume, members, newest, kind=kind)
    }


def _has_members(frames: _Frames, idx: str, warnings: list[str]) -> bool:
    if frames.members.empty or not (frames.members["index"] == idx).any():
        warnings.append(
            f"{idx}: no membership in the store; run `positioning ingest members FILE --index {idx}`"
        )
        return False
    return True


SCAN_KEYS = (
    "rank",
    "prev_rank",
    "index",
    "settlement_date",
    "membership_as_of",
    "membership_look_ahead",
    "sparse_date",
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
    "si_change_basis",
    "si_level_basis",
    *LIKE_FOR_LIKE_COUNT_KEYS,
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
    *PRICE_CONTEXT_KEYS,
    "quadrant",
    "quadrant_key",
    "divergence_score",
    "score_missing",
    "trend_label",
    "ema_stack",
    "bollinger_pct_b",
    "keltner_pos",
    *FUTURES_KEYS,
    *SHORT_VOLUME_KEYS,
)


def _ordered(row: dict[str, Any]) -> dict[str, Any]:
    return _shape(row, SCAN_KEYS)


# ------------------------------------------------------------------------ summary / history
# index level columns (sql/levels.sql) a user can ask history for, with how to read them
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
    "change_basis",
    "membership_as_of",
    "membership_look_ahead",
    "sparse_date",
    "explain",
)
HISTORY_KEYS = (
    "index",
    "metric",
    "settlement_date",
    "value",
    "members_with_si",
    "membership_as_of",
    "membership_look_ahead",
    "sparse_date",
)


def _iso(ts: Any) -> str | None:
    return None if ts is None else ts.date().isoformat()


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
    from positioning_cli.indices import price_context_by_index, price_context_sentence, summary_rows
    from positioning_cli.measures import iso, to_date

    _check_indices(indices)
    proxy_map = _parse_proxies(proxies)
    view, d, warnings = _index_view(store_root, as_of, known_at, proxy_map)
    if as_of is None:
        _warn_if_behind(to_date(d), known_at, warnings)
    rows, text, sparks = summary_rows(view, indices, d, proxy_map, warnings, explain)
    if not rows:
        raise NoDataError(f"no index could be summarised on {iso(d)}: " + "; ".join(warnings))
    context = price_context_by_index(view, list(text), d, proxy_map)
    for idx, sentences in text.items():
        symbol = next((r["symbol"] for r in rows if r["index"] == idx and r["symbol"]), None)
        said = price_context_sentence(symbol, context[idx]) if symbol else None
        if said:
            sentences.append(said)
    volume = _short_volume_fields(store_root, as_of, known_at, "index")
    for idx, fields in volume.items():
        if idx in text and fields["sv_ratio"] is not None:
            text[idx].append(short_volume_sentence(idx, fields))
    extra: dict[str, Any] = {"text": text, "sparklines": sparks, "price_context": context}
    if volume:
        extra["short_volume_caveat"] = _sv_caveat()
    return Result("summary", to_date(d), [_shape(r, SUMMARY_KEYS) for r in rows], warnings, extra=extra)


FLOWS_KEYS = (
    "index",
    "date",
    "proxy_symbol",
    "index_return",
    "letf_rebalance_usd",
    "letf_funds",
    "constituents_adv_usd",
    "members_with_dollar_volume",
    "letf_rebalance_pct_adv",
    "short_interest_usd",
    "covering_days",
    "sv_ratio",
)
FLOWS_METHOD = (
    "letf_rebalance_usd: sum over the index's leveraged ETFs of A*L*(L-1)*r/(1+L*r), A = net assets at the "
    "day's close (reported, else the previous session's times 1+L*r), L = leverage, r = the proxy's return (positive = buying at the close, after up days "
    "for bull and bear funds alike); constituents_adv_usd: sum of the constituents' mean close*volume "
    "over 20 sessions; covering_days: sum of short interest (latest settlement on or before the day) "
    "x close over the same constituents' ADV$"
)


def flows(
    store_root: Path,
    *,
    indices: Sequence[str] = INDICES,
    days: int = 20,
    as_of: date | None = None,
    known_at: datetime | None = None,
    proxies: Mapping[str, str] | None = None,
) -> Result:
    """Per index and session: return, leveraged-ETF rebalance, its share of dollar volume, and the
    short-sale volume ratio, for the last ``days`` sessions of the index proxy (on or before as_of)."""
    import pyarrow.compute as pc

    from positioning_cli import arrays
    from positioning_cli.analytics import flows as fl
    from positioning_cli.analytics import short_volume as sv
    from positioning_cli.store import Store

    _check_indices(indices)
    if days < 1:
        raise UsageError(f"--days must be at least 1, got {days}")
    proxy_map = _parse_proxies(proxies)
    store = Store(store_root)
    with store.reading(known_at=known_at) as manifest:
        prices = store.read("prices", ["symbol", "date", "close", "volume"], manifest)
        funds = store.read("funds", ["fund", "date", "aum", "leverage", "index"], manifest)
        volume, members, _ = sv.read_store(store, manifest, as_of, days_wanted=2 * days + 10)
        short_interest = store.read(
            "short_interest", ["settlement_date", "symbol", "short_interest"], manifest
        )
    if as_of is not None:
        prices = prices.filter(pc.less_equal(prices.column("date"), sv.pa_date(as_of)))
    warnings: list[str] = []
    closes: dict[str, tuple[str, list[date], list[float]]] = {}
    for idx in indices:
        for symbol in proxy_map[idx]:
            # the symbol as an Arrow scalar: a Python str here makes pyarrow import pandas (arrays.py)
            rows = prices.filter(pc.equal(prices.column("symbol"), arrays.strings([symbol])[0])).sort_by(
                "date"
            )
            if rows.num_rows >= 2:
                tail = rows.slice(max(rows.num_rows - days - 1, 0))
                closes[idx] = (symbol, tail.column("date").to_pylist(), tail.column("close").to_pylist())
                break
        else:
            warnings.append(f"{idx}: no prices for its proxy ({', '.join(proxy_map[idx])}); no flows")
    if not closes:
        raise NoDataError(
            f"{store_root}: no index proxy prices held; run `positioning ingest prices FILE...`"
        )
    if funds.num_rows == 0:
        warnings.append("no leveraged-ETF assets held; run `positioning ingest funds FILE` for the rebalance")
    out = fl.flow_days(closes, prices, members, funds, volume, short_interest)
    rows = [_shape({**vars(r)}, FLOWS_KEYS) for r in out]
    last = max(r.date for r in out) if out else None
    extra = {"method": FLOWS_METHOD, "short_volume_caveat": _sv_caveat()}
    return Result("flows", last, rows, warnings, extra=extra)


def short_volume_sentence(idx: str, fields: Mapping[str, Any]) -> str:
    """One sentence from a row's short-volume column group, every number taken from it."""

    def pct(x: float | None) -> str:
        return "–" if x is None else f"{100 * x:.1f}%"

    parts = [f"5-day average {pct(fields['sv_ratio_avg_5d'])}", f"20-day {pct(fields['sv_ratio_avg_20d'])}"]
    if fields["sv_ratio_pct_1y"] is not None:
        mark = "" if fields["sv_ratio_pct_1y_complete"] else f" of {fields['sv_ratio_pct_1y_obs']} days held"
        parts.append(f"1Y percentile {fields['sv_ratio_pct_1y']:.0f}{mark}")
    if fields["sv_ratio_z_1y"] is not None:
        parts.append(f"z {fields['sv_ratio_z_1y']:+.1f}")
    return (
        f"{idx} short-sale volume was {pct(fields['sv_ratio'])} of volume on {fields['sv_date'].isoformat()} "
        f"({', '.join(parts)}): a daily flow, not short interest."
    )


def history(
    store_root: Path,
    *,
    index: str,
    metric: str = "total_si_shares",
    as_of: date | None = None,
    known_at: datetime | None = None,
    since: date | None = None,
    last: int | None = None,
) -> Result:
    """The series behind the percentiles: one row per settlement date held, up to ``as_of``.

    ``since`` keeps the reports on or after that date, then ``last`` the newest N of those.
    """
    from positioning_cli.measures import iso

    _check_indices([index])
    if metric not in LEVEL_METRICS:
        raise UsageError(f"--metric {metric!r}: expected one of {', '.join(LEVEL_METRICS)}")
    if last is not None and last < 1:
        raise UsageError(f"--last {last}: expected a number of reports, 1 or more")
    frames = _load(store_root, known_at)
    warnings: list[str] = []
    d = _scan_date(frames, as_of, warnings)
    frames.si = frames.si[frames.si["settlement_date"] <= d]
    if not _has_members(frames, index, warnings):
        raise NoDataError("; ".join(warnings))
    levels = _index_levels(frames.si, frames, DEFAULT_PROXIES)[index]
    rows = [
        {
            "index": index,
            "metric": metric,
            "settlement_date": iso(day),
            "value": _none_if_nan(float(value)),
            "members_with_si": int(with_si),
            "membership_as_of": iso(as_of),
            "membership_look_ahead": bool(ahead),
            "sparse_date": frames.coverage.is_sparse(day),
        }
        for day, value, with_si, as_of, ahead in zip(
            levels.days,
            levels[metric],
            levels["members_with_si"],
            levels["membership_as_of"],
            levels["before_first_snapshot"],
            strict=True,
        )
    ]
    if since is not None:
        rows = [r for r in rows if r["settlement_date"] >= since.isoformat()]
        if not rows:
            raise NoDataError(
                f"{index}: no report on or after {since.isoformat()} (the newest is {d.date()})"
            )
    if last is not None:
        rows = rows[-last:]
    warnings += [frames.coverage.note(r["settlement_date"]) for r in rows if r["sparse_date"]]
    ahead = [r["settlement_date"] for r in rows if r["membership_look_ahead"]]
    if ahead:
        warnings.append(
            f"{index}: {len(ahead)} report(s) from {ahead[0]} to {ahead[-1]} precede the first membership "
            f"snapshot; they use the list as of {rows[0]['membership_as_of']} (membership_look_ahead)"
        )
    return Result("history", d.date(), rows, warnings, extra={"metric_definition": LEVEL_METRICS[metric]})


# ------------------------------------------------------------------------ nowcast

NOWCAST_KEYS = (
    "index",
    "last_settlement_date",
    "target_settlement_date",
    "inputs_through",
    "sessions_observed",
    "sessions_in_interval",
    "total_si_shares",
    "estimate",
    "band_low",
    "band_high",
    "model_estimate",
    "has_skill",
    "verdict",
    "test_intervals",
    "fit_intervals",
    "mae_model",
    "mae_naive",
    "skill",
    "skill_t",
    "hit_rate",
    "up_share",
    "inputs",
    "left_out",
    "coef_intercept",
    "coef_proxy_return",
    "coef_prev_si_change",
    "coef_sv_flow",
    "x_proxy_return",
    "x_prev_si_change",
    "x_sv_flow",
    "proxy_symbol",
)
NOWCAST_INPUTS = ("proxy_return", "prev_si_change", "sv_flow")


def _nowcast_method() -> str:
    from positioning_cli.analytics import nowcast as nc

    return (
        "target: the % change of total SI shares from one settlement date to the next (scan's "
        "si_change_last, like for like); inputs over the same interval: the proxy's return, the previous report's change, "
        "the short-sale volume ratio's mean over the interval less its 20-day average at its start; an input "
        f"enters when held on {nc.MIN_INPUT_INTERVALS} intervals ({nc.N_TRAIN} to fit, {nc.MIN_TESTS} to test); "
        "OLS with an intercept; walk-forward "
        f"backtest: each interval from the {nc.N_TRAIN + 1}th predicted from a fit on the ones before; "
        "skill = 1 - MAE(model) / MAE(no change), counted when the mean of |no-change error| - |model error| "
        f"has t > {nc.SKILL_T}; the estimate is the model's with skill, else 0; band: "
        f"the estimate plus the {50 - 50 * nc.BAND_LEVEL:.0f}th to {50 + 50 * nc.BAND_LEVEL:.0f}th percentile "
        "of the out-of-sample errors of the forecast given"
    )


def _index_ratios(
    store_root: Path, as_of: date | None, known_at: datetime | None, first: date
) -> dict[str, list[Any]]:
    """Each index's daily short-sale volume ratio with its 20-day average (sql/short_volume.sql),
    on every day held from ``first`` (and up to ``as_of``)."""
    from positioning_cli.analytics import short_volume as sv
    from positioning_cli.store import Store

    store = Store(store_root)
    with store.reading(known_at=known_at) as manifest:
        span = ((as_of or date.today()) - first).days + 40
        volume, members, newest = sv.read_store(store, manifest, as_of, days_wanted=max(span, 1))
    if newest is None:
        return {}
    out: dict[str, list[Any]] = {}
    for r in sv.series(volume, members, first, newest, kind="index"):
        out.setdefault(r.key, []).append(r)
    return out


def nowcast(
    store_root: Path,
    *,
    indices: Sequence[str] = INDICES,
    as_of: date | None = None,
    known_at: datetime | None = None,
    proxies: Mapping[str, str] | None = None,
) -> Result:
    """The expected change of each index's total short interest on the next settlement date after
    the newest held (on or before ``as_of``), with the walk-forward backtest that judges it
    (analytics/nowcast.py). ``as_of`` makes the nowcast from the data up to that day only."""
    import os

    from positioning_cli.analytics import nowcast as nc
    from positioning_cli.fetch import calendar as cal
    from positioning_cli.indices import no_members, nowcast_series
    from positioning_cli.measures import iso, to_date

    _check_indices(indices)
    proxy_map = _parse_proxies(proxies)
    warnings: list[str] = []
    if known_at is None and not os.environ.get("POSITIONING_NO_CACHE"):
        view, _ = _cached_index_view(store_root, None, proxy_map, [], every_change=True)
    else:
        view = _whole_index_view(_load(store_root, known_at), proxy_map)
    # The newest settlement on or before as_of; not being a settlement date is the point of --as-of.
    d = _pick_date(view.dates, as_of, [])
    ratios = _index_ratios(store_root, as_of, known_at, to_date(view.dates[0]))
    rows = []
    for idx in indices:
        if idx not in view.levels:
            warnings.append(no_members(idx))
            continue
        if len(view.levels[idx].upto(d)) < 2:
            warnings.append(f"{idx}: fewer than two reports on or before {iso(d)}; nothing to model")
            continue
        series = nowcast_series(view, idx, d, proxy_map[idx], ratios.get(idx, []), as_of)
        result = nc.nowcast(series.target, series.inputs)
        last = to_date(series.dates[-1])
        through = to_date(series.through) if series.through is not None else None
        observed = len(cal.sessions_between(last + timedelta(days=1), through)) if through else 0
        in_interval = len(cal.sessions_between(last + timedelta(days=1), series.next_date))
        if observed < in_interval:
            warnings.append(
                f"{idx}: the inputs cover {observed} of the {in_interval} sessions to "
                f"{series.next_date.isoformat()}; the estimate moves as the interval fills"
            )
        bt = result.backtest
        row: dict[str, Any] = {
            "index": idx,
            "last_settlement_date": last.isoformat(),
            "target_settlement_date": series.next_date.isoformat(),
            "inputs_through": through.isoformat() if through else None,
            "sessions_observed": observed,
            "sessions_in_interval": in_interval,
            "total_si_shares": int(view.levels[idx].upto(d).floats("total_si_shares")[-1]),
            "estimate": result.estimate,
            "band_low": result.band[0] if result.band else None,
            "band_high": result.band[1] if result.band else None,
            "model_estimate": result.model_estimate,
            "has_skill": nc.has_skill(bt) and result.estimate is not None,
            "verdict": result.verdict,
            "test_intervals": bt.test_intervals,
            "fit_intervals": result.fit_intervals,
            "mae_model": bt.mae_model,
            "mae_naive": bt.mae_naive,
            "skill": bt.skill,
            "skill_t": bt.edge_t,
            "hit_rate": bt.hit_rate,
            "up_share": bt.up_share,
            "inputs": ",".join(result.inputs),
            "left_out": "; ".join(result.left_out),
            "coef_intercept": result.coefficients.get("intercept"),
            "proxy_symbol": series.proxy_symbol,
        }
        now = {c.name: c.now for c in series.inputs}
        for name in NOWCAST_INPUTS:
            row[f"coef_{name}"] = result.coefficients.get(name)
            row[f"x_{name}"] = now[name]  # observed, used or not
        rows.append(_shape(row, NOWCAST_KEYS))
    if not rows:
        raise NoDataError(f"no index could be nowcast from {iso(d)}: " + "; ".join(warnings))
    extra = {
        "band_level": nc.BAND_LEVEL,
        "method": _nowcast_method(),
        "short_volume_caveat": _sv_caveat(),
    }
    return Result("nowcast", to_date(d), rows, warnings, extra=extra)


# ------------------------------------------------------------------------ futures (CFTC TFF)


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
    import pyarrow.compute as pc

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
        table = store.read("cot", None, manifest)
    if table.num_rows == 0:
        raise NoDataError(
            f"{store_root}: the store holds no CFTC reports; run `positioning ingest cot FILE...`"
        )
    d: date = as_of if as_of else pc.max(table.column("report_date")).as_py()
    if isinstance(d, datetime):
        d = d.date()
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
                warnings.append(f"{name}: no report on or before {d}")
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
    if as_of is None:
        _warn_if_behind(d.date(), known_at, warnings)
    prev = frames.dates[frames.dates < d]
    # The previous rank is of the previous report that is not sparse (as a change's base is).
    prev = prev[~frames.coverage.sparse_at(prev)]
    si = frames.si[frames.si["settlement_date"] <= d]
    _membership_warnings(frames, indices, d, warnings)
    _sparse_warnings(frames.coverage, d, warnings)
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
    symbols: Sequence[str] | None = None,
    sort: str | None = None,
) -> Result:
    """Rank the constituents by divergence; excluded stocks are counted and, on request, listed.

    ``symbols`` keeps those stocks only (their rank stays the rank among all); ``sort`` orders the
    rows by another key (``sort_rows``) before ``top`` applies.
    """
    from positioning_cli import stocks
    from positioning_cli.indices import Prices, trend_fields

    frames, si, d, prev_d, warnings = _ranking_context(store_root, as_of, known_at, indices)
    table, excluded = stocks.stock_table(
        si,
        frames.members,
        frames.prices,
        _universe(indices),
        d,
        _gates(gates),
        prev_d,
        sparse=frames.coverage.sparse_days(),
    )
    rows = [r for r in stocks.to_records(table) if _in_indices(r, indices)]
    excl = [r for r in stocks.to_records(excluded) if _in_indices(r, indices)]
    if not rows and not excl:
        raise NoDataError(f"no constituent of {', '.join(indices)} has short interest on {d.date()}")
    n_ranked = len(rows)
    if symbols:
        rows = _only_symbols(rows, excl, symbols, d, warnings)
    if sort:
        rows = sort_rows(rows, sort, stocks.STOCK_TABLE_COLUMNS)
    shown = rows if top <= 0 else rows[:top]
    by_symbol = frames.prices.groupby("symbol")
    for r in shown:
        px = None
        if r["symbol"] in by_symbol.groups:
            g = by_symbol.get_group(r["symbol"])
            px = Prices.of(r["symbol"], g["date"], g["close"], g["high"], g["low"])
        r["trend_label"] = trend_fields(px, d)["trend_label"]
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
        "ranked": n_ranked,
        "excluded": {"count": n_excluded, "by_gate": by_gate, "rows": excl if show_excluded else []},
    }
    volume = _short_volume_fields(store_root, as_of, known_at, "stock")
    for r in shown:
        r.update(volume.get(r["symbol"], {}))
    if volume:
        extra["short_volume_caveat"] = _sv_caveat()
    keyed = [_shape(r, stock_keys()) for r in shown]
    return Result("scan", d.date(), keyed, warnings, extra=extra)


def _only_symbols(
    rows: list[dict[str, Any]],
    excl: list[dict[str, Any]],
    symbols: Sequence[str],
    d: Any,
    warnings: list[str],
) -> list[dict[str, Any]]:
    """The ranked rows of ``symbols`` (any class spelling); a warning for each one not ranked."""
    from positioning_cli.symbols import normalise_symbol

    wanted = list(dict.fromkeys(s for s in (normalise_symbol(x) for x in symbols) if s))
    ranked = {r["symbol"] for r in rows}
    why: dict[str, str] = {}
    for r in excl:
        why.setdefault(r["symbol"], r["reason"])
    for sym in wanted:
        if sym not in ranked:
            reason = why.get(sym, "not a constituent with short interest")
            warnings.append(f"{sym}: not ranked on {d.date()}: {reason}")
    keep = set(wanted)
    return [r for r in rows if r["symbol"] in keep]


def sort_rows(rows: list[dict[str, Any]], spec: str, keys: Sequence[str]) -> list[dict[str, Any]]:
    """Rows ordered by ``KEY``, ``KEY:desc`` or ``KEY:asc``: numbers largest first and text A to Z
    unless told, rows without a value last, ties in their previous order (the rank)."""
    key, _, direction = spec.partition(":")
    key, direction = key.strip(), direction.strip().lower()
    if key not in keys:
        raise UsageError(f"--sort {spec!r}: unknown key; one of {', '.join(keys)}")
    if direction not in ("", "asc", "desc"):
        raise UsageError(f"--sort {spec!r}: expected KEY, KEY:asc or KEY:desc")
    present = [r for r in rows if r.get(key) is not None]
    missing = [r for r in rows if r.get(key) is None]
    text = any(isinstance(r[key], str) for r in present)
    descending = direction == "desc" or (direction == "" and not text)
    present.sort(key=lambda r: r[key], reverse=descending)  # stable: ties keep the rank order
    return present + missing


def scan_sectors(
    store_root: Path,
    *,
    as_of: date | None = None,
    known_at: datetime | None = None,
    indices: Sequence[str] = INDICES,
    gates: Any = None,
) -> Result:
    """Per GICS sector of each index: coverage, median SI %, changes and percentiles, ranked by SI
    percentile within its index (a sector of RUT is never ranked against one of SPX: their
    constituents, sizes and levels differ). Rows come index by index, in the order asked."""
    from positioning_cli import stocks
    from positioning_cli.indices import no_members

    frames, si, d, prev_d, warnings = _ranking_context(store_root, as_of, known_at, indices)
    held = set(frames.members["index"])
    rows = []
    for idx in indices:
        if idx not in held:
            warnings.append(no_members(idx))
            continue
        table = stocks.sector_table(
            si,
            frames.members,
            frames.prices,
            idx,
            d,
            _gates(gates),
            prev_d,
            sparse=frames.coverage.sparse_days(),
        )
        rows += [_shape(r, sector_keys()) for r in stocks.to_records(table)]
    if not rows:
        raise NoDataError(f"no sector of {', '.join(indices)} has short interest on {d.date()}")
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

    return (*STOCK_TABLE_COLUMNS, "trend_label", *SHORT_VOLUME_KEYS)


def sector_keys() -> tuple[str, ...]:
    from positioning_cli.stocks import SECTOR_TABLE_COLUMNS

    return tuple(SECTOR_TABLE_COLUMNS)


def resolve_as_of(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--as-of {text!r}: expected a date as YYYY-MM-DD") from None


def resolve_known_at(text: str | None) -> datetime | None:
    """``--known-at``: an ISO date (its end, UTC) or date-time (UTC unless it carries an offset).

    A date means the end of that day however it is written (``2026-12-01`` or ``20261201``): one
    day, one instant. Only a time of day written out (``T``...) means an earlier instant.
    """
    if text is None:
        return None
    try:
        with contextlib.suppress(ValueError):
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
    return Result("store verify", None, rows, [str(n) for n in result.notes], extra=extra)


def _store_exists(store_root: Path) -> bool:
    from positioning_cli.errors import StoreError
    from positioning_cli.store import Store

    try:
        return Store(store_root).exists()
    except StoreError:  # a manifest that is not a regular file: verify reports it
        return True


# ------------------------------------------------------------------------ doctor
def doctor(store_root: Path) -> Result:
    """``doctor.run`` as a read-command result: one row per check (``doctor.KEYS``), the overall
    status and counts in the envelope. NoDataError when there is no store or it holds no rows."""
    from positioning_cli import doctor as dr

    report = dr.run(store_root)
    extra = {
        "store": report.root,
        "now": report.now.isoformat(timespec="minutes"),
        "newest_settlement": report.newest_settlement.isoformat() if report.newest_settlement else None,
        "status": report.status,
        "counts": {s: report.count(s) for s in dr.STATUSES},
    }
    return Result("doctor", report.newest_settlement, [c.as_row() for c in report.checks], [], extra=extra)
