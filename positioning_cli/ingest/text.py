"""From a path to rows of strings: bytes, gunzip, decode, header sniffing, CSV/JSON splitting.

Everything here works on text only; turning strings into typed values is ``values.py``. Every
failure is an ``InputError`` naming the file (and the physical line when there is one), because a
user ingesting hundreds of files must be able to find the bad one without a traceback.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import re
import stat
import sys
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from positioning_cli.errors import InputError

if TYPE_CHECKING:
    import pandas as pd  # imported where used: an ingest on the fast path never needs it

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"  # CFTC publishes its annual files as a .zip holding one .txt
# Delimiters we try when guessing how a header line is split (for detection and error messages).
DELIMITERS = (",", "|", ";", "\t")
HEAD_LINES = 40  # how far into a file detection looks for a header (iShares has a 9-line preamble)

# Control characters that never occur in a text export; their presence means binary data.
_BINARY_RE = re.compile(b"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f]")
_NOT_CONTROL = bytes(b for b in range(256) if not _BINARY_RE.match(bytes([b])))


def shorten(text: str, limit: int = 80) -> str:
    """A header or value cut to ``limit`` characters, for one-line error messages."""
    text = text.replace("\r", "").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


STDIN = "-"  # the path that means standard input

# Limits that keep memory bounded whatever the input (README "Limits"). The largest real inputs are
# a CFTC 2006-2016 bundle (~25 MB, ~40,000 rows) and a FINRA file (~3 MB): these leave room.
MAX_INPUT_BYTES = 64 << 20  # one file, after gunzip/unzip
MAX_LINES = 1_000_000  # physical lines in one file
MAX_LINE_BYTES = 1 << 20  # one line
MAX_COLUMNS = 1_000  # fields in a header
MAX_JSON_RECORDS = 250_000  # objects in one JSON file (each costs ~1 kB as Python objects)
_CHUNK = 1 << 20


def display_name(path: Path) -> str:
    return "<stdin>" if str(path) == STDIN else str(path)


def _mib(n: int) -> str:
    return f"{n / (1 << 20):g} MiB"


@dataclass
class Source:
    """A decoded input file."""

    path: Path
    name: str  # how errors name the file
    text: str  # BOM removed, line endings untouched
    data: bytes = field(repr=False)  # the same text as UTF-8 bytes, for parsers that read bytes
    _head: list[str] | None = field(default=None, repr=False)
    sha256: str = ""  # of the bytes as read (before gunzip) when not a regular file, else ""
    regular: bool = True  # False for a pipe or standard input: read once, no name to go by

    @property
    def is_json(self) -> bool:
        return self.text.lstrip()[:1] in ("[", "{")

    def head_lines(self) -> list[str]:
        """The first physical lines (without their line endings), for sniffing headers."""
        if self._head is None:
            # Only the start of the file is needed: a prefix cut after a "\n" (so no "\r\n" is split)
            # holding HEAD_LINES lines reads the same lines as the whole text would.
            text = self.text
            if len(text) > 1 << 16:
                cut = text.rfind("\n", 0, 1 << 16) + 1
                if cut > 0 and text.count("\n", 0, cut) + text.count("\r", 0, cut) > 2 * HEAD_LINES:
                    text = text[:cut]
            reader = io.StringIO(text, newline="")
            lines = []
            for _ in range(HEAD_LINES):
                line = reader.readline()
                if not line:
                    break
                lines.append(line.rstrip("\r\n"))
            self._head = lines
        return self._head

    def header_names(self, delimiter: str, *, max_lines: int = 1) -> list[tuple[int, list[str]]]:
        """(line number, lower-cased stripped names) of the first non-blank line(s) split by ``delimiter``."""
        found: list[tuple[int, list[str]]] = []
        for number, line in enumerate(self.head_lines(), start=1):
            if not line.strip():
                continue
            try:
                names = next(csv.reader([line], delimiter=delimiter))
            except (csv.Error, StopIteration):
                continue
            found.append((number, [n.strip().lower() for n in names]))
            if len(found) >= max_lines:
                break
        return found

    def first_line(self) -> str:
        for line in self.head_lines():
            if line.strip():
                return line
        return ""

    def error(self, problem: str, *, line: int | None = None, field: str | None = None) -> InputError:
        return InputError(self.name, problem, line=line, field=field)


def load(path: Path) -> Source:
    """Read (once: a pipe cannot be read twice), gunzip and unzip (by magic bytes, whatever the
    name), check for binary data and decode UTF-8, within the limits above."""
    name = display_name(path)
    raw, regular = _read_raw(path, name)
    # A pipe can be read only once, so it is hashed here (a regular file is hashed before parsing,
    # to skip one ingested before without parsing it).
    digest = "" if regular else hashlib.sha256(raw).hexdigest()
    data = raw
    if data[:4] == ZIP_MAGIC:
        member, data = unzip_single(name, data)
        name = f"{name}/{member}"  # errors name the member inside the archive
    if data[:2] == GZIP_MAGIC:
        data = _gunzip(name, data)
    del raw
    if not data.strip():
        raise InputError(name, "empty file")
    _check_shape(name, data)
    # A NUL or other C0 control byte never appears in CSV/JSON exports: call it binary rather than
    # letting it surface later as a confusing "unknown format".
    # bytes.translate drops every allowed byte in one C pass; only a file with a control byte is
    # searched for where it is (the regex over a 2 MB FINRA file costs more than parsing it).
    hit = _BINARY_RE.search(data) if data.translate(None, _NOT_CONTROL) else None
    if hit is not None:
        bad = hit.start()
        line = data.count(b"\n", 0, bad) + 1
        raise InputError(name, f"binary data, not a text file (byte 0x{data[bad]:02x})", line=line)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(
            name, f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8", line=line
        ) from None
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise InputError(name, "empty file")  # e.g. only a BOM
    source = Source(
        path=path,
        name=name,
        text=text,
        data=data.removeprefix(b"\xef\xbb\xbf"),
        sha256=digest,
        regular=regular,
    )
    if not source.is_json:  # before detection: a header is split into its names to sniff it
        for number, head in enumerate(source.head_lines(), start=1):
            check_width(name, max(head.count(d) for d in DELIMITERS) + 1, line=number)
    return source


def _too_big(name: str, what: str) -> InputError:
    return InputError(
        name, f"{what} more than {_mib(MAX_INPUT_BYTES)}, the limit for one input file; split it"
    )


def _read_raw(path: Path, name: str) -> tuple[bytes, bool]:
    """The bytes of ``path`` (standard input for ``-``), at most ``MAX_INPUT_BYTES``, and whether it
    is a regular file. A pipe is read as it comes, once."""
    try:
        if str(path) == STDIN:
            return _read_capped(name, sys.stdin.buffer, "holds"), False
        with open(path, "rb") as f:
            regular = stat.S_ISREG(os.fstat(f.fileno()).st_mode)
            if regular and os.fstat(f.fileno()).st_size > MAX_INPUT_BYTES:
                raise _too_big(name, "is")
            return _read_capped(name, f, "holds"), regular
    except FileNotFoundError:
        raise InputError(name, "no such file") from None
    except IsADirectoryError:
        raise InputError(name, "is a folder, not a file") from None
    except OSError as exc:
        raise InputError(name, f"cannot read: {exc.strerror or exc}") from None


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def _read_capped(name: str, stream: _Readable, what: str) -> bytes:
    """Read ``stream`` to its end, refusing it as soon as it passes ``MAX_INPUT_BYTES``."""
    buffer = bytearray()
    while True:
        chunk = stream.read(min(_CHUNK, MAX_INPUT_BYTES + 1 - len(buffer)))
        if not chunk:
            return bytes(buffer)
        buffer += chunk
        if len(buffer) > MAX_INPUT_BYTES:
            raise _too_big(name, what)


def _gunzip(name: str, data: bytes) -> bytes:
    """Decompress gzip data (every member) chunk by chunk: a bomb is refused at the limit."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            return _read_capped(name, stream, "decompresses to")
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(name, f"truncated or corrupt gzip data ({exc})") from None


def _check_shape(name: str, data: bytes) -> None:
    """Refuse more lines or a longer line than the limits, naming the limit (and the line)."""
    lines = data.count(b"\n") + (not data.endswith(b"\n"))
    if lines > MAX_LINES:
        raise InputError(
            name, f"{lines:,} lines, more than {MAX_LINES:,}, the limit for one input file; split it"
        )
    if len(data) <= MAX_LINE_BYTES or data.lstrip()[:1] in (b"[", b"{"):
        return  # no line can be longer than the whole; JSON (often one line) is bounded by records
    start = 0
    while start < len(data):
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end
        if end - start > MAX_LINE_BYTES:
            raise InputError(
                name,
                f"a line of {end - start:,} bytes, more than {_mib(MAX_LINE_BYTES)}, the limit for one line",
                line=data.count(b"\n", 0, start) + 1,
            )
        start = end + 1


def check_width(name: str, columns: int, *, line: int | None = None) -> None:
    """Refuse a header wider than ``MAX_COLUMNS`` (each column costs a converted array)."""
    if columns > MAX_COLUMNS:
        raise InputError(
            name, f"a header of {columns:,} columns, more than {MAX_COLUMNS:,}, the limit", line=line
        )


def unzip_single(name: str, data: bytes) -> tuple[str, bytes]:
    """The one file inside a zip archive (its name and bytes); anything else is an InputError."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = [i for i in archive.infolist() if not i.is_dir()]
            if len(members) != 1:
                listed = ", ".join(i.filename for i in members[:3]) or "nothing"
                raise InputError(
                    name, f"zip archive must hold exactly one file, found {len(members)}: {listed}"
                )
            member = members[0]
            if member.file_size > MAX_INPUT_BYTES:  # what the archive says; the read checks again
                raise _too_big(f"{name}/{member.filename}", "unzips to")
            with archive.open(member) as stream:
                return member.filename, _read_capped(f"{name}/{member.filename}", stream, "unzips to")
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError, EOFError, zlib.error) as exc:
        # RuntimeError: encrypted member; NotImplementedError: unsupported compression method.
        raise InputError(name, f"truncated or corrupt zip archive ({exc})") from None


@dataclass
class RawTable:
    """Data rows as string columns keyed by header name, with where each row came from."""

    source: Source
    header: list[str]  # names as in the file, stripped
    columns: dict[str, pd.Series]  # header name -> trimmed strings ("" when the row had no such field)
    lines: np.ndarray  # physical line (CSV) or 1-based record number (JSON) of each row
    header_line: int = 1
    unit: str = "line"  # "line" or "record"
    delimiter: str = ","  # to show the header as the file spells it
    _lookup: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        # Header names are matched case- and space-insensitively: exports vary in both.
        self._lookup = {canonical(h): h for h in reversed(self.header)}

    @property
    def n(self) -> int:
        return len(self.lines)

    def find(self, *names: str) -> str | None:
        """The first of ``names`` present in the header (as spelt in the file), or None."""
        for name in names:
            hit = self._lookup.get(canonical(name))
            if hit is not None:
                return hit
        return None

    def col(self, name: str) -> pd.Series:
        actual = self.find(name)
        if actual is None:
            raise self.missing([name])
        return self.columns[actual]

    def take(self, mask: np.ndarray) -> RawTable:
        """The rows where ``mask`` is True (row order and line numbers kept)."""
        return RawTable(
            source=self.source,
            header=self.header,
            columns={k: v[mask].reset_index(drop=True) for k, v in self.columns.items()},
            lines=self.lines[mask],
            header_line=self.header_line,
            unit=self.unit,
            delimiter=self.delimiter,
        )

    def missing(self, names: list[str]) -> InputError:
        cols = ", ".join(repr(n) for n in names)
        seen = shorten(self.delimiter.join(self.header))
        return InputError(
            self.source.name,
            f"missing required column{'s' if len(names) > 1 else ''} {cols}; header seen: {seen!r}",
            line=self.header_line if self.unit == "line" else None,
        )

    def require(self, *names: str) -> None:
        absent = [n for n in names if self.find(n) is None]
        if absent:
            raise self.missing(absent)

    def error(self, row: int, column: str | None, problem: str) -> InputError:
        """An error about data row ``row`` (0-based position in this table)."""
        where = int(self.lines[row])
        if self.unit == "record":
            return InputError(f"{self.source.name}: record {where}", problem, field=column)
        return InputError(self.source.name, problem, line=where, field=column)


def string_column(values: Sequence[str]) -> pd.Series:
    """Arrow-backed strings with surrounding whitespace (incl. U+00A0) trimmed once, so the
    converters' string operations are vectorised instead of running per cell in Python."""
    return _trimmed_series(pa.array(values, type=pa.string()))


def _trimmed_series(values: pa.Array) -> pd.Series:
    import pandas as pd

    return pd.Series(pd.arrays.ArrowStringArray(pc.utf8_trim_whitespace(values)))


def canonical(name: str) -> str:
    """Header name for matching: lower case, inner spaces as underscores."""
    return "_".join(name.strip().lower().split())


def read_csv(
    source: Source,
    delimiter: str,
    *,
    header_line: int | None = None,
    stop_at_blank: bool = False,
    names: Sequence[str] | None = None,
) -> RawTable:
    """Split CSV text into string columns, keeping each record's physical start line.

    ``header_line``: physical line of the header (default: the first non-blank line); lines before
    it are skipped (preambles). ``stop_at_blank``: stop at the first blank line after the data
    (iShares puts a legal trailer there). Rows shorter than the header are padded with "" (old Stooq
    rows lack the volume field); longer rows are an error unless the extra fields are blank.
    ``names``: the file has no header line (CFTC's current-week files); these names apply by
    position and every row must have exactly that many fields (nothing tells a missing field from a
    shifted one).
    """
    if names is not None:
        return _read_general(source, delimiter, header_line=None, stop_at_blank=False, names=names)
    if header_line is None and not stop_at_blank:
        fast = _read_simple(source, delimiter)
        if fast is not None:
            return fast
    return _read_general(source, delimiter, header_line=header_line, stop_at_blank=stop_at_blank)


def plain_pipe_cells(source: Source, fields: dict[str, str]) -> dict[str, pa.Array] | None:
    """The raw (untrimmed) text cells of a plainly simple pipe file, keyed by store field
    (``fields``: field -> header name; those the header lacks are left out), read straight from
    its bytes with Arrow (no pandas), or None so the caller takes the general reader, which names
    what is wrong: the header not on the first line, two header names alike, a lone CR, no data
    row, a row of another width. One record a line and blank lines skipped, as the general
    reader's simple case (``_read_simple``) splits them."""
    data = source.data
    end = data.find(b"\n")
    if end < 0 or (b"\r" in data and data.count(b"\r") != data.count(b"\r\n")):
        return None
    header = data[:end].decode("utf-8").split("|")
    check_width(source.name, len(header), line=1)
    names = [canonical(h) for h in header]
    if not "".join(names) or len(set(names)) != len(names):
        return None  # blank first line (header further down) or ambiguous names
    position = {name: i for i, name in enumerate(names)}
    cols = {f: f"c{position[canonical(c)]}" for f, c in fields.items() if canonical(c) in position}
    if not cols:
        return None
    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(
                column_names=[f"c{i}" for i in range(len(header))], skip_rows=1, use_threads=False
            ),
            # Every row as wide as the header, else an ArrowInvalid.
            parse_options=pacsv.ParseOptions(delimiter="|", quote_char=False, newlines_in_values=False),
            # Text only, for the caller's strict casts: a typed int64 read would take " 123" and "0x1F".
            convert_options=pacsv.ConvertOptions(
                include_columns=list(cols.values()),
                column_types=dict.fromkeys(cols.values(), pa.string()),
                strings_can_be_null=False,
                check_utf8=False,  # load() has decoded these very bytes as UTF-8
            ),
        )
    except pa.ArrowException:
        return None
    if table.num_rows == 0:
        return None
    return {f: table.column(c).combine_chunks() for f, c in cols.items()}


def _quoted(delimiter: str) -> bool:
    """Pipe files (FINRA) are never quoted: a '"' in an issue name is just a character."""
    return delimiter != "|"


def _read_simple(source: Source, delimiter: str) -> RawTable | None:
    """Fast path for the common case (FINRA, Yahoo): no quotes, so one record per physical line.

    Arrow's CSV reader splits the non-blank data lines; we keep their physical line numbers.
    Returns None whenever the file is not that simple (quotes, lone CR, ragged rows) so the general
    reader handles it, with its exact errors.
    """
    text = source.text
    if (_quoted(delimiter) and '"' in text) or text.count("\r") != text.count("\r\n"):
        return None
    physical = text.replace("\r\n", "\n").split("\n")
    numbered = [i for i, line in enumerate(physical, start=1) if line and not line.isspace()]
    if not numbered:
        raise InputError(source.name, "empty file")
    header_at = numbered[0]
    header = [h.strip() for h in physical[header_at - 1].split(delimiter)]
    check_width(source.name, len(header), line=header_at)
    data_lines = numbered[1:]
    if not data_lines:
        raise InputError(source.name, "header only, no data rows", line=header_at)
    if data_lines[-1] - data_lines[0] == len(data_lines) - 1:  # no blank line inside: one slice
        body = "\n".join(physical[data_lines[0] - 1 : data_lines[-1]]).encode("utf-8")
    else:
        body = "\n".join(physical[i - 1] for i in data_lines).encode("utf-8")
    names = [f"c{i}" for i in range(len(header))]
    try:
        table = pacsv.read_csv(
            io.BytesIO(body),
            read_options=pacsv.ReadOptions(column_names=names, use_threads=False),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter, quote_char=False, newlines_in_values=False, ignore_empty_lines=False
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()), null_values=[], strings_can_be_null=False
            ),
        )
    except pa.ArrowException:
        return None  # e.g. a row with a different field count: the general reader explains it
    if table.num_rows != len(data_lines):
        return None
    columns = {name: _trimmed_series(table.column(i).combine_chunks()) for i, name in enumerate(header)}
    return RawTable(
        source=source,
        header=header,
        columns=columns,
        lines=np.asarray(data_lines, dtype=np.int64),
        header_line=header_at,
        delimiter=delimiter,
    )


def _read_general(
    source: Source,
    delimiter: str,
    *,
    header_line: int | None,
    stop_at_blank: bool,
    names: Sequence[str] | None = None,
) -> RawTable:
    """Any CSV, via the csv module: quoted fields, multi-line values, ragged rows, preambles."""
    stream = io.StringIO(source.text, newline="")
    if _quoted(delimiter):
        reader = csv.reader(stream, delimiter=delimiter)
    else:
        reader = csv.reader(stream, delimiter=delimiter, quoting=csv.QUOTE_NONE)
    header: list[str] | None = None if names is None else list(names)
    found_line = 0
    rows: list[list[str]] = []
    lines: list[int] = []
    consumed = 0  # physical lines read so far; the next record starts at consumed + 1
    widths: list[int] = []  # fields in the last two data records as read (before padding)
    stopped_at_blank = False
    try:
        for record in reader:
            start, consumed = consumed + 1, reader.line_num
            blank = not any(f.strip() for f in record)
            if header is None:
                if blank or (header_line is not None and start < header_line):
                    continue
                check_width(source.name, len(record), line=start)
                header, found_line = [h.strip() for h in record], start
                continue
            if blank:
                if stop_at_blank and rows:
                    stopped_at_blank = True
                    break
                continue
            widths = [*widths[-1:], len(record)]
            width = len(header)
            if names is not None and len(record) != width:
                raise InputError(
                    source.name,
                    f"{len(record)} fields, but the header this headerless file is read with has {width}",
                    line=start,
                )
            if len(record) > width:
                if any(f.strip() for f in record[width:]):
                    raise InputError(
                        source.name,
                        f"{len(record)} fields but the header has {width}; check the delimiter and quoting",
                        line=start,
                    )
                record = record[:width]
            elif len(record) < width:
                record = record + [""] * (width - len(record))
            rows.append(record)
            lines.append(start)
    except csv.Error as exc:
        raise InputError(source.name, f"malformed CSV: {exc}", line=consumed + 1) from None
    if header is None:
        raise InputError(source.name, "empty file")
    if not rows:
        raise InputError(source.name, "header only, no data rows", line=found_line)
    if not stopped_at_blank:
        _refuse_cut_last_row(source, widths, len(header), lines[-1])
    # Build columns in one pass over the row list; names kept as spelt in the file.
    by_column = list(zip(*rows, strict=True))
    columns = {name: string_column(by_column[i]) for i, name in enumerate(header)}
    return RawTable(
        source=source,
        header=header,
        columns=columns,
        lines=np.asarray(lines, dtype=np.int64),
        header_line=found_line,
        delimiter=delimiter,
    )


def _refuse_cut_last_row(source: Source, widths: list[int], header_width: int, line: int) -> None:
    """A file cut short mid-row (a half-finished download) says so, not "blank date".

    The sign: the text ends without a line end and its last row has fewer fields than the header
    and than the row before it (rows that are all short, like old Stooq ones without volume, are a
    layout, not a cut).
    """
    if source.text.endswith(("\n", "\r")):
        return
    last = widths[-1]
    before = widths[0] if len(widths) > 1 else header_width
    if last < header_width and last < before:
        raise InputError(
            source.name,
            f"truncated: the last line has {last} of {header_width} fields and no line end "
            "(the file was cut short; download it again)",
            line=line,
        )


def json_document(source: Source) -> Any:
    """The parsed JSON of ``source``, or one line saying why not: invalid, nested too deeply, or
    more objects than the limit (memory stays bounded whatever the input)."""
    objects = source.data.count(b"{")  # at least the number of objects
    if objects > MAX_JSON_RECORDS:
        raise InputError(
            source.name,
            f"{objects:,} JSON objects, more than {MAX_JSON_RECORDS:,}, the limit for one file; split it",
        )
    try:
        return json.loads(source.text)
    except json.JSONDecodeError as exc:
        raise InputError(source.name, f"invalid JSON: {exc.msg}", line=exc.lineno) from None
    except RecursionError:
        raise InputError(source.name, "invalid JSON: nested too deeply") from None


def read_json_records(source: Source) -> RawTable:
    """A JSON array of flat objects (or an object wrapping one) as string columns, one per key."""
    data = json_document(source)
    if isinstance(data, dict):
        # API clients sometimes save {"data": [...]}: accept the single list-valued member.
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) != 1:
            raise InputError(source.name, "JSON must be an array of records (objects)")
        data = lists[0]
    if not isinstance(data, list):
        raise InputError(source.name, "JSON must be an array of records (objects)")
    return json_records(source, data)


def json_records(source: Source, data: list[Any]) -> RawTable:
    """Records already decoded (a list of flat objects) as string columns, one per key; record
    numbers are 1-based positions in ``data``."""
    if not data:
        raise InputError(source.name, "no records (empty JSON array)")
    header: dict[str, None] = {}
    for number, record in enumerate(data, start=1):
        if not isinstance(record, dict):
            raise InputError(f"{source.name}: record {number}", "not a JSON object")
        header.update(dict.fromkeys(record))
        check_width(source.name, len(header))
    columns: dict[str, pd.Series] = {}
    for key in header:
        values = []
        for number, record in enumerate(data, start=1):
            value = record.get(key)
            if isinstance(value, dict | list):
                raise InputError(f"{source.name}: record {number}", "nested value not supported", field=key)
            values.append(_json_text(value))
        columns[key.strip()] = string_column(values)
    return RawTable(
        source=source,
        header=[k.strip() for k in header],
        columns=columns,
        lines=np.arange(1, len(data) + 1, dtype=np.int64),
        unit="record",
    )


def _json_text(value: object) -> str:
    """JSON scalars as the text a CSV would carry, so one set of converters serves both."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def guess_delimiter(line: str) -> str:
    """The candidate delimiter occurring most often in a header line (',' on a tie or none)."""
    counts = {d: line.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","
