"""``make bench``: whole-process wall time and peak memory of the commands users run.

Each command runs as a fresh process (as a user or cron runs it), several times; the table shows
the median and the peak RSS of the slowest-memory run. Nothing here is timed inside a test.

    python -m positioning_cli.bench [--repeat 5] [--data sample_data]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def _run(args: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"bench: {' '.join(args)} failed ({proc.returncode}): {err.strip()}")
    if proc.stderr:
        proc.stderr.close()
    return wall, usage.ru_maxrss


def _measure(name: str, repeat: int, prepare: Callable[[], None] | None, args: list[str]) -> dict:
    walls, rss = [], []
    for _ in range(repeat):
        if prepare:
            prepare()
        w, r = _run(args)
        walls.append(w)
        rss.append(r)
    return {
        "name": name,
        "median_s": statistics.median(walls),
        "min_s": min(walls),
        "peak_mib": max(rss) / 1024,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--data", type=Path, default=Path("sample_data"))
    ns = parser.parse_args(argv)
    exe = [sys.executable, "-m", "positioning_cli"]
    work = Path(tempfile.mkdtemp(prefix="positioning-bench-"))
    store = work / "store"
    data: Path = ns.data

    def fresh_store() -> None:
        shutil.rmtree(store, ignore_errors=True)

    def full_store() -> None:
        fresh_store()
        for kind, sub in (("members", "members"), ("prices", "prices")):
            subprocess.run(
                [*exe, "--store", str(store), "ingest", kind, str(data / sub)],
                check=True,
                capture_output=True,
            )

    try:
        results = [
            _measure("--help", ns.repeat, None, [*exe, "--help"]),
            _measure("--version", ns.repeat, None, [*exe, "--version"]),
            _measure(
                "ingest short-interest (all sample files, fresh store)",
                ns.repeat,
                full_store,
                [*exe, "--store", str(store), "ingest", "short-interest", str(data / "short_interest")],
            ),
            _measure(
                "scan (3 indices, json)", ns.repeat, None, [*exe, "--store", str(store), "scan", "-f", "json"]
            ),
        ]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}, repeat {ns.repeat}")
    print(f"{'command':<58} {'median s':>9} {'min s':>8} {'peak MiB':>9}")
    for r in results:
        print(f"{r['name']:<58} {r['median_s']:>9.3f} {r['min_s']:>8.3f} {r['peak_mib']:>9.1f}")


if __name__ == "__main__":
    main()
