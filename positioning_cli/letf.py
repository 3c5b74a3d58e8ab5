"""Leveraged-ETF rebalancing: the shipped fund list and the end-of-day rebalance rule.

A fund of leverage L (+2, +3 bull; -2, -3 bear) holding assets A must, after an index return r, trade
A·L·(L−1)·r / (1 + L·r) of the index at the close to restore its leverage, A being its assets at that
close: for L = 3 and L = -3 alike
the factor L·(L−1) is positive, so every such fund buys after an up day and sells after a down day.
The sum over an index's funds is the estimated mechanical flow at that day's close.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fund:
    fund: str
    index: str  # RUT, NDX or SPX
    leverage: float


DEFAULT_FUNDS: tuple[Fund, ...] = (
    Fund("TQQQ", "NDX", 3.0),
    Fund("SQQQ", "NDX", -3.0),
    Fund("QLD", "NDX", 2.0),
    Fund("QID", "NDX", -2.0),
    Fund("UPRO", "SPX", 3.0),
    Fund("SPXU", "SPX", -3.0),
    Fund("SPXL", "SPX", 3.0),
    Fund("SPXS", "SPX", -3.0),
    Fund("SSO", "SPX", 2.0),
    Fund("SDS", "SPX", -2.0),
    Fund("TNA", "RUT", 3.0),
    Fund("TZA", "RUT", -3.0),
    Fund("UWM", "RUT", 2.0),
    Fund("TWM", "RUT", -2.0),
)
FUNDS_BY_NAME = {f.fund: f for f in DEFAULT_FUNDS}


def rebalance(assets: float, leverage: float, index_return: float) -> float:
    """Dollars of index the fund trades at the close after ``index_return`` (positive = buys).

    ``assets`` are the fund's net assets at that close, after the day's move and before the trade
    (what the fund reports for the day). They grew from A0 to A = A0·(1+L·r) while the exposure went
    from L·A0 to L·A0·(1+r); restoring L·A needs L·A0·(L−1)·r = A·L·(L−1)·r / (1 + L·r).
    """
    denominator = 1.0 + leverage * index_return
    if denominator <= 0:
        raise ValueError(f"a {leverage:+g}x fund is wiped out by a {index_return:+.2%} day")
    return assets * leverage * (leverage - 1.0) * index_return / denominator


def assets_at_close(
    reported: float | None, previous: float | None, leverage: float, index_return: float
) -> float | None:
    """Net assets at the day's close: as reported for that day, else the previous session's grown
    by the day's move (1 + L·r), else unknown."""
    if reported is not None:
        return reported
    return None if previous is None else previous * (1.0 + leverage * index_return)
