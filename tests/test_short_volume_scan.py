"""scan, scan --by stock and summary carry the short-volume column group; numbers recomputed here
from the sample's raw Reg SHO files and membership file with plain Python."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

from tests.conftest import SAMPLE, run_cli


def _raw_day(day: str) -> dict[str, tuple[float, float]]:
    """symbol (store spelling) -> (short, total) from the CNMS file of ``day`` (YYYYMMDD)."""
    name = f"sample-sv-CNMS-{day[:4]}-{day[4:6]}-{day[6:]}.txt.gz"
    text = gzip.decompress((SAMPLE / "short_volume" / name).read_bytes()).decode()
    lines = text.split("\r\n")[1:-2]
    out = {}
    for line in lines:
        _, symbol, short, _, total, _ = line.split("|")
        out[symbol.replace("/", "")] = (float(short), float(total))
    return out


def _members(index: str, day: str) -> set[str]:
    iso = f"{day[:4]}-{day[4:6]}-{day[6:]}"
    with (SAMPLE / "members" / f"{index}.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    snap = max(r["as_of"] for r in rows if r["as_of"] <= iso)
    return {r["symbol"].replace(".", "") for r in rows if r["as_of"] == snap}


def _last_day() -> str:
    """The newest consolidated file's day, YYYYMMDD."""
    return max(p.name[15:25].replace("-", "") for p in (SAMPLE / "short_volume").glob("sample-sv-CNMS-*"))


def test_scan_rows_carry_the_ratio(demo_store: Path) -> None:
    run = run_cli("scan", "--format", "json", store=demo_store)
    assert run.code == 0, run.err
    doc = json.loads(run.out)
    day = _last_day()
    raw = _raw_day(day)
    assert "not short interest" in doc["short_volume_caveat"]
    for row in doc["rows"]:
        names = _members(row["index"], day) & set(raw)
        short = sum(raw[s][0] for s in names)
        total = sum(raw[s][1] for s in names)
        assert row["sv_date"] == f"{day[:4]}-{day[4:6]}-{day[6:]}"
        assert abs(row["sv_ratio"] - short / total) < 1e-12
        assert row["sv_members_with_volume"] == len(names)
        assert row["sv_ratio_pct_1y_complete"] is False  # the sample holds 45 sessions


def test_stock_rows_and_summary_sentence(demo_store: Path) -> None:
    raw = _raw_day(_last_day())
    run = run_cli(
        "scan", "--by", "stock", "--index", "NDX", "--top", "5", "--format", "json", store=demo_store
    )
    assert run.code == 0, run.err
    for row in json.loads(run.out)["rows"]:
        short, total = raw[row["symbol"]]
        assert abs(row["sv_ratio"] - short / total) < 1e-12
    run = run_cli("summary", "--index", "NDX", "--format", "json", store=demo_store)
    doc = json.loads(run.out)
    (sentence,) = [s for s in doc["text"]["NDX"] if "short-sale volume" in s]
    assert "not short interest" in sentence and "not short interest" in doc["short_volume_caveat"]
    table = run_cli("scan", "--format", "table", store=demo_store, env={"COLUMNS": "120"})
    assert "Short-sale vol ratio" in table.out and "not short" in table.out


def test_stock_table_shows_the_ratio_when_there_is_room(demo_store: Path) -> None:
    """The terminal stock table carries SV% (and its 1Y percentile) as extras: shown with --wide,
    dropped silently before the core columns at 80, equal to the JSON's ratio from the raw files."""
    raw = _raw_day(_last_day())
    wide = run_cli(
        "scan", "--by", "stock", "--index", "NDX", "--top", "3", "--wide", "-f", "table", store=demo_store
    )
    assert wide.code == 0, wide.err
    header = next(ln for ln in wide.out.splitlines() if "Symbol" in ln)
    assert "SV%" in header and "SV 1Y" in header and "a flow, not short" in wide.out
    rows = json.loads(
        run_cli("scan", "--by", "stock", "--index", "NDX", "--top", "3", "-f", "json", store=demo_store).out
    )["rows"]
    for row in rows:
        line = next(ln for ln in wide.out.splitlines() if f" {row['symbol']} " in f" {ln} ")
        short, total = raw[row["symbol"]]
        assert f"{100 * short / total:.1f}%" in line
    narrow = run_cli(
        "scan", "--by", "stock", "--index", "NDX", "-f", "table", store=demo_store, env={"COLUMNS": "80"}
    )
    assert "SV%" not in narrow.out and "Hidden to fit" not in narrow.out
