"""Fuzz / property suite for every input parser (issue 5).

Property, for every (kind, format) in ``FORMATS``: arbitrary bytes, and mutations of valid seed
files (``tests/fuzz_seeds.py``: our sample data, hand-written files, real third-party files when
present), either parse into a valid table — exactly ``spec.parsed_schema``, required columns
non-null, counts non-negative, floats finite, one row per key — or raise ``InputError`` whose
message is one line naming the file. Any other exception is a bug. Each input is parsed with the
format detected and with the format forced (``ParseOptions(format=...)``).

At CLI level: ``positioning ingest`` of a mutated file either commits (exit 0, the store changed
only by that one commit) or fails with exit 3 and leaves the store byte for byte as it was.

Example counts come from a settings profile: "positioning-fuzz-ci" (default; derandomised, so CI
is repeatable; a few hundred examples per parser) or, with ``POSITIONING_FUZZ=1``,
"positioning-fuzz" (random, no deadline, tens of thousands of examples per parser):

    POSITIONING_FUZZ=1 .venv/bin/pytest tests/test_fuzz_parsers.py
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from positioning_cli.api import KIND_TABLE
from positioning_cli.errors import InputError
from positioning_cli.ingest import FORMATS, KINDS, Parsed, ParseOptions, parse_file
from positioning_cli.ingest.text import load
from tests.conftest import SAMPLE, run_cli, store_bytes
from tests.fuzz_seeds import BY_FORMAT, FORMAT_IDS, SEEDS, Seed, write_companions

# --------------------------------------------------------------------------------------- profiles
FUZZ = os.environ.get("POSITIONING_FUZZ", "").strip() not in ("", "0")
_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile(
    "positioning-fuzz-ci",
    max_examples=200,
    derandomize=True,  # the same examples on every run: CI stays repeatable
    database=None,
    deadline=None,  # a loaded 2-core CI box must not turn slowness into failures
    suppress_health_check=_HEALTH,
    print_blob=False,
)
settings.register_profile(
    "positioning-fuzz",
    max_examples=10_000,
    deadline=None,
    suppress_health_check=_HEALTH,
    print_blob=True,  # a failure prints @reproduce_failure to replay it exactly
)
PROFILE = settings.get_profile("positioning-fuzz" if FUZZ else "positioning-fuzz-ci")

# Examples per test: (default profile, POSITIONING_FUZZ=1).
SEED_EXAMPLES = (150, 12_000)  # per (kind, format): mutated seeds
NOISE_EXAMPLES = (60, 10_000)  # per kind: arbitrary bytes / text / token soup, every format forced
CLI_EXAMPLES = (8, 300)  # subprocess ingest into a copied store


def examples(counts: tuple[int, int]) -> settings:
    """Settings for one test; POSITIONING_FUZZ_EXAMPLES=N overrides the long run's count."""
    if not FUZZ:
        return settings(PROFILE, max_examples=counts[0])
    override = os.environ.get("POSITIONING_FUZZ_EXAMPLES", "").strip()
    return settings(PROFILE, max_examples=int(override) if override.isdigit() else counts[1])


# --------------------------------------------------------------------------------------- values
# Cell texts that have broken parsers before, or plausibly could: nulls, signs, overflow, exotic
# digits, date edge cases, delimiters, quotes, invisible characters, CSV/JSON syntax.
# fmt: off
INTERESTING = [
    "", " ", "-", ".", "..", "null", "NULL", "None", "NaN", "nan", "NA", "N/A", "inf", "-inf", "Infinity",
    "1e400", "-1e400", "1e-400", "-1", "-0", "-0.0", "0", "0.0", "1.5", "0.5", "2.5", "1e3", "1E3", "+7",
    "9223372036854775807", "9223372036854775808", "-9223372036854775809", "18446744073709551616",
    "9.2e18", "9.3e18", "1" * 40, "1" * 400, "0x1F", "1_000", "1,000", "1,000.5", "1.000,5", "1 000",
    "\u0661\u0662\u0663", "\uff11\uff12", "\u00b2", "\u00bd", "\U0001d7d9", "12\u00a0", "\u00a0", "\u2007",
    "true", "false", "R", "S", "Y", "N", "r", "FutOnly", "Combined", "futonly", "FUTONLY ",
    "2024-02-30", "2024-13-01", "2024-00-10", "2023-02-29", "0001-01-01", "9999-12-31", "1677-09-21",
    "1677-09-22", "2262-04-11", "2262-04-12", "1000-01-01", "20240102", "2024-1-2", "2024-01-02T00:00:00",
    "2024-01-02 00:00:00-05:00", "2024-01-02xyz", "15-08-2024", "31-02-2024", "12/31/99", "02/29/21",
    "07/02/2020", "13/13/2020", "260804", "991231", "000000", "May 05, 2026", "Feb 30, 2026",
    '"', '""', '"a"b', "'", "\\", "|", ",", ";", "\t", "\x0b", "\x0c", "\x1c", "\x85", "\u2028",
    "\ufeff", "\u200b", "\u202e", "\ud7ff", "\ue000", "\U0010ffff", "\u00e9", "\u0130", "\u00df",
    "A" * 300, "=1+1", "%s%n", "{}", "[]", "{", "[", "<a>", "NDX", "RUT", "SPX", "spx ", "QQQ", "Equity",
    "Cash", "equity ", "BRK/B", "BRK.B", "^GSPC", "ES=F", "$", "#", "*", "000",
]
JUNK_BYTES = [
    b"\x00", b"\xff", b"\xfe\xff", b"\xef\xbb\xbf", b"\xc3", b"\xe2\x80", b"\xed\xa0\x80", b"\x1f\x8b",
    b"PK\x03\x04", b"\r", b"\n", b"\r\n", b"\n\n", b'"', b'"\n"', b"|", b",", b";", b"\t", b" ",
    b"[" * 3000, b"{" * 50, b"1" * 5000, b"\x85", b"\xe2\x80\xa8", b"\x1a", b"\x7f",
]
# fmt: on

cell_text = st.one_of(
    st.sampled_from(INTERESTING),
    st.integers(min_value=-(10**22), max_value=10**22).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(min_value=-1e6, max_value=1e12).map(lambda x: f"{x:.2f}"),
    st.text(max_size=12),
    st.from_regex(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}", fullmatch=True),
)
json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    cell_text,
)
json_value = st.one_of(
    json_scalar,
    json_scalar,
    json_scalar,
    st.lists(json_scalar, max_size=2),
    st.dictionaries(st.text(max_size=3), json_scalar, max_size=2),
)


# --------------------------------------------------------------------------------------- mutations
def _split(line: bytes, delimiter: bytes) -> list[bytes]:
    return line.split(delimiter)


@st.composite
def field_edit(draw, data: bytes, delimiter: bytes) -> bytes:
    """Replace, delete, duplicate or insert one field of one line (the header often)."""
    lines = data.split(b"\n")
    i = draw(st.one_of(st.just(0), st.integers(0, len(lines) - 1)))
    fields = _split(lines[i], delimiter)
    j = draw(st.integers(0, len(fields) - 1))
    action = draw(
        st.sampled_from(["replace", "replace", "replace", "negate", "delete", "dup", "insert", "quote"])
    )
    if action == "replace":
        fields[j] = draw(cell_text).encode("utf-8")
    elif action == "negate":
        fields[j] = b"-" + fields[j].strip()
    elif action == "delete":
        del fields[j]
    elif action == "dup":
        fields.insert(j, fields[j])
    elif action == "insert":
        fields.insert(j, draw(cell_text).encode("utf-8"))
    else:
        fields[j] = b'"' + fields[j] + draw(st.sampled_from([b'"', b"", b'""', b'"x']))
    lines[i] = delimiter.join(fields)
    return b"\n".join(lines)


@st.composite
def line_edit(draw, data: bytes) -> bytes:
    lines = data.split(b"\n")
    n = len(lines)
    i = draw(st.integers(0, n - 1))
    action = draw(st.sampled_from(["dup", "drop", "swap", "move", "blank", "replace", "case", "repeat"]))
    if action == "dup":
        lines.insert(i, lines[i])
    elif action == "drop" and n > 1:
        del lines[i]
    elif action == "swap":
        j = draw(st.integers(0, n - 1))
        lines[i], lines[j] = lines[j], lines[i]
    elif action == "move":
        line = lines.pop(i)
        lines.insert(draw(st.integers(0, max(0, n - 1))), line)
    elif action == "blank":
        lines.insert(i, draw(st.sampled_from([b"", b" ", b"\r", b"\xc2\xa0", b",,,", b"||"])))
    elif action == "replace":
        lines[i] = draw(st.text(max_size=40)).encode("utf-8")
    elif action == "case":
        lines[i] = draw(st.sampled_from([bytes.upper, bytes.lower, bytes.swapcase]))(lines[i])
    else:  # repeat the data block: more rows, every key duplicated
        lines = lines[:1] + lines[1:] * draw(st.integers(2, 4))
    return b"\n".join(lines)


@st.composite
def byte_edit(draw, data: bytes) -> bytes:
    if not data:
        return draw(st.binary(max_size=20))
    pos = draw(st.integers(0, len(data) - 1))
    action = draw(st.sampled_from(["flip", "set", "insert", "insert", "delete", "truncate"]))
    if action == "flip":
        return data[:pos] + bytes([data[pos] ^ (1 << draw(st.integers(0, 7)))]) + data[pos + 1 :]
    if action == "set":
        return data[:pos] + bytes([draw(st.integers(0, 255))]) + data[pos + 1 :]
    if action == "insert":
        chunk = draw(st.one_of(st.sampled_from(JUNK_BYTES), st.binary(min_size=1, max_size=8)))
        return data[:pos] + chunk + data[pos:]
    if action == "delete":
        return data[:pos] + data[pos + draw(st.integers(1, 64)) :]
    return data[:pos]


@st.composite
def global_edit(draw, data: bytes, delimiter: bytes) -> bytes:
    action = draw(st.sampled_from(["delimiter", "crlf", "cr", "bom", "final", "latin1", "utf16", "spaces"]))
    if action == "delimiter":
        new = draw(st.sampled_from([b",", b"|", b";", b"\t", b" ", b", "]))
        return data.replace(delimiter, new)
    if action == "crlf":
        return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if action == "cr":
        return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r")
    if action == "bom":
        return b"\xef\xbb\xbf" + data
    if action == "final":
        return data.rstrip(b"\r\n") if data.endswith(b"\n") else data + b"\n"
    if action == "latin1":
        return data.decode("utf-8", "replace").encode("latin-1", "replace")
    if action == "utf16":
        return data.decode("utf-8", "replace").encode("utf-16")
    return data.replace(delimiter, delimiter + b" ").replace(b"\n", b" \n")


def inner_records(doc: object) -> list | None:
    """The records of a JSON document that is not a plain array: SEC's frame (``data``), its
    companyfacts (``facts.dei.TAG.units.shares``, the list itself so edits land in ``doc``) and its
    ticker map (the values of ``{"0": {...}}``, edited in place); None for another shape."""
    if isinstance(doc, list):
        return doc
    if not isinstance(doc, dict):
        return None
    if isinstance(doc.get("data"), list):
        return doc["data"]
    facts = doc.get("facts")
    if isinstance(facts, dict):
        for tag in (facts.get("dei") or {}).values():
            shares = ((tag or {}).get("units") or {}).get("shares")
            if isinstance(shares, list):
                return shares
        return None
    if doc and all(isinstance(v, dict) for v in doc.values()):
        return list(doc.values())
    return None


@st.composite
def json_edit(draw, data: bytes) -> bytes:
    """Structure-aware edits of a JSON array of records: values, keys, records, wrappers."""
    try:
        records = json.loads(data)
    except ValueError:
        return data
    container = None
    if isinstance(records, dict):  # SEC's documents: edit their records, keep the document's shape
        container, records = records, inner_records(records)
    if not isinstance(records, list) or not records:
        return data
    for _ in range(draw(st.integers(1, 4))):
        if not records:
            break
        i = draw(st.integers(0, len(records) - 1))
        action = draw(st.sampled_from(["set", "set", "set", "del", "add", "rename", "dup", "drop", "scalar"]))
        rec = records[i]
        if not isinstance(rec, dict):
            continue
        keys = list(rec) or ["symbolCode"]
        key = draw(st.sampled_from(keys))
        if action == "set":
            rec[key] = draw(json_value)
        elif action == "del":
            rec.pop(key, None)
        elif action == "add":
            rec[draw(st.sampled_from([*keys, " symbolCode", "SYMBOLCODE", "x", ""]))] = draw(json_value)
        elif action == "rename" and key in rec:
            rec[draw(st.sampled_from([key.upper(), key.lower(), f" {key} ", key + "x"]))] = rec.pop(key)
        elif action == "dup":
            records.insert(i, dict(rec))
        elif action == "drop":
            del records[i]
        else:
            records[i] = draw(json_value)
    if container is not None:
        return json.dumps(container, allow_nan=True).encode()
    wrapper = draw(st.sampled_from(["list", "list", "data", "two", "empty", "nested"]))
    out: object = records
    if wrapper == "data":
        out = {"data": records, "count": len(records)}
    elif wrapper == "two":
        out = {"data": records, "other": []}
    elif wrapper == "empty":
        out = []
    elif wrapper == "nested":
        out = [records]
    return json.dumps(out, allow_nan=True, indent=draw(st.sampled_from([None, 1]))).encode()


@st.composite
def mutate(draw, seed: Seed) -> bytes:
    """One to several edits of the seed's bytes."""
    data = seed.data
    delimiter = b"|" if seed.delimiter == "|" else b","
    if seed.delimiter == "json" and draw(st.booleans()):
        data = draw(json_edit(data))
    for _ in range(draw(st.integers(0 if seed.delimiter == "json" else 1, 4))):
        kind = draw(st.sampled_from(["field", "field", "field", "line", "line", "byte", "global"]))
        if kind == "field":
            data = draw(field_edit(data, delimiter))
        elif kind == "line":
            data = draw(line_edit(data))
        elif kind == "byte":
            data = draw(byte_edit(data))
        else:
            data = draw(global_edit(data, delimiter))
    return data


def _zip(member: str, data: bytes, extra: bytes | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, data)
        if extra is not None:
            archive.writestr("second.txt", extra)
    return buf.getvalue()


@st.composite
def wrap(draw, data: bytes, kind: str) -> bytes:
    """The bytes as stored on disk: plain, gzip (maybe truncated or corrupt), or zip (CFTC)."""
    weights = ["plain"] * 14 + [
        "gzip",
        "gzip",
        "gzip-cut",
        "gzip-junk",
        "gzip-twice",
        "zip",
        "zip-cut",
        "zip-two",
    ]
    if kind == "cot":
        weights += ["zip", "zip-gzip"]
    how = draw(st.sampled_from(weights))
    if how == "plain":
        return data
    if how == "gzip":
        return gzip.compress(data, mtime=0)
    if how == "gzip-cut":
        packed = gzip.compress(data, mtime=0)
        return packed[: draw(st.integers(0, len(packed) - 1))]
    if how == "gzip-junk":
        return gzip.compress(data, mtime=0) + draw(st.sampled_from([b"\x00", b"junk", b"\x1f\x8b\x08"]))
    if how == "gzip-twice":
        return gzip.compress(gzip.compress(data, mtime=0), mtime=0)
    if how == "zip":
        return _zip(draw(st.sampled_from(["FinFut26.txt", "a/b.txt", "..\u00e9.txt"])), data)
    if how == "zip-cut":
        packed = _zip("FinFut26.txt", data)
        return packed[: draw(st.integers(0, len(packed) - 1))]
    if how == "zip-two":
        return _zip("FinFut26.txt", data, extra=data[:10])
    return _zip("FinFut26.txt", gzip.compress(data, mtime=0))


@st.composite
def mutated_case(draw, seeds: list[Seed]) -> tuple[Seed, bytes]:
    seed = draw(st.sampled_from(seeds))
    return seed, draw(wrap(draw(mutate(seed)), seed.kind))


def _json_records(seed: Seed) -> list[dict]:
    """A JSON seed's records: an array as it is, SEC's documents' inner records, a document
    (Yahoo's chart) as one record of its leaves keyed by their last name."""
    doc = json.loads(seed.data)
    if isinstance(doc, list):
        return doc
    inner = None if isinstance(doc, dict) and "chart" in doc else inner_records(doc)
    if inner:  # SEC's documents
        return inner
    leaves: dict = {}

    def walk(x: object, key: str) -> None:
        if isinstance(x, dict):
            for k, v in x.items():
                walk(v, k)
        elif isinstance(x, list):
            for v in x:
                walk(v, key)
        else:
            leaves.setdefault(key, x)

    walk(doc, "")
    return [leaves]


def _header_names(seed: Seed) -> list[str]:
    if seed.delimiter == "json":
        records = _json_records(seed)
        return sorted({k for r in records for k in r})
    text = seed.data.decode("utf-8").removeprefix("\ufeff")
    for line in text.splitlines():
        if seed.delimiter in line and line.count(seed.delimiter) >= 2:
            return [n.strip('" ') for n in line.split(seed.delimiter)]
    return []


def _vocabulary(seed: Seed) -> list[str]:
    """The seed's own header names and first cells, plus the interesting values."""
    if seed.delimiter == "json":
        cells = [str(v) for r in _json_records(seed) for v in r.values()]
    else:
        text = seed.data.decode("utf-8")
        cells = [c.strip('" ') for line in text.splitlines()[:6] for c in line.split(seed.delimiter)]
    return sorted({*_header_names(seed), *cells, *INTERESTING})


@st.composite
def token_soup(draw, seeds: list[Seed]) -> bytes:
    """A header made of the format's own column names (shuffled, some dropped) over rows of cells
    drawn from the format's own vocabulary and the interesting values."""
    seed = draw(st.sampled_from(seeds))
    names = _header_names(seed)
    cell = st.sampled_from(_vocabulary(seed))
    if seed.delimiter == "json":
        keys = st.sampled_from(names or ["symbolCode"])
        values = st.one_of(cell, json_value)
        records = draw(st.lists(st.dictionaries(keys, values, max_size=len(names)), max_size=6))
        return json.dumps(records, allow_nan=True).encode()
    header = draw(st.permutations(names)) if names else []
    header = header[: draw(st.integers(max(0, len(header) - 2), len(header)))]
    delimiter = draw(st.sampled_from([seed.delimiter, seed.delimiter, ",", "|", ";", "\t"]))
    width = len(header)
    rows = draw(
        st.lists(st.lists(cell, min_size=width, max_size=width + 1), max_size=max(1, 240 // max(width, 1)))
    )
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    lines = [delimiter.join(header), *(delimiter.join(r) for r in rows)]
    return eol.join(lines).encode("utf-8")


def noise(kind: str) -> st.SearchStrategy[bytes]:
    seeds = [s for s in SEEDS if s.kind == kind]
    return st.one_of(
        st.binary(max_size=2000),
        st.text(max_size=400).map(lambda t: t.encode("utf-8")),
        token_soup(seeds),
        token_soup(seeds),
        token_soup(seeds),
    ).flatmap(lambda data: wrap(data, kind))


# --------------------------------------------------------------------------------------- checks
# Columns a parser promises never to hold a negative (values.ints is non-negative by default; prices
# and days to cover are read with nonnegative=True). Members' weight may be negative (short legs).
NONNEGATIVE = {
    "funds": ("aum",),
    "shares": ("cik", "shares", "share_classes"),
    "short-volume": ("short_volume", "short_exempt_volume", "total_volume"),
    "short-interest": (
        "short_interest",
        "previous_short_interest",
        "avg_daily_volume",
        "shares_outstanding",
        "float_shares",
        "days_to_cover",
    ),
    "prices": ("open", "high", "low", "close", "adj_close", "volume"),
    "bars": ("open", "high", "low", "close", "volume"),
    "members": ("shares_outstanding", "float_shares"),
    "cot": (
        "open_interest",
        "dealer_long",
        "dealer_short",
        "asset_mgr_long",
        "asset_mgr_short",
        "lev_money_long",
        "lev_money_short",
        "other_rept_long",
        "other_rept_short",
        "nonrept_long",
        "nonrept_short",
    ),
}


def check_table(kind: str, parsed: Parsed, forced: str | None) -> None:
    spec = KIND_TABLE[kind]
    table = parsed.table
    assert isinstance(parsed, Parsed)
    assert parsed.format in FORMATS[kind]
    if forced is not None:
        assert parsed.format == forced, (parsed.format, forced)
    assert table.schema.equals(spec.parsed_schema), table.schema
    # A Reg SHO day may hold no rows (FINRA's ADF file is usually its header and a count of 0); so
    # may SEC's ticker map (read with the value files, no rows of
    # its own) and a companyfacts file of an issuer tagging its shares per class.
    assert table.num_rows > 0 or kind in ("short-volume", "shares"), "a parsed file has at least one row"
    for name in spec.required:
        assert table.column(name).null_count == 0, f"null in required column {name}"
    if table.num_rows == 0:
        return
    assert pc.all(pc.equal(table.column("source_format"), parsed.format)).as_py()
    for name in NONNEGATIVE[kind]:
        low = pc.min(table.column(name)).as_py()
        assert low is None or low >= 0, f"negative {name}: {low}"
    if kind == "prices":
        # every row has a close: the quoted one, or the adjusted one of an adjusted-prices dialect
        close = pc.coalesce(table.column("close"), table.column("adj_close"))
        assert close.null_count == 0 and pc.min(close).as_py() > 0
    for f in table.schema:
        col = table.column(f.name)
        if pa.types.is_floating(f.type):
            values = col.to_numpy(zero_copy_only=False)
            assert np.isfinite(values[~np.isnan(values)]).all(), f"non-finite {f.name}"
        elif pa.types.is_string(f.type) and f.name in spec.key:
            assert pc.min(pc.utf8_length(col)).as_py() > 0, f"empty string in key column {f.name}"
    keys = table.select(list(spec.key)).group_by(list(spec.key)).aggregate([])
    assert keys.num_rows == table.num_rows, "more than one row per key"
    for warning in parsed.warnings:
        assert isinstance(warning, str) and "\n" not in warning and "\r" not in warning, warning


def check_error(exc: InputError, path: Path) -> None:
    message = str(exc)
    assert "\n" not in message and "\r" not in message, f"multi-line message: {message!r}"
    assert path.name in message, f"message does not name the file: {message!r}"


def options_for(kind: str, seed: Seed | None, forced: str | None) -> ParseOptions:
    """The seed's options with ``forced`` as format; for pure noise, those of the forced format's
    first seed (so 'mapped' gets a mapping and 'sp500-list' an as-of date)."""
    if seed is None and forced is not None and BY_FORMAT[(kind, forced)]:
        seed = BY_FORMAT[(kind, forced)][0]
    if seed is None:
        return ParseOptions(format=forced)
    return dataclasses.replace(seed.options(forced=False), format=forced)


def parse_checked(kind: str, path: Path, seed: Seed | None, forced: str | None) -> Parsed | InputError:
    """parse_file under the property; any other exception fails with the input's bytes shown."""
    try:
        parsed = parse_file(kind, path, options_for(kind, seed, forced))
    except InputError as exc:
        check_error(exc, path)
        return exc
    except Exception as exc:
        data = path.read_bytes()
        shown = repr(data[:600]) + (f"... ({len(data)} bytes)" if len(data) > 600 else "")
        raise AssertionError(
            f"parse_file({kind!r}, format={forced!r}) raised {type(exc).__name__}: {exc}\ninput: {shown}"
        ) from exc
    check_table(kind, parsed, forced)
    return parsed


def _outcome(got: Parsed | InputError) -> str:
    if isinstance(got, Parsed):
        return f"parsed as {got.format}"
    problem = got.problem.split(":")[0].split("(")[0].strip()
    return f"InputError: {' '.join(problem.split()[:4])}"


def check_both(seed: Seed, data: bytes, workdir: Path) -> None:
    """Parse with detection, then (unless detection already chose it) with the format forced."""
    path = workdir / seed.name
    path.write_bytes(data)
    note(f"seed {seed.label}, {len(data)} bytes: {data[:300]!r}")
    got = parse_checked(seed.kind, path, seed, None)
    event(_outcome(got))  # shown by --hypothesis-show-statistics: how deep the inputs reach
    if isinstance(got, Parsed) and got.format == seed.format:
        return  # forcing the format would run the very same parser on the same options
    if isinstance(got, InputError):
        try:
            load(path)
        except InputError:
            return  # rejected while reading (gzip, zip, binary, UTF-8), before any format applies
    parse_checked(seed.kind, path, seed, seed.format)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("fuzz")
    write_companions(work)
    return work


# --------------------------------------------------------------------------------------- tests
def test_every_format_has_a_seed() -> None:
    missing = [k for k, seeds in BY_FORMAT.items() if not seeds]
    assert not missing, f"no seed for {missing}"
    assert {s.kind for s in SEEDS} == set(KINDS)


@pytest.mark.parametrize("seed", SEEDS, ids=[f"{s.format}:{s.label}" for s in SEEDS])
def test_seed_parses_as_its_format(seed: Seed, workdir: Path) -> None:
    """Fuzzing a seed that no longer parses would only exercise error paths."""
    path = workdir / seed.name
    path.write_bytes(seed.data)
    for forced in (None, seed.format):
        got = parse_checked(seed.kind, path, seed, forced)
        assert isinstance(got, Parsed), got
        assert got.format == seed.format


@pytest.mark.parametrize("key", list(BY_FORMAT), ids=FORMAT_IDS)
@examples(SEED_EXAMPLES)
@given(data=st.data())
def test_mutated_seeds_parse_or_input_error(key: tuple[str, str], workdir: Path, data: st.DataObject) -> None:
    seed, raw = data.draw(mutated_case(BY_FORMAT[key]), label="seed, bytes")
    check_both(seed, raw, workdir)


NOISE_NAMES = ["input.csv", "x_d.csv", "^spx_d.csv.gz", "BRK-B.txt"]


@pytest.mark.parametrize("kind", KINDS)
@examples(NOISE_EXAMPLES)
@given(data=st.data())
def test_noise_parses_or_input_error(kind: str, workdir: Path, data: st.DataObject) -> None:
    """Arbitrary bytes, text and header-shaped token soup, detected and with every format forced."""
    raw = data.draw(noise(kind), label="bytes")
    path = workdir / data.draw(st.sampled_from(NOISE_NAMES), label="file name")
    path.write_bytes(raw)
    note(f"{len(raw)} bytes: {raw[:300]!r}")
    for fmt in (None, *FORMATS[kind]):
        got = parse_checked(kind, path, None, fmt)
        if fmt is None:
            event(_outcome(got))


# --------------------------------------------------------------------------------------- CLI level
@pytest.fixture(scope="module")
def prepared_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding one sample short-interest file, copied afresh for every example."""
    store = tmp_path_factory.mktemp("fuzz-store") / "store"
    first = sorted((SAMPLE / "short_interest").glob("*.csv.gz"))[0]
    r = run_cli("ingest", "short-interest", str(first), store=store)
    assert r.code == 0, r.err
    return store


def _manifest(files: dict[str, bytes]) -> dict:
    return json.loads(files["manifest.json"])


def check_one_commit(kind: str, before: dict[str, bytes], after: dict[str, bytes], name: str) -> None:
    """Exit 0: nothing changed (bytes already ingested) or exactly one commit for this table."""
    if after == before:
        return
    table = KIND_TABLE[kind].name
    old, new = _manifest(before), _manifest(after)
    assert new["commit"] == old["commit"] + 1, (old["commit"], new["commit"])
    assert new["ingests"][: len(old["ingests"])] == old["ingests"], "ingest log rewritten"
    added = new["ingests"][len(old["ingests"]) :]
    assert len(added) == 1 and name in json.dumps(added[0]), added
    for section in ("tables", "versions"):
        for other, entry in new[section].items():
            if other != table:
                assert entry == old[section][other], f"{section}/{other} changed by a {kind} ingest"
    changed = {p for p in set(before) | set(after) if before.get(p) != after.get(p)}
    allowed = ("manifest.json", f"{table}/", f"_versions/{table}/")
    stray = [p for p in changed if not p.startswith(allowed)]
    assert not stray, f"files outside {table} changed: {stray}"
    assert not any(p.startswith((".staging", ".journal")) for p in after), "commit left staging/journal"


@st.composite
def cli_case(draw) -> tuple[Seed, bytes, bool]:
    seed = draw(st.sampled_from([s for s in SEEDS if s.origin != "real" or s.kind != "cot"]))
    data = draw(wrap(draw(mutate(seed)), seed.kind))
    return seed, data, draw(st.booleans())


@examples(CLI_EXAMPLES)
@given(case=cli_case())
def test_cli_ingest_all_or_nothing(prepared_store: Path, case: tuple[Seed, bytes, bool]) -> None:
    seed, data, forced = case
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "store"
        shutil.copytree(prepared_store, store)
        before = store_bytes(store)
        path = Path(tmp) / seed.name
        write_companions(Path(tmp))
        path.write_bytes(data)
        note(f"seed {seed.label}, forced={forced}, {len(data)} bytes: {data[:300]!r}")
        r = run_cli("ingest", seed.kind, str(path), *seed.cli_args(forced=forced), store=store)
        after = store_bytes(store)
    event(f"exit {r.code}")
    assert r.code in (0, 3), f"exit {r.code}: {r.err.strip()}"
    if r.code == 3:
        assert after == before, "a failed ingest changed the store"
        lines = r.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and seed.name in lines[0], r.err
    else:
        check_one_commit(seed.kind, before, after, seed.name)
