from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
REAL = ROOT.parent / "shared" / "data" / "real"

# "Now" for every test unless a test says otherwise: two days after FINRA published the sample
# data's newest report (2026-10-30), so the demo store is current and outputs do not change as
# the calendar moves on (scan warns when the store is more than a cycle behind).
PINNED_NOW = "2026-11-12T17:00:00+00:00"
os.environ.setdefault("POSITIONING_NOW", PINNED_NOW)


@dataclass
class Run:
    code: int
    out: str
    err: str


def run_cli(
    *args: str, store: Path | None = None, env: dict[str, str] | None = None, stdin: str | None = None
) -> Run:
    """Run the installed entry point as a user would: a real process, stdout piped (not a TTY)."""
    full_env = {k: v for k, v in os.environ.items() if k != "POSITIONING_STORE"}
    full_env.update({"COLUMNS": "100", "NO_COLOR": "1"})
    full_env.update(env or {})
    cmd = [sys.executable, "-m", "positioning_cli"]
    if store is not None:
        cmd += ["--store", str(store)]
    p = subprocess.run([*cmd, *args], capture_output=True, text=True, env=full_env, input=stdin, timeout=300)
    return Run(p.returncode, p.stdout, p.stderr)


def real_dir(sub: str) -> Path:
    path = REAL / sub
    if not path.is_dir():
        pytest.skip(
            f"real third-party files not present at {path} (they live in ../shared, outside the repo)"
        )
    return path


def store_bytes(root: Path) -> dict[str, bytes]:
    """Every file in the store, byte for byte (lock files excluded: they hold no data)."""
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in (".lock", ".read.lock")
    }


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample data ingested once, as `make demo` does."""
    store = tmp_path_factory.mktemp("demo") / "store"
    for kind, sub in (
        ("members", "members"),
        ("short-interest", "short_interest"),
        ("prices", "prices"),
        ("cot", "cot"),
        ("short-volume", "short_volume"),
        ("funds", "funds"),
    ):
        r = run_cli("ingest", kind, str(SAMPLE / sub), store=store)
        assert r.code == 0, r.err
    return store
