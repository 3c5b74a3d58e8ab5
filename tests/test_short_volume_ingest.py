"""Reg SHO daily short-sale volume files: hand-made cases, bad input, and the real files against
their raw text (split with plain string operations, never with the parser under test)."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from positioning_cli import api
from positioning_cli.errors import InputError
from positioning_cli.ingest import ParseOptions, parse_file
from positioning_cli.store import Store

from .conftest import REAL, real_dir, run_cli, store_bytes

FINRA_HEADER = "Date|Symbol|ShortVolume|ShortExemptVolume|TotalVolume|Market"
NYSE_HEADER = "Date|Symbol|Short Exempt Volume|Short Volume|Total Volume|Market"
NYSE_OLD_HEADER = "Date|Symbol|Short Volume|Total Volume|Market"


def write(tmp_path: Path, name: str, *lines: str, end: str = "\r\n") -> Path:
    path = tmp_path / name
    path.write_bytes((end.join(lines) + end).encode())
    return path


def rows(path: Path, options: ParseOptions = ParseOptions()) -> list[dict]:
    return parse_file("short-volume", path, options).table.to_pylist()


def test_finra_file_rows_facility_from_name(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "CNMSshvol20260814.txt",
        FINRA_HEADER,
        "20260814|AAPL|1200.5|10|3000|B,Q,N",
        "20260814|BRK/B|7|0|20|Q",
        "2",
    )
    got = parse_file("short-volume", path)
    assert got.format == "finra-regsho" and got.warnings == ()
    assert [(r["date"], r["symbol"], r["facility"]) for r in got.table.to_pylist()] == [
        (datetime.date(2026, 8, 14), "AAPL", "CNMS"),
        (datetime.date(2026, 8, 14), "BRKB", "CNMS"),
    ]
    first = got.table.to_pylist()[0]
    assert (first["short_volume"], first["short_exempt_volume"], first["total_volume"]) == (1200.5, 10, 3000)
    assert first["market"] == "B,Q,N"


@pytest.mark.parametrize(
    ("name", "facility"),
    [
        ("CNMSshvol20260814.txt", "CNMS"),  # FINRA's own names
        ("FNSQshvol20260814.txt", "FNSQ"),
        ("ARCAshvol20260814.txt", "ARCA"),
        ("sample-CNMSshvol20260814.txt.gz", "CNMS"),  # the generated sample's, before it had its own
        ("sample-FNQCshvol20260814.txt", "FNQC"),
        ("2026_08_14_FNYXshvol20260814.txt", "FNYX"),  # any prefix ending in a non-letter
        ("short-volume-CNMS-2026-08-14.txt", "CNMS"),  # our own names
        ("sample-short-volume-FNQC-2026-08-14.txt.gz", "FNQC"),  # the longer form
        ("sample-sv-FNQC-2026-08-14.txt.gz", "FNQC"),  # the generated sample's
        ("x_short-volume-fnsq-2026-08-14.txt", "FNSQ"),
    ],
)
def test_facility_from_the_file_name_with_or_without_a_prefix(
    tmp_path: Path, name: str, facility: str
) -> None:
    path = tmp_path / name.removesuffix(".gz")
    path.write_text(f"{FINRA_HEADER}\r\n20260814|AAPL|1|0|2|Q\r\n1\r\n")
    if facility == "ARCA":
        path.write_text(f"{NYSE_HEADER}\n20260814|AAPL|0|1|2|P\n")
    assert [r["facility"] for r in rows(path)] == [facility]


@pytest.mark.parametrize(
    "name",
    ["short-volume-2026-08-14.txt", "shortvolume-CNMS-2026-08-14.txt", "short-volume-CNMS-20260814.txt"],
)
def test_a_name_neither_finra_nor_ours_needs_facility(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, name, FINRA_HEADER, "20260814|AAPL|1|0|2|Q", "1")
    run = run_cli("ingest", "short-volume", str(path), store=tmp_path / "store")
    assert run.code == 3 and "cannot tell the facility from the file name" in run.err
    ok = run_cli("ingest", "short-volume", str(path), "--facility", "CNMS", store=tmp_path / "store")
    assert ok.code == 0, ok.err


def test_own_file_name_reads_back() -> None:
    from positioning_cli.ingest.short_volume import _FILE_NAME, own_file_name

    name = own_file_name("FNYX", datetime.date(2026, 9, 21))
    assert name == "sv-FNYX-2026-09-21"
    hit = _FILE_NAME.search(name + ".txt")
    assert hit is not None and hit.group(2) == "FNYX"


def test_sample_prefixed_file_ingests_with_the_facility_from_its_name(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "sample-short-volume-FNSQ-2026-08-14.txt.gz"
    path.write_bytes(gzip.compress(f"{FINRA_HEADER}\r\n20260814|AAPL|1|0|2|Q\r\n1\r\n".encode()))
    assert [(r["symbol"], r["facility"]) for r in rows(path)] == [("AAPL", "FNSQ")]


def test_suffix_markers_keep_securities_apart(tmp_path: Path) -> None:
    # FINRA's TpC (a preferred) and TPC are two securities; ARCA's F-B is Ford preferred B, not FB.
    finra = write(
        tmp_path,
        "FNSQshvol20260814.txt",
        FINRA_HEADER,
        "20260814|TPC|1|0|2|Q",
        "20260814|TpC|3|0|4|Q",
        "20260814|ACPr|5|0|6|Q",
        "20260814|AAC/WS|1|0|1|Q",
        "4",
    )
    assert [r["symbol"] for r in rows(finra)] == ["TPC", "TPRC", "ACPRT", "AACWS"]
    arca = write(
        tmp_path,
        "ARCAshvol20260814.txt",
        NYSE_HEADER,
        "20260814|FB|0|1|2|P",
        "20260814|F-B|0|3|4|P",
        "20260814|AAC+|0|1|1|P",
        "20260814|ACP^|0|1|1|P",
        "20260814|AAC.U|0|1|1|P",
    )
    assert [r["symbol"] for r in rows(arca)] == ["FB", "FPRB", "AACWS", "ACPRT", "AACU"]


def test_nyse_layouts_exempt_column_before_short(tmp_path: Path) -> None:
    new = write(tmp_path, "NYSEshvol20210603.txt", NYSE_HEADER, "20210603|ABR PRA|5|100|400|N")
    (row,) = rows(new)
    assert (row["symbol"], row["facility"], row["short_exempt_volume"], row["short_volume"]) == (
        "ABRPRA",
        "NYSE",
        5,
        100,
    )
    old = write(tmp_path, "Amexshvol20090730.txt", NYSE_OLD_HEADER, "20090731|ZZ|218400|391800|A")
    (row,) = rows(old)
    # Rows carry their own date (NYSE's 2009 files hold the next day under the file's date).
    assert row["date"] == datetime.date(2009, 7, 31)
    assert (row["facility"], row["short_volume"], row["total_volume"]) == ("AMEX", 218400, 391800)
    assert row["short_exempt_volume"] is None
    assert parse_file("short-volume", old).format == "nyse-regsho"


def test_header_and_zero_count_is_an_empty_day(tmp_path: Path) -> None:
    path = write(tmp_path, "FNRAshvol20260814.txt", FINRA_HEADER, "0")
    assert parse_file("short-volume", path).table.num_rows == 0


def test_missing_count_line_warns_and_facility_option_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, "regsho.txt", FINRA_HEADER, "20260814|AAPL|1|0|2|Q", end="\n")
    got = parse_file("short-volume", path, ParseOptions(facility="fnsq"))
    assert got.table.column("facility").to_pylist() == ["FNSQ"]
    assert any("record-count line" in w for w in got.warnings)


@pytest.mark.parametrize(
    ("name", "lines", "options", "line", "words"),
    [
        pytest.param(
            "CNMSshvol20260814.txt",
            [FINRA_HEADER, "20260814|AAPL|1|0|2|Q", "20260814|MSFT|1|0|2|Q", "3"],
            {},
            4,
            ["record-count line says 3", "holds 2"],
            id="count-mismatch",
        ),
        pytest.param(
            "CNMSshvol20260814.txt",
            [FINRA_HEADER, "20260814|AAPL|1|0|2|Q", "20260814|MSFT|lots|0|2|Q", "2"],
            {},
            3,
            ["ShortVolume", "not a number", "lots"],
            id="bad-number",
        ),
        pytest.param(
            "CNMSshvol20260814.txt",
            [FINRA_HEADER, "20260814|AAPL|-1|0|2|Q", "1"],
            {},
            2,
            ["negative"],
            id="negative",
        ),
        pytest.param(
            "CNMSshvol20260814.txt",
            [FINRA_HEADER, "20260814|AAPL|1|0|2|Q", "2026-08-14|MSFT|1|0|2|Q", "2"],
            {},
            3,
            ["not a date in format YYYYMMDD"],
            id="bad-date",
        ),
        pytest.param(
            "CNMSshvol20260814.txt",
            [FINRA_HEADER, "00260814|AAPL|1|0|2|Q", "1"],
            {},
            2,
            ["implausible trade date"],
            id="implausible-date",
        ),
        pytest.param(
            "CNMSshvol20260814.txt",
            [FINRA_HEADER, "20260814|AAPL||0|2|Q", "1"],
            {},
            2,
            ["blank short volume"],
            id="blank-volume",
        ),
        pytest.param(
            "CNMSshvol20260814.txt",
            [FINRA_HEADER, "20260814|AAPL|1|0|2|Q", "20260814|MSF", "2"],
            {},
            3,
            ["blank short volume"],
            id="cut-row",
        ),
        pytest.param(
            "shortvol.txt",
            [FINRA_HEADER, "20260814|AAPL|1|0|2|Q", "1"],
            {},
            None,
            ["cannot tell the facility", "--facility"],
            id="no-facility",
        ),
        pytest.param(
            "NYSEshvol20260814.txt",
            [FINRA_HEADER, "20260814|AAPL|1|0|2|Q", "1"],
            {},
            None,
            ["not a FINRA short-volume file", "CNMS"],
            id="finra-layout-nyse-name",
        ),
        pytest.param(
            "CNMSshvol20260814.txt",
            ["Date|Symbol|Short|Total", "20260814|AAPL|1|2"],
            {},
            1,
            ["unrecognised short-volume file"],
            id="unknown-header",
        ),
    ],
)
def test_bad_input(tmp_path: Path, name: str, lines: list[str], options: dict, line, words) -> None:
    path = write(tmp_path, name, *lines)
    with pytest.raises(InputError) as info:
        parse_file("short-volume", path, ParseOptions(**options))
    message = str(info.value)
    assert "\n" not in message and name in message
    if line is not None:
        assert f"{name}:{line}:" in message, message
    for word in words:
        assert word in message, message


def test_cli_bad_file_exit_3_store_untouched(tmp_path: Path) -> None:
    store = tmp_path / "store"
    good = write(tmp_path, "CNMSshvol20260813.txt", FINRA_HEADER, "20260813|AAPL|1|0|2|Q", "1")
    assert run_cli("ingest", "short-volume", str(good), store=store).code == 0
    before = store_bytes(store)
    bad = write(tmp_path, "CNMSshvol20260814.txt", FINRA_HEADER, "20260814|AAPL|1|0|2|Q", "5")
    run = run_cli("ingest", "short-volume", str(bad), store=store)
    assert run.code == 3
    assert run.err.startswith("error: ") and "CNMSshvol20260814.txt:3:" in run.err
    assert len(run.err.strip().splitlines()) == 1 and "Traceback" not in run.err
    assert store_bytes(store) == before


# ------------------------------------------------------------------ the real files
def _raw_records(path: Path) -> dict[tuple[datetime.date, str], dict[str, float | None]]:
    """Data lines split by hand: (date, symbol as printed) -> volumes by column name."""
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    header = lines[0].split("|")
    body = lines[1:]
    if body and "|" not in body[-1]:
        assert int(body[-1]) == len(body) - 1  # FINRA's record-count line
        body = body[:-1]
    out = {}
    for line in body:
        cells = dict(zip(header, line.split("|"), strict=True))
        day = datetime.datetime.strptime(cells["Date"], "%Y%m%d").date()
        out[(day, cells["Symbol"])] = {
            "short": float(cells.get("ShortVolume") or cells["Short Volume"]),
            "exempt": float(e)
            if (e := cells.get("ShortExemptVolume", cells.get("Short Exempt Volume")))
            else None,
            "total": float(cells.get("TotalVolume") or cells["Total Volume"]),
        }
    return out


REAL_FILES = sorted(
    [*(REAL / "finra_short_volume").glob("*.txt"), *(REAL / "nyse_short_volume").glob("*.txt")]
)


@pytest.mark.parametrize("path", REAL_FILES, ids=[p.name for p in REAL_FILES])
def test_real_file_matches_raw_text(path: Path) -> None:
    expected = _raw_records(path)
    table = parse_file("short-volume", path).table
    assert table.num_rows == len(expected)
    facility = path.name.split("shvol")[0].upper()
    assert set(table.column("facility").to_pylist()) <= {facility}
    got = {(r["date"], r["symbol"]): r for r in table.to_pylist()}
    assert len(got) == len(expected)  # no two securities merged into one key
    # Every raw row is in the table under a symbol holding its letters (suffixes spelt out).
    by_volume = {
        (d, r["short_volume"], r["total_volume"], r["short_exempt_volume"]) for (d, _), r in got.items()
    }
    for (day, _symbol), values in expected.items():
        assert (day, values["short"], values["total"], values["exempt"]) in by_volume
    for (day, symbol), values in expected.items():
        if symbol.isalpha() and symbol.isupper():  # plain tickers keep their spelling exactly
            row = got[(day, symbol)]
            assert (row["short_volume"], row["total_volume"]) == (values["short"], values["total"])


def test_real_consolidated_equals_sum_of_facilities(tmp_path: Path) -> None:
    """PROVENANCE.md: CNMS = FNQC + FNSQ + FNYX per symbol; checked through a real ingest."""
    folder = real_dir("finra_short_volume")
    store = tmp_path / "store"
    api.ingest("short-volume", [folder], store)
    table = Store(store).read("short_volume").to_pylist()
    sums: dict[str, list[float]] = {}
    consolidated: dict[str, list[float]] = {}
    for r in table:
        if r["facility"] in ("FNQC", "FNSQ", "FNYX", "FNRA"):
            acc = sums.setdefault(r["symbol"], [0.0, 0.0])
            acc[0] += r["short_volume"]
            acc[1] += r["total_volume"]
        elif r["facility"] == "CNMS":
            consolidated[r["symbol"]] = [r["short_volume"], r["total_volume"]]
    assert consolidated["AAPL"][0] == 70_234 + 8_115_264 + 5_241_803 == sums["AAPL"][0]
    assert consolidated == sums


# Valid FINRA files of every shape the fast path (short_volume._fast_finra) must read exactly as the
# general reader does, or leave to it; (lines, line end, whether the fast path takes it).
_SHAPES = [
    ([FINRA_HEADER, "20260814|AAPL|1200|10|3000|B,Q,N", "20260814|BRK/B|7|0|20|Q", "2"], "\r\n", True),
    ([FINRA_HEADER, "20260814|MSFT|5|0|9|Q", "20260814|AAPL|1|0|2|Q", "2"], "\n", True),  # unsorted
    ([FINRA_HEADER, " 20260814 | ABRpA | 3 | 0 | 4 | Q ", "20260814|ACPr|1|1|1|N", "2"], "\r\n", True),
    ([FINRA_HEADER, "20260814|AAPL|1|0|2|Q", "20260814|AAPL|2|0|3|Q", "2"], "\r\n", True),  # duplicate
    ([FINRA_HEADER, "20260814|AAPL|1|0|2|Q"], "\r\n", True),  # no record-count line: a warning
    (
        [FINRA_HEADER, "20260814|AAPL|1|0|2|", "20260814|TSLA|9007199254740993|0|9007199254740995|Q", "2"],
        "\n",
        True,
    ),
    ([FINRA_HEADER, "20260814|AAPL|1|0|2|Q", "", "20260814|MSFT|1|0|2|Q", "2"], "\r\n", True),  # blank line
    ([FINRA_HEADER, "20260814|AAPL|1200.5|10|3000|Q", "1"], "\r\n", False),  # a fraction
    ([FINRA_HEADER, "20260814|AAPL|1||3|Q", "1"], "\r\n", False),  # blank exempt volume
    ([FINRA_HEADER, "20260814|AAPL|5|0|3|Q", "1"], "\r\n", False),  # short above total: warned
    (["", FINRA_HEADER, "20260814|AAPL|1|0|2|Q", "1"], "\r\n", False),  # header not on line 1
    (
        ["Market|Date|Symbol|ShortVolume|ShortExemptVolume|TotalVolume", "Q|20260814|AAPL|1|0|2", "1"],
        "\n",
        True,
    ),
]


@pytest.mark.parametrize(("lines", "end", "fast"), _SHAPES)
def test_fast_finra_path_reads_as_the_general_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lines: list[str], end: str, fast: bool
) -> None:
    from positioning_cli.ingest import short_volume as sv
    from positioning_cli.ingest.text import load

    path = write(tmp_path, "CNMSshvol20260814.txt", *lines, end=end)
    body, stated, _ = sv._without_trailer(load(path))
    assert (sv._fast_finra(body, stated) is not None) == fast
    got = parse_file("short-volume", path)
    monkeypatch.setattr(sv, "_fast_finra", lambda *_: None)
    general = parse_file("short-volume", path)
    assert got.table.equals(general.table) and got.warnings == general.warnings
    assert got.table.num_rows >= 1


def test_a_plain_finra_file_parses_without_pandas() -> None:
    import subprocess
    import sys

    sample = sorted((Path(__file__).parent.parent / "sample_data" / "short_volume").glob("*CNMS*"))[-1]
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from positioning_cli.ingest import parse_file\n"
        f"assert parse_file('short-volume', Path({str(sample)!r})).table.num_rows > 0\n"
        "print('pandas' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False", "parsing a plain FINRA short-volume file imported pandas"
