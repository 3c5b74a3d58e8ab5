"""Cut the committed CFTC sample (sample_data/cot/) out of real CFTC Traders in Financial Futures files.

    python -m positioning_cli.cot_sample SRC_DIR OUT_DIR [--plain]

For every ``*.txt`` in SRC_DIR (a FinFutYY/FinComYY annual file) it writes the header line and the
rows of the index contracts (ES 13874A, NQ 209742, RTY 239742 and ICE 23977A) byte for byte, line
endings included, to OUT_DIR under the CFTC name of the file: ``FinFut17.txt``, ``FinCom24.txt``
(futures-only or combined from the ``FutOnly_or_Combined`` column, the year from the report dates,
never from the source file's name). By default each output is gzipped (``FinFut17.txt.gz``, no
timestamp in the gzip header, so reruns are byte-identical) to keep the sample well under 1 MB; the
ingester reads gzip by its magic bytes. ``--plain`` writes the .txt files as they are.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import gzip
import sys
from pathlib import Path

from positioning_cli.futures import CONTRACTS

SAMPLE_CODES = frozenset(code for codes in CONTRACTS.values() for code in codes)
_CODE_FIELD = "CFTC_Contract_Market_Code"
_DATE_FIELD = "Report_Date_as_YYYY-MM-DD"
_KIND_FIELD = "FutOnly_or_Combined"


def _lines(data: bytes) -> list[bytes]:
    """Physical lines with their own endings (CRLF or LF) kept."""
    parts = data.split(b"\n")
    lines = [p + b"\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])  # a last line without a newline stays without one
    return lines


def _fields(line: bytes) -> list[str]:
    return next(csv.reader([line.decode("ascii").rstrip("\r\n")]))


def extract(data: bytes) -> tuple[str, bytes]:
    """(CFTC file name, header + the sample contracts' lines) for one annual TFF file."""
    lines = _lines(data)
    if not lines:
        raise ValueError("empty file")
    header = [h.strip() for h in _fields(lines[0])]
    try:
        code_at, date_at, kind_at = (header.index(n) for n in (_CODE_FIELD, _DATE_FIELD, _KIND_FIELD))
    except ValueError:
        raise ValueError(
            f"not a CFTC TFF file: header lacks {_CODE_FIELD}/{_DATE_FIELD}/{_KIND_FIELD}"
        ) from None
    kept = [lines[0]]
    years: set[int] = set()
    kinds: set[str] = set()
    for line in lines[1:]:
        if not line.strip():
            continue
        row = _fields(line)
        years.add(datetime.date.fromisoformat(row[date_at].strip()).year)
        kinds.add(row[kind_at].strip())
        if row[code_at].strip() in SAMPLE_CODES:
            kept.append(line)
    if len(years) != 1 or len(kinds) != 1 or kinds - {"FutOnly", "Combined"}:
        raise ValueError(f"not one annual file: years {sorted(years)}, kinds {sorted(kinds)}")
    prefix = "FinFut" if kinds == {"FutOnly"} else "FinCom"
    return f"{prefix}{years.pop() % 100:02d}.txt", b"".join(kept)


def write_sample(src: Path, out: Path, *, compress: bool = True) -> list[Path]:
    """Extract every ``*.txt`` in ``src`` into ``out``; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for path in sorted(src.glob("*.txt")):
        name, body = extract(path.read_bytes())
        if name in written:
            raise ValueError(f"{path}: a second file for {name} (first: {written[name]})")
        written[name] = path
        if compress:
            (out / f"{name}.gz").write_bytes(gzip.compress(body, compresslevel=9, mtime=0))
        else:
            (out / name).write_bytes(body)
    return sorted(out / (f"{n}.gz" if compress else n) for n in written)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m positioning_cli.cot_sample", description=__doc__.split("\n")[0]
    )
    parser.add_argument("src", type=Path, help="folder of CFTC FinFutYY/FinComYY .txt files")
    parser.add_argument("out", type=Path, help="folder to write the sample to")
    parser.add_argument("--plain", action="store_true", help="write .txt instead of .txt.gz")
    args = parser.parse_args(argv)
    try:
        files = write_sample(args.src, args.out, compress=not args.plain)
    except (OSError, ValueError, UnicodeDecodeError, csv.Error) as exc:
        print(f"cot_sample: {exc}", file=sys.stderr)
        return 1
    for f in files:
        print(f"{f} ({f.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
