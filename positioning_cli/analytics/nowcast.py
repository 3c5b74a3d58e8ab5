"""A nowcast of the next short-interest report: the maths (README "Nowcast").

Pure functions on arrays. One row per settlement interval (d_k, d_k+1]: the target is the % change
of the index's total short interest over it (scan's ``si_change_last`` on d_k+1), the inputs are what
could be observed over the same interval before FINRA publishes it. The model is ordinary least
squares with an intercept; it is judged by a walk-forward backtest against the naive forecast "no
change", and an input enters only with enough history to be both fitted and judged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

N_TRAIN = 24  # intervals in the first fit of the walk-forward backtest (about a year of reports)
MIN_TESTS = 12  # out-of-sample intervals needed before a skill figure means anything
# An input enters the model only when it is known on this many intervals (with the target): enough
# to fit a model with it and to judge that model out of sample.
MIN_INPUT_INTERVALS = N_TRAIN + MIN_TESTS
BAND_LEVEL = 0.8  # the error band: the 10th to 90th percentile of the out-of-sample errors
# A positive skill counts only when the model's advantage per report (|naive error| - |model error|)
# has a t-statistic above this: a one-sided 5% test (normal approximation), so a model that beats
# "no change" by noise is not sold as skill.
SKILL_T = 1.645

NO_SKILL = "no skill on the data held: the best forecast is no change"


@dataclass(frozen=True)
class Input:
    """One candidate input: its value on each interval (NaN where unknown) and on the interval being
    nowcast (``now``: observed since the newest settlement held, NaN when nothing is)."""

    name: str  # key used in the JSON (coef_<name>, x_<name>)
    label: str  # words for the output
    values: np.ndarray
    now: float


@dataclass(frozen=True)
class Backtest:
    """Out-of-sample scores of the walk-forward backtest (fractions; None without test intervals)."""

    test_intervals: int
    mae_model: float | None
    mae_naive: float | None  # the mean absolute change: the error of forecasting "no change"
    skill: float | None  # 1 - mae_model / mae_naive: > 0 beats "no change"
    hit_rate: float | None  # share of test intervals whose sign the model got right
    up_share: float | None  # share of test intervals in which SI rose: what "always up" would hit
    edge_t: float | None  # t-statistic of the mean of |naive error| - |model error|
    errors_model: np.ndarray = field(repr=False)  # actual - predicted, per test interval
    errors_naive: np.ndarray = field(repr=False)  # actual - 0


@dataclass(frozen=True)
class Nowcast:
    inputs: tuple[str, ...]  # names of the inputs used
    left_out: tuple[str, ...]  # one reason per candidate input left out
    coefficients: dict[str, float]  # "intercept" and one per input used (fit on every interval)
    fit_intervals: int  # intervals the estimate's model was fitted on
    model_estimate: float | None  # the model's % change (fraction) for the next report
    backtest: Backtest
    estimate: float | None  # the forecast to use: the model's with skill, else 0 ("no change")
    band: tuple[float, float] | None  # BAND_LEVEL interval around ``estimate``
    verdict: str


def fit(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """OLS coefficients [intercept, b_1, ...] of y on the columns of ``x`` (rows = intervals)."""
    design = np.column_stack([np.ones(len(y)), x]) if x.size else np.ones((len(y), 1))
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return np.asarray(coef, dtype="float64")


def predict(coef: np.ndarray, x: np.ndarray) -> float:
    """The fitted value at one row of inputs ``x``."""
    return float(coef[0] + np.dot(coef[1:], x))


def walk_forward(x: np.ndarray, y: np.ndarray, n_train: int = N_TRAIN) -> np.ndarray:
    """Out-of-sample predictions of rows n_train, n_train+1, ...: row k from a fit on rows < k."""
    return np.array([predict(fit(x[:k], y[:k]), x[k]) for k in range(n_train, len(y))], dtype="float64")


def scores(y: np.ndarray, predicted: np.ndarray) -> Backtest:
    """MAE of model and naive, skill, sign hit rate and the share of rises over the test rows."""
    n = len(y)
    if n == 0:
        empty = np.array([], dtype="float64")
        return Backtest(0, None, None, None, None, None, None, empty, empty)
    errors = y - predicted
    mae_model = float(np.mean(np.abs(errors)))
    mae_naive = float(np.mean(np.abs(y)))
    skill = 1.0 - mae_model / mae_naive if mae_naive > 0 else None
    # A hit: the forecast has the sign of the change (a forecast of exactly 0 says neither: a miss).
    hit_rate = float(np.mean(np.sign(predicted) == np.sign(y)))
    up_share = float(np.mean(y > 0))
    edge = np.abs(y) - np.abs(errors)
    sd = float(np.std(edge, ddof=1)) if n > 1 else 0.0
    edge_t = float(np.mean(edge)) / (sd / math.sqrt(n)) if sd > 0 else None
    return Backtest(n, mae_model, mae_naive, skill, hit_rate, up_share, edge_t, errors, y.copy())


def band(estimate: float, errors: np.ndarray, level: float = BAND_LEVEL) -> tuple[float, float]:
    """estimate + the (1-level)/2 and (1+level)/2 quantiles of past errors (numpy's linear rule)."""
    lo, hi = np.quantile(errors, [(1 - level) / 2, (1 + level) / 2])
    return estimate + float(lo), estimate + float(hi)


def has_skill(bt: Backtest) -> bool:
    """Beats "no change" out of sample by more than noise (see SKILL_T)."""
    return bt.skill is not None and bt.skill > 0 and bt.edge_t is not None and bt.edge_t > SKILL_T


def select_inputs(
    target: np.ndarray, candidates: Sequence[Input], min_intervals: int = MIN_INPUT_INTERVALS
) -> tuple[list[Input], list[str]]:
    """The inputs with enough history (known with the target on ``min_intervals`` intervals) and a
    value since the last report; a reason for each one left out."""
    used, left_out = [], []
    known_target = ~np.isnan(target)
    for c in candidates:
        held = int(np.sum(known_target & ~np.isnan(c.values)))
        if held < min_intervals:
            left_out.append(
                f"{c.label}: {held} interval{'s' if held != 1 else ''} held, {min_intervals} needed"
            )
        elif math.isnan(c.now):
            left_out.append(f"{c.label}: not observed since the last report")
        else:
            used.append(c)
    return used, left_out


def nowcast(target: np.ndarray, candidates: Sequence[Input]) -> Nowcast:
    """Select the inputs, backtest the model walking forward, and estimate the next interval.

    ``target``: the % change (fraction) per interval, oldest first, NaN where unknown (a missed
    report, a total of zero); every candidate's ``values`` are aligned with it.
    """
    used, left_out = select_inputs(target, candidates)
    rows = ~np.isnan(target)
    for c in used:
        rows &= ~np.isnan(c.values)
    y = target[rows]
    x = np.column_stack([c.values[rows] for c in used]) if used else np.empty((len(y), 0))
    now = np.array([c.now for c in used], dtype="float64")
    names = tuple(c.name for c in used)
    predicted = walk_forward(x, y) if len(y) > N_TRAIN else np.array([], dtype="float64")
    bt = scores(y[N_TRAIN:], predicted)
    coef = fit(x, y) if len(y) > len(used) else None
    model_estimate = predict(coef, now) if coef is not None else None
    coefficients = dict(zip(("intercept", *names), map(float, coef), strict=True)) if coef is not None else {}
    if bt.test_intervals < MIN_TESTS or bt.skill is None:
        verdict = (
            f"too few reports to judge a model: {len(y)} intervals held, {N_TRAIN + MIN_TESTS} needed;"
            " no estimate"
        )
        # Without a backtest there is no error to put around a number: no estimate at all.
        return Nowcast(names, tuple(left_out), coefficients, len(y), None, bt, None, None, verdict)
    if has_skill(bt) and model_estimate is not None:
        estimate, errors = model_estimate, bt.errors_model
        verdict = (
            f"the model beats no change out of sample: skill {100 * bt.skill:+.1f}% over"
            f" {bt.test_intervals} reports (t = {bt.edge_t:.1f})"
        )
    else:
        estimate, errors = 0.0, bt.errors_naive
        verdict = NO_SKILL  # also for a positive skill within noise: the t-statistic says so
    return Nowcast(
        names,
        tuple(left_out),
        coefficients,
        len(y),
        model_estimate,
        bt,
        estimate,
        band(estimate, errors),
        verdict,
    )
