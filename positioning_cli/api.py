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
from datetime import date
from pathlib import Path
from typing import Any

from positioning_cli.errors import NoDataError, UsageError
from positioning_cli.schema import INDICES, MEMBERS, PRICES, SHORT_INTEREST, TableSpec

KIND_TABLE: dict[str, TableSpec] = {
    "short-interest": SHORT_INTEREST,
    "prices": PRICES,
    "members": MEMBERS,
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


def ingest(
    kind: str,
    paths: Iterable[Path],
    store_root: Path,
    options: Any = None,
    *,
    wait: float = 30.0,
    progress: ProgressFn | None = None,
) -> list[FileReport]:
    """Parse every file first, then merge them all in one atomic commit.

    Any bad file raises before the store is touched, so a failed run leaves it byte for byte as it
    was; re-running the same files is a no-op.
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
    batches: list[tuple[SourceBatch, tuple[str, ...]]] = []
    for i, path in enumerate(files):
        if progress:
            progress(f"parsing {path.name}", i, len(files))
        parsed = parse_file(kind, path, opts)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        batch = SourceBatch(parsed.table, path.name, digest, parsed.format)
        batches.append((batch, parsed.warnings))
    if progress:
        progress("committing", len(files), len(files))
    reports: list[FileReport] = []
    store = Store(store_root)
    with store.writing(wait) as writer:
        for batch, warnings in batches:
            r = writer.merge(spec, batch)
            reports.append(
                FileReport(
                    str(batch.source_file),
                    batch.format,
                    r.rows,
                    r.changed,
                    r.skipped,
                    r.first_date,
                    r.last_date,
                    warnings,
                )
            )
    return reports


# ------------------------------------------------------------------------ scan
@dataclass(frozen=True)
class ScanResult:
    command: str
    as_of: date
    rows: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)


def _none_if_nan(x: Any) -> Any:
    if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
        return None
    return x


def _parse_proxies(proxies: Mapping[str, str] | None) -> dict[str, tuple[str, ...]]:
    from positioning_cli.symbols import normalise_symbol

    out = dict(DEFAULT_PROXIES)
    for idx, sym in (proxies or {}).items():
        if idx not in INDICES:
            raise UsageError(f"--proxy {idx}={sym}: unknown index; expected one of {', '.join(INDICES)}")
        out[idx] = (normalise_symbol(sym),)
    return out


def scan(
    store_root: Path,
    *,
    as_of: date | None = None,
    indices: Sequence[str] = INDICES,
    proxies: Mapping[str, str] | None = None,
) -> ScanResult:
    """Rank indices by divergence on the latest settlement date on or before ``as_of``."""
    import pandas as pd

    from positioning_cli import metrics as m
    from positioning_cli.store import Store

    for idx in indices:
        if idx not in INDICES:
            raise UsageError(f"--index {idx}: unknown index; expected one of {', '.join(INDICES)}")
    proxy_map = _parse_proxies(proxies)
    store = Store(store_root)
    with store.reading() as manifest:
        si = store.read(
            "short_interest",
            [
                "settlement_date",
                "symbol",
                "short_interest",
                "avg_daily_volume",
                "split_flag",
                "shares_outstanding",
                "float_shares",
            ],
            manifest,
        ).to_pandas()
        members = store.read(
            "members",
            ["index", "as_of", "symbol", "name", "sector", "shares_outstanding", "float_shares", "weight"],
            manifest,
        ).to_pandas()
        prices = store.read("prices", ["symbol", "date", "close"], manifest).to_pandas()

    if si.empty:
        raise NoDataError(
            f"{store_root}: the store holds no short interest; run `positioning ingest short-interest FILE...`"
        )
    for frame, col in ((si, "settlement_date"), (members, "as_of"), (prices, "date")):
        frame[col] = pd.to_datetime(frame[col])
    dates = pd.DatetimeIndex(sorted(si["settlement_date"].unique()))
    warnings: list[str] = []
    if as_of is None:
        d = dates[-1]
    else:
        eligible = dates[dates <= pd.Timestamp(as_of)]
        if len(eligible) == 0:
            raise NoDataError(
                f"no short interest on or before {as_of.isoformat()}; the store starts at {dates[0].date()}"
            )
        d = eligible[-1]
        if d != pd.Timestamp(as_of):
            warnings.append(f"{as_of.isoformat()} is not a settlement date held; using {d.date()}")
    si = si[si["settlement_date"] <= d]  # point in time: nothing after the scan date

    proxy_symbols = {s for syms in proxy_map.values() for s in syms}
    stock_closes = prices[~prices["symbol"].isin(proxy_symbols)]
    rows: list[dict[str, Any]] = []
    for idx in indices:
        if members.empty or not (members["index"] == idx).any():
            warnings.append(
                f"{idx}: no membership in the store; run `positioning ingest members FILE --index {idx}`"
            )
            continue
        row = _index_row(m, si, members, stock_closes, prices, idx, d, proxy_map[idx], warnings)
        if row is not None:
            rows.append(row)
    if not rows:
        raise NoDataError(f"no index could be scanned on {d.date()}: " + "; ".join(warnings))
    rows.sort(key=lambda r: (r["divergence_score"] is None, -(r["divergence_score"] or 0.0), r["index"]))
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    return ScanResult("scan", d.date(), [_ordered(r) for r in rows], warnings)


SCAN_KEYS = (
    "rank",
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
)


def _ordered(row: dict[str, Any]) -> dict[str, Any]:
    return {k: _none_if_nan(row.get(k)) for k in SCAN_KEYS}


def _index_row(
    m: Any,
    si: Any,
    members: Any,
    stock_closes: Any,
    prices: Any,
    idx: str,
    d: Any,
    proxy_candidates: tuple[str, ...],
    warnings: list[str],
) -> dict[str, Any] | None:
    import pandas as pd

    levels = m.index_levels(si, members, stock_closes if not stock_closes.empty else None, idx)
    if d not in levels.index:
        warnings.append(f"{idx}: no constituent has short interest on {d.date()}")
        return None
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

    closes = None
    for sym in proxy_candidates:
        sel = prices[prices["symbol"] == sym]
        if not sel.empty:
            closes = sel.set_index("date")["close"].sort_index()
            row["price_symbol"] = sym
            break
    if closes is None:
        warnings.append(
            f"{idx}: no price series for {' or '.join(proxy_candidates)}; run `positioning ingest prices FILE`"
        )
        row["price_symbol"] = None
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
    quad = m.quadrant(_nan(row["si_change_last"]), _nan(row["price_return_last"]))
    row["quadrant"] = quad
    row["quadrant_key"] = m.QUADRANT_KEYS.get(quad) if quad else None
    row["divergence_score"] = m.divergence_score(_nan(row["si_pct_1y"]), _nan(row["price_pct_1y"]))
    return row


def _nan(x: Any) -> float:
    return float("nan") if x is None else float(x)


def resolve_as_of(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--as-of {text!r}: expected a date as YYYY-MM-DD") from None
