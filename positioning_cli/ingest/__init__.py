"""Input parsers: one public entry point, ``parse_file``, and a registry of formats per kind.

Each format module is a pure parser (bytes -> validated Arrow table in ``schema.py`` layout).
The format is detected from the header (column names), never from the file name; the file name
only supplies a price file's symbol.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa

from positioning_cli.errors import InputError

from . import bars, cot, funds, members, prices, shares, short_interest, short_volume
from .base import FormatDef, Parsed, ParseOptions
from .text import STDIN, Source, canonical, display_name, guess_delimiter, load, shorten

__all__ = ["FORMATS", "KINDS", "ParseOptions", "Parsed", "detect", "expand_paths", "parse_file"]

KINDS = ("short-interest", "prices", "members", "cot", "short-volume", "funds", "shares", "bars")

# Detection tries formats in this order; the first whose header matches wins.
_REGISTRY: dict[str, tuple[FormatDef, ...]] = {
    "short-interest": short_interest.FORMATS,
    "prices": prices.FORMATS,
    "members": members.FORMATS,
    "cot": cot.FORMATS,
    "short-volume": short_volume.FORMATS,
    "funds": funds.FORMATS,
    "shares": shares.FORMATS,
    "bars": bars.FORMATS,
}
FORMATS: dict[str, tuple[str, ...]] = {kind: tuple(f.name for f in defs) for kind, defs in _REGISTRY.items()}
# The format a --map without --format selects, per kind.
_MAPPED = {"short-interest": "mapped", "members": "generic"}


def _formats(kind: str) -> tuple[FormatDef, ...]:
    if kind not in _REGISTRY:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    return _REGISTRY[kind]


def detect(kind: str, source: Source, options: ParseOptions = ParseOptions()) -> FormatDef:
    """The format to parse ``source`` with: forced by options, sniffed, or implied by a mapping."""
    defs = _formats(kind)
    by_name = {f.name: f for f in defs}
    if options.format is not None:
        if options.format not in by_name:
            raise source.error(
                f"unknown {kind} format {options.format!r}; choose one of {', '.join(by_name)}"
            )
        return by_name[options.format]
    if options.mapping and kind not in _MAPPED:
        raise source.error(f"column mappings are not supported for {kind} files")
    # A recognised layout with --map keeps reading the fields the mapping does not name.
    for fmt in defs:
        if fmt.sniff is not None and fmt.sniff(source):
            return fmt
    if options.mapping:
        return by_name[_MAPPED[kind]]
    raise _unrecognised(kind, source, defs)


def _unrecognised(kind: str, source: Source, defs: tuple[FormatDef, ...]) -> InputError:
    """Explain a failed detection: what was seen, what was tried, what the closest format lacks."""
    header = source.first_line()
    line = next((i for i, ln in enumerate(source.head_lines(), 1) if ln.strip()), None)
    tried = [f.name for f in defs if f.sniff is not None]
    text = header.lower()
    # Closest format: most of its key column names appear anywhere in the header line, which also
    # catches a right header split with the wrong delimiter.
    scored = [(sum(n.lower() in text for n in f.signature), f) for f in defs if f.signature]
    problem = f"unrecognised {kind} file: header {shorten(header)!r} matches none of {', '.join(tried)}"
    if scored:
        score, best = max(scored, key=lambda pair: pair[0])
        if score:
            if best.delimiter == "json":
                names: set[str] = set()
            else:
                names = {canonical(n) for n in next(csv.reader([header], delimiter=best.delimiter), [])}
            missing = [n for n in best.signature if canonical(n) not in names]
            problem += f"; closest is {best.name}, missing required column(s) {', '.join(missing)}"
            seen = guess_delimiter(header)
            if (
                best.delimiter != "json"
                and seen != best.delimiter
                and all(n.lower() in text for n in best.signature)
            ):
                problem += f" (the header is split by {seen!r}, {best.name} uses {best.delimiter!r})"
    if kind == "prices":
        # Every price parser reads columns by name; forcing one reads any CSV with Date and Close.
        problem += "; for another CSV with Date and Close columns pass --format stooq"
    if kind in _MAPPED:
        problem += f"; for another layout use --format {_MAPPED[kind]} with --map FIELD=COLUMN"
    return InputError(source.name, problem, line=line)


def parse_file(kind: str, path: Path, options: ParseOptions = ParseOptions()) -> Parsed:
    """Parse one input file of ``kind`` into ``schema`` layout; any input problem is an InputError."""
    _formats(kind)
    source = load(Path(path))
    try:
        fmt = detect(kind, source, options)
    except InputError as exc:
        raise _with_look(exc, kind, source, options) from None
    try:
        return dataclasses.replace(fmt.parse(source, options), sha256=source.sha256)
    except InputError as exc:
        raise _with_look(exc, kind, source, options, fmt) from None
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, csv.Error, pa.ArrowException) as exc:
        # Safety net: a value our checks did not anticipate must still be reported as bad input,
        # one line, naming the file, rather than as a traceback.
        raise InputError(
            source.name, f"cannot parse as {fmt.name}: {type(exc).__name__}: {shorten(str(exc), 120)}"
        ) from exc


def looks_like(source: Source, skip: tuple[str, str] | None = None) -> tuple[str, str] | None:
    """(kind, format) of the first format, of any kind, whose header ``source`` has."""
    for kind, defs in _REGISTRY.items():
        for fmt in defs:
            if fmt.sniff is not None and (kind, fmt.name) != skip and fmt.sniff(source):
                return kind, fmt.name
    return None


def _with_look(
    exc: InputError, kind: str, source: Source, options: ParseOptions, fmt: FormatDef | None = None
) -> InputError:
    """``exc``, led by what the file looks like when that explains it better: a forced --format
    the header does not fit, or a file of another kind (a FINRA file given to ``ingest prices``)."""
    if options.format is not None and fmt is not None:
        if fmt.sniff is None or fmt.sniff(source):
            return exc  # the header fits the format asked for: the error is in the data
        seen = looks_like(source, (kind, fmt.name))
        if seen is None:
            return exc
        where = "" if exc.line is None else f"line {exc.line}: "
        what = exc.problem if exc.field is None else f"column {exc.field!r}: {exc.problem}"
        return InputError(
            source.name,
            f"--format {fmt.name} does not fit: the file looks like {_describe(seen, kind)};"
            f" read as {fmt.name}: {where}{what}",
        )
    if fmt is None:
        seen = looks_like(source)
        if seen is not None and seen[0] != kind:
            return InputError(
                exc.path,
                f"{exc.problem}; the file looks like {_describe(seen, kind)}",
                line=exc.line,
                field=exc.field,
            )
    return exc


def _describe(seen: tuple[str, str], kind: str) -> str:
    other, name = seen
    if other == kind:
        return f"{name} (drop --format to detect it)"
    return f"a {other} file ({name}): use `positioning ingest {other}`"


def _skipped(path: Path) -> bool:
    """Hidden files and the data folders' own documentation are not inputs."""
    name = path.name
    if name.startswith("."):
        return True
    upper = name.upper()
    return upper.endswith(".MD") and (upper.startswith("README") or upper.startswith("PROVENANCE"))


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files as given, folders replaced by their files (recursive, sorted); missing path -> InputError."""
    out: list[Path] = []
    for path in paths:
        path = Path(path)
        if str(path) == STDIN:
            out.append(path)  # standard input, read once by load()
        elif path.is_dir():
            found = []
            for child in path.rglob("*"):
                rel = child.relative_to(path)
                if (
                    child.is_file()
                    and not any(part.startswith(".") for part in rel.parts)
                    and not _skipped(child)
                ):
                    found.append(child)
            out.extend(sorted(found))
        elif path.exists():
            out.append(path)
        else:
            raise InputError(display_name(path), "no such file or folder")
    return out
