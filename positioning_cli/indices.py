"""Index rows of ``scan`` and ``summary``: each index's levels against their own history, next to
its price proxy's returns and trend and its futures positioning (DOMAIN.md "Metrics").

Numpy only: an ``IndexView`` holds everything these rows need — each index's levels on every
settlement date (from the levels cache or computed), the short-interest rows whose split flags
can matter, the proxies' prices and the CFTC rows — and api.py builds it from the store. A warm
scan never imports pandas (its import alone costs more than the rest of the scan).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from positioning_cli import measures as ms
from positioning_cli.analytics.coverage import Coverage
from positioning_cli.levels import Levels
from positioning_cli.measures import Day, iso

WINDOWS_DAYS = {"1y": 365, "5y": 5 * 365}
CHANGE_KINDS = ("last", "ytd", "12m")
INDEX_NAMES = {"RUT": "Russell 2000", "NDX": "Nasdaq-100", "SPX": "S&P 500"}
# Levels a user can ask history for, with how to read them.
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


@dataclass(frozen=True)
class Prices:
    """One symbol's daily prices in date order (NaN where a source had no value)."""

    symbol: str
    days: np.ndarray  # datetime64[D]
    close: np.ndarray
    high: np.ndarray
    low: np.ndarray

    @classmethod
    def of(cls, symbol: str, days: Any, close: Any, high: Any, low: Any) -> Prices:
        t = ms.days(days)
        order = np.argsort(t, kind="stable")
        arrays = [np.asarray(x, dtype="float64")[order] for x in (close, high, low)]
        return cls(symbol, t[order], *arrays)


class SplitTotals:
    """Like-for-like changes of an index's total SI shares (``measures.like_for_like``).

    The change from base to d sums the SI of the same constituents on both dates: the members of the
    snapshot d's levels used that have an SI row on both dates, less any symbol split-flagged on a
    settlement date in (base, d] (it reports pre- and post-split shares on the two dates; mixing them
    would book the split as a change in positioning). A reconstitution between base and d therefore
    moves neither sum; the levels themselves keep each date's own membership. ``si`` needs the rows
    of both dates and the split-flagged rows in between (Arrow: settlement_date, symbol,
    short_interest, split_flag); ``members``: index, as_of, symbol.
    """

    def __init__(self, si: Any, members: Any) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        from positioning_cli import arrays

        symbols = pc.unique(pa.concat_arrays([_array(si.column("symbol")), _array(members.column("symbol"))]))
        day = arrays.days(si.column("settlement_date"))
        order = np.argsort(day, kind="stable")  # each date's rows one slice (searchsorted)
        self._day = day[order]
        self._code = arrays.to_numpy(pc.index_in(si.column("symbol"), value_set=symbols))[order]
        self._si = arrays.floats(si.column("short_interest"))[order]
        self._split = arrays.flags(si.column("split_flag"))[order]
        self._member_index = np.array(members.column("index").to_pylist(), dtype=object)
        self._member_as_of = arrays.days(members.column("as_of"))
        self._member_code = arrays.to_numpy(pc.index_in(members.column("symbol"), value_set=symbols))

    @classmethod
    def from_frames(cls, si: Any, members: Any) -> SplitTotals:
        """From pandas frames of the same columns (dates as dates or datetime64)."""
        import pyarrow as pa

        si_t = pa.Table.from_pandas(
            si[["settlement_date", "symbol", "short_interest", "split_flag"]], preserve_index=False
        )
        chosen = members[["index", "as_of", "symbol"]]
        chosen.attrs = {}  # the SEC frame rides in members.attrs (metrics.with_sec): not table metadata
        members_t = pa.Table.from_pandas(chosen, preserve_index=False)
        return cls(
            si_t.set_column(0, "settlement_date", si_t.column(0).cast(pa.date32())),
            members_t.set_column(1, "as_of", members_t.column(1).cast(pa.date32())),
        )

    def _rows(self, after: Day, upto: Day) -> slice:
        """The rows of the settlement dates in (after, upto]."""
        lo = int(np.searchsorted(self._day, after, side="right"))
        return slice(lo, int(np.searchsorted(self._day, upto, side="right")))

    def change(self, index: str, levels: Levels, d: Day, base: Day) -> ms.Matched:
        i = levels.pos(d)
        if i is None:
            empty = np.array([], dtype=self._code.dtype)
            return ms.Matched(empty, np.array([]), np.array([]), empty, empty)
        snapshot = levels["membership_as_of"][i]
        listed = self._member_code[(self._member_index == index) & (self._member_as_of == snapshot)]
        window = self._rows(base, d)
        flagged = np.unique(self._code[window][self._split[window]])
        now = self._rows(d - np.timedelta64(1, "D"), d)
        then = self._rows(base - np.timedelta64(1, "D"), base)
        return ms.like_for_like(
            listed, self._code[now], self._si[now], self._code[then], self._si[then], flagged
        )


def _array(column: Any) -> Any:
    return column.combine_chunks() if hasattr(column, "combine_chunks") else column


@dataclass
class IndexView:
    """What index rows are computed from, as of one snapshot of the store."""

    dates: np.ndarray  # settlement dates held, datetime64[D], ascending
    levels: dict[str, Levels]  # per index with a membership snapshot
    split: SplitTotals
    prices: dict[str, Prices]  # by symbol: the price proxies held
    cot: Any = None  # the CFTC table (Arrow), or None when the store holds none
    coverage: Coverage | None = None  # symbols held per date: which dates are sparse

    def left_out(self) -> np.ndarray | None:
        """The sparse settlement dates (left out of percentiles), None when none is known."""
        return None if self.coverage is None else self.coverage.sparse_days()

    def is_sparse(self, d: Day) -> bool:
        return self.coverage is not None and self.coverage.is_sparse(d)


def proxy(view: IndexView, candidates: Sequence[str]) -> Prices | None:
    """The first candidate symbol the store holds prices for."""
    for sym in candidates:
        if sym in view.prices:
            return view.prices[sym]
    return None


def no_proxy_warning(idx: str, candidates: Sequence[str]) -> str:
    """Names every spelling looked for, so it never advises ingesting a series the store holds."""
    names = ", ".join(candidates[:-1]) + f" or {candidates[-1]}" if len(candidates) > 1 else candidates[0]
    return (
        f"{idx}: no price series for {names}; ingest one (`positioning ingest prices FILE --symbol "
        f"{candidates[0]}`) or name a symbol held with `--proxy {idx}=SYMBOL`"
    )


def no_members(idx: str) -> str:
    return f"{idx}: no membership in the store; run `positioning ingest members FILE --index {idx}`"


def _levels_on(view: IndexView, idx: str, d: Day, warnings: list[str]) -> Levels | None:
    """The index's levels up to ``d`` without the sparse dates before it (so no change is measured
    from one: its base skips to the previous report that is not sparse), None (with a warning)
    when it has nothing to report on d."""
    levels = view.levels[idx].upto(d)
    if view.coverage is not None:
        levels = levels.take(view.coverage.keep(levels.days, d))
    i = levels.pos(d)
    # A date can hold SI rows of other symbols only: then this index has nothing to report on it.
    if i is None or not levels["members_with_si"][i] > 0:
        warnings.append(f"{idx}: no constituent has short interest on {iso(d)}")
        return None
    return levels


# ------------------------------------------------------------------------------------ scan rows


def index_rows(
    view: IndexView,
    indices: Sequence[str],
    d: Day,
    proxy_map: Mapping[str, tuple[str, ...]],
    warnings: list[str],
    *,
    rank_only: bool = False,
) -> list[dict[str, Any]]:
    """Index rows on ``d`` ranked by divergence score.

    ``rank_only``: rows hold just the index, its score and rank (scan's previous-rank pass).
    """
    rows: list[dict[str, Any]] = []
    for idx in indices:
        if idx not in view.levels:
            warnings.append(no_members(idx))
            continue
        row = _index_row(view, idx, d, proxy_map[idx], warnings, rank_only)
        if row is not None:
            rows.append(row)
    rows.sort(key=lambda r: ms.rank_key(r["divergence_score"], r["index"]))
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    return rows


def _total_change(view: IndexView, idx: str, levels: Levels, d: Day, base: Day) -> ms.Matched:
    """Change of total SI shares since ``base`` over the same constituents at both dates (SplitTotals)."""
    return view.split.change(idx, levels, d, base)


def _index_row(  # noqa: PLR0915 (over 60 statements: to split, issue 11)
    view: IndexView,
    idx: str,
    d: Day,
    proxy_candidates: tuple[str, ...],
    warnings: list[str],
    rank_only: bool,
) -> dict[str, Any] | None:
    levels = _levels_on(view, idx, d, warnings)
    if levels is None:
        return None
    total = levels.floats("total_si_shares")
    px = proxy(view, proxy_candidates)
    if rank_only:  # the divergence score is all a rank needs: the same two percentiles as below
        si_pct = ms.percentile(levels.days, total, d, WINDOWS_DAYS["1y"], left_out=view.left_out()).value
        px_pct = (
            math.nan if px is None else ms.price_percentile(px.days, px.close, d, WINDOWS_DAYS["1y"]).value
        )
        return {"index": idx, "divergence_score": ms.divergence_score(si_pct, px_pct)}
    lv = levels.at(d)
    if lv["before_first_snapshot"]:
        warnings.append(
            f"{idx}: membership before its first snapshot; using the list as of {iso(lv['membership_as_of'])}"
        )
    row: dict[str, Any] = {
        "index": idx,
        "settlement_date": iso(d),
        **thin_flags(view, lv, d),
    }
    for col in ("members", "members_with_si", "members_with_denominator", "quarantined", "total_si_shares"):
        row[col] = int(lv[col])
    for col in ("median_si_pct_so", "median_si_pct_float", "agg_days_to_cover", "median_days_to_cover"):
        row[col] = float(lv[col])

    split: set[int] = set()
    bases: dict[str, Day | None] = {}
    row["si_change_basis"], row["si_level_basis"] = ms.LIKE_FOR_LIKE, ms.OWN_MEMBERSHIP
    for kind in CHANGE_KINDS:
        base = bases[kind] = ms.previous_date(levels.days, d, kind)
        row[f"si_base_{kind}"] = iso(base)
        if base is None:
            for key in ("si_change", "si_change_compared", "si_change_excluded"):
                row[f"{key}_{kind}"] = None
            continue
        matched = _total_change(view, idx, levels, d, base)
        row[f"si_change_{kind}"] = matched.value
        row[f"si_change_compared_{kind}"] = len(matched.keys)
        row[f"si_change_excluded_{kind}"] = len(matched.split) + len(matched.unmatched)
        split.add(len(matched.split))
    row["split_excluded_symbols"] = max(split) if split else 0

    si_missing = None
    for label, window in WINDOWS_DAYS.items():
        p = ms.percentile(levels.days, total, d, window, left_out=view.left_out())
        row[f"si_pct_{label}"] = p.value
        row[f"si_pct_{label}_obs"] = p.n_obs
        row[f"si_pct_{label}_complete"] = p.window_complete
        if p.missing:
            warnings.append(f"{idx}: {label.upper()} SI percentile null: {p.missing}")
            if label == "1y":
                si_missing = f"1Y SI percentile: {p.missing}"
        elif not p.window_complete:
            held = p.covered_days / 365.0
            warnings.append(
                f"{idx}: {label.upper()} percentile covers {held:.1f} years ({p.n_obs} reports), not the full window"
            )
    row["si_history_from"] = iso(levels.days[0])

    no_price: str | None = None
    row["price_symbol"] = None if px is None else px.symbol
    row.update(trend_fields(px, d))
    if px is None:
        warnings.append(no_proxy_warning(idx, proxy_candidates))
        for kind in CHANGE_KINDS:
            row[f"price_return_{kind}"] = None
        row["price_pct_1y"] = None
        row["price_close"] = None
    else:
        upto = px.close[px.days <= d]
        row["price_close"] = float(upto[-1]) if len(upto) else None
        for kind in CHANGE_KINDS:
            base = bases[kind]
            row[f"price_return_{kind}"] = (
                ms.price_return(px.days, px.close, base, d) if base is not None else None
            )
        price_p = ms.price_percentile(px.days, px.close, d, WINDOWS_DAYS["1y"])
        row["price_pct_1y"] = price_p.value
        if price_p.missing:
            no_price = f"1Y price percentile: {price_p.missing}"
    row.update(_futures_fields(view.cot, idx, d, bases["last"], row["si_change_last"], warnings))
    quad = ms.quadrant(_nan(row["si_change_last"]), _nan(row["price_return_last"]))
    row["quadrant"] = quad
    row["quadrant_key"] = ms.QUADRANT_KEYS.get(quad) if quad else None
    row["divergence_score"] = ms.divergence_score(_nan(row["si_pct_1y"]), _nan(row["price_pct_1y"]))
    if px is None:
        no_price = f"no price series for {' or '.join(proxy_candidates)}"
    elif row["price_close"] is None:
        no_price = f"no {px.symbol} close on or before {iso(d)}"
    row["score_missing"] = ms.score_missing(
        _nan(row["si_pct_1y"]), _nan(row["price_pct_1y"]), si_missing, no_price
    )
    return row


def _nan(x: Any) -> float:
    return math.nan if x is None else float(x)


def thin_flags(view: IndexView, lv: Mapping[str, Any], d: Day) -> dict[str, Any]:
    """How thin the data behind a row on ``d`` are: the membership snapshot used and whether it
    was taken after d (look-ahead: the earliest list stands in for history), and whether d is a
    sparse settlement date."""
    return {
        "membership_as_of": iso(lv["membership_as_of"]),
        "membership_look_ahead": bool(lv["before_first_snapshot"]),
        "sparse_date": view.is_sparse(d),
    }


def trend_fields(prices: Prices | None, d: Day) -> dict[str, Any]:
    """Trend state of a price series on d (all null without prices)."""
    if prices is None or len(prices.days) == 0:
        return {"trend_label": None, "ema_stack": None, "bollinger_pct_b": None, "keltner_pos": None}
    from positioning_cli.trend import trend_state

    t = trend_state(prices.days, prices.close, prices.high, prices.low, d)
    return {
        "trend_label": t.label or None,
        "ema_stack": t.ema_stack,
        "bollinger_pct_b": t.bollinger_pct_b,
        "keltner_pos": t.keltner_pos,
    }


def _futures_fields(
    cot: Any, idx: str, d: Day, prev: Day | None, si_change: float | None, warnings: list[str]
) -> dict[str, Any]:
    """The leveraged-fund read of the index's futures contract, from the latest report on or before d.

    ``lev_net_change`` is the change of the net between the reports read for the previous settlement
    date and for d — the same window as the short-interest change — and ``futures_agree`` says
    whether futures shorts and equity short interest grew (or shrank) together.
    """
    from positioning_cli import futures

    contract = futures.INDEX_CONTRACT[idx]
    out: dict[str, Any] = dict.fromkeys(FUTURES_KEYS, None)
    if cot is None:
        return out
    ser = futures.series(cot, contract)
    try:
        now = futures.read(ser, d, "lev")
    except ValueError:
        warnings.append(f"{idx}: no CFTC report for {contract} on or before {iso(d)}")
        return out
    stale = (ms.to_date(d) - now.report_date).days
    if stale > 14:
        warnings.append(
            f"{idx}: the latest CFTC report for {contract} is {now.report_date}, {stale} days before {iso(d)}"
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


# ------------------------------------------------------------------------------------ summary rows


def summary_rows(
    view: IndexView,
    indices: Sequence[str],
    d: Day,
    proxy_map: Mapping[str, tuple[str, ...]],
    warnings: list[str],
    explain: bool,
) -> tuple[list[dict[str, Any]], dict[str, list[str]], dict[str, list[float | None]]]:
    """Per index: each headline level and the proxy's close against their own history, the plain
    sentences built from them and a 5Y sparkline of total SI shares."""
    rows: list[dict[str, Any]] = []
    text: dict[str, list[str]] = {}
    sparks: dict[str, list[float | None]] = {}
    for idx in indices:
        if idx not in view.levels:
            warnings.append(no_members(idx))
            continue
        levels = _levels_on(view, idx, d, warnings)
        if levels is None:
            continue
        lv = levels.at(d)
        idx_rows = [_summary_row(view, idx, levels, metric, d, explain) for metric in SUMMARY_METRICS]
        px = proxy(view, proxy_map[idx])
        if px is None:
            warnings.append(no_proxy_warning(idx, proxy_map[idx]))
        else:
            idx_rows.append(_price_row(idx, px, levels, d, explain))
        for r in idx_rows:
            r.update(thin_flags(view, lv, d))
            if not r["pct_5y_complete"] and r["metric"] == "total_si_shares":
                warnings.append(
                    f"{idx}: 5Y percentile covers history from {r['history_from']} only ({r['obs_all']} reports)"
                )
        rows.extend(idx_rows)
        text[idx] = _sentences(idx, {r["metric"]: r for r in idx_rows}, lv)
        start = d - np.timedelta64(5 * 365, "D")
        recent = levels.floats("total_si_shares")[levels.days > start]
        sparks[idx] = [None if x != x else float(x) for x in recent.tolist()]
    return rows, text, sparks


def _summary_row(
    view: IndexView, idx: str, levels: Levels, metric: str, d: Day, explain: bool
) -> dict[str, Any]:
    """One headline level on d: its percentiles and changes. Total SI shares changes like for like
    (the same constituents at both dates); the other levels change as levels, each date over its own
    membership (``change_basis`` says which)."""
    lv = levels.at(d)
    series = levels.floats(metric)
    row: dict[str, Any] = {"index": idx, "settlement_date": iso(d), "metric": metric, "symbol": None}
    row["value"] = float(lv[metric])
    row.update(_percentiles(levels.days, series, d, left_out=view.left_out()))
    like_for_like = metric == "total_si_shares"
    row["change_basis"] = ms.LIKE_FOR_LIKE if like_for_like else ms.OWN_MEMBERSHIP
    compared: dict[str, int] = {}
    for kind in CHANGE_KINDS:
        base = ms.previous_date(levels.days, d, kind)
        row[f"base_{kind}"] = iso(base)
        if base is None:
            row[f"change_{kind}"] = None
        elif like_for_like:
            matched = _total_change(view, idx, levels, d, base)
            row[f"change_{kind}"] = matched.value
            compared[kind] = len(matched.keys)
        else:
            row[f"change_{kind}"] = ms.change(levels.days, series, d, kind).value
    row["explain"] = _explain(metric, lv, row, d, compared) if explain else None
    return row


def _price_row(idx: str, px: Prices, levels: Levels, d: Day, explain: bool) -> dict[str, Any]:
    held = px.days <= d
    upto_days, upto = px.days[held], px.close[held]
    row: dict[str, Any] = {
        "index": idx,
        "settlement_date": iso(d),
        "metric": "price_close",
        "symbol": px.symbol,
    }
    row["value"] = float(upto[-1]) if len(upto) else None
    row.update(
        _percentiles(upto_days, upto, d, tolerance=ms.PRICE_STALE_DAYS, per_year=ms.PRICE_CLOSES_PER_YEAR)
    )
    row["change_basis"] = None  # a return of one series: no constituents to hold fixed
    for kind in CHANGE_KINDS:
        base = ms.previous_date(levels.days, d, kind)
        row[f"base_{kind}"] = iso(base)
        row[f"change_{kind}"] = ms.price_return(px.days, px.close, base, d) if base is not None else None
    row["explain"] = (
        f"close of {px.symbol} on or before {iso(d)}; percentiles over daily closes in (d − W, d]; "
        "changes are price returns between the same report dates as short interest"
        if explain
        else None
    )
    return row


def _percentiles(
    days: np.ndarray,
    series: np.ndarray,
    d: Day,
    tolerance: int = ms.WINDOW_TOLERANCE_DAYS,
    per_year: int = ms.SI_REPORTS_PER_YEAR,
    left_out: np.ndarray | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label, window in WINDOWS_DAYS.items():
        p = ms.percentile(days, series, d, window, tolerance, per_year, left_out)
        out[f"pct_{label}"] = p.value
        out[f"pct_{label}_complete"] = p.window_complete
    p_all = ms.percentile(days, series, d, None, tolerance, per_year, left_out)
    out["pct_all"] = p_all.value
    out["obs_all"] = p_all.n_obs
    out["history_from"] = iso(p_all.first_obs)
    return out


def _explain(
    metric: str, lv: dict[str, Any], row: dict[str, Any], d: Day, compared: Mapping[str, int]
) -> str:
    """``compared``: per change kind, the constituents a like-for-like change compared (total SI)."""
    snapshot = iso(lv["membership_as_of"])
    parts = [
        f"{metric} on {iso(d)} = {LEVEL_METRICS.get(metric, metric)} over {int(lv['members_with_si'])} of "
        f"{int(lv['members'])} constituents with a short-interest row (membership as of {snapshot})",
        f"percentiles: share of reports in (d − W, d] with a value ≤ today's; all history: {row['obs_all']} "
        f"reports since {row['history_from']}",
    ]
    for kind, text in (
        ("last", "previous report"),
        ("ytd", "last report of the previous year"),
        ("12m", "last report on or before d − 365 days"),
    ):
        base = row[f"base_{kind}"]
        if not base:
            continue
        if kind in compared:
            parts.append(
                f"change_{kind} = Σ SI({iso(d)}) / Σ SI({base}) − 1 over the same {compared[kind]} "
                f"constituents (members as of {snapshot} with a row on both dates, split-flagged symbols "
                f"left out; base: {text})"
            )
        else:
            parts.append(
                f"change_{kind} = x({iso(d)}) / x({base}) − 1, each date over its own membership (base: {text})"
            )
    return "; ".join(parts)


def _pct_word(p: float | None) -> str:
    if p is None or p != p:
        return "an unknown"
    n = int(round(p))
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"the {n}{suffix}"


def _signed(x: float | None) -> str:
    return "n/a" if x is None or x != x else f"{x * 100:+.1f}%"


def _known(x: float | None) -> bool:
    return x is not None and x == x


def _sentences(idx: str, by_metric: dict[str, dict[str, Any]], coverage: dict[str, Any]) -> list[str]:
    """Plain sentences, each built only from numbers that exist in the rows above; what is missing
    is named with the coverage behind it ("8 of 1,920 members have short interest"), never printed
    as "nan%" or "n/a"."""
    name = INDEX_NAMES[idx]
    total = by_metric["total_si_shares"]
    med = by_metric["median_si_pct_so"]
    price = by_metric.get("price_close")
    members, with_si = int(coverage["members"]), int(coverage["members_with_si"])
    with_so, quarantined = int(coverage["members_with_denominator"]), int(coverage["quarantined"])
    out = []
    if with_si < members:
        out.append(f"{with_si:,} of {members:,} {name} members have short interest on this report.")
    levels = []
    if _known(total["pct_1y"]):
        levels.append(f"{_pct_word(total['pct_1y'])} percentile versus the past 1Y")
    if _known(total["pct_5y"]):
        held = "" if total["pct_5y_complete"] else " (of the history held)"
        levels.append(f"{_pct_word(total['pct_5y'])} percentile versus 5Y{held}")
    if levels:
        out.append(f"Short interest across {name} constituents is at {' and '.join(levels)}.")
    elif total.get("sparse_date"):
        out.append(
            "This report is a sparse settlement date (far fewer symbols held than on the reports "
            "around it): its short interest is not ranked against history."
        )
    else:
        out.append(
            f"Short interest across {name} constituents has too short a history for a percentile "
            f"({total['obs_all']} reports held)."
        )
    moves = [
        f"{_signed(total[key])} {words}"
        for key, words in (
            ("change_ytd", "YTD"),
            ("change_12m", "over 12 months"),
            ("change_last", "since the last report"),
        )
        if _known(total[key])
    ]
    if moves:
        # Like for like (SplitTotals): a reconstitution since the base does not move these.
        sentence = (
            "Over today's constituents it is "
            + ", ".join(moves[:-1])
            + (" and " if len(moves) > 1 else "")
            + moves[-1]
        )
        if price is not None and _known(price["change_last"]) and _known(total["change_last"]):
            si_up = total["change_last"] > 0
            px_up = price["change_last"] > 0
            tail = {
                (True, True): "while price rises — shorts are expanding into strength",
                (True, False): "as price falls — shorts are being confirmed",
                (False, True): "as price rises — a short-covering rally",
                (False, False): "as price falls — shorts are exiting into weakness",
            }[(si_up, px_up)]
            ytd = f" and {_signed(price['change_ytd'])} YTD" if _known(price["change_ytd"]) else ""
            sentence += (
                f"; {price['symbol']} is {_signed(price['change_last'])} over the same report{ytd}, {tail}"
            )
        out.append(sentence + ".")
    if _known(med["value"]):
        rank = f" ({_pct_word(med['pct_1y'])} percentile of its 1Y range)" if _known(med["pct_1y"]) else ""
        over = (
            f"; {with_so:,} of {with_si:,} members with short interest have shares outstanding"
            if with_so < with_si
            else ""
        )
        out.append(
            f"The median {name} stock has {med['value']:.1f}% of its shares outstanding sold short{rank}{over}."
        )
    else:
        why = f"{with_so:,} of {with_si:,} members with short interest have shares outstanding"
        if quarantined:
            why += f", {quarantined:,} of them quarantined"
        out.append(f"The median short interest as a share of shares outstanding is unavailable: {why}.")
    return out


# ------------------------------------------------------------------------------- price context
PRICE_CONTEXT_KEYS = (
    "price_all_time_high",
    "price_all_time_high_date",
    "price_at_all_time_high",
    "price_vs_all_time_high",
    "price_high_52w",
    "price_high_52w_date",
    "price_vs_52w_high",
    "price_breakout_date",
    "price_breakout_run_intact",
    "price_weeks_since_breakout",
    "price_down_weeks_since_breakout",
    "price_down_week_returns",
    "price_monthly_streak",
    "price_month_to_date",
)


def price_context_by_index(
    view: IndexView, indices: Sequence[str], d: Day, proxy_map: Mapping[str, tuple[str, ...]]
) -> dict[str, dict[str, Any]]:
    """Each index's proxy in the words the commentary uses (analytics/price_context.py defines
    every number; returns there are percent, here fractions like every other return in the JSON).
    An index without a proxy price held maps every key to None."""
    from positioning_cli.analytics.price_context import price_context

    chosen = {idx: proxy(view, proxy_map[idx]) for idx in indices}
    symbols, days, closes = [], [], []
    for series in {p.symbol: p for p in chosen.values() if p is not None}.values():
        ok = ~np.isnan(series.close)
        symbols += [series.symbol] * int(ok.sum())
        days += series.days[ok].astype(object).tolist()
        closes += series.close[ok].tolist()
    found = {c.symbol: c for c in price_context(symbols, days, closes, ms.to_date(d))} if symbols else {}
    out: dict[str, dict[str, Any]] = {}
    for idx, px in chosen.items():
        c = found.get(px.symbol) if px is not None else None
        if c is None:
            out[idx] = dict.fromkeys(PRICE_CONTEXT_KEYS)
            continue
        out[idx] = {
            "price_all_time_high": c.all_time_high,
            "price_all_time_high_date": c.all_time_high_date.isoformat(),
            "price_at_all_time_high": c.at_all_time_high,
            "price_vs_all_time_high": c.pct_from_all_time_high / 100,
            "price_high_52w": c.high_52w,
            "price_high_52w_date": c.high_52w_date.isoformat() if c.high_52w_date else None,
            "price_vs_52w_high": None if c.pct_from_52w_high is None else c.pct_from_52w_high / 100,
            "price_breakout_date": c.breakout_date.isoformat() if c.breakout_date else None,
            "price_breakout_run_intact": c.breakout_run_intact,
            "price_weeks_since_breakout": c.weeks_since_breakout if c.breakout_date else None,
            "price_down_weeks_since_breakout": c.down_weeks_since_breakout if c.breakout_date else None,
            "price_down_week_returns": [r / 100 for r in c.down_week_returns] if c.breakout_date else None,
            "price_monthly_streak": c.monthly_streak,
            "price_month_to_date": None if c.month_to_date_return is None else c.month_to_date_return / 100,
        }
    return out


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def price_context_sentence(symbol: str, ctx: Mapping[str, Any]) -> str | None:
    """One sentence from ``price_context_by_index`` keys, saying only what the numbers support."""
    if ctx.get("price_all_time_high") is None:
        return None
    if ctx["price_at_all_time_high"]:
        parts = [f"{symbol} closed at an all-time high in the history held"]
    elif ctx["price_vs_52w_high"] is not None:
        parts = [
            f"{symbol} is {_signed(ctx['price_vs_52w_high'])} from its 52-week high "
            f"({ctx['price_high_52w_date']})"
        ]
    else:
        parts = [f"{symbol} is {_signed(ctx['price_vs_all_time_high'])} from its all-time high"]
    # "Since breaking to new highs" is said only while the run is intact: not once the price has
    # fallen into a correction since (the breakout rule's own threshold).
    if ctx["price_breakout_date"] is not None and ctx["price_breakout_run_intact"]:
        n, weeks = ctx["price_down_weeks_since_breakout"], ctx["price_weeks_since_breakout"]
        losses = [f"{r * 100:+.2f}%" for r in ctx["price_down_week_returns"]]
        said = (
            "no weekly loss"
            if not n
            else f"{n} weekly loss{'es' if n != 1 else ''} ("
            + (
                ", ".join(losses)
                if n <= 4
                else f"the largest {min(ctx['price_down_week_returns']) * 100:+.2f}%"
            )
            + ")"
        )
        parts.append(
            f"since breaking to a new high on {ctx['price_breakout_date']} it has posted {said} "
            f"in {weeks} complete week{'s' if weeks != 1 else ''}"
        )
    streak = ctx["price_monthly_streak"]
    if abs(streak) >= 2:
        parts.append(f"it has {'risen' if streak > 0 else 'fallen'} {abs(streak)} months in a row")
        if ctx["price_month_to_date"] is not None and (ctx["price_month_to_date"] > 0) == (streak > 0):
            nth = _ordinal(abs(streak) + 1)
            article = "an" if nth.startswith("8") or nth in ("11th", "18th") else "a"
            parts[-1] += (
                f", on pace for {article} {nth} consecutive monthly {'gain' if streak > 0 else 'loss'}"
            )
    return "; ".join(parts) + "."


# ------------------------------------------------------------------------------------ nowcast inputs


@dataclass(frozen=True)
class NowcastSeries:
    """One index's settlement intervals (d_k-1, d_k], k = 1..n, as the nowcast model reads them.

    ``target``: the change of total SI shares over each interval, exactly scan's ``si_change_last``
    on d_k (like for like: d_k's constituents with a row on both dates, split-flagged symbols left
    out); NaN when d_k-1 and d_k are not consecutive FINRA settlement dates (a missed report),
    either is a sparse date (analytics/coverage.py) or either total is zero. ``inputs`` are aligned
    with it; their ``now`` is what has been observed over (d_n, ``through``].
    """

    dates: np.ndarray  # d_0..d_n, datetime64[D]
    target: np.ndarray  # len n
    inputs: list[Any]  # analytics.nowcast.Input
    next_date: Any  # the next settlement date after d_n (the report being nowcast)
    through: Any  # the last day the inputs were observed on, or None
    proxy_symbol: str | None


def nowcast_series(
    view: IndexView,
    idx: str,
    d: Day,
    proxy_candidates: Sequence[str],
    ratios: Sequence[Any],
    cutoff: Any,
) -> NowcastSeries:
    """The target and the candidate inputs per interval up to ``d`` (the newest settlement used),
    and the inputs observed since ``d`` up to ``cutoff`` (the newest data a nowcast may use).

    ``ratios``: the index's daily short-sale volume ratios (short_volume.RatioDay, date order).
    """
    from datetime import timedelta

    from positioning_cli.analytics.nowcast import Input
    from positioning_cli.fetch import calendar as cal

    levels = view.levels[idx].upto(d)
    dates = levels.days
    total = levels.floats("total_si_shares")
    n = len(dates) - 1
    first, last = ms.to_date(dates[0]), ms.to_date(dates[-1])
    schedule = cal.finra_settlements(max(first, cal.FIRST_SESSION), last + timedelta(days=40))
    next_date = next(s for s in schedule if s > last)
    expected = dict(zip(schedule, schedule[1:], strict=False))  # settlement -> the next one
    target = np.full(n, math.nan)
    for k in range(1, n + 1):
        a, b = ms.to_date(dates[k - 1]), ms.to_date(dates[k])
        if expected.get(a) != b or not (total[k - 1] > 0 and total[k] > 0):
            continue
        if view.is_sparse(dates[k - 1]) or view.is_sparse(dates[k]):  # as a missed report
            continue
        target[k - 1] = _total_change(view, idx, levels, dates[k], dates[k - 1]).value

    # The end of the interval being nowcast as observed: the next settlement date, or earlier.
    px = proxy(view, proxy_candidates)
    px_days = px.days[~np.isnan(px.close)] if px is not None else np.array([], "datetime64[D]")
    limit = ms.day(next_date) if cutoff is None else min(ms.day(next_date), ms.day(cutoff))
    seen = px_days[(px_days > dates[-1]) & (px_days <= limit)]
    through = seen[-1] if len(seen) else None

    # (a) the proxy's return over the interval: scan's price_return_last on d_k.
    price = np.full(n, math.nan)
    price_now = math.nan
    if px is not None:
        for k in range(1, n + 1):
            price[k - 1] = ms.price_return(px.days, px.close, dates[k - 1], dates[k])
        if through is not None:
            price_now = ms.price_return(px.days, px.close, dates[-1], through)

    # (b) the previous interval's change of total SI (published before the interval ends).
    prev = np.concatenate([[math.nan], target[:-1]]) if n else target.copy()
    prev_now = float(target[-1]) if n else math.nan

    # (c) the short-volume flow: the mean daily ratio over the interval's sessions less its 20-day
    # average on the last session on or before the interval's start (short_volume.sql's avg_20d).
    sv_days = np.array([r.date for r in ratios], dtype="datetime64[D]")
    sv_ratio = np.array([math.nan if r.ratio is None else r.ratio for r in ratios], dtype="float64")
    sv_avg20 = np.array([math.nan if r.avg_20d is None else r.avg_20d for r in ratios], dtype="float64")

    def flow(start: Any, end: Any) -> float:
        if not len(sv_days):
            return math.nan
        at = int(np.searchsorted(sv_days, start, side="right")) - 1
        if at < 0 or int((start - sv_days[at]).astype(int)) > ms.PRICE_STALE_DAYS:
            return math.nan  # no 20-day average at the start of the interval
        inside = sv_ratio[(sv_days > start) & (sv_days <= end)]
        inside = inside[~np.isnan(inside)]
        return float(inside.mean() - sv_avg20[at]) if len(inside) else math.nan

    sv_flow = np.array([flow(dates[k - 1], dates[k]) for k in range(1, n + 1)], dtype="float64")
    sv_now = flow(dates[-1], limit)

    inputs = [
        Input("proxy_return", "proxy return", price, price_now),
        Input("prev_si_change", "previous report's change", prev, prev_now),
        Input("sv_flow", "short-volume flow", sv_flow, sv_now),
    ]
    return NowcastSeries(dates, target, inputs, next_date, through, None if px is None else px.symbol)
