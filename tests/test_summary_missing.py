"""`summary` when denominators and history are missing: no "nan%", no "n/a" sentences; it says
what is missing and how much of the index is covered, and writes sentences only from numbers that exist."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_scan_handmade import HEADER
from tests.test_store_hostile import cli

# Two reports; only AAA and BBB of the four members have short interest, and no member has a
# shares-outstanding figure (the file leaves the column empty).
SI = {"2026-06-15": {"AAA": 200, "BBB": 300}, "2026-06-30": {"AAA": 220, "BBB": 330}}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("summary_missing")
    si_dir = base / "si"
    si_dir.mkdir()
    for d, rows in SI.items():
        lines = [HEADER] + [
            f"{d.replace('-', '')}|{sym}|{sym} Corp|A|NNM|{si}|0||100|1.00||0|0|{d}"
            for sym, si in rows.items()
        ]
        (si_dir / f"shrt{d.replace('-', '')}.csv").write_text("\n".join(lines) + "\n")
    members = base / "RUT.csv"
    members.write_text(
        "index,as_of,symbol,name,sector,shares_outstanding,float_shares,weight\n"
        + "".join(f"RUT,2026-01-02,{s},{s} Corp,Financials,,,25\n" for s in ("AAA", "BBB", "CCC", "DDD"))
    )
    store = base / "store"
    for args in (("members", str(members)), ("short-interest", str(si_dir))):
        r = cli("ingest", *args, store=store)
        assert r.code == 0, r.err
    return store


def test_summary_missing_denominators_says_what_is_missing(store: Path) -> None:
    r = cli("summary", "--index", "RUT", "-f", "json", store=store)
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    text = doc["text"]["RUT"] if "text" in doc else None
    assert text is not None, doc.keys()
    joined = " ".join(text)
    for bad in ("nan", "n/a", "an unknown", "None"):
        assert bad not in joined, text
    # Coverage by hand: 2 of the 4 members have short interest; 0 of those 2 have shares outstanding.
    assert "2 of 4 Russell 2000 members have short interest on this report." in text
    assert (
        "The median short interest as a share of shares outstanding is unavailable: "
        "0 of 2 members with short interest have shares outstanding." in text
    )
    # Two reports are too few for any percentile (12 needed): said once, with the count held.
    assert (
        "Short interest across Russell 2000 constituents has too short a history for a percentile (2 reports held)."
        in text
    )
    # The one change that exists (since the last report: 550 / 500 - 1 = +10.0%) is the only move written.
    assert "Over today's constituents it is +10.0% since the last report." in text


def test_summary_missing_denominators_table_has_no_nan(store: Path) -> None:
    r = cli("summary", "--index", "RUT", "-f", "table", store=store)
    assert r.code == 0, r.err
    assert "nan" not in r.out.lower() and "n/a" not in r.out
    assert "2 of 4 Russell 2000 members have short interest" in " ".join(r.out.split())
