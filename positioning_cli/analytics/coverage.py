"""Sparse settlement dates: the one rule for a report the store holds too little of.

A scraped or partial file makes a settlement date with a dozen symbols among dates with
thousands. Its index totals and medians are of another universe: ranking them against full
reports, or measuring a change from them, says nothing about positioning. The rule, store-wide
and per date (README "Choices"):

- the count of a date is the number of short-interest rows the store holds for it (one per
  symbol: the live table keeps one row per settlement date and symbol), whatever index they are in;
- its neighbours are the ``NEIGHBOURS`` dates held before it and the ``NEIGHBOURS`` after it (fewer
  at either end of the store);
- it is sparse when its count is below ``SPARSE_SHARE`` of the neighbours' median. With fewer than
  ``MIN_NEIGHBOURS`` neighbours (a store of one or two dates) no date is judged: there is nothing
  to tell a normal report from a thin one.

A sparse date stays in the store and in ``history`` (flagged); the read commands leave it out of
every percentile window's observations and never use it as the base of a change (the base skips to
the previous report that is not sparse). On a sparse date itself the short-interest percentiles are
null: a thin report cannot be placed among full ones.

Numpy only (scan imports no pandas).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from positioning_cli.measures import day, days, iso

SPARSE_SHARE = 0.5  # below half the neighbours' median: far more than FINRA's cycle-to-cycle drift
NEIGHBOURS = 4  # held dates on each side: two months of reports, robust to one other thin date
MIN_NEIGHBOURS = 2


@dataclass(frozen=True)
class Coverage:
    """Symbols held per settlement date (``days`` ascending, unique) and which dates are sparse."""

    days: np.ndarray  # datetime64[D]
    symbols: np.ndarray  # int64: short-interest rows held on the date
    neighbour_median: np.ndarray  # float64: median count of its neighbours (NaN: not judged)
    sparse: np.ndarray  # bool

    @classmethod
    def of(cls, counts: Mapping[Any, int]) -> Coverage:
        """The rule applied to ``{settlement date: rows held}``."""
        t = days(list(counts)) if counts else np.array([], dtype="datetime64[D]")
        n = np.array(list(counts.values()), dtype="int64")
        order = np.argsort(t, kind="stable")
        t, n = t[order], n[order]
        med = np.full(len(t), np.nan)
        for i in range(len(t)):
            around = np.concatenate([n[max(0, i - NEIGHBOURS) : i], n[i + 1 : i + 1 + NEIGHBOURS]])
            if len(around) >= MIN_NEIGHBOURS:
                med[i] = float(np.median(around))
        with np.errstate(invalid="ignore"):
            sparse = ~np.isnan(med) & (n < SPARSE_SHARE * med)
        return cls(t, n, med, sparse)

    @classmethod
    def from_arrow_counts(cls, parts: Iterable[Any]) -> Coverage:
        """From ``count_rows`` results of several tables (summed per date)."""
        total: dict[date, int] = {}
        for dates_, counts in parts:
            for d, c in zip(dates_.tolist(), counts.tolist(), strict=True):
                total[d] = total.get(d, 0) + int(c)
        return cls.of(total)

    def sparse_days(self) -> np.ndarray:
        return self.days[self.sparse]

    def is_sparse(self, d: Any) -> bool:
        dd = day(d)
        i = int(np.searchsorted(self.days, dd))
        return bool(i < len(self.days) and self.days[i] == dd and self.sparse[i])

    def sparse_at(self, when: Any) -> np.ndarray:
        """Mask of the dates ``when`` (anything ``measures.days`` reads) that are sparse."""
        return np.isin(days(when), self.sparse_days())

    def keep(self, when: Any, d: Any) -> np.ndarray:
        """Mask of ``when`` without the sparse dates, ``d`` itself always kept (the row being
        reported on: its percentiles are nulled, not its existence)."""
        t = days(when)
        return ~np.isin(t, self.sparse_days()) | (t == day(d))

    def note(self, d: Any) -> str:
        """``2026-03-13: 12 symbols, far below its neighbours' median 2,134 — left out of percentiles``."""
        i = int(np.searchsorted(self.days, day(d)))
        n = int(self.symbols[i])
        return (
            f"{iso(self.days[i])}: {n:,} symbol{'' if n == 1 else 's'}, far below its neighbours' median "
            f"{self.neighbour_median[i]:,.0f} — left out of percentiles"
        )

    def left_out(self, d: Any) -> str | None:
        """One line naming the sparse dates before ``d`` (None when there are none)."""
        held = self.sparse_days()
        held = held[held < day(d)]
        if not len(held):
            return None
        said = "; ".join(self.note(x).removesuffix(" — left out of percentiles") for x in held)
        return f"sparse settlement dates left out of percentiles and change bases: {said}"


def count_rows(table: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(dates, rows)`` of an Arrow short-interest table, per settlement date."""
    from positioning_cli import arrays

    return np.unique(arrays.days(table.column("settlement_date")), return_counts=True)


def from_manifest(manifest: Mapping[str, Any]) -> Coverage:
    """The rule over the live short-interest files the manifest names (rows held per date)."""
    from positioning_cli.levels_cache import partition_date

    files = manifest["tables"]["short_interest"]["files"]
    return Coverage.of({partition_date(rel): int(e["rows"]) for rel, e in files.items() if int(e["rows"])})
