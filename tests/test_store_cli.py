"""`store info`, `store verify` and `--known-at` as a user and a script meet them."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from positioning_cli.errors import ExitCode
from tests.conftest import SAMPLE, run_cli

SI_FILES = sorted((SAMPLE / "short_interest").iterdir())


@pytest.fixture(scope="module")
def staged_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """Members and prices, then the SI history in two ingests a few seconds apart.

    Returns the store, the scan JSON right after the first SI ingest, and a time between the two.
    """
    store = tmp_path_factory.mktemp("pit") / "store"
    for kind, sub in (("members", "members"), ("prices", "prices")):
        assert run_cli("ingest", kind, str(SAMPLE / sub), store=store).code == 0
    first, second = SI_FILES[:-6], SI_FILES[-6:]
    assert run_cli("ingest", "short-interest", *map(str, first), store=store).code == 0
    # "now" as when the first part was current (its newest report, 2026-07-31, was out on Aug 11):
    # a replay never warns that the store is behind the calendar, so the scan then did not either
    then = {"POSITIONING_NOW": "2026-08-12T17:00:00+00:00"}
    before = run_cli("scan", "-f", "json", store=store, env=then).out
    for by in ("stock", "sector"):
        (store.parent / f"before_{by}.json").write_text(
            run_cli("scan", "--by", by, "-f", "json", store=store, env=then).out
        )
    time.sleep(1.1)  # ingest times are whole seconds
    between = datetime.now(UTC).replace(microsecond=0).isoformat()
    time.sleep(1.1)
    assert run_cli("ingest", "short-interest", *map(str, second), store=store).code == 0
    return store, before, between


def test_known_at_reproduces_what_the_store_knew_then(staged_store: tuple[Path, str, str]) -> None:
    store, before, between = staged_store
    now = json.loads(run_cli("scan", "-f", "json", store=store).out)
    then = run_cli("scan", "--known-at", between, "-f", "json", store=store)
    assert then.code == 0, then.err
    assert then.out == before
    assert json.loads(then.out)["as_of"] < now["as_of"]


@pytest.mark.parametrize("by", ["stock", "sector"])
def test_known_at_scan_by_stock_and_sector(staged_store: tuple[Path, str, str], by: str) -> None:
    """`scan --by stock|sector --known-at T` is the answer the store gave at T (the CLI passed no
    --known-at to the stock ranking), not today's."""
    store, _, between = staged_store
    before = (store.parent / f"before_{by}.json").read_text()
    now = run_cli("scan", "--by", by, "-f", "json", store=store)
    then = run_cli("scan", "--by", by, "--known-at", between, "-f", "json", store=store)
    assert then.code == 0, then.err
    assert then.out == before
    assert json.loads(then.out)["as_of"] < json.loads(now.out)["as_of"]


@pytest.mark.parametrize(
    "view",
    [
        ["scan"],
        ["scan", "--by", "stock"],
        ["scan", "--by", "sector"],
        ["summary"],
        ["history", "--index", "RUT"],
        ["cot"],
        ["nowcast"],
        ["chart", "history", "--out", "{tmp}/c.svg"],
        ["report", "--out", "{tmp}/r.html", "--no-charts"],
    ],
    ids=lambda v: " ".join(v[:3]),
)
def test_known_at_before_anything_was_ingested_is_no_data(
    staged_store: tuple[Path, str, str], view: list[str], tmp_path: Path
) -> None:
    """Every view with --known-at before the first ingest: exit 4, one error line, nothing written."""
    store, _, _ = staged_store
    args = [a.replace("{tmp}", str(tmp_path)) for a in view]
    r = run_cli(*args, "--known-at", "2001-01-01", store=store)
    assert r.code == ExitCode.NO_DATA, (r.code, r.err)
    assert r.out == "" and "Traceback" not in r.err
    assert r.err.startswith("error: ") and len(r.err.splitlines()) == 1, r.err
    assert list(tmp_path.iterdir()) == []


def test_known_at_must_be_a_date_or_time(staged_store: tuple[Path, str, str]) -> None:
    store, _, _ = staged_store
    r = run_cli("scan", "--known-at", "yesterday", store=store)
    assert r.code == ExitCode.USAGE and "--known-at" in r.err


def test_store_info_lists_tables_and_ingests(staged_store: tuple[Path, str, str]) -> None:
    store, _, _ = staged_store
    doc = json.loads(run_cli("store", "info", "-f", "json", store=store).out)
    tables = {r["table"]: r for r in doc["rows"]}
    assert tables["short_interest"]["files"] == len(SI_FILES)
    assert tables["short_interest"]["first_date"] == "2020-01-15"
    assert tables["members"]["rows"] > 0 and tables["cot"]["rows"] == 0
    assert doc["last_ingests"][-1]["source_file"] == SI_FILES[-1].name


def test_store_verify_passes_a_healthy_store_and_names_each_problem(
    staged_store: tuple[Path, str, str],
) -> None:
    store, _, _ = staged_store
    ok = run_cli("store", "verify", "-f", "json", store=store)
    assert ok.code == 0, ok.out
    assert json.loads(ok.out)["ok"] is True
    stray = store / "short_interest" / "year=2026" / "stray.parquet"
    stray.write_bytes(b"not parquet")
    try:
        bad = run_cli("store", "verify", "-f", "json", store=store)
        assert bad.code == ExitCode.STORE
        problems = json.loads(bad.out)["rows"]
        assert [p["kind"] for p in problems] == ["orphan"]
        assert "stray.parquet" in problems[0]["path"]
    finally:
        stray.unlink()


def test_store_commands_on_no_store_say_so(tmp_path: Path) -> None:
    for cmd in (["store", "info"], ["store", "verify"]):
        r = run_cli(*cmd, store=tmp_path / "none")
        assert r.code == ExitCode.NO_DATA and "no store" in r.err
        assert not (tmp_path / "none").exists()


def test_a_rerun_with_nothing_new_still_cleans_a_killed_runs_leftovers(tmp_path: Path) -> None:
    store = tmp_path / "store"
    assert run_cli("ingest", "short-interest", str(SI_FILES[0]), store=store).code == 0
    (store / ".staging").mkdir()
    (store / ".staging" / "0123abcd.parquet").write_bytes(b"half written")
    r = run_cli("ingest", "short-interest", str(SI_FILES[0]), store=store)
    assert r.code == 0 and "already ingested" in r.err
    assert not (store / ".staging").exists()
