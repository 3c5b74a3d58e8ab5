"""Bad input: one line naming file, line and problem; exit code 3; the store byte for byte as it was."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from positioning_cli.errors import ExitCode
from tests.conftest import SAMPLE, run_cli, store_bytes

HEADER = (
    "accountingYearMonthNumber|symbolCode|issueName|issuerServicesGroupExchangeCode|marketClassCode|"
    "currentShortPositionQuantity|previousShortPositionQuantity|stockSplitFlag|averageDailyVolumeQuantity|"
    "daysToCoverQuantity|revisionFlag|changePercent|changePreviousNumber|settlementDate"
)
GOOD = "20260814|AAPL|Apple Inc.|A|NNM|34636195|39059449||38275532|1.0||-11.32|-4423254|2026-08-14"
GOOD2 = "20260814|MSFT|Microsoft Corp|A|NNM|5000000|4000000||20000000|1.0||25.00|1000000|2026-08-14"


def finra(*rows: str) -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode()


def truncated_gzip() -> bytes:
    data = gzip.compress(finra(GOOD, GOOD2) * 50)
    return data[: len(data) // 2]


# (case id, kind, file name, bytes, extra args, words the one-line message must contain)
CASES = [
    ("empty", "short-interest", "shrt20260814.csv", b"", [], ["shrt20260814.csv", "empty"]),
    ("header-only", "short-interest", "shrt20260814.csv", finra(), [], ["shrt20260814.csv", "no data"]),
    (
        "wrong-delimiter",
        "short-interest",
        "shrt20260814.csv",
        finra(GOOD).replace(b"|", b";"),
        [],
        ["shrt20260814.csv"],
    ),
    (
        "missing-column",
        "short-interest",
        "shrt20260814.csv",
        finra(GOOD).replace(b"currentShortPositionQuantity", b"currentShort"),
        ["--format", "finra-pipe"],
        ["shrt20260814.csv", "currentShortPositionQuantity"],
    ),
    (
        "bad-date",
        "short-interest",
        "shrt20260814.csv",
        finra(GOOD, GOOD2.replace("2026-08-14", "2026-13-45")),
        [],
        ["shrt20260814.csv:3", "settlementDate"],
    ),
    (
        "bad-number",
        "short-interest",
        "shrt20260814.csv",
        finra(GOOD, GOOD2.replace("|5000000|", "|5O00000|")),
        [],
        ["shrt20260814.csv:3", "currentShortPositionQuantity"],
    ),
    (
        "negative-shares",
        "short-interest",
        "shrt20260814.csv",
        finra(GOOD2.replace("|5000000|", "|-5000000|")),
        [],
        ["shrt20260814.csv:2", "negative"],
    ),
    (
        "truncated-gzip",
        "short-interest",
        "shrt20260814.csv.gz",
        truncated_gzip(),
        [],
        ["shrt20260814.csv.gz"],
    ),
    (
        "binary-garbage",
        "short-interest",
        "shrt20260814.csv",
        bytes(range(256)) * 8,
        [],
        ["shrt20260814.csv"],
    ),
    (
        "price-negative-close",
        "prices",
        "SPY.csv",
        b"Date,Open,High,Low,Close,Adj Close,Volume\n2026-01-02,1,1,1,-5,1,100\n",
        [],
        ["SPY.csv:2", "Close"],
    ),
    (
        "price-negative-year",  # pandas alone would read it as the year -2019 (found by the fuzz suite)
        "prices",
        "QQQ.csv",
        b"Date,Open,High,Low,Close,Adj Close,Volume\n2019-01-01,1,1,1,1,1,1\n-2019-01-02,1,1,1,1,1,1\n",
        [],
        ["QQQ.csv:3", "Date", "implausible"],
    ),
    (
        "members-no-as-of",
        "members",
        "constituents.csv",
        b"Symbol,Security,GICS Sector\nAAPL,Apple,Information Technology\n",
        ["--index", "SPX"],
        ["constituents.csv", "--as-of"],
    ),
]


@pytest.fixture(scope="module")
def base_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("base") / "store"
    first = sorted((SAMPLE / "short_interest").iterdir())[0]
    for args in (("short-interest", str(first)), ("prices", str(SAMPLE / "prices" / "SPY.csv"))):
        r = run_cli("ingest", *args, store=store)
        assert r.code == 0, r.err
    return store


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_clear_line_and_the_store_is_untouched(
    case, base_store: Path, tmp_path: Path
) -> None:
    _, kind, name, content, extra, words = case
    store = tmp_path / "store"
    shutil.copytree(base_store, store)
    before = store_bytes(store)
    bad = tmp_path / name
    bad.write_bytes(content)
    # a good file next to the bad one must not land either: the run is all or nothing
    good = tmp_path / "good" / "shrt20260814.csv"
    good.parent.mkdir()
    good.write_bytes(finra(GOOD, GOOD2))
    inputs = [str(good), str(bad)] if kind == "short-interest" else [str(bad)]
    r = run_cli("ingest", kind, *inputs, *extra, store=store)
    assert r.code == ExitCode.BAD_INPUT, (r.code, r.err)
    lines = r.err.strip().splitlines()
    assert len(lines) == 1, r.err
    assert lines[0].startswith("error: ")
    for w in words:
        assert w.lower() in lines[0].lower(), (w, lines[0])
    assert "Traceback" not in r.err
    assert r.out == ""
    assert store_bytes(store) == before


def test_missing_path_is_bad_input(tmp_path: Path) -> None:
    r = run_cli("ingest", "short-interest", str(tmp_path / "nope.csv"), store=tmp_path / "s")
    assert r.code in (ExitCode.BAD_INPUT, ExitCode.USAGE)
    assert "nope.csv" in r.err
    assert not (tmp_path / "s").exists()


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "shrt20260814.csv"
    bad.write_bytes(b"")
    r = run_cli("--debug", "ingest", "short-interest", str(bad), store=tmp_path / "s")
    assert r.code == ExitCode.BAD_INPUT
    assert "Traceback" in r.err
