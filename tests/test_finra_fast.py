"""The fast FINRA pipe path against the general one.

``short_interest.fast_finra_pipe`` must return exactly what ``slow_finra_pipe`` (the general
reader and converters) returns for the same file — table, schema, row order, warnings, format —
or None, in which case ``parse_file`` takes the general path with its exact errors. Also: the
Arrow ``dedupe`` against the pandas one it replaced, the pandas-free array helpers, and that an
ingest on the fast path never imports pandas. Nothing here is timed.
"""

from __future__ import annotations

import csv
import datetime
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import event, given, note
from hypothesis import strategies as st

from positioning_cli import arrays
from positioning_cli.errors import InputError
from positioning_cli.ingest import Parsed, ParseOptions, parse_file
from positioning_cli.ingest.base import dedupe
from positioning_cli.ingest.short_interest import FINRA_FIELDS, fast_finra_pipe, slow_finra_pipe
from positioning_cli.ingest.text import Source, load
from tests.conftest import ROOT, SAMPLE, real_dir
from tests.fuzz_seeds import BY_FORMAT, FINRA_HEADER
from tests.test_fuzz_parsers import examples, mutate

FORCED = ParseOptions(format="finra-pipe")
HEADER = FINRA_HEADER.split("|")


def row(
    symbol: str = "AAPL",
    si: str = "100",
    *,
    prev: str = "90",
    adv: str = "50",
    dtc: str = "2.00",
    rev: str = "",
    split: str = "",
    name: str = "Apple Inc.",
    market: str = "NNM",
    date: str = "2026-08-14",
) -> str:
    """One line in FINRA_HEADER's column order."""
    return "|".join(["20260814", symbol, name, "A", market, si, prev, split, adv, dtc, rev, "0", "0", date])


def lines(*rows: str, eol: str = "\n") -> str:
    return eol.join([FINRA_HEADER, *rows]) + eol


def source(workdir: Path, data: str | bytes, name: str = "shrt20260814.csv") -> Source:
    path = workdir / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return load(path)


def assert_equal(fast: Parsed, slow: Parsed) -> None:
    assert fast.format == slow.format == "finra-pipe"
    assert fast.warnings == slow.warnings
    assert fast.table.schema.equals(slow.table.schema)
    assert fast.table.to_pylist() == slow.table.to_pylist()  # readable diff first
    assert fast.table.equals(slow.table)


def assert_fast_equals_slow(src: Source) -> Parsed:
    fast = fast_finra_pipe(src)
    assert fast is not None, "the fast path declined"
    assert_equal(fast, slow_finra_pipe(src))
    assert_equal(parse_file("short-interest", src.path), fast)  # and it is what parse_file uses
    return fast


def outcome(parse: Callable[[], Parsed]) -> Parsed | str:
    try:
        return parse()
    except InputError as exc:
        return f"InputError: {exc}"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("finra-fast")


# --------------------------------------------------------------------------------------- accepted
def _reordered() -> str:
    """Header and rows with the columns in reverse order."""
    return "".join(
        "|".join(reversed(x.split("|"))) + "\n" for x in [FINRA_HEADER, row("AAPL"), row("MSFT", dtc="")]
    )


ACCEPTED = {
    "flags": lines(
        row("A", rev="R"),
        row("B", split="S"),
        row("C", rev=" r ", split="y"),
        row("D", rev="YES", split="true"),
        row("E", rev="T", split="1"),
        row("F", rev="N", split="0"),
        row("G", rev="no", split="False"),
        row("H", rev="null", split="-"),
        row("I", rev="NA", split="n/a"),
        row("J", rev="f", split="none"),
        row("K", split="\u017f"),  # long s: upper-cases to "S", in both paths (one shared helper)
    ),
    "no-volume sentinel": lines(row("A", dtc="999.99"), row("B", dtc="999.99", adv="0")),
    "blank days to cover": lines(
        row("A", dtc="", adv="40"),
        row("B", dtc="", adv="0"),
        row("C", dtc="", adv=""),
        row("D", "1", dtc="", adv="1000"),  # floored at 1.00
        row("E", "1234567", dtc="", adv="3"),
        row("F", "5", dtc="", adv="2"),  # 2.5: rounding
    ),
    "all days to cover blank": lines(row("A", dtc=""), row("B", dtc="", adv="")),
    "days to cover spellings": lines(
        row("A", dtc="1"), row("B", dtc="1."), row("C", dtc=".5"), row("D", dtc="1e1"), row("E", dtc="-0")
    ),
    "duplicates": lines(
        row("AAPL", "1"),
        row("AAPL", "2", rev="R"),
        row("AAPL", "3"),
        row("MSFT", "4"),
        row("MSFT", "5"),
        row("BRK.B", "6"),
        row("BRKB", "7"),
        row("MSFT", "8", date="2026-08-29"),
    ),
    "crlf": lines(row("A"), row("B"), eol="\r\n"),
    "bom": "\ufeff" + lines(row("A"), row("B")),
    "trailing blank lines": lines(row("A"), row("B")) + "\n\n\n",
    "blank lines inside": "\n".join([FINRA_HEADER, row("A"), "", "", row("B"), ""]),
    "crlf blank lines": "\r\n".join([FINRA_HEADER, "", row("A"), "", row("B"), "", ""]),
    "no final newline": lines(row("A"), row("B")).rstrip("\n"),
    "extra unknown columns": "\n".join([FINRA_HEADER + "|extra|more", row("A") + "|x|", row("B") + "||y"]),
    "reordered columns": _reordered(),
    "required columns only": "settlementDate|symbolCode|currentShortPositionQuantity\n2026-08-14|AAPL|5\n",
    "upper-case header": lines(row("A")).replace(FINRA_HEADER, FINRA_HEADER.upper()),
    "lower-case header": lines(row("A")).replace(FINRA_HEADER, FINRA_HEADER.lower()),
    "spaced header": lines(row("A"))
    .replace("|symbolCode|", "| symbolCode |")
    .replace("settlementDate", "settlementDate "),
    "symbols": lines(
        row("BRK.B"),
        row("BRK/B", date="2026-08-29"),
        row("brk b", date="2026-09-15"),
        row("BRK-B", date="2026-09-30"),
        row(" aapl "),
        row("\uff21\uff22"),  # full-width: NFKC makes it AB
        row("NAN"),
        row("^GSPC"),
    ),
    "text cells": lines(
        row("A", name='"Apple" Inc. "A"', market='"N"'),
        row("B", name="", market="  "),
        row("C", name="  Padded \u00a0", market="null"),
        row("D", name="Caf\u00e9 \u2014 \u00fcber"),
    ),
    "counts": lines(row("A", "000123", prev="0", adv="00"), row("B", str(2**53), prev="", adv="")),
    "dates": lines(
        row("A", date="1990-01-01"),  # the earliest plausible settlement date
        row("B", date=(datetime.date.today() + datetime.timedelta(days=31)).isoformat()),  # the latest
        row("C", date="2024-02-29"),
        row("D", date="2026-08-14"),
    ),
}


@pytest.mark.parametrize("name", list(ACCEPTED))
def test_handmade_files_fast_equals_slow(workdir: Path, name: str) -> None:
    assert_fast_equals_slow(source(workdir, ACCEPTED[name]))


def test_duplicates_warn_and_keep_the_revised_row(workdir: Path) -> None:
    parsed = assert_fast_equals_slow(source(workdir, ACCEPTED["duplicates"]))
    assert parsed.warnings == (
        "4 duplicate (settlement date, symbol) rows dropped; kept the revision-flagged row, else the last one",
    )
    kept = {
        (r["symbol"], r["settlement_date"].isoformat()): r["short_interest"] for r in parsed.table.to_pylist()
    }
    assert kept == {
        ("AAPL", "2026-08-14"): 2,
        ("MSFT", "2026-08-14"): 5,
        ("BRKB", "2026-08-14"): 7,
        ("MSFT", "2026-08-29"): 8,
    }


def _sample_files() -> list[Path]:
    files = sorted((SAMPLE / "short_interest").glob("*.csv.gz"))
    picked = [files[0], files[len(files) // 3], files[2 * len(files) // 3], files[-1]] if files else []
    full = ROOT / ".bench" / "data-5y" / "short_interest" / "shrt20261030.csv.gz"  # `make bench` data
    return picked + ([full] if full.is_file() else [])


@pytest.mark.parametrize("path", _sample_files(), ids=lambda p: p.name)
def test_sample_files_fast_equals_slow(path: Path) -> None:
    assert_fast_equals_slow(load(path))


# --------------------------------------------------------------------------------------- declined
DECLINED = {
    "negative count": lines(row("A", "-5")),
    "symbol not a ticker": lines(row("\u00c9T\u00c9")),
    "tab inside a symbol": lines(row("A\tB")),
    "negative previous count": lines(row("A", prev="-1")),
    "spaces around a count": lines(row("A", " 123")),
    "tab after a count": lines(row("A", adv="12\t")),
    "float count": lines(row("A", "1.0")),
    "hex count": lines(row("A", "0x1F")),
    "count above 2**53": lines(row("A", str(2**53 + 1))),
    "blank short interest": lines(row("A", "")),
    "null spelling in a count": lines(row("A", prev="null")),
    "bad date": lines(row("A", date="2026-02-30")),
    "loose date": lines(row("A", date="2026-1-5")),
    "blank date": lines(row("A", date="")),
    "year 0001": lines(row("A", date="0001-01-01")),
    "year 3000": lines(row("A", date="3000-01-01")),
    "spaces around a date": lines(row("A", date=" 2026-08-14")),
    "days to cover NaN": lines(row("A", dtc="NaN")),
    "days to cover inf": lines(row("A", dtc="inf")),
    "days to cover padded": lines(row("A", dtc=" 1.5")),
    "days to cover negative": lines(row("A", dtc="-1")),
    "unknown flag": lines(row("A", rev="X")),
    "blank symbol": lines(row("")),
    "separator-only symbol": lines(row("-")),
    "lone CR": FINRA_HEADER + "\r" + row("A") + "\n" + row("B") + "\n",
    "quoted count": lines(row("A", '"123"')),
    "header not on the first line": "\n" + lines(row("A")),
    "duplicate header name": lines(row("A") + "|B").replace(FINRA_HEADER, FINRA_HEADER + "|SymbolCode"),
    "ragged long row": lines(row("A"), row("B") + "|x"),
    "ragged short row": lines(row("A"), row("B").rsplit("|", 1)[0]),
    "whitespace-only line": lines(row("A"), "   ", row("B")),
    "header only": FINRA_HEADER + "\n",
    "missing required column": lines(row("A")).replace("currentShortPositionQuantity", "currentShort"),
}


@pytest.mark.parametrize("name", list(DECLINED))
def test_fast_path_declines_and_parse_file_gives_the_general_result(workdir: Path, name: str) -> None:
    src = source(workdir, DECLINED[name])
    assert fast_finra_pipe(src) is None
    slow = outcome(lambda: slow_finra_pipe(src))
    got = outcome(lambda: parse_file("short-interest", src.path, FORCED))
    if isinstance(slow, Parsed):
        assert isinstance(got, Parsed), got
        assert_equal(got, slow)
    else:
        assert got == slow


def test_declined_errors_are_the_general_readers(workdir: Path) -> None:
    """A few exact messages, so a decline can never turn an error into a different one."""
    cases = {
        "negative count": "column 'currentShortPositionQuantity': negative value not allowed: '-5'",
        "year 0001": "implausible settlement date '0001-01-01' (outside 1990-01-01 to",
        "blank short interest": "blank short interest (required)",
        "hex count": "not a whole number: '0x1F'",
    }
    for name, message in cases.items():
        path = source(workdir, DECLINED[name]).path
        got = outcome(lambda: parse_file("short-interest", path))  # noqa: B023 (called at once)
        assert isinstance(got, str) and message in got and ":2:" in got, (name, got)


# --------------------------------------------------------------------------------------- properties
def check_fast_equals_slow(workdir: Path, data: bytes) -> None:
    note(f"{len(data)} bytes: {data[:400]!r}")
    try:
        src = source(workdir, data)
    except InputError:
        event("rejected while loading")
        return
    fast = fast_finra_pipe(src)
    if fast is None:
        event("declined")
        return
    event("fast path")
    assert_equal(fast, slow_finra_pipe(src))  # an InputError here is a bug: fast accepted bad input


SEEDS = BY_FORMAT[("short-interest", "finra-pipe")]


@examples((150, 10_000))
@given(data=st.data())
def test_mutated_finra_files_fast_equals_slow(workdir: Path, data: st.DataObject) -> None:
    seed = data.draw(st.sampled_from(SEEDS), label="seed")
    check_fast_equals_slow(workdir, data.draw(mutate(seed), label="bytes"))


def _cells(good: st.SearchStrategy[str], odd: st.SearchStrategy[str]) -> dict[bool, st.SearchStrategy[str]]:
    """Cell texts of a file without odd cells (False) and of one with some (True)."""
    return {False: good, True: st.one_of(good, good, good, good, odd)}


_TEXT = st.text(
    st.one_of(st.characters(exclude_categories=("Cs", "Cc")), st.sampled_from(' \t"\u00a0|')), max_size=8
)
CELLS = {
    "date": _cells(
        st.dates(datetime.date(1990, 1, 1), datetime.date.today()).map(str),
        st.sampled_from(
            ["0001-01-01", "3000-01-01", "2026-1-5", "2026-02-30", " 2026-08-14", "", "20260814"]
        ),
    ),
    "symbol": _cells(
        st.sampled_from(
            ["AAPL", "MSFT", "BRK.B", "BRK/B", "brk b", " msft ", "NAN", "\uff21\uff22", "^GSPC"]
        ),
        st.one_of(st.sampled_from(["", "-", ".", " ", "A\tB", "\u00c9T\u00c9", "A" * 16]), _TEXT),
    ),
    "count": _cells(
        st.one_of(st.integers(0, 10**12).map(str), st.sampled_from(["0", "007", str(2**53)])),
        st.sampled_from(
            ["", " 12", "12 ", "-3", "-0", "1.0", "0x1F", str(2**53 + 1), "null", "1e3", "+5", "\u0661"]
        ),
    ),
    "optional count": _cells(
        st.one_of(st.integers(0, 10**9).map(str), st.just("")),
        st.sampled_from([" 1", "-1", "1.5", "null", "NaN", "-"]),
    ),
    "dtc": _cells(
        st.one_of(st.floats(0, 1e4).map(lambda x: f"{x:.2f}"), st.sampled_from(["", "999.99", "1", ".5"])),
        st.one_of(st.floats().map(repr), st.sampled_from(["-0", "-1", " 1.5", "nan", "inf", "1,5"])),
    ),
    "flag": _cells(
        st.sampled_from(
            ["", "R", "S", "r", " S ", "Y", "yes", "T", "true", "1", "N", "no", "F", "0", "null", "-"]
        ),
        st.sampled_from(["X", "\u017f", "RR", "\u0130"]),
    ),
    "text": _cells(st.sampled_from(["Apple Inc.", "", "NNM", "  "]), _TEXT),
}
FIELD_CELLS = {
    "settlementDate": "date",
    "symbolCode": "symbol",
    "currentShortPositionQuantity": "count",
    "previousShortPositionQuantity": "optional count",
    "averageDailyVolumeQuantity": "optional count",
    "daysToCoverQuantity": "dtc",
    "revisionFlag": "flag",
    "stockSplitFlag": "flag",
    "issueName": "text",
    "marketClassCode": "text",
    "changePercent": "text",
}


HEADER_CASES: list[Callable[[str], str]] = [str, str.upper, str.lower, lambda s: f" {s} "]


@st.composite
def finra_file(draw: st.DrawFn) -> bytes:
    """A FINRA-like pipe file: columns in any order (some optional ones absent, an unknown one
    perhaps), header case varied, valid cells (or, in half the files, some odd ones), a small
    symbol pool (duplicates), LF or CRLF, blank lines, a BOM."""
    required = ["settlementDate", "symbolCode", "currentShortPositionQuantity"]
    optional = [c for c in FIELD_CELLS if c not in required]
    columns = required + draw(st.lists(st.sampled_from(optional), unique=True))
    columns = draw(st.permutations(columns))
    case = draw(st.sampled_from(HEADER_CASES))
    header = "|".join(case(c) for c in columns)
    odd = draw(st.booleans())
    rows = []
    for _ in range(draw(st.integers(1, 8))):
        cells = [draw(CELLS[FIELD_CELLS[c]][odd]) for c in columns]
        rows.append("|".join(cells))
        if draw(st.integers(0, 9)) == 0:
            rows.append(draw(st.sampled_from(["", "", " "] if odd else [""])))
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    text = eol.join([header, *rows]) + draw(st.sampled_from(["", eol, eol * 2]))
    return (draw(st.sampled_from(["", "\ufeff"])) + text).encode("utf-8")


@examples((200, 10_000))
@given(data=finra_file())
def test_generated_finra_files_fast_equals_slow(workdir: Path, data: bytes) -> None:
    check_fast_equals_slow(workdir, data)


# --------------------------------------------------------------------------------------- real files
def test_real_finra_pipe_files_fast_equals_slow() -> None:
    folder = real_dir("finra_short_interest")
    pipe = [
        p
        for p in sorted(folder.iterdir())
        if p.is_file() and {"symbolcode", "settlementdate"} <= set(load(p).header_names("|")[0][1])
    ]
    if not pipe:
        pytest.skip(f"no FINRA pipe file among the real files in {folder} (web exports and scrapes only)")
    for path in pipe:
        assert_fast_equals_slow(load(path))


WEB_TO_PIPE = {
    "symbolCode": "issueSymbolIdentifier",
    "issueName": "issueName",
    "marketClassCode": "marketCategoryCode",
    "currentShortPositionQuantity": "currentShortShareNumber",
    "previousShortPositionQuantity": "previousShortShareNumber",
    "averageDailyVolumeQuantity": "averageShortShareNumber",
    "daysToCoverQuantity": "daysToCoverNumber",
}


@pytest.mark.parametrize("n", [1, 2])
def test_real_finra_values_laid_out_as_a_pipe_file(workdir: Path, n: int) -> None:
    """The real FINRA web exports (OTC names, 999.99 sentinels) rewritten in the pipe layout."""
    path = real_dir("finra_short_interest") / f"praveenraj_{n}_-Equity_Short_Intrest_20240902.csv"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    with path.open(newline="", encoding="utf-8") as f:
        records = list(csv.DictReader(f))
    out = ["|".join([*WEB_TO_PIPE, "settlementDate"])]
    for r in records:
        day, month, year = r["settlementDate"].split("-")
        out.append("|".join([*(r[c] for c in WEB_TO_PIPE.values()), f"{year}-{month}-{day}"]))
    assert_fast_equals_slow(source(workdir, "\r\n".join(out), name=f"real{n}.csv"))


# --------------------------------------------------------------------------------------- helpers
def _pandas_dedupe(table: pa.Table, key: tuple[str, ...], prefer: str | None) -> tuple[pa.Table, int]:
    """The pandas implementation ``dedupe`` had before, as the reference."""
    frame = pd.DataFrame({k: table.column(k).to_pandas() for k in key})
    if not frame.duplicated(keep=False).any():
        return table, 0
    frame["_order"] = range(table.num_rows)
    sort_by = list(key)
    if prefer is not None:
        frame["_prefer"] = table.column(prefer).to_pandas().fillna(False).astype(bool)
        sort_by.append("_prefer")
    sort_by.append("_order")
    frame = frame.sort_values(sort_by, kind="stable")
    keep = frame.drop_duplicates(list(key), keep="last")["_order"].sort_values()
    return table.take(pa.array(keep.to_numpy())), table.num_rows - len(keep)


@examples((150, 5_000))
@given(
    rows=st.lists(
        st.tuples(
            st.one_of(st.none(), st.integers(0, 3)),
            st.one_of(st.none(), st.sampled_from(["A", "B", "b", ""])),
            st.booleans(),
            st.one_of(st.none(), st.booleans()),
        ),
        min_size=1,
        max_size=30,
    ),
    prefer=st.booleans(),
)
def test_dedupe_matches_the_pandas_reference(rows: list[tuple], prefer: bool) -> None:
    days, syms, flags, revised = zip(*rows, strict=True)
    table = pa.table(
        {
            "d": pa.array(
                [None if x is None else datetime.date(2026, 1, 1) + datetime.timedelta(days=x) for x in days],
                pa.date32(),
            ),
            "s": pa.array(syms, pa.string()),
            "f": pa.array(flags, pa.bool_()),
            "r": pa.array(revised, pa.bool_()),
            "i": pa.array(range(len(rows)), pa.int64()),
        }
    )
    for key in (("d", "s"), ("d", "s", "f")):
        got, dropped = dedupe(table, key, prefer="r" if prefer else None)
        want, want_dropped = _pandas_dedupe(table, key, "r" if prefer else None)
        assert dropped == want_dropped
        assert got.equals(want)


@pytest.mark.parametrize("type_", [pa.int64(), pa.float64(), pa.bool_(), pa.int32()])
def test_array_helpers_match_pyarrow(type_: pa.DataType) -> None:
    values = [1, None, 0, 5, None, 7, 2, 0, 1, 1, None] * 3
    if type_ == pa.bool_():
        values = [None if v is None else bool(v % 2) for v in values]
    for arr in (pa.array(values, type_), pa.array(values, type_).slice(3, 20)):
        valid = arrays.valid(arr)
        assert valid.tolist() == arr.is_valid().to_pylist()
        expected = arr.to_numpy(zero_copy_only=False)
        assert arrays.to_numpy(arr)[valid].tolist() == expected[valid].tolist()
        if type_ != pa.bool_():
            floats = arrays.floats(arr)
            assert np.array_equal(
                floats, arr.cast(pa.float64()).to_numpy(zero_copy_only=False), equal_nan=True
            )
        if type_ in (pa.int64(), pa.float64(), pa.bool_()):
            back = arrays.from_numpy(arrays.to_numpy(arr), mask=~valid)
            assert back.equals(arr)
    assert arrays.strings(["", "a", "\u00e9t\u00e9"]).to_pylist() == ["", "a", "\u00e9t\u00e9"]
    assert arrays.repeat("finra-pipe", 3).to_pylist() == ["finra-pipe"] * 3
    d = datetime.date
    days = [d(1970, 1, 1), d(1969, 12, 31), d(2026, 11, 20), d(1, 1, 1), d(9999, 12, 31)]
    assert arrays.dates(days).equals(pa.array(days, pa.date32()))
    assert arrays.dates([]).equals(pa.array([], pa.date32()))


def test_fast_path_does_not_import_pandas() -> None:
    sample = sorted((SAMPLE / "short_interest").glob("*.csv.gz"))[-1]
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from positioning_cli.ingest import parse_file\n"
        f"parsed = parse_file('short-interest', Path({str(sample)!r}))\n"
        "assert parsed.table.num_rows > 0\n"
        "print('pandas' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False", "parse_file imported pandas on the fast path"


def test_handmade_rows_carry_every_finra_field() -> None:
    assert set(FINRA_FIELDS.values()) <= set(HEADER)
