"""The nowcast (README "Nowcast"): the maths on hand-made arrays against plain-Python computations,
and the command on the demo store against the series `history` prints and the sample price file."""

from __future__ import annotations

import csv
import json
import math
import statistics
from pathlib import Path

import numpy as np
import pytest

from positioning_cli.analytics import nowcast as nc
from tests.conftest import ROOT, SAMPLE, run_cli


def simple_regression(x: list[float], y: list[float]) -> tuple[float, float]:
    """Closed-form intercept and slope of y on x."""
    mx, my = sum(x) / len(x), sum(y) / len(y)
    b = sum((a - mx) * (c - my) for a, c in zip(x, y, strict=True)) / sum((a - mx) ** 2 for a in x)
    return my - b * mx, b


X = [0.01, -0.02, 0.03, 0.00, -0.01, 0.02, 0.04, -0.03]
Y = [0.012, -0.015, 0.020, 0.004, -0.011, 0.009, 0.031, -0.018]


def test_fit_is_the_closed_form_simple_regression() -> None:
    a, b = simple_regression(X, Y)
    coef = nc.fit(np.array(X)[:, None], np.array(Y))
    assert coef == pytest.approx([a, b], rel=1e-12)
    assert nc.predict(coef, np.array([0.05])) == pytest.approx(a + b * 0.05, rel=1e-12)


def test_fit_without_inputs_is_the_mean() -> None:
    coef = nc.fit(np.empty((len(Y), 0)), np.array(Y))
    assert coef == pytest.approx([sum(Y) / len(Y)])


def test_walk_forward_predicts_each_row_from_the_rows_before() -> None:
    got = nc.walk_forward(np.array(X)[:, None], np.array(Y), n_train=4)
    want = []
    for k in range(4, len(Y)):
        a, b = simple_regression(X[:k], Y[:k])
        want.append(a + b * X[k])
    assert got == pytest.approx(want, rel=1e-12)


def test_scores_by_hand() -> None:
    y = [0.02, -0.01, 0.03, -0.04]
    p = [0.01, 0.01, -0.01, -0.02]
    bt = nc.scores(np.array(y), np.array(p))
    errors = [a - b for a, b in zip(y, p, strict=True)]  # 0.01, -0.02, 0.04, -0.02
    assert bt.mae_model == pytest.approx(sum(map(abs, errors)) / 4)  # 0.0225
    assert bt.mae_naive == pytest.approx((0.02 + 0.01 + 0.03 + 0.04) / 4)  # 0.025
    assert bt.skill == pytest.approx(1 - 0.0225 / 0.025)
    assert bt.hit_rate == 0.5  # signs right on the 1st and 4th
    assert bt.up_share == 0.5
    edge = [abs(a) - abs(e) for a, e in zip(y, errors, strict=True)]
    assert bt.edge_t == pytest.approx(statistics.mean(edge) / (statistics.stdev(edge) / 2))
    assert bt.test_intervals == 4


def test_band_is_the_linear_quantiles_of_the_errors() -> None:
    # sorted errors -3, -1, 0, 2, 5: the 10th percentile sits 0.4 of the way from -3 to -1, the
    # 90th 0.6 of the way from 2 to 5
    lo, hi = nc.band(1.0, np.array([5.0, -1.0, 0.0, -3.0, 2.0]), 0.8)
    assert (lo, hi) == pytest.approx((1.0 - 2.2, 1.0 + 3.8))


def _input(name: str, values: list[float], now: float) -> nc.Input:
    return nc.Input(name, name.replace("_", " "), np.array(values, dtype="float64"), now)


def test_an_input_with_too_little_history_is_left_out_with_the_reason() -> None:
    n = 40
    target = np.linspace(-0.02, 0.02, n)
    short = [math.nan] * (n - 3) + [0.1, 0.2, 0.3]
    unseen = list(np.linspace(0, 1, n))
    used, left_out = nc.select_inputs(
        target, [_input("sv_flow", short, 0.1), _input("unseen", unseen, math.nan), _input("ok", unseen, 0.5)]
    )
    assert [c.name for c in used] == ["ok"]
    assert left_out == [
        f"sv flow: 3 intervals held, {nc.MIN_INPUT_INTERVALS} needed",
        "unseen: not observed since the last report",
    ]


def test_a_model_with_skill_gives_its_estimate_and_band() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(0, 0.03, 80)
    y = 0.5 * x + rng.normal(0, 0.002, 80)
    r = nc.nowcast(y, [_input("flow", list(x), 0.04)])
    assert r.inputs == ("flow",)
    assert r.backtest.test_intervals == 80 - nc.N_TRAIN
    assert r.backtest.skill is not None and r.backtest.skill > 0.5 and nc.has_skill(r.backtest)
    a, b = simple_regression(list(x), list(y))
    assert r.model_estimate == pytest.approx(a + b * 0.04, rel=1e-9)
    assert r.estimate == r.model_estimate
    errors = np.sort(r.backtest.errors_model)
    assert r.band is not None and r.band[0] < r.estimate < r.band[1]
    assert r.band[0] == pytest.approx(r.estimate + np.quantile(errors, 0.1))
    assert r.verdict.startswith("the model beats no change")


def test_no_skill_says_so_and_forecasts_no_change_with_the_naive_band() -> None:
    rng = np.random.default_rng(11)
    x = rng.normal(0, 0.03, 80)
    y = rng.normal(0, 0.02, 80)  # unrelated to x
    r = nc.nowcast(y, [_input("flow", list(x), 0.04)])
    assert not nc.has_skill(r.backtest)
    assert r.verdict == nc.NO_SKILL
    assert r.estimate == 0.0
    test_y = y[nc.N_TRAIN :]
    assert r.band == pytest.approx((np.quantile(test_y, 0.1), np.quantile(test_y, 0.9)))
    assert r.model_estimate is not None  # still reported, labelled as the model's


def test_too_few_reports_give_no_number() -> None:
    y = np.linspace(-0.01, 0.01, nc.N_TRAIN + 5)
    r = nc.nowcast(y, [])
    assert r.estimate is None and r.band is None and r.model_estimate is None
    assert r.verdict.startswith("too few reports to judge a model")


# ------------------------------------------------------------------------------ the command


@pytest.fixture(scope="module")
def demo_nowcast(demo_store: Path) -> dict:
    r = run_cli("nowcast", "--format", "json", store=demo_store)
    assert r.code == 0, r.err
    return json.loads(r.out)


def test_json_keys_are_stable_and_documented(demo_nowcast: dict) -> None:
    from positioning_cli.api import NOWCAST_KEYS

    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### Nowcast") :]
    for row in demo_nowcast["rows"]:
        assert tuple(row) == NOWCAST_KEYS
    for key in NOWCAST_KEYS:
        assert f"`{key}`" in section, key
    assert demo_nowcast["band_level"] == nc.BAND_LEVEL
    assert "not short interest" in demo_nowcast["short_volume_caveat"]


def _closes(path: Path) -> dict[str, float]:
    with path.open() as f:
        return {r["Date"]: float(r["Close"]) for r in csv.DictReader(f)}


def _like_for_like_changes(store: Path, index: str, dates: list[str]) -> list[float]:
    """Each consecutive pair's change of total SI over the same constituents, in plain Python from the
    stored rows: the members of the snapshot d uses (the latest on or before d, else the first) with
    an SI row on both dates, less the symbols split-flagged on d (README "Choices")."""
    from positioning_cli import api

    frames = api._load(store)
    members = frames.members[frames.members["index"] == index]
    snapshots: dict[str, set[str]] = {}
    for as_of, sym in zip(members["as_of"].astype(str), members["symbol"], strict=True):
        snapshots.setdefault(as_of[:10], set()).add(sym)
    on: dict[str, dict[str, float]] = {}
    split: dict[str, set[str]] = {}
    for d, sym, si, flag in zip(
        frames.si["settlement_date"].astype(str),
        frames.si["symbol"],
        frames.si["short_interest"],
        frames.si["split_flag"],
        strict=True,
    ):
        if si == si and si is not None:
            on.setdefault(d[:10], {})[sym] = float(si)
        if flag is not None and flag == flag and bool(flag):  # a bool, numpy's or None/NaN (unflagged)
            split.setdefault(d[:10], set()).add(sym)
    out = []
    for base, d in zip(dates, dates[1:], strict=False):
        held = [s for s in sorted(snapshots) if s <= d] or sorted(snapshots)[:1]
        both = (snapshots[held[-1]] & set(on[d]) & set(on[base])) - split.get(d, set())
        out.append(sum(on[d][s] for s in both) / sum(on[base][s] for s in both) - 1)
    return out


def test_rut_inputs_match_history_and_the_price_file(demo_store: Path, demo_nowcast: dict) -> None:
    row = next(r for r in demo_nowcast["rows"] if r["index"] == "RUT")
    hist = json.loads(run_cli("history", "--index", "RUT", "--format", "json", store=demo_store).out)["rows"]
    values = [h["value"] for h in hist]
    assert row["last_settlement_date"] == hist[-1]["settlement_date"] == "2026-10-30"
    assert row["target_settlement_date"] == "2026-11-13"  # FINRA's next settlement date
    assert row["total_si_shares"] == values[-1]
    # the previous report's change: the last two totals history prints (no split and no
    # reconstitution in that window, so the like-for-like change is the change of the level)
    assert row["x_prev_si_change"] == pytest.approx(values[-1] / values[-2] - 1, rel=1e-12)
    closes = _closes(SAMPLE / "prices" / "IWM.csv")
    assert row["proxy_symbol"] == "IWM" and row["inputs_through"] == "2026-11-13"
    assert row["x_proxy_return"] == pytest.approx(closes["2026-11-13"] / closes["2026-10-30"] - 1, rel=1e-9)
    # the backtest: every interval but the first (no previous change) is a row; the first 24 only fit
    assert row["fit_intervals"] == len(values) - 2
    assert row["test_intervals"] == row["fit_intervals"] - nc.N_TRAIN
    # the target is like for like, so it differs from the ratio of two totals across a reconstitution
    changes = _like_for_like_changes(demo_store, "RUT", [h["settlement_date"] for h in hist])
    tested = changes[1 + nc.N_TRAIN :]
    assert row["mae_naive"] == pytest.approx(sum(map(abs, tested)) / len(tested), rel=1e-9)
    assert row["up_share"] == pytest.approx(sum(c > 0 for c in tested) / len(tested))
    assert row["skill"] == pytest.approx(1 - row["mae_model"] / row["mae_naive"])
    # the sample's short-volume files start in late September 2026: too little history to enter
    assert row["inputs"] == "proxy_return,prev_si_change"
    assert row["left_out"] == f"short-volume flow: 0 intervals held, {nc.MIN_INPUT_INTERVALS} needed"
    assert row["band_low"] < row["estimate"] < row["band_high"]
    if not row["has_skill"]:
        assert row["estimate"] == 0.0 and row["verdict"] == nc.NO_SKILL


def test_as_of_uses_only_the_data_up_to_then(demo_store: Path) -> None:
    r = run_cli("nowcast", "--index", "RUT", "--as-of", "2026-11-05", "--format", "json", store=demo_store)
    assert r.code == 0, r.err
    row = json.loads(r.out)["rows"][0]
    closes = _closes(SAMPLE / "prices" / "IWM.csv")
    assert row["inputs_through"] == "2026-11-05" and row["sessions_observed"] == 4
    assert row["x_proxy_return"] == pytest.approx(closes["2026-11-05"] / closes["2026-10-30"] - 1, rel=1e-9)
    assert "the inputs cover 4 of the 10 sessions to 2026-11-13" in r.err
    before = run_cli(
        "nowcast", "--index", "RUT", "--as-of", "2026-10-29", "--format", "json", store=demo_store
    )
    assert json.loads(before.out)["rows"][0]["last_settlement_date"] == "2026-10-15"


def test_table_fits_80_columns(demo_store: Path) -> None:
    r = run_cli("nowcast", "--format", "table", store=demo_store, env={"COLUMNS": "80"})
    assert r.code == 0, r.err
    assert max(len(line) for line in r.out.splitlines()) <= 80
    assert "no skill on the data held" in r.out or "beats no change" in r.out


def test_empty_store_is_no_data(tmp_path: Path) -> None:
    r = run_cli("nowcast", store=tmp_path / "empty")
    assert r.code == 4
    assert len(r.err.strip().splitlines()) == 1, r.err


def test_whole_table_view_gives_the_cached_figures(demo_store: Path, demo_nowcast: dict) -> None:
    """The levels cache with every split-flagged row (the default) and the whole table read at once
    (--known-at, POSITIONING_NO_CACHE) give the same numbers."""
    r = run_cli("nowcast", "--format", "json", store=demo_store, env={"POSITIONING_NO_CACHE": "1"})
    assert r.code == 0, r.err
    assert json.loads(r.out)["rows"] == demo_nowcast["rows"]


def test_target_is_scans_split_excluded_change(demo_store: Path) -> None:
    """On a report with a split-flagged SPX member the target is scan's si_change_last (the split
    symbol left out of both totals), not the raw change of the totals history prints."""
    from positioning_cli import api
    from positioning_cli.indices import nowcast_series

    view, d = api._cached_index_view(demo_store, None, api.DEFAULT_PROXIES, [], every_change=True)
    series = nowcast_series(view, "SPX", d, api.DEFAULT_PROXIES["SPX"], [], None)
    when = "2022-01-14"
    k = [str(x) for x in series.dates].index(when)
    scan = json.loads(run_cli("scan", "--index", "SPX", "--as-of", when, "-f", "json", store=demo_store).out)
    row = scan["rows"][0]
    assert row["split_excluded_symbols"] > 0
    assert series.target[k - 1] == pytest.approx(row["si_change_last"], rel=1e-12)
    hist = json.loads(
        run_cli("history", "--index", "SPX", "--as-of", when, "-f", "json", store=demo_store).out
    )
    raw = hist["rows"][-1]["value"] / hist["rows"][-2]["value"] - 1
    assert series.target[k - 1] != pytest.approx(raw, rel=1e-6)
