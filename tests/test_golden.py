"""Golden outputs of scan on the bundled sample data.

Text is compared exactly; a number written with a fraction is compared to 1e-9 relative, because the
last bits of a float sum depend on the CPU's vector width (CI printed ...9697 where this machine prints
...969696 for the same Bollinger %B). Regenerate after an intended change with ``UPDATE_GOLDEN=1 make test`` and review the diff.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli

GOLDEN = Path(__file__).parent / "golden"
CASES = {
    "scan.txt": ["scan", "--format", "table"],
    "scan.json": ["scan", "--format", "json"],
    "scan.csv": ["scan", "--format", "csv"],
    "scan_rut_2024-06-28.json": ["scan", "--index", "RUT", "--as-of", "2024-06-28", "--format", "json"],
    "summary.txt": ["summary", "--format", "table"],
    "flows.txt": ["flows", "--days", "10", "--format", "table"],
    "flows.json": ["flows", "--days", "10", "--format", "json"],
    "nowcast.txt": ["nowcast", "--format", "table"],
    "nowcast_rut_2026-11-05.json": ["nowcast", "--index", "RUT", "--as-of", "2026-11-05", "--format", "json"],
    "summary.json": ["summary", "--format", "json"],
    "summary.csv": ["summary", "--format", "csv"],
    "history_rut.txt": ["history", "--index", "RUT", "--format", "table"],
    "history_spx_median.json": [
        "history",
        "--index",
        "SPX",
        "--metric",
        "median_si_pct_so",
        "--format",
        "json",
    ],
    "history_rut.csv": ["history", "--index", "RUT", "--format", "csv"],
    "scan_stock_rut.txt": ["scan", "--by", "stock", "--index", "RUT", "--top", "15", "--format", "table"],
    "scan_stock_rut.json": ["scan", "--by", "stock", "--index", "RUT", "--top", "15", "--format", "json"],
    "scan_stock.csv": ["scan", "--by", "stock", "--top", "0", "--show-excluded", "--format", "csv"],
    "scan_stock_excluded.json": [
        "scan",
        "--by",
        "stock",
        "--top",
        "3",
        "--show-excluded",
        "--format",
        "json",
    ],
    "scan_sector_spx.txt": ["scan", "--by", "sector", "--index", "SPX", "--format", "table"],
    "scan_sector_rut.json": ["scan", "--by", "sector", "--index", "RUT", "--format", "json"],
    "cot.txt": ["cot", "--format", "table"],
    "cot.json": ["cot", "--format", "json"],
    "cot_es_2024-07-23.csv": ["cot", "--contract", "ES", "--as-of", "2024-07-23", "--format", "csv"],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_scan_output_matches_golden(name: str, demo_store: Path) -> None:
    r = run_cli(*CASES[name], store=demo_store, env={"COLUMNS": "80"})
    assert r.code == 0, r.err
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(r.out)
    assert_same_output(r.out, path.read_text())


FLOAT = re.compile(r"-?\d+\.\d+(?:[eE][-+]?\d+)?")


def assert_same_output(got: str, want: str) -> None:
    """Equal text, and equal numbers up to the last bits a different CPU may round differently."""
    if got == want:
        return
    assert FLOAT.sub("#", got) == FLOAT.sub("#", want)
    for a, b in zip(FLOAT.findall(got), FLOAT.findall(want), strict=True):
        assert math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12), (a, b)


def test_golden_comparison_tolerates_only_the_last_bits() -> None:
    assert_same_output('{"x": 0.45865115301}', '{"x": 0.458651153010000001}')
    with pytest.raises(AssertionError):
        assert_same_output('{"x": 0.4586}', '{"x": 0.4587}')
    with pytest.raises(AssertionError):
        assert_same_output('{"x": 1.0}', '{"y": 1.0}')


def test_readme_shows_the_demo_output_as_it_is() -> None:
    """The README's demo block is `make demo`'s scan then summary, exactly as the goldens pin them."""
    readme = (ROOT / "README.md").read_text()
    demo = (GOLDEN / "scan.txt").read_text() + (GOLDEN / "summary.txt").read_text()
    assert f"```\n{demo}```" in readme
    assert f"```\n{(GOLDEN / 'flows.txt').read_text()}```" in readme
    assert f"```\n{(GOLDEN / 'nowcast.txt').read_text()}```" in readme
