"""Injected faults mid-commit: disk full, failing write/fsync/rename.

Before the commit point (the journal's rename) any failure leaves the store byte for byte as it
was and raises a one-line StoreError; after it the commit is logically done: the renames are
retried once, and if they still fail the next open of the store completes the commit.
"""

from __future__ import annotations

import errno
import os
import random
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from positioning_cli.errors import StoreError
from positioning_cli.schema import SHORT_INTEREST
from positioning_cli.store import JOURNAL, STAGING, Store
from tests.test_store import D1, D2, batch, live, snapshot

A = batch("a.csv", [(D1, "AAPL", 100, False), (D1, "MSFT", 50, False)])
B = batch("b.csv", [(D1, "AAPL", 120, True), (D2, "AAPL", 130, False), (D2, "IWM", 7, False)])

# (module attribute owner, name) of every operation a commit performs that can fail
TARGETS: list[tuple[Any, str]] = [(os, "replace"), (os, "fsync"), (pq, "write_table"), (os, "open")]
ERRNOS = [errno.ENOSPC, errno.EIO]
STRESS = bool(os.environ.get("POSITIONING_STRESS"))


def make_before(root: Path) -> None:
    with Store(root).writing(wait=1) as w:
        w.merge(SHORT_INTEREST, A)


def commit_b(root: Path) -> None:
    with Store(root).writing(wait=1) as w:
        w.merge(SHORT_INTEREST, B)


class Fault:
    """Count calls to ``owner.name`` and fail the k-th (and every later one when ``sticky``)."""

    def __init__(self, owner: Any, name: str, k: int, err: int, sticky: bool) -> None:
        self.owner, self.name, self.k, self.err, self.sticky = owner, name, k, err, sticky
        self.orig: Callable[..., Any] = getattr(owner, name)
        self.calls = 0
        self.fired = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls == self.k or (self.sticky and self.calls > self.k):
            self.fired += 1
            raise OSError(self.err, os.strerror(self.err))
        return self.orig(*args, **kwargs)


def count_calls(tmp: Path, owner: Any, name: str) -> int:
    root = tmp / "count"
    make_before(root)
    counter = Fault(owner, name, 0, 0, False)
    setattr(owner, name, counter)
    try:
        commit_b(root)
    finally:
        setattr(owner, name, counter.orig)
    shutil.rmtree(root)
    return counter.calls


@pytest.fixture(scope="module")
def states(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("states")
    make_before(tmp / "s")
    before = live(tmp / "s")
    commit_b(tmp / "s")
    return {"before": before, "after": live(tmp / "s")}


INJECTED: list[int] = []  # faults that fired, across the sweep (reported by the last test)


@pytest.mark.parametrize("sticky", [False, True], ids=["once", "sticky"])
@pytest.mark.parametrize("target", TARGETS, ids=[f"{o.__name__}.{n}" for o, n in TARGETS])
def test_fault_sweep(tmp_path: Path, target: tuple[Any, str], sticky: bool, states: dict[str, Any]) -> None:
    """Fail every call of one operation in turn during a commit; the store stays whole each time."""
    owner, name = target
    n = count_calls(tmp_path, owner, name)
    assert n > 0
    ks = list(range(1, n + 1))
    if not STRESS:  # the default run: both ends of the commit and a few calls in between
        ks = sorted({1, 2, n - 1, n, *random.Random(n).sample(ks, min(3, n))} & set(ks))
    for k in ks:
        for err in ERRNOS if STRESS else [ERRNOS[k % 2]]:
            root = tmp_path / f"s{k}-{err}"
            make_before(root)
            before = snapshot(root)
            fault = Fault(owner, name, k, err, sticky)
            setattr(owner, name, fault)
            try:
                try:
                    commit_b(root)
                    outcome = "ok"
                except StoreError as exc:
                    outcome = str(exc)
            finally:
                setattr(owner, name, fault.orig)
            INJECTED.append(fault.fired)
            print(
                f"fault {name}#{k} {errno.errorcode[err]} {'sticky' if sticky else 'once'}: {outcome[-60:]}"
            )
            assert fault.fired, (name, k)
            if outcome == "ok":  # a fault after the commit point healed by the retry, or in cleanup
                assert not (root / JOURNAL).exists()
                assert live(root) == states["after"]
                commit_b(root)  # a staging leftover (failed cleanup) goes with the next writer
                assert not (root / STAGING).exists()
                continue
            assert "\n" not in outcome and os.strerror(err) in outcome, outcome
            assert errno.errorcode[err] in outcome
            if "next positioning run" not in outcome:  # failed before the commit point
                assert snapshot(root) == before, (name, k, err)
                assert not (root / STAGING).exists()
                assert live(root) == states["before"]
            else:
                assert "next positioning run" in outcome, outcome
                # the journal is still there (renames failed), or gone but its removal not fsynced
                store = Store(root)
                with store.reading() as m:  # the next open completes the commit
                    got = store.read("short_interest", None, m)
                assert {(r["settlement_date"], r["symbol"]) for r in got.to_pylist()} == set(states["after"])
                assert live(root) == states["after"]
                assert not (root / JOURNAL).exists() and not (root / STAGING).exists()
            if STRESS or k == ks[-1]:  # and the next writer works normally
                commit_b(root)
                assert live(root) == states["after"]


def test_a_failed_apply_is_completed_by_the_next_writer(tmp_path: Path, states: dict[str, Any]) -> None:
    make_before(tmp_path)
    fault = Fault(os, "replace", 2, errno.EIO, True)  # 1st replace = the journal: fail every data rename
    os.replace = fault
    try:
        with pytest.raises(StoreError, match="next positioning run on this store completes it"):
            commit_b(tmp_path)
    finally:
        os.replace = fault.orig
    with Store(tmp_path).writing(wait=1):
        pass
    assert not (tmp_path / JOURNAL).exists()
    assert live(tmp_path) == states["after"]


def test_disk_full_through_the_cli_is_one_line_exit_6(tmp_path: Path) -> None:
    """A real process: ENOSPC while writing Parquet -> 'error: ... (ENOSPC)', exit 6, store unchanged."""
    from tests.store_helpers import write_finra_files

    store = tmp_path / "store"
    first = write_finra_files(tmp_path / "a", 2, 50, seed=1)
    second = write_finra_files(tmp_path / "b", 2, 50, seed=2, start=first[-1].stat() and None)
    env = {k: v for k, v in os.environ.items() if k != "POSITIONING_STORE"}
    code = (
        "import errno, os, sys, pyarrow.parquet as pq\n"
        "def full(*a, **k): raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))\n"
        "pq.write_table = full\n"
        "from positioning_cli.cli import main\n"
        "main(sys.argv[1:])\n"
    )
    ok = subprocess.run(
        [
            sys.executable,
            "-m",
            "positioning_cli",
            "--store",
            str(store),
            "ingest",
            "short-interest",
            str(first[0]),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert ok.returncode == 0, ok.stderr
    before = snapshot(store)
    p = subprocess.run(
        [sys.executable, "-c", code, "--store", str(store), "ingest", "short-interest", *map(str, second)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert p.returncode == 6, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), p.stderr
    assert "No space left on device (ENOSPC)" in lines[0] and "unchanged" in lines[0]
    assert snapshot(store) == before


def test_symlinks_inside_the_store_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "s"
    make_before(root)
    part = next((root / "short_interest").rglob("*.parquet"))
    outside = tmp_path / "outside.parquet"
    shutil.copy(part, outside)
    part.unlink()
    part.symlink_to(outside)
    with pytest.raises(StoreError, match="symlink"):
        Store(root).read("short_interest")
    with pytest.raises(StoreError, match="symlink"):
        commit_b(root)
    # a symlinked table folder, and a symlinked lock file
    part.unlink()
    shutil.copy(outside, part)
    folder = root / "short_interest"
    folder.rename(tmp_path / "moved")
    folder.symlink_to(tmp_path / "moved")
    with pytest.raises(StoreError, match="symlink"):
        Store(root).read("short_interest")
    folder.unlink()
    (tmp_path / "moved").rename(folder)
    (root / ".lock").unlink()
    (root / ".lock").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(StoreError, match="symlink"):
        commit_b(root)
    assert not (tmp_path / "elsewhere").exists()
