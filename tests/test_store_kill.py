"""kill -9 an ingest at random moments; the store is always either the state before or after.

After each kill the check first opens the store with our own code (``Store.reading``), which is
what "the store opens" means: a reader finding a committed journal rolls it forward. Only then do
DuckDB and pyarrow.dataset read the files directly. (A raw read by another engine *before* any
positioning process opened the store may see a commit half applied — every file is whole, since
each lands by one atomic rename, but some may be old and some new. The README says so.)

Default run: a few kills on small files. ``POSITIONING_STRESS=1``: >= 25 kills on real-size
files (30 FINRA pipe files of ~22k rows).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from positioning_cli.store import JOURNAL, STAGING
from tests.store_helpers import content, raw_rows, write_finra_files

STRESS = bool(os.environ.get("POSITIONING_STRESS"))
KILLS = int(os.environ.get("POSITIONING_KILLS", "30" if STRESS else "2"))
N_FILES = 30 if STRESS else 6
N_ROWS = 22_000 if STRESS else 2_000


def ingest_cmd(store: Path, folder: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "positioning_cli",
        "--store",
        str(store),
        "ingest",
        "short-interest",
        str(folder),
    ]


def run_ingest(store: Path, folder: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "POSITIONING_STORE"}
    p = subprocess.run(ingest_cmd(store, folder), capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr


def no_duplicate_keys(rows: list[tuple]) -> bool:
    keys = [(r[0], r[1]) for r in rows]
    return len(keys) == len(set(keys))


def test_kill_minus_9_during_ingest(tmp_path: Path) -> None:
    half = N_FILES // 2
    before_dir = tmp_path / "in-before"
    write_finra_files(before_dir, half, N_ROWS, seed=1)
    ingest_dir = tmp_path / "in-ingest"  # rewrites the first half's partitions (revisions), adds the rest
    write_finra_files(ingest_dir, N_FILES, N_ROWS, seed=2, revise=0.05)

    template = tmp_path / "template"
    run_ingest(template, before_dir)
    before = content(template)
    assert before and no_duplicate_keys(before)

    reference = tmp_path / "reference"
    shutil.copytree(template, reference)
    t0 = time.monotonic()
    run_ingest(reference, ingest_dir)
    full = time.monotonic() - t0
    after = content(reference)
    assert after != before and no_duplicate_keys(after)

    rng = random.Random(int(os.environ.get("POSITIONING_KILL_SEED", "5")))
    outcomes: Counter[str] = Counter()
    env = {k: v for k, v in os.environ.items() if k != "POSITIONING_STORE"}
    for i in range(KILLS):
        store = tmp_path / f"s{i}"
        shutil.copytree(template, store)
        # half the kills anywhere in the run, half in its last 40%, where the commit happens
        delay = rng.uniform(0.2 * full, full) if i % 2 == 0 else rng.uniform(0.6 * full, full)
        p = subprocess.Popen(
            ingest_cmd(store, ingest_dir), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        _, err = p.communicate(timeout=600)
        if p.returncode == 0:
            outcomes["finished before the kill"] += 1
        journal_left = (store / JOURNAL).exists()
        staging_left = (store / STAGING).exists()
        # Every file under the table folder is whole: another engine can read it even before recovery.
        raw_rows(store)

        got = content(store)  # opens the store with our code: rolls a committed journal forward
        assert got in (before, after), f"kill {i} at {delay:.2f}s: a mixed state"
        assert no_duplicate_keys(got)
        by_arrow, by_duck = raw_rows(store)
        assert by_arrow == got and by_duck == got, f"kill {i}: other engines disagree"
        state = "after" if got == after else "before"
        outcomes[f"{state}{' (journal rolled forward)' if journal_left else ''}"] += 1
        if staging_left and not journal_left:
            outcomes["staging leftover (uncommitted)"] += 1

        print(
            f"kill {i}: {delay:.2f}s of {full:.1f}s -> {state}{' (rolled forward)' if journal_left else ''}",
            flush=True,
        )
        run_ingest(store, ingest_dir)  # the next run cleans up and lands the same 'after' state
        assert content(store) == after
        assert not (store / JOURNAL).exists() and not (store / STAGING).exists()
        shutil.rmtree(store)
    print(f"\n{KILLS} kills, full ingest {full:.1f}s: {dict(outcomes)}")
