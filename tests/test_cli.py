"""The command line as users and scripts meet it: streams, exit codes, formats, help."""

from __future__ import annotations

import csv
import datetime
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from positioning_cli.errors import ExitCode
from tests.conftest import ROOT, run_cli, store_bytes

HEAVY_CHECK = """
import sys
from {module} import main
try:
    main({args!r})
except SystemExit:
    pass
heavy = sorted(m for m in ("pandas", "pyarrow", "numpy") if m in sys.modules)
sys.stderr.write("HEAVY=" + ",".join(heavy) + "\\n")
"""


# the entry point (positioning_cli.entry: the installed script and `python -m positioning_cli`) and
# the typer CLI behind it
ENTRY_MODULES = ["positioning_cli.entry", "positioning_cli.cli"]


@pytest.mark.parametrize("module", ENTRY_MODULES)
@pytest.mark.parametrize(
    "args", [["--help"], ["--version"], ["scan", "--help"], ["ingest", "short-interest", "--help"]]
)
def test_help_and_version_import_neither_pandas_nor_pyarrow(args: list[str], module: str) -> None:
    p = subprocess.run(
        [sys.executable, "-c", HEAVY_CHECK.format(module=module, args=args)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "HEAVY=\n" in p.stderr, p.stderr


@pytest.mark.parametrize("module", ENTRY_MODULES)
def test_shell_completion_imports_neither_pandas_nor_pyarrow(module: str) -> None:
    code = HEAVY_CHECK.format(module=module, args=[])
    env = {"_POSITIONING_COMPLETE": "complete_bash", "COMP_WORDS": "positioning sc", "COMP_CWORD": "1"}
    import os

    p = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env={**os.environ, **env}
    )
    assert "HEAVY=\n" in p.stderr, p.stderr


@pytest.mark.parametrize(
    "args",
    [[], ["scan"], ["ingest", "short-interest"], ["ingest", "prices"], ["ingest", "members"]],
)
def test_every_command_has_help_with_an_example(args: list[str]) -> None:
    r = run_cli(*args, "--help")
    assert r.code == 0
    assert "Example" in r.out


def test_version() -> None:
    r = run_cli("--version")
    assert r.code == 0 and r.out.startswith("positioning ")


def test_scan_on_an_empty_store_is_a_clear_message_and_its_own_code(tmp_path: Path) -> None:
    r = run_cli("scan", store=tmp_path / "nothing-here")
    assert r.code == ExitCode.NO_DATA
    assert r.out == ""
    assert r.err.startswith("error: ") and "no short interest" in r.err
    assert len(r.err.strip().splitlines()) == 1
    assert "Traceback" not in r.err
    assert not (tmp_path / "nothing-here").exists()  # reading never creates a store


def test_bad_option_value_is_a_usage_error(tmp_path: Path) -> None:
    r = run_cli("scan", "--as-of", "31/10/2026", store=tmp_path)
    assert r.code == ExitCode.USAGE
    assert "--as-of" in r.err


def test_store_comes_from_the_environment(tmp_path: Path) -> None:
    store = tmp_path / "envstore"
    r = run_cli(
        "ingest",
        "prices",
        str(ROOT / "sample_data" / "prices" / "SPY.csv"),
        env={"POSITIONING_STORE": str(store)},
    )
    assert r.code == 0, r.err
    assert (store / "manifest.json").exists()


# ------------------------------------------------------------- on the sample data
def test_scan_json_is_one_stable_document(demo_store: Path) -> None:
    r = run_cli("scan", store=demo_store)  # piped: auto = json
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["schema_version"] == "1" and doc["command"] == "scan"
    assert [row["rank"] for row in doc["rows"]] == [1, 2, 3]
    assert {row["index"] for row in doc["rows"]} == {"RUT", "NDX", "SPX"}
    scores = [row["divergence_score"] for row in doc["rows"]]
    assert scores == sorted(scores, reverse=True)
    from positioning_cli.api import SCAN_KEYS

    assert all(list(row) == list(SCAN_KEYS) for row in doc["rows"])
    assert doc["as_of"] == doc["rows"][0]["settlement_date"]


def test_scan_ndjson_and_csv_carry_the_same_rows(demo_store: Path) -> None:
    doc = json.loads(run_cli("scan", "-f", "json", store=demo_store).out)
    nd = [json.loads(line) for line in run_cli("scan", "-f", "ndjson", store=demo_store).out.splitlines()]
    assert nd == doc["rows"]
    rows = list(csv.DictReader(io.StringIO(run_cli("scan", "-f", "csv", store=demo_store).out)))
    assert [r["index"] for r in rows] == [r["index"] for r in doc["rows"]]
    assert rows[0]["total_si_shares"] == str(doc["rows"][0]["total_si_shares"])


def test_scan_table_goes_to_stdout_and_warnings_to_stderr(demo_store: Path) -> None:
    r = run_cli("scan", "-f", "table", store=demo_store)
    assert r.code == 0
    assert "Divergence score" in r.out and "RUT" in r.out
    assert "warning" not in r.out


def test_scan_as_of_an_older_date_uses_only_what_was_known(demo_store: Path) -> None:
    doc = json.loads(run_cli("scan", "--as-of", "2023-06-30", "-f", "json", store=demo_store).out)
    assert doc["as_of"] <= "2023-06-30"


def test_scan_before_any_data_is_no_data(demo_store: Path) -> None:
    r = run_cli("scan", "--as-of", "2001-01-01", store=demo_store)
    assert r.code == ExitCode.NO_DATA and r.out == ""


def test_piping_into_head_is_quiet(demo_store: Path) -> None:
    cmd = f"{sys.executable} -m positioning_cli --store {demo_store} scan -f ndjson | head -c 10"
    p = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    # warnings may go to stderr; a broken pipe must not
    assert not [ln for ln in p.stderr.splitlines() if not ln.startswith("warning: ")], p.stderr


def test_reingesting_the_sample_changes_nothing(demo_store: Path) -> None:
    before = store_bytes(demo_store)
    r = run_cli("ingest", "short-interest", str(ROOT / "sample_data" / "short_interest"), store=demo_store)
    assert r.code == 0
    assert "already ingested" in r.err
    assert store_bytes(demo_store) == before


def test_scan_by_stock_counts_and_lists_excluded(demo_store: Path) -> None:
    from positioning_cli.api import stock_keys

    r = run_cli("scan", "--by", "stock", "--index", "RUT", "--top", "5", "-f", "json", store=demo_store)
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert [row["rank"] for row in doc["rows"]] == [1, 2, 3, 4, 5]
    assert all(list(row) == list(stock_keys()) for row in doc["rows"])
    assert all("RUT" in row["indices"] for row in doc["rows"])
    excluded = doc["excluded"]
    assert excluded["count"] >= 1 and excluded["rows"] == []  # counted, listed only on request
    listed = json.loads(
        run_cli(
            "scan", "--by", "stock", "--index", "RUT", "--show-excluded", "-f", "json", store=demo_store
        ).out
    )["excluded"]
    assert len({x["symbol"] for x in listed["rows"]}) == excluded["count"]
    assert all(x["reason"] for x in listed["rows"])


def test_scan_by_stock_gates_are_flags(demo_store: Path) -> None:
    strict = json.loads(
        run_cli(
            "scan", "--by", "stock", "--min-price", "100", "--top", "0", "-f", "json", store=demo_store
        ).out
    )
    loose = json.loads(run_cli("scan", "--by", "stock", "--top", "0", "-f", "json", store=demo_store).out)
    assert strict["excluded"]["count"] > loose["excluded"]["count"]
    assert all(row["close"] is None or row["close"] >= 100 for row in strict["rows"])


def test_scan_by_sector_and_fail_on_names_the_row(demo_store: Path) -> None:
    r = run_cli(
        "scan",
        "--by",
        "sector",
        "--index",
        "RUT",
        "--fail-on",
        "si_pct_1y>=0",
        "-f",
        "json",
        store=demo_store,
    )
    assert r.code == 7
    sectors = [row["sector"] for row in json.loads(r.out)["rows"]]
    assert "Health Care" in sectors and sectors[0] in r.err


def test_scan_by_something_else_is_a_usage_error(demo_store: Path) -> None:
    r = run_cli("scan", "--by", "planet", store=demo_store)
    assert r.code == 2 and "--by" in r.err


@pytest.mark.parametrize(
    "cmd", [["scan"], ["summary"], ["history", "--index", "RUT"], ["cot"], ["nowcast"], ["store", "info"]]
)
def test_a_bad_format_is_a_usage_error_before_any_work(cmd: list[str], tmp_path: Path) -> None:
    r = run_cli(*cmd, "--format", "xml", store=tmp_path / "none")
    assert r.code == ExitCode.USAGE and "--format" in r.err and r.out == ""


# ---------------------------------------------------------------- -h, -V, global options after the command
@pytest.mark.parametrize("args", [["-h"], ["scan", "-h"], ["ingest", "-h"], ["ingest", "prices", "-h"]])
def test_cli_entry_short_help_is_help(args: list[str]) -> None:
    short, long = run_cli(*args), run_cli(*args[:-1], "--help")
    assert short.code == long.code == 0
    assert short.out == long.out and "-h, --help" in short.out


@pytest.mark.parametrize("args", [["-V"], ["scan", "-V"], ["store", "info", "--version"]])
def test_cli_entry_short_version_is_version(args: list[str]) -> None:
    from positioning_cli import __version__

    r = run_cli(*args)
    assert (r.code, r.out, r.err) == (0, f"positioning {__version__}\n", "")


def test_cli_entry_store_and_debug_after_the_command(tmp_path: Path) -> None:
    """`--store` after the command is the store used; `--debug` there is accepted, and shows a traceback."""
    before = run_cli("scan", "--debug", "--store", str(tmp_path / "empty"))
    assert before.code == ExitCode.NO_DATA
    assert "Traceback" in before.err and str(tmp_path / "empty") in before.err.splitlines()[-1]
    # given after the command it wins over the one before it
    r = run_cli("store", "info", "--store", str(tmp_path / "second"), "-f", "json", store=tmp_path / "first")
    assert r.code in (ExitCode.OK, ExitCode.NO_DATA), r.err
    assert "second" in (r.out + r.err) and "first" not in (r.out + r.err)
    # and without --debug, a one-line error as before
    plain = run_cli("scan", "--store", str(tmp_path / "empty"))
    assert plain.code == ExitCode.NO_DATA and len(plain.err.splitlines()) == 1


# ---------------------------------------------------------------- --fail-on sees every ranked row
def _match_count(err: str) -> int:
    """N from the one error line ``--fail-on: N match(es): ...``."""
    (line,) = [ln for ln in err.splitlines() if ln.startswith("error: --fail-on: ")]
    return int(line.split()[2])


def test_fail_on_evaluates_every_ranked_row(demo_store: Path) -> None:
    everything = run_cli("scan", "--by", "stock", "-f", "json", store=demo_store)
    assert everything.code == 0, everything.err
    doc = json.loads(everything.out)
    assert len(doc["rows"]) == doc["ranked"] > 20  # no --top: JSON carries every ranked row
    want = sum(1 for row in doc["rows"] if row["si_pct_so"] is not None and row["si_pct_so"] >= 10)
    assert want > 3
    csv_rows = list(
        csv.DictReader(io.StringIO(run_cli("scan", "--by", "stock", "-f", "csv", store=demo_store).out))
    )
    assert len(csv_rows) == doc["ranked"]
    for top in ([], ["--top", "3"]):  # the rows --top leaves out are checked too
        r = run_cli(
            "scan", "--by", "stock", *top, "-f", "json", "--fail-on", "si_pct_so>=10", store=demo_store
        )
        assert r.code == ExitCode.THRESHOLD
        assert _match_count(r.err) == want
        assert len(json.loads(r.out)["rows"]) == (3 if top else doc["ranked"])
    table = run_cli("scan", "--by", "stock", "-f", "table", store=demo_store)
    symbols_shown = [row["symbol"] for row in doc["rows"] if f" {row['symbol']} " in table.out]
    assert symbols_shown == [row["symbol"] for row in doc["rows"][:20]]  # the table keeps its top 20


def test_fail_on_string_keys(demo_store: Path) -> None:
    doc = json.loads(run_cli("scan", "--by", "stock", "-f", "json", store=demo_store).out)
    pressing = [r["symbol"] for r in doc["rows"] if r["quadrant_key"] == "pressing_into_strength"]
    others = [r["symbol"] for r in doc["rows"] if r["quadrant_key"] not in (None, "pressing_into_strength")]
    assert pressing and others
    for expr, want in (
        ("quadrant_key==pressing_into_strength", len(pressing)),
        ("quadrant_key=='pressing_into_strength'", len(pressing)),
        ("quadrant_key!=pressing_into_strength", len(others)),
    ):
        r = run_cli("scan", "--by", "stock", "-f", "json", "--fail-on", expr, store=demo_store)
        assert r.code == ExitCode.THRESHOLD, r.err
        assert _match_count(r.err) == want, expr
        first = pressing[0] if "==" in expr else others[0]  # rows are listed in rank order
        assert f"matched {first} (" in r.err
    none = run_cli(
        "scan", "--by", "stock", "-f", "json", "--fail-on", "quadrant_key==nowhere", store=demo_store
    )
    assert none.code == 0 and none.err.count("error") == 0
    bad = run_cli("scan", "--by", "stock", "--fail-on", "quadrant_key>=pressing", store=demo_store)
    assert bad.code == ExitCode.USAGE and "== or !=" in bad.err and bad.out == ""


def test_fail_on_on_cot_and_summary(demo_store: Path) -> None:
    cot = json.loads(run_cli("cot", "-f", "json", store=demo_store).out)
    short = [(r["contract"], r["group"]) for r in cot["rows"] if r["net"] is not None and r["net"] < 0]
    assert short and len(short) < len(cot["rows"])
    r = run_cli("cot", "-f", "json", "--fail-on", "net<0", store=demo_store)
    assert r.code == ExitCode.THRESHOLD
    assert _match_count(r.err) == len(short) and f"matched {short[0][0]} {short[0][1]}" in r.err
    assert json.loads(r.out) == cot  # the output is written in full first
    summary = json.loads(run_cli("summary", "-f", "json", store=demo_store).out)
    high = [r for r in summary["rows"] if r["pct_1y"] is not None and r["pct_1y"] >= 50]
    assert high and len(high) < len(summary["rows"])
    r = run_cli("summary", "-f", "json", "--fail-on", "pct_1y>=50", store=demo_store)
    assert r.code == ExitCode.THRESHOLD and _match_count(r.err) == len(high)
    assert f"matched {high[0]['index']} {high[0]['metric']}" in r.err
    assert run_cli("cot", "--fail-on", "nope>1", store=demo_store).code == ExitCode.USAGE


# ---------------------------------------------------------------- warnings reach stderr in every format
@pytest.mark.parametrize("fmt", ["json", "ndjson", "csv", "table"])
def test_warnings_go_to_stderr_in_every_format(demo_store: Path, fmt: str) -> None:
    doc = json.loads(run_cli("scan", "--by", "stock", "--top", "3", "-f", "json", store=demo_store).out)
    assert doc["warnings"] and doc["excluded"]["count"] > 0  # the gates exclude some sample stocks
    r = run_cli("scan", "--by", "stock", "--top", "3", "-f", fmt, store=demo_store)
    assert r.code == 0
    logged = [ln.removeprefix("warning: ") for ln in r.err.splitlines() if ln.startswith("warning: ")]
    assert logged == doc["warnings"]
    if fmt == "json":
        assert json.loads(r.out)["warnings"] == doc["warnings"]  # and still inside the document


# ---------------------------------------------------------------- history --since / --last
def test_history_since_and_last(demo_store: Path) -> None:
    every = json.loads(run_cli("history", "--index", "RUT", "-f", "json", store=demo_store).out)["rows"]
    dates = [r["settlement_date"] for r in every]
    assert len(dates) > 24 and dates == sorted(dates)
    since = dates[-10]  # a settlement date held: the report on it is kept
    day_after = (datetime.date.fromisoformat(dates[-10]) + datetime.timedelta(days=1)).isoformat()

    def got(*args: str) -> list[dict[str, object]]:
        r = run_cli("history", "--index", "RUT", *args, "-f", "json", store=demo_store)
        assert r.code == 0, r.err
        return json.loads(r.out)["rows"]

    assert got("--since", since) == every[-10:]
    assert got("--since", day_after) == every[-9:]
    assert got("--last", "3") == every[-3:]
    assert got("--since", since, "--last", "4") == every[-4:]
    assert got("--since", since, "--last", "400") == every[-10:]
    table = run_cli("history", "--index", "RUT", "--last", "2", "-f", "table", store=demo_store).out
    assert dates[-1] in table and dates[-2] in table and dates[-3] not in table
    assert run_cli("history", "--index", "RUT", "--last", "0", store=demo_store).code == ExitCode.USAGE
    assert (
        run_cli("history", "--index", "RUT", "--since", "2026-13-01", store=demo_store).code == ExitCode.USAGE
    )
    late = run_cli("history", "--index", "RUT", "--since", "2099-01-01", store=demo_store)
    assert late.code == ExitCode.NO_DATA and "2099-01-01" in late.err
