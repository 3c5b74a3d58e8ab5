"""Ingest as cron runs it: --keep-going past bad files, a closing total, --quiet, -f json, truncation."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from positioning_cli.errors import ExitCode, InputError
from positioning_cli.ingest import parse_file
from tests.conftest import SAMPLE, run_cli

SI = SAMPLE / "short_interest"


def _finra_text(name: str) -> str:
    return gzip.decompress((SI / name).read_bytes()).decode()


def _data_rows(text: str) -> int:
    """Rows below the header, counted as lines (the FINRA pipe files have one record per line)."""
    return sum(1 for line in text.splitlines()[1:] if line.strip())


def _cut_mid_row(text: str) -> str:
    """The text cut in the middle of a data row, as a half-finished download leaves it."""
    lines = text.splitlines(keepends=True)
    keep = "".join(lines[:30])
    return keep + lines[30][: len(lines[30]) // 3]


@pytest.fixture
def cron_folder(tmp_path: Path) -> Path:
    """Two good FINRA files, one cut short mid-row and one stray file: what a watched folder gets."""
    folder = tmp_path / "incoming"
    folder.mkdir()
    for name in ("shrt20200115.csv.gz", "shrt20200131.csv.gz"):
        (folder / name.removesuffix(".gz")).write_text(_finra_text(name))
    (folder / "shrt20200214.csv").write_text(_cut_mid_row(_finra_text("shrt20200214.csv.gz")))
    (folder / "notes.txt").write_text("remember to check the March file\n")
    return folder


def _errors(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error: ")]


def test_keep_going_commits_the_good_files(tmp_path: Path, cron_folder: Path) -> None:
    store = tmp_path / "store"
    plain = run_cli("ingest", "short-interest", str(cron_folder), store=store)
    assert plain.code == ExitCode.BAD_INPUT
    assert run_cli("store", "info", store=store).code == ExitCode.NO_DATA  # nothing committed

    r = run_cli("ingest", "short-interest", str(cron_folder), "--keep-going", store=store)
    assert r.code == ExitCode.BAD_INPUT, r.err
    errors = _errors(r.err)
    assert len(errors) == 3  # one line per bad file, then the closing one
    assert "notes.txt:1: unrecognised short-interest file" in errors[0]
    assert "shrt20200214.csv:31: truncated" in errors[1]
    assert (
        errors[2]
        == "error: 2 of 4 file(s) could not be ingested (each reported above); the others were committed"
    )

    want = _data_rows(_finra_text("shrt20200115.csv.gz")) + _data_rows(_finra_text("shrt20200131.csv.gz"))
    info = json.loads(run_cli("store", "info", "-f", "json", store=store).out)
    (si,) = [row for row in info["rows"] if row["table"] == "short_interest"]
    assert si["rows"] == want
    assert (si["first_date"], si["last_date"]) == ("2020-01-15", "2020-01-31")

    again = run_cli("ingest", "short-interest", str(cron_folder), "--keep-going", store=store)
    assert again.code == ExitCode.BAD_INPUT
    assert (
        again.err.count("already ingested with these options, unchanged") == 2
        and len(_errors(again.err)) == 3
    )


def test_keep_going_with_only_bad_files_commits_nothing(tmp_path: Path, cron_folder: Path) -> None:
    store = tmp_path / "store"
    r = run_cli("ingest", "short-interest", str(cron_folder / "notes.txt"), "--keep-going", store=store)
    assert r.code == ExitCode.BAD_INPUT
    assert _errors(r.err)[-1].endswith(
        "1 of 1 file(s) could not be ingested (each reported above); nothing was committed"
    )
    assert run_cli("store", "info", store=store).code == ExitCode.NO_DATA


@pytest.mark.parametrize("name", ["shrt20200214.csv.gz", "shrt20200228.csv.gz"])
def test_a_file_cut_mid_row_says_truncated(tmp_path: Path, name: str) -> None:
    text = _finra_text(name)
    path = tmp_path / name.removesuffix(".gz")
    path.write_text(_cut_mid_row(text))
    with pytest.raises(InputError) as info:
        parse_file("short-interest", path)
    assert info.value.line == 31  # the header, 29 whole rows, then the cut one
    assert info.value.problem.startswith("truncated") and "blank" not in info.value.problem
    # the same rows ending cleanly (last line whole, no final newline) are accepted
    whole = "".join(text.splitlines(keepends=True)[:31]).rstrip("\n")
    path.write_text(whole)
    assert parse_file("short-interest", path).table.num_rows == 30


def test_a_price_file_cut_mid_row_says_truncated(tmp_path: Path) -> None:
    lines = (SAMPLE / "prices" / "SPY.csv").read_text().splitlines(keepends=True)
    path = tmp_path / "SPY.csv"
    path.write_text("".join(lines[:10]) + lines[10][:14])  # "2019-01-16,258" of a 7-field row
    with pytest.raises(InputError) as info:
        parse_file("prices", path)
    assert info.value.problem.startswith("truncated: the last line has 2 of 7 fields"), info.value
    # rows that are all short by layout (Stooq without volume) are not a cut
    stooq = "Date,Open,High,Low,Close,Volume\n2020-01-02,1,2,0.5,1.5\n2020-01-03,1,2,0.5,1.6"
    path.write_text(stooq)
    assert parse_file("prices", path).table.num_rows == 2


def test_ingest_total_line(tmp_path: Path, cron_folder: Path) -> None:
    store = tmp_path / "store"
    first = cron_folder / "shrt20200115.csv"
    run_cli("ingest", "short-interest", str(first), store=store)
    r = run_cli("ingest", "short-interest", str(first), str(cron_folder / "shrt20200131.csv"), store=store)
    assert r.code == 0, r.err
    new = _data_rows((cron_folder / "shrt20200131.csv").read_text())
    assert r.err.splitlines()[-1] == (
        f"total: 2 file(s), 1 ingested ({new:,} rows new or changed), 1 already ingested"
    )
    assert len(r.err.splitlines()) == 3  # a line per file, then the total


def test_ingest_quiet(tmp_path: Path, cron_folder: Path) -> None:
    store = tmp_path / "store"
    good = str(cron_folder / "shrt20200115.csv")
    quiet = run_cli("ingest", "short-interest", good, "--quiet", store=store)
    assert (quiet.code, quiet.out, quiet.err) == (0, "", "")
    loud = run_cli("ingest", "short-interest", good, store=store)
    assert "already ingested" in loud.err and loud.err.splitlines()[-1].startswith("total: ")
    bad = run_cli("ingest", "short-interest", str(cron_folder), "-q", "--keep-going", store=store)
    assert bad.code == ExitCode.BAD_INPUT
    assert bad.err.splitlines() == _errors(bad.err) and len(_errors(bad.err)) == 3  # only the problems


def test_ingest_summary_json(tmp_path: Path, cron_folder: Path) -> None:
    store = tmp_path / "store"
    run_cli("ingest", "short-interest", str(cron_folder / "shrt20200115.csv"), store=store)
    r = run_cli("ingest", "short-interest", str(cron_folder), "--keep-going", "-f", "json", store=store)
    assert r.code == ExitCode.BAD_INPUT
    doc = json.loads(r.out)
    assert {k: doc[k] for k in ("schema_version", "command", "kind")} == {
        "schema_version": "1",
        "command": "ingest",
        "kind": "short-interest",
    }
    by_name = {f["path"]: f for f in doc["files"]}
    assert {name: f["status"] for name, f in by_name.items()} == {
        "notes.txt": "failed",
        "shrt20200115.csv": "unchanged",
        "shrt20200131.csv": "ingested",
        "shrt20200214.csv": "failed",
    }
    new = by_name["shrt20200131.csv"]
    rows = _data_rows((cron_folder / "shrt20200131.csv").read_text())
    assert (new["rows"], new["changed"], new["first_date"], new["last_date"], new["format"]) == (
        rows,
        rows,
        "2020-01-31",
        "2020-01-31",
        "finra-pipe",
    )
    assert "truncated" in by_name["shrt20200214.csv"]["error"] and by_name["notes.txt"]["format"] is None
    assert set(new) == {
        "path",
        "status",
        "format",
        "rows",
        "changed",
        "first_date",
        "last_date",
        "revisions",
        "revised",
        "revisions_not_held",
        "warnings",
        "error",
    }
    assert (new["revisions"], new["revised"], new["revisions_not_held"]) == (0, 0, 0)  # no R row in it
    assert doc["totals"] == {
        "files": 4,
        "ingested": 1,
        "unchanged": 1,
        "failed": 2,
        "rows": rows,
        "changed": rows,
    }
    assert "total:" not in r.err and len(_errors(r.err)) == 3  # stderr: only the problems
