"""Golden outputs of scan on the bundled sample data, compared byte for byte.

Regenerate after an intended change with ``UPDATE_GOLDEN=1 make test`` and review the diff.
"""

from __future__ import annotations

import os
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
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_scan_output_matches_golden(name: str, demo_store: Path) -> None:
    r = run_cli(*CASES[name], store=demo_store, env={"COLUMNS": "80"})
    assert r.code == 0, r.err
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(r.out)
    assert r.out == path.read_text()


def test_readme_shows_the_demo_output_as_it_is() -> None:
    readme = (ROOT / "README.md").read_text()
    assert readme.startswith("# positioning\n\n```\nmake demo")
    assert (GOLDEN / "scan.txt").read_text().rstrip() in readme
