"""Bad input (issue 12): one line, the documented code, bounded memory.

Hostile or unlucky inputs through the real CLI: implausible dates, symbols that are not tickers
(invisible characters, homoglyphs, megabytes), a wrong ``--format``, input from a pipe. Each is
refused with exit 3 and one line naming the file (and the line), or read correctly.
"""

from __future__ import annotations

import datetime
import gzip
import hashlib
import json
import os
import resource
import struct
import subprocess
import sys
import threading
import zipfile
import zlib
from pathlib import Path

import pytest

from positioning_cli.errors import ExitCode, InputError
from positioning_cli.ingest import ParseOptions, parse_file
from positioning_cli.store import Store
from tests.conftest import Run, run_cli

HEADER = (
    "accountingYearMonthNumber|symbolCode|issueName|issuerServicesGroupExchangeCode|marketClassCode|"
    "currentShortPositionQuantity|previousShortPositionQuantity|stockSplitFlag|averageDailyVolumeQuantity|"
    "daysToCoverQuantity|revisionFlag|changePercent|changePreviousNumber|settlementDate"
)


def row(symbol: str = "AAPL", date: str = "2026-08-14", si: int = 1000) -> str:
    return f"20260814|{symbol}|Issue|A|NNM|{si}|900||500|2.0||11.1|100|{date}"


def finra(*rows: str) -> str:
    return "\n".join([HEADER, *rows]) + "\n"


def one_line_error(r: Run, *words: str) -> str:
    """Exit 3, nothing on stdout, one stderr line holding ``words``; that line."""
    assert r.code == ExitCode.BAD_INPUT, (r.code, r.err[-2000:])
    assert r.out == ""
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.err[-2000:]
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


def later(days: int) -> str:
    return (datetime.date.today() + datetime.timedelta(days=days)).isoformat()


# ------------------------------------------------------------------------------------------ dates
# (id, kind, file name, content, extra args, words of the message). The documented ranges:
# settlement dates 1990-01-01, prices 1789-01-01, CFTC report dates 1986-01-01, as-of dates
# 1957-03-04, each up to today + 31 days.
PRICE_HEAD = "Date,Open,High,Low,Close,Adj Close,Volume\n"
DATE_CASES = [
    (
        "typo-year-2062",
        "short-interest",
        "shrt.csv",
        finra(row(), row("MSFT", "2062-08-14")),
        [],
        ["shrt.csv:3:", "2062-08-14"],
    ),
    (
        "past-pandas-2300",
        "short-interest",
        "shrt.csv",
        finra(row("MSFT", "2300-01-01")),
        [],
        ["shrt.csv:2:", "2300-01-01"],
    ),
    (
        "before-pandas-1500",
        "short-interest",
        "shrt.csv",
        finra(row("MSFT", "1500-01-01")),
        [],
        ["shrt.csv:2:", "1500-01-01"],
    ),
    (
        "before-1990",
        "short-interest",
        "shrt.csv",
        finra(row(), row("MSFT", "1989-12-29")),
        [],
        ["shrt.csv:3:", "1989-12-29", "1990-01-01"],
    ),
    (
        "a-month-ahead",
        "short-interest",
        "shrt.csv",
        finra(row("MSFT", later(32))),
        [],
        ["shrt.csv:2:", later(32)],
    ),
    (
        "price-before-1789",
        "prices",
        "SPY.csv",
        PRICE_HEAD + "2020-01-02,1,1,1,1,1,1\n1788-12-31,1,1,1,1,1,1\n",
        [],
        ["SPY.csv:3:", "1788-12-31", "1789-01-01"],
    ),
    (
        "price-year-9999",
        "prices",
        "SPY.csv",
        PRICE_HEAD + "9999-01-02,1,1,1,1,1,1\n",
        [],
        ["SPY.csv:2:", "9999-01-02"],
    ),
    (
        "members-as-of-2100",
        "members",
        "m.csv",
        "index,as_of,symbol\nSPX,2100-01-04,AAA\n",
        [],
        ["m.csv:2:", "2100-01-04"],
    ),
    (
        "members-option-as-of",
        "members",
        "sp.csv",
        "Symbol,Security,GICS Sector\nMMM,3M,Industrials\n",
        ["--as-of", "1900-01-02"],
        ["sp.csv", "1900-01-02"],
    ),
]
# fmt: on


@pytest.mark.parametrize(
    ("kind", "name", "content", "extra", "words"), [pytest.param(*c[1:], id=c[0]) for c in DATE_CASES]
)
def test_bad_input_dates_implausible_are_refused_naming_the_line(
    tmp_path: Path, kind: str, name: str, content: str, extra: list[str], words: list[str]
) -> None:
    path = tmp_path / name
    path.write_text(content)
    options = ParseOptions(as_of=datetime.date.fromisoformat(extra[1])) if extra else ParseOptions()
    with pytest.raises(InputError) as info:
        parse_file(kind, path, options)
    assert info.value.exit_code == ExitCode.BAD_INPUT
    message = str(info.value)
    assert "\n" not in message and "implausible" in message
    for w in words:
        assert w in message, (w, message)


def test_bad_input_dates_through_the_cli(tmp_path: Path) -> None:
    """A typo'd year never reaches the store: exit 3, one line with the line number."""
    path = tmp_path / "shrt.csv"
    path.write_text(finra(row(), row("MSFT", "2062-08-14")))
    store = tmp_path / "store"
    one_line_error(run_cli("ingest", "short-interest", str(path), store=store), "shrt.csv:3:", "2062-08-14")
    assert not (store / "manifest.json").exists()


def test_bad_input_dates_at_the_edges_of_the_ranges_are_kept(tmp_path: Path) -> None:
    store = tmp_path / "store"
    si = tmp_path / "shrt.csv"
    si.write_text(finra(row("AAA", "1990-01-01"), row("BBB", later(31))))
    prices = tmp_path / "^SPX.csv"
    prices.write_text(PRICE_HEAD + "1789-01-01,1,1,1,1,1,1\n")
    assert run_cli("ingest", "short-interest", str(si), store=store).code == 0
    assert run_cli("ingest", "prices", str(prices), store=store).code == 0
    dates = sorted(
        str(d) for d in Store(store).read("short_interest", ["settlement_date"]).column(0).to_pylist()
    )
    assert dates == ["1990-01-01", later(31)]
    # the store reads and verifies
    assert run_cli("store", "verify", store=store).code == 0


# ---------------------------------------------------------------------------------------- symbols
SYMBOL_CASES = [
    ("cyrillic-a", "\u0410APL", ["U+0410 CYRILLIC CAPITAL LETTER A"]),
    ("greek-omicron", "G\u039fOG", ["U+039F"]),
    ("megabyte", "A" * 1_000_000, ["1,000,000 characters"]),
    ("emoji", "AAPL\U0001f4a9", ["U+1F4A9"]),
    ("tab-inside", "AA\tPL", ["U+0009"]),
]


@pytest.mark.parametrize(("symbol", "words"), [pytest.param(*c[1:], id=c[0]) for c in SYMBOL_CASES])
@pytest.mark.parametrize("kind", ["short-interest", "members"])
def test_bad_input_symbols_not_a_ticker_are_refused_naming_the_line(
    tmp_path: Path, symbol: str, words: list[str], kind: str
) -> None:
    path = tmp_path / "in.csv"
    if kind == "short-interest":
        path.write_text(finra(row("MSFT"), row(symbol)), encoding="utf-8")
    else:
        path.write_text(
            f"index,as_of,symbol\nSPX,2026-06-26,MSFT\nSPX,2026-06-26,{symbol}\n", encoding="utf-8"
        )
    with pytest.raises(InputError) as info:
        parse_file(kind, path)
    message = str(info.value)
    assert "in.csv:3:" in message and "not a plausible ticker" in message, message
    for w in words:
        assert w in message, (w, message)
    assert len(message) < 400 and "\n" not in message


def test_bad_input_symbols_through_the_cli(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text(finra(row("MSFT"), row("\u0410APL")), encoding="utf-8")
    one_line_error(
        run_cli("ingest", "short-interest", str(path), store=tmp_path / "s"), "in.csv:3:", "U+0410"
    )


def test_bad_input_symbols_invisible_characters_and_full_width_are_the_same_key(tmp_path: Path) -> None:
    """Zero-width space, RLM, RLO, BOM and full-width letters normalise to the plain ticker: the
    variants are one key (a revision of the row), never a new one another engine double counts."""
    store = tmp_path / "store"
    spellings = [
        "AAPL",
        "AA\u200bPL",
        "\u200fAAPL",
        "\u202eAAPL\u202c",
        "\ufeffAAPL",
        "\uff21\uff21\uff30\uff2c",
    ]
    for i, spelling in enumerate(spellings):
        path = tmp_path / f"api{i}.json"
        path.write_text(
            json.dumps(
                [
                    {
                        "symbolCode": spelling,
                        "settlementDate": "2026-08-14",
                        "currentShortPositionQuantity": 100 + i,
                    }
                ]
            ),
            encoding="utf-8",
        )
        r = run_cli("ingest", "short-interest", str(path), store=store)
        assert r.code == 0, r.err
    rows = Store(store).read("short_interest", ["symbol", "short_interest"]).to_pylist()
    assert rows == [{"symbol": "AAPL", "short_interest": 100 + len(spellings) - 1}]


def test_bad_input_symbols_from_a_price_file_name(tmp_path: Path) -> None:
    path = tmp_path / "\u0410APL.csv"
    path.write_text(PRICE_HEAD + "2020-01-02,1,1,1,1,1,1\n")
    one_line_error(run_cli("ingest", "prices", str(path), store=tmp_path / "s"), "U+0410", "--symbol")
    r = run_cli("ingest", "prices", str(path), "--symbol", "AAPL", store=tmp_path / "s")
    assert r.code == 0, r.err


# ----------------------------------------------------------------------------------------- memory
# Every case runs the CLI under an address-space cap (RLIMIT_AS): a bomb must be refused with one
# line naming the file and the limit, never by the kernel or MemoryError. The inputs are generated
# by streaming (a gzip bomb is many small gzip members, each of 64 MiB of one byte), never in full.
MEMORY_CAP = 1 << 30  # bytes of address space for the CLI process (an idle ingest needs ~0.5 GiB)
MIB = 1 << 20


def run_capped(*args: str, store: Path, stdin: bytes | None = None) -> Run:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))

    env = {k: v for k, v in os.environ.items() if k != "POSITIONING_STORE"}
    p = subprocess.run(
        [sys.executable, "-m", "positioning_cli", "--store", str(store), *args],
        capture_output=True,
        input=stdin,
        env=env,
        preexec_fn=limit,
        timeout=120,
    )
    return Run(p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"))


def gzip_bomb(path: Path, unit: bytes, total: int) -> Path:
    """A gzip file decompressing to ``total`` bytes of ``unit`` repeated, as 64 MiB members."""
    member = gzip.compress(unit * (64 * MIB // len(unit)), compresslevel=1)
    with open(path, "wb") as f:
        for _ in range(total // (64 * MIB)):
            f.write(member)
    return path


def zip_bomb(path: Path, member: str, total: int) -> Path:
    zeros = bytes(4 * MIB)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open(member, "w", force_zip64=True) as f:
            for _ in range(total // len(zeros)):
                f.write(zeros)
    return path


BOMBS = {
    # (kind, file name, generator, words of the one-line message)
    "gzip-of-10-GiB-of-zeros": (
        "short-interest",
        "shrt20260814.csv.gz",
        lambda p: gzip_bomb(p, b"\0", 10 << 30),
        ["decompresses to more than 64 MiB", "the limit for one input file"],
    ),
    "one-line-of-3-GiB": (
        "short-interest",
        "line.csv.gz",
        lambda p: gzip_bomb(p, b"a", 3 << 30),
        ["decompresses to more than 64 MiB"],
    ),
    "zip-bomb-for-cot": (
        "cot",
        "fut_fin_txt_2026.zip",
        lambda p: zip_bomb(p, "FinFut26.txt", 256 * MIB),
        ["fut_fin_txt_2026.zip/FinFut26.txt", "unzips to more than 64 MiB"],
    ),
    "a-million-columns": (
        "short-interest",
        "wide.csv",
        lambda p: p.write_bytes(b"c|" * 1_000_000 + b"symbolCode\n" + b"1|" * 1_000_000 + b"A\n") and p,
        ["wide.csv:1:", "a line of 2,000,010 bytes, more than 1 MiB, the limit for one line"],
    ),
    "1001-columns": (
        "prices",
        "SPY.csv",
        lambda p: (
            p.write_text("Date,Close," + ",".join(f"x{i}" for i in range(999)) + "\n2020-01-02,1\n") and p
        ),
        ["SPY.csv:1:", "a header of 1,001 columns, more than 1,000"],
    ),
    "a-200-MB-line": (
        "prices",
        "SPY.csv.gz",
        lambda p: gzip_bomb(p, b"Date,Close,Open" + b"x" * 49, 200 * MIB),
        ["decompresses to more than 64 MiB"],
    ),
    "a-2-MiB-line-on-line-3": (
        "prices",
        "QQQ.csv",
        lambda p: p.write_text("Date,Close\n2020-01-02,1\n2020-01-03," + "9" * (2 * MIB) + "\n") and p,
        ["QQQ.csv:3:", "more than 1 MiB, the limit for one line"],
    ),
    "five-million-rows-of-one-key": (
        "prices",
        "IWM.csv.gz",
        lambda p: (
            p.write_bytes(gzip.compress(b"Date,Close\n" + b"2020-01-02,1\n" * 5_000_000, compresslevel=1))
            and p
        ),
        ["IWM.csv.gz:", "5,000,001 lines, more than 1,000,000, the limit for one input file"],
    ),
    "1.2-million-short-lines": (
        "prices",
        "DIA.csv",
        lambda p: p.write_bytes(b"Date,Close\n" + b"2020-01-02,1\n" * 1_200_000) and p,
        ["1,200,001 lines, more than 1,000,000"],
    ),
    "a-JSON-of-300000-records": (
        "short-interest",
        "si.json",
        lambda p: p.write_bytes(b"[" + b'{"symbolCode":"A"},' * 300_000 + b'{"symbolCode":"A"}]') and p,
        ["300,001 JSON objects, more than 250,000"],
    ),
}


@pytest.mark.parametrize("case", list(BOMBS))
def test_bad_input_memory_bombs_are_refused_under_a_memory_cap(tmp_path: Path, case: str) -> None:
    kind, name, generate, words = BOMBS[case]
    path = generate(tmp_path / name)
    store = tmp_path / "store"
    r = run_capped("ingest", kind, str(path), store=store)
    message = one_line_error(r, str(path), *words)
    assert "MemoryError" not in message
    assert not (store / "manifest.json").exists()


def test_bad_input_memory_a_large_valid_file_is_processed_under_the_cap(tmp_path: Path) -> None:
    """Within the limits, an input is processed: 200,000 rows of one key under the same cap."""
    path = tmp_path / "SPY.csv"
    path.write_bytes(
        b"Date,Open,High,Low,Close,Adj Close,Volume\n"
        + b"2020-01-02,1,1,1,1,1,1\n" * 199_999
        + b"2020-01-02,2,2,2,2,2,2\n"
    )
    store = tmp_path / "store"
    r = run_capped("ingest", "prices", str(path), store=store)
    assert r.code == 0, r.err
    assert "199,999 duplicate" in r.err or "199999 duplicate" in r.err
    assert Store(store).read("prices", ["close"]).column(0).to_pylist() == [2.0]  # the last row wins


# ----------------------------------------------------------------------------------- wrong format
def test_bad_input_wrong_format_says_what_the_file_looks_like(tmp_path: Path) -> None:
    path = tmp_path / "shrt20260814.csv"
    path.write_text(finra(row("AAPL"), row("MSFT")))
    with pytest.raises(InputError) as info:
        parse_file("short-interest", path, ParseOptions(format="finra-web"))
    message = str(info.value)
    assert message.startswith(f"{path}: --format finra-web does not fit: the file looks like finra-pipe"), (
        message
    )
    assert "(drop --format to detect it)" in message and "read as finra-web: line 1:" in message
    # a file of another kind, detected or forced: the command to use
    with pytest.raises(
        InputError,
        match=r"looks like a short-interest file \(finra-pipe\): use `positioning ingest short-interest`",
    ):
        parse_file("prices", path)
    with pytest.raises(
        InputError, match=r"--format stooq does not fit: .* a short-interest file \(finra-pipe\)"
    ):
        parse_file("prices", path, ParseOptions(format="stooq", symbol="X"))


def test_bad_input_wrong_format_leaves_data_errors_and_legitimate_forcing_alone(tmp_path: Path) -> None:
    # the format fits the header: the error is the data's, as before
    bad = tmp_path / "shrt.csv"
    bad.write_text(finra(row("AAPL"), row("MSFT", si=-5)))
    with pytest.raises(InputError) as info:
        parse_file("short-interest", bad, ParseOptions(format="finra-pipe"))
    assert "looks like" not in str(info.value) and "negative" in str(info.value)
    # forcing stooq on any CSV with Date and Close is how other price files are read
    other = tmp_path / "X.csv"
    other.write_text("Date,Close\n2020-01-02,5\n")
    assert parse_file("prices", other, ParseOptions(format="stooq")).table.num_rows == 1


def test_bad_input_wrong_format_through_the_cli(tmp_path: Path) -> None:
    path = tmp_path / "cot.txt"
    path.write_text(finra(row()))
    one_line_error(
        run_cli("ingest", "short-interest", str(path), "--format", "finra-api-csv", store=tmp_path / "s"),
        "--format finra-api-csv does not fit: the file looks like finra-pipe",
    )


# ------------------------------------------------------------------------------------------ pipes
def test_bad_input_pipe_standard_input_is_read_once(tmp_path: Path) -> None:
    """``-`` and ``/dev/stdin``: the bytes are hashed as they are parsed, not consumed beforehand."""
    store = tmp_path / "store"
    data = gzip.compress(finra(row("AAPL"), row("MSFT")).encode())
    r = run_capped("ingest", "short-interest", "-", store=store, stdin=data)
    assert r.code == 0, r.err
    assert r.err.startswith("<stdin>: 2 rows, 2026-08-14, finra-pipe, 2 new or changed"), r.err
    assert Store(store).read("short_interest", ["symbol"]).column(0).to_pylist() == ["AAPL", "MSFT"]
    # the same bytes again, through /dev/stdin: known by their hash, nothing changes
    again = run_capped("ingest", "short-interest", "/dev/stdin", store=store, stdin=data)
    assert again.code == 0, again.err
    assert "already ingested with these options, unchanged" in again.err
    assert Store(store).manifest()["ingests"][0]["sha256"] == hashlib.sha256(data).hexdigest()


def test_bad_input_pipe_a_fifo_like_process_substitution(tmp_path: Path) -> None:
    """``<(zcat f.gz)`` is a FIFO: read once, not reported empty."""
    fifo = tmp_path / "63"
    os.mkfifo(fifo)
    text = finra(row("AAPL"), row("MSFT"), row("XYZ"))
    writer = threading.Thread(target=lambda: fifo.write_text(text), daemon=True)
    writer.start()
    try:
        r = run_cli("ingest", "short-interest", str(fifo), store=tmp_path / "store")
    finally:
        writer.join(timeout=30)
    assert r.code == 0, r.err
    assert "63: 3 rows" in r.err
    # a price file from a pipe has no name to take the symbol from
    writer = threading.Thread(
        target=lambda: fifo.write_text(PRICE_HEAD + "2020-01-02,1,1,1,1,1,1\n"), daemon=True
    )
    writer.start()
    try:
        r = run_cli("ingest", "prices", str(fifo), store=tmp_path / "store")
    finally:
        writer.join(timeout=30)
    one_line_error(r, "no file name to take the symbol from; pass --symbol")


STRESS = os.environ.get("POSITIONING_STRESS", "").strip() not in ("", "0")


def single_member_gzip(path: Path, unit: bytes, total: int) -> Path:
    """One gzip member of ``total`` bytes of ``unit``, streamed: after a full flush the deflate
    output of an identical 16 MiB block is identical, so it is computed twice and written many
    times; the trailer's CRC-32 is computed over the whole, block by block."""
    block = unit * ((16 * MIB) // len(unit))
    c = zlib.compressobj(1, zlib.DEFLATED, 31)
    first = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    end = c.flush()[:-8]  # the final empty block, without the trailer for just two blocks
    blocks = total // len(block)
    crc = 0
    with open(path, "wb") as f:
        f.write(first)
        crc = zlib.crc32(block, crc)
        for _ in range(blocks - 1):
            f.write(again)
            crc = zlib.crc32(block, crc)
        f.write(end + struct.pack("<II", crc, (blocks * len(block)) & 0xFFFFFFFF))
    return path


@pytest.mark.skipif(not STRESS, reason="long form: make stress (POSITIONING_STRESS=1)")
@pytest.mark.parametrize(
    ("unit", "total"), [(b"\0", 10 << 30), (b"a", 3 << 30)], ids=["10-GiB-zeros", "3-GiB-line"]
)
def test_bad_input_memory_single_member_gzip_bombs(tmp_path: Path, unit: bytes, total: int) -> None:
    path = single_member_gzip(tmp_path / "shrt20260814.csv.gz", unit, total)
    with gzip.open(path) as f:  # a valid gzip file: its first bytes read back
        assert f.read(1024) == unit * 1024
    r = run_capped("ingest", "short-interest", str(path), store=tmp_path / "store")
    one_line_error(r, str(path), "decompresses to more than 64 MiB")
