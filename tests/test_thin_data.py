"""Honest when data are thin: sparse settlement dates and membership look-ahead (issue 11).

A hand-made store: 20 semi-monthly FINRA files of five symbols (four RUT members and one that is
in no index), except 2025-10-15, a "scraped" file holding one symbol at an absurd value. The RUT
list is first ingested as of 2025-03-15 (so the four reports before it borrow it: look-ahead),
then a list as of 2025-01-02 arrives in a later commit. Every expected number is computed here
in plain Python from the same table.
"""

from __future__ import annotations

import json
import statistics
import time
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest

from positioning_cli.analytics.coverage import MIN_NEIGHBOURS, NEIGHBOURS, SPARSE_SHARE, Coverage
from tests.conftest import run_cli
from tests.store_helpers import HEADER, settlement_dates

DATES = settlement_dates(20)
SPARSE = DATES[18]  # 2025-10-15: the scraped file
D = DATES[19]  # the newest report
SO = {"AAA": 10_000_000, "BBB": 40_000_000, "CCC": 30_000_000, "DDD": 20_000_000}
SECTOR = {"AAA": "Health Care", "BBB": "Financials", "CCC": "Industrials", "DDD": "Industrials"}


def si_on(k: int) -> dict[str, int]:
    """Short interest per symbol on DATES[k]; the sparse date holds AAA only, far too high."""
    if DATES[k] == SPARSE:
        return {"AAA": 5_000_000}  # 50% of its shares outstanding: not quarantined
    return {
        "AAA": 1_000_000 + 10_000 * k,
        "BBB": 2_000_000 + (k * 37 % 50) * 10_000,
        "CCC": 3_000_000 - 30_000 * k,
        "DDD": 1_500_000 + (k % 4) * 200_000,
        "EEE": 700_000,  # in no index: counts towards the date's coverage, not the RUT total
    }


def rut_total(k: int) -> int:
    return sum(v for s, v in si_on(k).items() if s in SO)


def pct(values: list[float], x: float) -> float:
    """DOMAIN.md: 100 × share of the window's observations that are <= x."""
    return 100.0 * sum(v <= x for v in values) / len(values)


def split_flag(sym: str, k: int) -> str:
    """DDD splits in the newest cycle: it leaves both totals of the index's change over it."""
    return "S" if (sym, k) == ("DDD", 19) else ""


def write_finra(folder: Path, d: date, rows: dict[str, int], split: str = "") -> Path:
    """One FINRA pipe file; ``split`` names the symbol flagged "S" in it."""
    lines = [HEADER] + [
        f"{d:%Y%m%d}|{sym}|{sym} Corp|A|NNM|{si}|0|{'S' if sym == split else ''}|200000|"
        f"{max(1.0, si / 200_000):.2f}||0|0|{d:%Y-%m-%d}"
        for sym, si in rows.items()
    ]
    path = folder / f"shrt{d:%Y%m%d}.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def write_si(folder: Path, k: int) -> Path:
    return write_finra(folder, DATES[k], si_on(k), "DDD" if split_flag("DDD", k) else "")


def write_members(path: Path, as_of: str) -> Path:
    path.write_text(
        "index,as_of,symbol,name,sector,shares_outstanding,float_shares,weight\n"
        + "".join(f"RUT,{as_of},{s},{s} Corp,{SECTOR[s]},{so},{so},25\n" for s, so in SO.items())
    )
    return path


@pytest.fixture(scope="module")
def thin(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """The store, a time between the first commit (no sparse file, the late list only) and the
    rest, and the stderr of the sparse file's ingest."""
    base = tmp_path_factory.mktemp("thin")
    si_dir = base / "si"
    si_dir.mkdir()
    files = [write_si(si_dir, k) for k in range(len(DATES))]
    store = base / "store"
    r = run_cli("ingest", "members", str(write_members(base / "late.csv", "2025-03-15")), store=store)
    assert r.code == 0, r.err
    full = [str(f) for k, f in enumerate(files) if DATES[k] != SPARSE]
    assert run_cli("ingest", "short-interest", *full, store=store).code == 0
    time.sleep(1.1)  # ingest times are whole seconds
    between = datetime.now(UTC).replace(microsecond=0).isoformat()
    time.sleep(1.1)
    scraped = run_cli("ingest", "short-interest", str(files[DATES.index(SPARSE)]), store=store)
    assert scraped.code == 0, scraped.err
    r = run_cli("ingest", "members", str(write_members(base / "early.csv", "2025-01-02")), store=store)
    assert r.code == 0, r.err
    return store, between, scraped.err


def scan_json(store: Path, *args: str) -> dict:
    r = run_cli(*args, "-f", "json", store=store)
    assert r.code == 0, r.err
    return json.loads(r.out)


# ------------------------------------------------------------------------------------ the rule


def expected_sparse(counts: list[int]) -> list[bool]:
    """The README rule, written out plainly."""
    out = []
    for i, c in enumerate(counts):
        around = counts[max(0, i - NEIGHBOURS) : i] + counts[i + 1 : i + 1 + NEIGHBOURS]
        out.append(len(around) >= MIN_NEIGHBOURS and c < SPARSE_SHARE * statistics.median(around))
    return out


@pytest.mark.parametrize(
    "counts",
    [
        [2100, 2134, 12, 2140, 2150, 2098, 2200, 47, 2160, 2170, 2180],  # two scraped dates
        [30, 2000, 2010, 2020, 2030, 2040],  # the first date: neighbours after it only
        [2000, 2010, 2020, 2030, 2040, 900],  # the last date: neighbours before it only
        [100, 100, 100, 50, 100, 100],  # exactly half the median: not below it, not sparse
        [100, 100, 100, 49, 100, 100],
        [3, 5000],  # two dates: one neighbour each, nothing to judge
        [7],
    ],
)
def test_sparse_rule_matches_a_plain_computation(counts: list[int]) -> None:
    days = [date(2024, 1, 1 + 2 * i) for i in range(len(counts))]
    cov = Coverage.of(dict(zip(days, counts, strict=True)))
    assert cov.sparse.tolist() == expected_sparse(counts)
    assert [cov.is_sparse(d) for d in days] == expected_sparse(counts)


def test_a_scraped_date_is_flagged_at_ingest(thin: tuple[Path, str, str]) -> None:
    # neighbours: the four dates before it and the one after, five symbols each -> median 5
    assert (
        f"warning: shrt{SPARSE:%Y%m%d}.csv: {SPARSE.isoformat()}: 1 symbol, far below its neighbours' "
        "median 5 — left out of percentiles\n"
    ) in thin[2]


# ------------------------------------------------------------------------------- percentiles


def test_index_percentile_and_change_leave_the_sparse_date_out(thin: tuple[Path, str, str]) -> None:
    store = thin[0]
    doc = scan_json(store, "scan", "--index", "RUT")
    row = doc["rows"][0]
    assert (row["settlement_date"], row["sparse_date"]) == (D.isoformat(), False)
    held = [rut_total(k) for k in range(len(DATES)) if DATES[k] != SPARSE]
    assert row["si_pct_1y_obs"] == len(held) == 19
    assert row["si_pct_1y"] == pytest.approx(pct(held, rut_total(19)))
    with_sparse = [rut_total(k) for k in range(len(DATES))]
    assert pct(with_sparse, rut_total(19)) != pytest.approx(row["si_pct_1y"])  # the test can fail
    # the change since the last report skips the sparse report to the one before it, and leaves
    # DDD (split in the window) out of both totals
    assert row["si_base_last"] == DATES[17].isoformat()
    ddd = (si_on(19)["DDD"], si_on(17)["DDD"])
    assert row["si_change_last"] == pytest.approx((rut_total(19) - ddd[0]) / (rut_total(17) - ddd[1]) - 1)
    assert row["split_excluded_symbols"] == 1
    # the same from the whole table (no levels cache, every row read)
    whole = run_cli("scan", "--index", "RUT", "-f", "json", store=store, env={"POSITIONING_NO_CACHE": "1"})
    assert json.loads(whole.out)["rows"][0] == row
    assert any(w.startswith("sparse settlement dates left out of percentiles") for w in doc["warnings"])

    summary = scan_json(store, "summary", "--index", "RUT")
    total = next(r for r in summary["rows"] if r["metric"] == "total_si_shares")
    assert total["pct_1y"] == pytest.approx(pct(held, rut_total(19)))
    assert total["obs_all"] == 19
    assert (total["base_last"], total["sparse_date"]) == (DATES[17].isoformat(), False)


def test_on_the_sparse_date_itself_percentiles_are_null(thin: tuple[Path, str, str]) -> None:
    store = thin[0]
    doc = scan_json(store, "scan", "--index", "RUT", "--as-of", SPARSE.isoformat())
    row = doc["rows"][0]
    assert row["sparse_date"] is True
    assert (row["si_pct_1y"], row["si_pct_5y"], row["divergence_score"]) == (None, None, None)
    assert "sparse settlement date" in row["score_missing"]
    assert f"{SPARSE.isoformat()}: 1 symbol, far below its neighbours' median 5" in " ".join(doc["warnings"])
    stocks = scan_json(store, "scan", "--by", "stock", "--index", "RUT", "--as-of", SPARSE.isoformat())
    assert [(r["symbol"], r["sparse_date"], r["si_pct_1y"]) for r in stocks["rows"]] == [("AAA", True, None)]
    summary = scan_json(store, "summary", "--index", "RUT", "--as-of", SPARSE.isoformat())
    assert all(r["sparse_date"] and r["pct_1y"] is None for r in summary["rows"])
    assert any("is a sparse settlement date" in t for t in summary["text"]["RUT"])
    table = run_cli("scan", "--index", "RUT", "--as-of", SPARSE.isoformat(), "-f", "table", store=store)
    assert f"Sparse settlement date {SPARSE.isoformat()}" in " ".join(table.out.split())


def test_stock_and_sector_percentiles_leave_the_sparse_date_out(thin: tuple[Path, str, str]) -> None:
    store = thin[0]
    rows = {r["symbol"]: r for r in scan_json(store, "scan", "--by", "stock", "--index", "RUT")["rows"]}
    aaa = [si_on(k)["AAA"] for k in range(len(DATES)) if DATES[k] != SPARSE]
    assert rows["AAA"]["si_pct_1y_obs"] == 19
    assert rows["AAA"]["si_pct_1y"] == pytest.approx(pct(aaa, si_on(19)["AAA"])) == 100.0
    assert pct([*aaa, 5_000_000], si_on(19)["AAA"]) == 95.0  # what counting it would say
    assert rows["AAA"]["si_base_last"] == DATES[17].isoformat()
    assert rows["AAA"]["si_change_last"] == pytest.approx(si_on(19)["AAA"] / si_on(17)["AAA"] - 1)
    assert not any(r["sparse_date"] for r in rows.values())

    sectors = {r["sector"]: r for r in scan_json(store, "scan", "--by", "sector", "--index", "RUT")["rows"]}
    care = [100 * v / SO["AAA"] for v in aaa]  # Health Care: AAA alone, median SI % of shares out
    assert sectors["Health Care"]["si_pct_1y"] == pytest.approx(pct(care, 100 * si_on(19)["AAA"] / SO["AAA"]))
    ind = [
        statistics.median([100 * si_on(k)[s] / SO[s] for s in ("CCC", "DDD")])
        for k in range(len(DATES))
        if DATES[k] != SPARSE
    ]
    assert sectors["Industrials"]["si_pct_1y"] == pytest.approx(pct(ind, ind[-1]))
    assert sectors["Industrials"]["si_base_last"] == DATES[17].isoformat()


def test_history_keeps_the_sparse_date_and_flags_it(thin: tuple[Path, str, str]) -> None:
    doc = scan_json(thin[0], "history", "--index", "RUT")
    flagged = [r["settlement_date"] for r in doc["rows"] if r["sparse_date"]]
    assert flagged == [SPARSE.isoformat()]
    row = next(r for r in doc["rows"] if r["sparse_date"])
    assert row["value"] == 5_000_000
    assert any(w.startswith(f"{SPARSE.isoformat()}: 1 symbol") for w in doc["warnings"])


def test_known_at_before_the_scraped_file(thin: tuple[Path, str, str]) -> None:
    """As known then the store held no sparse date; the numbers it gave equal today's, which
    leave the sparse date out."""
    store, between, _ = thin
    then = scan_json(store, "scan", "--index", "RUT", "--known-at", between)["rows"][0]
    now = scan_json(store, "scan", "--index", "RUT")["rows"][0]
    assert then["sparse_date"] is False
    for key in ("si_pct_1y", "si_pct_1y_obs", "si_base_last", "si_change_last"):
        assert then[key] == now[key], key
    history = scan_json(store, "history", "--index", "RUT", "--known-at", between)
    assert SPARSE.isoformat() not in [r["settlement_date"] for r in history["rows"]]


# -------------------------------------------------------------------------------- look-ahead

LOOK_AHEAD_DATE = DATES[2].isoformat()  # 2025-02-15: before the 2025-03-15 list


@pytest.mark.parametrize(
    "view", [[], ["--by", "stock"], ["--by", "sector"]], ids=["index", "stock", "sector"]
)
def test_look_ahead_rows_are_flagged_as_known_then(thin: tuple[Path, str, str], view: list[str]) -> None:
    store, between, _ = thin
    args = ["scan", *view, "--index", "RUT", "--as-of", LOOK_AHEAD_DATE]
    then = scan_json(store, *args, "--known-at", between)["rows"]
    assert then and all(r["membership_look_ahead"] is True for r in then)
    assert {r["membership_as_of"] for r in then} == {"2025-03-15"}
    # today the store holds a list as of 2025-01-02: no look-ahead on that date any more
    now = scan_json(store, *args)["rows"]
    assert now and all(r["membership_look_ahead"] is False for r in now)
    assert {r["membership_as_of"] for r in now} == {"2025-01-02"}


def test_look_ahead_in_history_and_under_tables(thin: tuple[Path, str, str]) -> None:
    store, between, _ = thin
    doc = scan_json(store, "history", "--index", "RUT", "--known-at", between)
    ahead = [r["settlement_date"] for r in doc["rows"] if r["membership_look_ahead"]]
    assert ahead == [d.isoformat() for d in DATES if d < date(2025, 3, 15)]
    assert all(r["membership_as_of"] == "2025-03-15" for r in doc["rows"])
    assert any("precede the first membership snapshot" in w for w in doc["warnings"])
    now = scan_json(store, "history", "--index", "RUT")
    assert not any(r["membership_look_ahead"] for r in now["rows"])

    for args in (
        ["scan", "--index", "RUT"],
        ["scan", "--by", "stock", "--index", "RUT"],
        ["scan", "--by", "sector", "--index", "RUT"],
        ["summary", "--index", "RUT"],
        ["history", "--index", "RUT"],
    ):
        extra = [] if args[0] == "history" else ["--as-of", LOOK_AHEAD_DATE]
        r = run_cli(*args, *extra, "--known-at", between, "-f", "table", store=store, env={"COLUMNS": "200"})
        assert r.code == 0, r.err
        assert "Look-ahead:" in r.out and "as of 2025-03-15" in " ".join(r.out.split()), args


def test_coverage_is_the_same_from_the_manifest_and_from_the_rows(thin: tuple[Path, str, str]) -> None:
    """scan reads the counts from the manifest, --known-at from the rows rebuilt: one rule, one count."""
    from positioning_cli import api
    from positioning_cli.analytics import coverage
    from positioning_cli.store import Store

    store = thin[0]
    with Store(store).reading() as manifest:
        listed = coverage.from_manifest(manifest)
    rebuilt = api._load(store, datetime.now(UTC)).coverage
    assert listed.days.tolist() == rebuilt.days.tolist()
    assert listed.symbols.tolist() == rebuilt.symbols.tolist() == [5] * 18 + [1, 5]
    assert np.flatnonzero(rebuilt.sparse).tolist() == [18]


def test_stock_story_flags_the_sparse_date(thin: tuple[Path, str, str]) -> None:
    doc = scan_json(thin[0], "stock", "AAA", "--last", "0")
    by_date = {r["settlement_date"]: r for r in doc["rows"]}
    assert [d for d, r in by_date.items() if r["sparse_date"]] == [SPARSE.isoformat()]
    assert by_date[SPARSE.isoformat()]["si_pct_1y"] is None
    aaa = [si_on(k)["AAA"] for k in range(len(DATES)) if DATES[k] != SPARSE]
    assert by_date[D.isoformat()]["si_pct_1y"] == pytest.approx(pct(aaa, si_on(19)["AAA"]))


def test_a_sparse_ytd_base_skips_back_in_the_cached_scan_too(tmp_path: Path) -> None:
    """The YTD base 2024-12-28 is sparse: the change is measured from 2024-12-15, whose rows the
    cached scan must read (DDD splits in the newest cycle, so the change needs them, not levels)."""
    dates = settlement_dates(8, start=date(2024, 11, 15))
    sparse, base, d = dates[3], dates[2], dates[-1]
    assert (sparse, base) == (date(2024, 12, 28), date(2024, 12, 15))

    def rows(k: int) -> dict[str, int]:
        if dates[k] == sparse:
            return {"AAA": 3_000_000}
        return {
            "AAA": 1_000_000 + 50_000 * k,
            "BBB": 2_000_000,
            "CCC": 900_000 + 7_000 * k,
            "DDD": 1_500_000 + k,
        }

    si_dir = tmp_path / "si"
    si_dir.mkdir()
    for k, x in enumerate(dates):
        write_finra(si_dir, x, rows(k), "DDD" if x == d else "")
    store = tmp_path / "store"
    assert (
        run_cli("ingest", "members", str(write_members(tmp_path / "m.csv", "2024-01-02")), store=store).code
        == 0
    )
    assert run_cli("ingest", "short-interest", str(si_dir), store=store).code == 0
    kept = {k: sum(v for s, v in rows(k).items() if s != "DDD") for k in (2, 7)}
    for env in ({}, {"POSITIONING_NO_CACHE": "1"}):
        r = run_cli("scan", "--index", "RUT", "-f", "json", store=store, env=env)
        row = json.loads(r.out)["rows"][0]
        assert row["si_base_ytd"] == base.isoformat(), env
        assert row["si_change_ytd"] == pytest.approx(kept[7] / kept[2] - 1), env


def test_nowcast_target_leaves_out_the_intervals_touching_a_sparse_date(tmp_path: Path) -> None:
    """A sparse report is treated as a missed one: neither interval next to it is a target."""
    from positioning_cli import api
    from positioning_cli.fetch.calendar import finra_settlements
    from positioning_cli.indices import nowcast_series

    dates = finra_settlements(date(2025, 1, 1), date(2025, 6, 30))
    assert len(dates) == 12
    sparse = dates[5]

    def rows(k: int) -> dict[str, int]:
        if dates[k] == sparse:
            return {"AAA": 900_000}
        return {"AAA": 1_000_000 + 40_000 * k, "BBB": 2_000_000 - 15_000 * k, "CCC": 700_000, "DDD": 500_000}

    si_dir = tmp_path / "si"
    si_dir.mkdir()
    for k, x in enumerate(dates):
        write_finra(si_dir, x, rows(k))
    store = tmp_path / "store"
    assert (
        run_cli("ingest", "members", str(write_members(tmp_path / "m.csv", "2024-01-02")), store=store).code
        == 0
    )
    assert run_cli("ingest", "short-interest", str(si_dir), store=store).code == 0
    view, d = api._cached_index_view(store, None, api.DEFAULT_PROXIES, [], every_change=True)
    series = nowcast_series(view, "RUT", d, api.DEFAULT_PROXIES["RUT"], [], None)
    total = [sum(rows(k).values()) for k in range(len(dates))]
    expected = [
        float("nan") if sparse in (dates[k - 1], dates[k]) else total[k] / total[k - 1] - 1
        for k in range(1, len(dates))
    ]
    np.testing.assert_allclose(series.target, expected, rtol=1e-12)
    assert np.isnan(series.target).sum() == 2
