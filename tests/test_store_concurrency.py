"""Concurrency with real processes: writers serialise; readers always see whole commits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from datetime import date
from pathlib import Path

from tests.store_helpers import content, write_finra_files

STRESS = bool(os.environ.get("POSITIONING_STRESS"))
ENV = {k: v for k, v in os.environ.items() if k != "POSITIONING_STORE"}
ROOT = Path(__file__).resolve().parents[1]


def cli(store: Path, *args: str) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "positioning_cli", "--store", str(store), *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=ROOT)


def test_two_ingests_at_once_serialise(tmp_path: Path) -> None:
    a = write_finra_files(tmp_path / "a", 3, 1500, seed=1)
    b = write_finra_files(tmp_path / "b", 3, 1500, seed=2, start=None)
    b_dir = tmp_path / "b2"  # other dates than a: the result does not depend on who goes first
    b_dir.mkdir()
    for p in b:
        (b_dir / p.name.replace("2025", "2024")).write_text(p.read_text().replace("2025", "2024"))
    store = tmp_path / "s"
    runs = [cli(store, "ingest", "short-interest", "--wait", "120", str(d)) for d in (a[0].parent, b_dir)]
    results = [(p.wait(300), p.stderr.read() if p.stderr else "") for p in runs]
    assert [code for code, _ in results] == [0, 0], results
    got = content(store)
    assert {r[0].year for r in got} == {2024, 2025} and len(got) == 6 * 1500

    # a writer holding the lock makes another one with a short --wait exit BUSY (5)
    hold = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from positioning_cli.store import Store\n"
            "with Store(Path(sys.argv[1])).writing(wait=5):\n    print('locked', flush=True); time.sleep(30)\n",
            str(store),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=ENV,
        cwd=ROOT,
    )
    try:
        assert hold.stdout is not None and hold.stdout.readline().strip() == "locked"
        before = content(store)
        new = write_finra_files(tmp_path / "c", 1, 100, seed=3, start=date(2023, 1, 13))
        busy = cli(store, "ingest", "short-interest", "--wait", "0.5", str(new[0]))
        code = busy.wait(120)
        err = busy.stderr.read() if busy.stderr else ""
        assert code == 5, err
        assert len(err.strip().splitlines()) == 1 and "busy" in err
    finally:
        hold.kill()
        hold.wait()
    assert content(store) == before


WRITER = textwrap.dedent(
    """
    import sys, hashlib
    from datetime import date, timedelta
    from pathlib import Path
    import pyarrow as pa
    from positioning_cli.schema import SHORT_INTEREST
    from positioning_cli.store import SourceBatch, Store
    root, commits, symbols = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    names = [f"S{i:04d}" for i in range(symbols)]
    for i in range(1, commits + 1):
        # commit i rewrites every date so far with the value i, and adds one date
        dates = [date(2025, 12, 1) + timedelta(days=14 * k) for k in range(i)]  # crosses a year
        n = len(dates) * symbols
        t = pa.table({
            "settlement_date": [d for d in dates for _ in names],
            "symbol": names * len(dates),
            "short_interest": [i] * n,
            "previous_short_interest": [None] * n, "avg_daily_volume": [None] * n,
            "days_to_cover": [None] * n, "revision_flag": [False] * n, "split_flag": [False] * n,
            "issue_name": [None] * n, "market": [None] * n, "shares_outstanding": [None] * n,
            "float_shares": [None] * n, "source_format": ["test"] * n,
        }).cast(SHORT_INTEREST.parsed_schema)
        with Store(root).writing(wait=60) as w:
            w.merge(SHORT_INTEREST, SourceBatch(t, f"c{i}.csv", hashlib.sha256(str(i).encode()).hexdigest(), "t"))
        print(i, flush=True)
    """
)

READER = textwrap.dedent(
    """
    import sys, json, os, time
    from pathlib import Path
    import pyarrow.compute as pc
    from positioning_cli.store import Store
    root, stop = Path(sys.argv[1]), Path(sys.argv[2])
    store = Store(root)
    Path(sys.argv[3]).touch()  # imports done: reading from now on
    while not stop.exists():
        time.sleep(0.005)
        if not store.exists():
            continue
        with store.reading(wait=60) as m:
            t = store.read("short_interest", ["short_interest"], m)
            commit = m["commit"]
        values = pc.unique(t.column(0)).to_pylist()
        print(json.dumps([commit, t.num_rows, sorted(values)]), flush=True)
    """
)


def test_readers_never_see_half_a_commit(tmp_path: Path) -> None:
    commits = 40 if STRESS else 12
    symbols = 400 if STRESS else 150
    n_readers = 3 if STRESS else 2
    store, stop = tmp_path / "s", tmp_path / "stop"
    py = [sys.executable, "-c"]
    ready = [tmp_path / f"ready-{i}" for i in range(n_readers)]
    readers = [
        subprocess.Popen(
            [*py, READER, str(store), str(stop), str(flag)],
            stdout=subprocess.PIPE,
            text=True,
            env=ENV,
            cwd=ROOT,
        )
        for flag in ready
    ]
    try:
        # on a loaded machine a reader's imports can outlast the whole writer: start it when all read
        deadline = time.monotonic() + 120
        while not all(f.exists() for f in ready) and time.monotonic() < deadline:
            time.sleep(0.01)
        writer = subprocess.run(
            [*py, WRITER, str(store), str(commits), str(symbols)],
            capture_output=True,
            text=True,
            env=ENV,
            cwd=ROOT,
        )
        assert writer.returncode == 0, writer.stderr
        time.sleep(0.3)
    finally:
        stop.touch()
    seen = []
    for r in readers:
        out, _ = r.communicate(timeout=120)
        assert r.returncode == 0
        seen += [json.loads(line) for line in out.splitlines()]
    # commit i: i dates, all with the value i. A half-applied commit would mix values or counts.
    assert seen, "the readers read nothing"
    for commit, rows, values in seen:
        assert values == [commit] and rows == commit * symbols, (commit, rows, values)
    distinct = {c for c, _, _ in seen}
    print(f"\n{len(seen)} consistent reads across {len(distinct)} of {commits} commits, {n_readers} readers")
    assert len(distinct) >= 2
