"""FINRA revisions: a row flagged R on settlement date d carries in previousShortPositionQuantity the
corrected short interest of the symbol's previous FINRA cycle. Ingest applies it to the row held
there, as a new version with the revising file's lineage: ``--known-at`` before that ingest still
shows the printed figure, and ``store forget`` of the revising file brings it back."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest

from positioning_cli import api
from positioning_cli import store as store_module
from positioning_cli.ingest import parse_file
from positioning_cli.ingest.short_interest import previous_cycle
from positioning_cli.store import Store
from tests.conftest import SAMPLE, real_dir, run_cli
from tests.store_helpers import HEADER, write_finra_files

D1, D2 = date(2026, 1, 15), date(2026, 1, 30)

# (symbol, short interest, previous figure, revision flag, average daily volume, days to cover, split flag)
Row = tuple[str, int, int, str, int, float, str]


def _finra(folder: Path, d: date, rows: list[Row]) -> Path:
    """A FINRA pipe file for settlement date ``d``, in the layout of DOMAIN.md."""
    lines = [HEADER]
    for sym, si, prev, flag, adv, dtc, split in rows:
        change = 100 * (si / prev - 1) if prev else 0
        lines.append(
            f"{d:%Y%m%d}|{sym}|{sym.title()} Inc.|A|NNM|{si}|{prev}|{split}|{adv}|{dtc}|{flag}|{change:.2f}|{si - prev}|{d}"
        )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"shrt{d:%Y%m%d}.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def cycles(tmp_path: Path) -> tuple[Path, Path]:
    """Cycle 1 prints AAA at 100; cycle 2's AAA row is flagged R with previous = 120."""
    first = _finra(
        tmp_path / "in", D1, [("AAA", 100, 90, "", 50, 2.0, ""), ("BBB", 200, 200, "", 100, 2.0, "")]
    )
    second = _finra(
        tmp_path / "in", D2, [("AAA", 150, 120, "R", 50, 3.0, ""), ("BBB", 210, 200, "", 100, 2.1, "")]
    )
    return first, second


def _rows(store: Path, known_at: datetime | None = None) -> dict[tuple[date, str], dict[str, object]]:
    t = Store(store).read("short_interest", known_at=known_at)
    return {(r["settlement_date"], r["symbol"]): r for r in t.to_pylist()}


def _si(store: Path, known_at: datetime | None = None) -> dict[tuple[date, str], tuple[int, str]]:
    return {k: (r["short_interest"], r["source_file"]) for k, r in _rows(store, known_at).items()}


def _next_second() -> None:
    """Ingest times have a one-second grain: the next ingest must be told apart from this one."""
    time.sleep(1.05 - (time.time() % 1.0))


def _ingest(store: Path, *files: Path) -> str:
    r = run_cli("ingest", "short-interest", *map(str, files), store=store)
    assert r.code == 0, r.err
    return r.err


def _ingested_at(store: Path) -> datetime:
    last = json.loads((store / "manifest.json").read_text())["ingests"][-1]["ingested_at"]
    return datetime.fromisoformat(last)


def _members(tmp_path: Path, store: Path) -> None:
    members = tmp_path / "members.csv"
    members.write_text("Symbol,Security,GICS Sector\nAAA,Aaa Inc.,Industrials\nBBB,Bbb Inc.,Industrials\n")
    r = run_cli("ingest", "members", str(members), "--index", "SPX", "--as-of", "2026-01-02", store=store)
    assert r.code == 0, r.err


def _spx_totals(store: Path, *extra: str) -> dict[str, float]:
    r = run_cli("history", "--index", "SPX", "--format", "json", *extra, store=store)
    assert r.code == 0, r.err
    return {row["settlement_date"]: row["value"] for row in json.loads(r.out)["rows"]}


def test_a_revision_restates_the_previous_cycle_as_a_new_version(
    tmp_path: Path, cycles: tuple[Path, Path]
) -> None:
    first, second = cycles
    store = tmp_path / "store"
    _members(tmp_path, store)
    _ingest(store, first)
    printed = _ingested_at(store)
    held = _rows(store)[(D1, "AAA")]
    _next_second()
    said = _ingest(store, second)
    assert (
        "shrt20260130.csv: 2 rows, 2026-01-30, finra-pipe, 2 new or changed, 1 previous-cycle figure revised\n"
        in said
    )

    rows = _rows(store)
    revised = rows[(D1, "AAA")]
    # the corrected figure replaces short_interest only; lineage names the file that said it
    assert revised["short_interest"] == 120
    assert revised["source_file"] == "shrt20260130.csv"
    for column in (
        "previous_short_interest",
        "avg_daily_volume",
        "days_to_cover",
        "revision_flag",
        "issue_name",
    ):
        assert revised[column] == held[column], column
    assert (
        rows[(D1, "BBB")]["short_interest"] == 200 and rows[(D1, "BBB")]["source_file"] == "shrt20260115.csv"
    )

    # change since the last report, by hand: 150 / 120 - 1 = +25% (the printed 100 gave +50%)
    r = run_cli("stock", "AAA", "--format", "json", store=store)
    assert r.code == 0, r.err
    story = {row["settlement_date"]: row for row in json.loads(r.out)["rows"]}
    assert story["2026-01-30"]["si_change_last"] == pytest.approx(150 / 120 - 1)
    assert story["2026-01-15"]["short_interest"] == 120

    # the index total of cycle 1: 120 + 200 now, 100 + 200 as known before the revising ingest
    assert _spx_totals(store)["2026-01-15"] == 320
    assert _spx_totals(store, "--known-at", printed.isoformat())["2026-01-15"] == 300
    assert _si(store, known_at=printed) == {
        (D1, "AAA"): (100, "shrt20260115.csv"),
        (D1, "BBB"): (200, "shrt20260115.csv"),
    }
    kept = Store(store).versions(
        "short_interest", ["settlement_date", "symbol", "short_interest", "source_file"]
    )
    assert sorted(
        (r["short_interest"], r["source_file"])
        for r in kept.to_pylist()
        if r["symbol"] == "AAA" and r["settlement_date"] == D1
    ) == [
        (100, "shrt20260115.csv"),
        (120, "shrt20260130.csv"),
    ]

    assert run_cli("store", "verify", store=store).code == 0  # restated partitions keep the schema

    # forgetting the revising file undoes the revision it applied
    _next_second()
    r = run_cli("store", "forget", str(second), store=store)
    assert r.code == 0, r.err
    assert _si(store) == {(D1, "AAA"): (100, "shrt20260115.csv"), (D1, "BBB"): (200, "shrt20260115.csv")}


def test_both_cycles_in_one_run_and_forget_brings_the_printed_figure_back(
    tmp_path: Path, cycles: tuple[Path, Path]
) -> None:
    store = tmp_path / "store"
    said = _ingest(store, *cycles)
    assert "1 previous-cycle figure revised" in said
    assert _si(store)[(D1, "AAA")] == (120, "shrt20260130.csv")
    assert _si(store, known_at=datetime.now(UTC)) == _si(store)  # the replay agrees with the live table
    assert run_cli("store", "verify", store=store).code == 0
    _next_second()
    api.forget(store, cycles[1])
    # the printed row was superseded within the commit, and is still kept to fall back on
    assert _si(store) == {(D1, "AAA"): (100, "shrt20260115.csv"), (D1, "BBB"): (200, "shrt20260115.csv")}


def test_steps_of_a_long_ingest_change_nothing(
    tmp_path: Path, cycles: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each file its own merge step (the revised cycle then staged, not in memory): same store."""
    one = tmp_path / "one"
    api.ingest("short-interest", cycles, one)
    monkeypatch.setattr(api, "MERGE_STEP_ROWS", 1)
    steps = tmp_path / "steps"
    reports = api.ingest("short-interest", cycles, steps)
    assert [r.revised for r in reports] == [0, 1]
    assert _si(steps) == _si(one)
    cols = ["settlement_date", "symbol", "short_interest", "source_file", "seq"]
    assert sorted(map(str, Store(steps).versions("short_interest", cols).to_pylist())) == sorted(
        map(str, Store(one).versions("short_interest", cols).to_pylist())
    )
    _next_second()
    api.forget(steps, cycles[1])
    assert _si(steps)[(D1, "AAA")] == (100, "shrt20260115.csv")


def test_out_of_order_ingest_newest_ingest_wins(tmp_path: Path, cycles: tuple[Path, Path]) -> None:
    """The revising file first: the store lacks the previous cycle, nothing to correct (said);
    the revised cycle's file ingested later is the newest knowledge by ingest order."""
    first, second = cycles
    store = tmp_path / "store"
    said = _ingest(store, second)
    assert "0 previous-cycle figures revised (1 not held: nothing to correct)" in said
    _next_second()
    _ingest(store, first)
    assert _si(store)[(D1, "AAA")] == (100, "shrt20260115.csv")
    # within one run the order on the command line is the ingest order
    together = tmp_path / "together"
    said = _ingest(together, second, first)
    assert "1 not held: nothing to correct" in said
    assert _si(together)[(D1, "AAA")] == (100, "shrt20260115.csv")
    # forgetting and ingesting the revising file again applies it
    _next_second()
    api.forget(store, second)
    _next_second()
    assert "1 previous-cycle figure revised" in _ingest(store, second)
    assert _si(store)[(D1, "AAA")] == (120, "shrt20260130.csv")


def test_a_figure_already_as_revised_adds_no_version(tmp_path: Path) -> None:
    first = _finra(tmp_path / "in", D1, [("AAA", 120, 90, "", 50, 2.4, "")])
    second = _finra(tmp_path / "in", D2, [("AAA", 150, 120, "R", 50, 3.0, "")])
    store = tmp_path / "store"
    _ingest(store, first)
    before = Store(store).versions("short_interest").num_rows
    said = _ingest(store, second)
    assert "0 previous-cycle figures revised (1 already as revised)" in said
    assert Store(store).versions("short_interest").num_rows == before + 1  # cycle 2's own row only
    assert _si(store)[(D1, "AAA")] == (120, "shrt20260115.csv")


def test_only_the_previous_finra_cycle_is_restated(tmp_path: Path) -> None:
    """CCC's latest held date is two cycles back: FINRA's previous cycle is not held, so nothing
    changes. A row also flagged S (split) is left alone: its previous figure is on the new basis.
    A previous cycle itself revised (flag R) is restated all the same, keeping its flag."""
    folder = tmp_path / "in"
    dec = _finra(folder, date(2025, 12, 31), [("CCC", 500, 400, "", 10, 50.0, "")])
    jan15 = _finra(folder, D1, [("SPL", 1000, 900, "", 10, 100.0, ""), ("REV", 70, 60, "R", 10, 7.0, "")])
    jan30 = _finra(
        folder,
        D2,
        [
            ("CCC", 600, 550, "R", 10, 60.0, ""),
            ("SPL", 2400, 2000, "R", 10, 240.0, "S"),
            ("REV", 80, 75, "R", 10, 8.0, ""),
        ],
    )
    store = tmp_path / "store"
    said = _ingest(store, dec, jan15, jan30)
    assert (
        "shrt20260130.csv: 3 rows, 2026-01-30, finra-pipe, 3 new or changed, 1 previous-cycle figure revised (1 not held: nothing to correct)"
        in said
    )
    si = _si(store)
    assert si[(date(2025, 12, 31), "CCC")] == (500, "shrt20251231.csv")
    assert si[(D1, "SPL")] == (1000, "shrt20260115.csv")
    assert si[(D1, "REV")] == (75, "shrt20260130.csv")
    assert _rows(store)[(D1, "REV")]["revision_flag"] is True
    # and REV's own R row on 2026-01-15 restated its previous cycle, which is not held
    jan15_line = next(line for line in said.splitlines() if line.startswith("shrt20260115.csv:"))
    assert "0 previous-cycle figures revised (1 not held: nothing to correct)" in jan15_line


def test_previous_cycle_spans_by_hand() -> None:
    days = np.array(
        ["2026-01-15", "2026-01-30", "2022-04-14", "2026-03-13", "2024-03-28", "2024-02-29"],
        dtype="datetime64[D]",
    )
    first, last = previous_cycle(days)
    assert [str(d) for d in first] == [
        "2025-12-16",
        "2026-01-01",
        "2022-03-16",
        "2026-02-16",
        "2024-03-01",
        "2024-02-01",
    ]
    assert [str(d) for d in last] == [
        "2025-12-31",
        "2026-01-15",
        "2022-03-31",
        "2026-02-28",
        "2024-03-15",
        "2024-02-15",
    ]


def test_ingest_json_counts_revisions(tmp_path: Path, cycles: tuple[Path, Path]) -> None:
    r = run_cli("ingest", "short-interest", *map(str, cycles), "-f", "json", store=tmp_path / "s")
    assert r.code == 0, r.err
    files = json.loads(r.out)["files"]
    assert [(f["revisions"], f["revised"], f["revisions_not_held"]) for f in files] == [(0, 0, 0), (1, 1, 0)]


def _sample_revisions() -> list[tuple[date, str, int, int]]:
    """Every R row of the sample FINRA files, read as plain text: (date, symbol, current, previous)."""
    out = []
    for path in sorted((SAMPLE / "short_interest").glob("shrt*.csv.gz")):
        lines = gzip.decompress(path.read_bytes()).decode().splitlines()
        names = lines[0].split("|")
        for line in lines[1:]:
            row = dict(zip(names, line.split("|"), strict=True))
            if row["revisionFlag"] == "R":
                d = date.fromisoformat(row["settlementDate"])
                out.append(
                    (
                        d,
                        row["symbolCode"],
                        int(row["currentShortPositionQuantity"]),
                        int(row["previousShortPositionQuantity"]),
                    )
                )
    return out


def test_the_sample_store_holds_every_revised_figure(demo_store: Path) -> None:
    """Each sample R row's previous figure is what the store holds for the symbol's date before
    (the sample files are one per FINRA cycle), and FINRA's own change agrees with the store's."""
    revisions = _sample_revisions()
    assert len(revisions) == 26
    held = (
        Store(demo_store).read("short_interest", ["settlement_date", "symbol", "short_interest"]).to_pylist()
    )
    by_symbol: dict[str, list[tuple[date, int]]] = {}
    for r in held:
        by_symbol.setdefault(r["symbol"], []).append((r["settlement_date"], r["short_interest"]))
    for d, sym, _, previous in revisions:
        before = max(x for x in by_symbol[sym] if x[0] < d)
        assert before[1] == previous, (d, sym)
    # GOR on 2026-09-30: FINRA's row says +15.52% (1,799,304 vs a corrected 1,557,578)
    r = run_cli(
        "scan", "--by", "stock", "--as-of", "2026-09-30", "--top", "0", "--format", "json", store=demo_store
    )
    assert r.code == 0, r.err
    gor = next(row for row in json.loads(r.out)["rows"] if row["symbol"] == "GOR")
    assert round(100 * gor["si_change_last"], 2) == 15.52
    assert gor["short_interest_prev"] == 1_557_578


def test_real_finra_files_carry_no_revision_and_restate_nothing(tmp_path: Path) -> None:
    folder = real_dir("finra_short_interest")
    web = sorted(folder.glob("praveenraj_*.csv"))
    if not web:
        pytest.skip("no FINRA web export among the real files")
    for path in web:
        assert parse_file("short-interest", path).restates is None  # the web grid has no revision flag
    reports = api.ingest("short-interest", web, tmp_path / "store")
    assert [(r.revisions, r.revised) for r in reports] == [(0, 0)] * len(web)


@pytest.mark.parametrize("one_run", [True, False])
def test_resolving_restated_keys_apart_gives_the_plain_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, one_run: bool
) -> None:
    """The restated keys are resolved apart from the rest of a partition (speed); the plain
    resolution of the whole partition gives the same live rows, versions and reports."""
    files = write_finra_files(tmp_path / "in", 4, 200, seed=5, revise=0.1)

    def run(root: Path) -> tuple[list[str], list[str], list[tuple[int, int, int]]]:
        reports = []
        for group in [files] if one_run else [[f] for f in files]:
            reports += api.ingest("short-interest", group, root)
        cols = ["settlement_date", "symbol", "short_interest", "revision_flag", "source_file"]
        live = sorted(map(str, Store(root).read("short_interest", cols).to_pylist()))
        kept = sorted(map(str, Store(root).versions("short_interest", [*cols, "seq"]).to_pylist()))
        return live, kept, [(r.changed, r.revised, r.revisions_not_held) for r in reports]

    apart = run(tmp_path / "apart")
    assert sum(r[1] for r in apart[2]) > 0  # some revisions were applied
    monkeypatch.setattr(store_module, "_resolve_restating", store_module._resolve)
    assert run(tmp_path / "plain") == apart


def test_forgetting_the_revised_cycle_takes_its_restated_rows_along(
    tmp_path: Path, cycles: tuple[Path, Path]
) -> None:
    """A restatement never outlives the row it restated: forget cycle 1's file and its AAA row,
    revised by cycle 2's file, goes too (cycle 2's own rows stay)."""
    first, second = cycles
    store = tmp_path / "store"
    _ingest(store, first)
    _next_second()
    _ingest(store, second)
    _next_second()
    before_forget = _ingested_at(store)
    api.forget(store, first)
    assert _si(store) == {(D2, "AAA"): (150, "shrt20260130.csv"), (D2, "BBB"): (210, "shrt20260130.csv")}
    assert _si(store, known_at=datetime.now(UTC)) == _si(store)  # the replay applies the same rule
    assert _si(store, known_at=before_forget)[(D1, "AAA")] == (120, "shrt20260130.csv")
    # another file giving cycle 1 keeps the restatement standing
    other = tmp_path / "store2"
    _ingest(other, first)
    api_file = tmp_path / "api.json"
    api_file.write_text(
        json.dumps(
            [{"symbolCode": "AAA", "settlementDate": "2026-01-15", "currentShortPositionQuantity": 100}]
        )
    )
    _next_second()
    _ingest(other, api_file)
    _next_second()
    _ingest(other, second)
    _next_second()
    api.forget(other, first)
    assert _si(other)[(D1, "AAA")] == (120, "shrt20260130.csv")


def test_an_ingest_with_revisions_does_not_load_pandas(tmp_path: Path, cycles: tuple[Path, Path]) -> None:
    """Revisions are applied with Arrow alone in the usual case (pandas costs ~0.5 s to import:
    more than a day's file takes to ingest)."""
    code = (
        "import sys; from pathlib import Path; from positioning_cli import api; "
        f"r = api.ingest('short-interest', [Path({str(cycles[0])!r})], Path({str(tmp_path / 's')!r})); "
        f"r = api.ingest('short-interest', [Path({str(cycles[1])!r})], Path({str(tmp_path / 's')!r})); "
        "assert r[0].revised == 1, r; assert 'pandas' not in sys.modules, 'pandas imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])
