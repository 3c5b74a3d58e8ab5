"""One index's levels per settlement date as numpy arrays: what scan and summary rank.

The DuckDB engine computes them (analytics/engine.py, sql/levels.sql); the levels cache stores
them; ``indices`` reads them. Keeping this type free of pandas lets a warm scan run without
importing it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from positioning_cli.measures import Day, day

LEVEL_COLUMNS = [
    "members",
    "members_with_si",
    "members_with_denominator",
    "members_with_price",
    "total_si_shares",
    "total_si_value",
    "median_si_pct_so",
    "cap_weighted_si_pct_so",
    "median_si_pct_float",
    "agg_days_to_cover",
    "median_days_to_cover",
    "quarantined",
    "split_flagged",
    "membership_as_of",
    "before_first_snapshot",
]
COUNT_COLUMNS = (
    "members",
    "members_with_si",
    "members_with_denominator",
    "members_with_price",
    "quarantined",
    "split_flagged",
)
# numpy dtype of each column (the engine converts its result to these).
LEVEL_DTYPES: dict[str, str] = {
    **dict.fromkeys(LEVEL_COLUMNS, "float64"),
    **dict.fromkeys(COUNT_COLUMNS, "int64"),
    "membership_as_of": "datetime64[D]",
    "before_first_snapshot": "bool",
}


@dataclass(frozen=True)
class Levels:
    """Rows by settlement date (``days``: datetime64[D], ascending, unique), one array per column."""

    days: np.ndarray
    columns: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.days)

    def __getitem__(self, column: str) -> np.ndarray:
        return self.columns[column]

    def pos(self, d: Any) -> int | None:
        """Row of settlement date ``d``, None when it has none."""
        dd = day(d)
        i = int(np.searchsorted(self.days, dd))
        return i if i < len(self.days) and self.days[i] == dd else None

    def upto(self, d: Any) -> Levels:
        """The rows dated on or before ``d``."""
        n = int(np.searchsorted(self.days, day(d), side="right"))
        return self.take(slice(0, n))

    def take(self, rows: Any) -> Levels:
        return Levels(self.days[rows], {c: v[rows] for c, v in self.columns.items()})

    def floats(self, column: str) -> np.ndarray:
        return self.columns[column].astype("float64")

    def merged(self, newer: Levels) -> Levels:
        """These rows with ``newer``'s added; on a date both hold, ``newer``'s row wins."""
        keep = ~np.isin(self.days, newer.days)
        both = np.concatenate([self.days[keep], newer.days])
        order = np.argsort(both, kind="stable")
        return Levels(
            both[order],
            {c: np.concatenate([self.columns[c][keep], newer.columns[c]])[order] for c in LEVEL_COLUMNS},
        )

    @classmethod
    def empty(cls) -> Levels:
        return cls(
            np.array([], dtype="datetime64[D]"), {c: np.array([], dtype=t) for c, t in LEVEL_DTYPES.items()}
        )

    def at(self, d: Day) -> dict[str, Any]:
        """Row ``d`` as Python values (ints, floats, a datetime64 day, a bool)."""
        i = self.pos(d)
        if i is None:
            raise KeyError(str(d))
        return {c: v[i] for c, v in self.columns.items()}
