"""Hostile and unlucky stores (issue 12): one test per class, each named after it.

Tampered metadata (journal, manifest) must never move or read a file outside the store; a folder
that is not a store is never written to; data files are checked against the manifest before they
are read; damaged metadata is one line and exit 6; signals stop an ingest cleanly; a read-only
store is read; --wait is honoured; verify tells a commit in progress from damage; --known-at gives
one day one meaning.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from positioning_cli import store as store_mod
from positioning_cli.errors import BusyError, ExitCode, StoreError
from positioning_cli.schema import SHORT_INTEREST
from positioning_cli.store import JOURNAL, MANIFEST, STAGING, Store
from positioning_cli.store_admin import verify
from tests.conftest import SAMPLE, Run, store_bytes
from tests.store_helpers import write_finra_files
from tests.test_store import D1, D2, batch, ingest

ROOT = Path(__file__).resolve().parents[1]
ENV = {k: v for k, v in os.environ.items() if k != "POSITIONING_STORE"} | {"COLUMNS": "100"}
SI_FILES = sorted((SAMPLE / "short_interest").iterdir())[-3:]
PARTITION = "short_interest/year=2026/part-20261030.parquet"
MARKER = ".positioning-store"  # (a literal, so this module imports on code without markers too)


def cli(*args: str, store: Path | None = None) -> Run:
    """The CLI in this process (fast): its exit code, stdout and stderr."""
    from positioning_cli.cli import main

    argv = (["--store", str(store)] if store is not None else []) + list(args)
    out, err = io.StringIO(), io.StringIO()
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(argv)
                code = 0
            except SystemExit as exc:
                code = int(exc.code or 0)
    finally:
        for s, h in handlers.items():
            signal.signal(s, h)
    return Run(code, out.getvalue(), err.getvalue())


def proc(*args: str, store: Path, timeout: float = 120) -> Run:
    """The CLI as a real process; ``timeout`` only guards against a hang (never a speed check)."""
    cmd = [sys.executable, "-m", "positioning_cli", "--store", str(store), *args]
    p = subprocess.run(cmd, capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=timeout)
    return Run(p.returncode, p.stdout, p.stderr)


def one_line(r: Run, code: int) -> str:
    assert r.code == code, (r.code, r.err)
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.err
    assert "Traceback" not in r.err
    return lines[0]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Members, the index prices and three FINRA files: enough for scan and summary."""
    store = tmp_path_factory.mktemp("hostile") / "store"
    prices = sorted(p for p in (SAMPLE / "prices").iterdir() if p.is_file())
    for kind, paths in (
        ("members", [SAMPLE / "members"]),
        ("prices", prices),
        ("short-interest", SI_FILES),
    ):
        r = cli("ingest", kind, *map(str, paths), store=store)
        assert r.code == 0, r.err
    return store


@pytest.fixture
def store(template: Path, tmp_path: Path) -> Path:
    root = tmp_path / "store"
    shutil.copytree(template, root)
    shutil.rmtree(root / ".cache", ignore_errors=True)
    return root


def manifest(root: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((root / MANIFEST).read_text())
    return data


def write_manifest(root: Path, m: object) -> None:
    (root / MANIFEST).write_text(json.dumps(m) if not isinstance(m, str) else m)


# ------------------------------------------------------------------------------------ safety
def test_safety_metadata_paths_never_leave_the_store(store: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.parquet").write_bytes(b"not the store's")
    (outside / "victim.txt").write_text("keep me")
    planted = outside / "planted.parquet"
    shutil.copy(store / PARTITION, planted)
    before_outside = {p.name: p.read_bytes() for p in outside.iterdir()}
    before = store_bytes(store)

    # A journal renaming a file from outside in, and a staged file over a file outside.
    (store / STAGING).mkdir()
    staged = store / STAGING / ("0" * 32 + ".json")
    staged.write_text("{}")
    journal = {
        "renames": [
            ["../../outside/secret.parquet", "short_interest/year=2026/part-20260101.parquet"],
            [f"{STAGING}/{staged.name}", "../../outside/victim.txt"],
        ]
    }
    (store / JOURNAL).write_text(json.dumps(journal))
    line = one_line(cli("scan", "-f", "json", store=store), ExitCode.STORE)
    assert "not a file of the store's layout" in line
    assert {p.name: p.read_bytes() for p in outside.iterdir()} == before_outside
    assert staged.exists() and (store / JOURNAL).exists()  # nothing moved, nothing removed
    v = cli("store", "verify", "-f", "json", store=store)
    assert v.code == ExitCode.STORE
    rows = json.loads(v.out)["rows"]
    assert any(r["kind"] == "journal" and "layout" in r["message"] for r in rows), rows
    one_line(cli("ingest", "short-interest", str(SI_FILES[0]), store=store), ExitCode.STORE)
    assert {p.name: p.read_bytes() for p in outside.iterdir()} == before_outside
    (store / JOURNAL).unlink()
    shutil.rmtree(store / STAGING)

    # Manifest entries naming a file outside (`..`, absolute), or through a symlinked folder.
    for rel in ("../../outside/planted.parquet", str(planted), "year=2026/../../../outside/planted.parquet"):
        m = manifest(store)
        files = m["tables"]["short_interest"]["files"]
        files[rel] = dict(files["year=2026/part-20261030.parquet"], bytes=planted.stat().st_size)
        write_manifest(store, m)
        for args in (("scan", "-f", "json"), ("history", "--index", "RUT", "-f", "json")):
            assert "layout" in one_line(cli(*args, store=store), ExitCode.STORE)
        v = cli("store", "verify", "-f", "json", store=store)
        assert v.code == ExitCode.STORE and json.loads(v.out)["rows"][0]["kind"] == "manifest"
        write_manifest(store, json.loads(before[MANIFEST]))
    (store / "short_interest" / "year=2031").symlink_to(outside, target_is_directory=True)
    m = manifest(store)
    m["tables"]["short_interest"]["files"]["year=2031/part-20310101.parquet"] = dict(
        m["tables"]["short_interest"]["files"]["year=2026/part-20261030.parquet"]
    )
    shutil.copy(planted, outside / "part-20310101.parquet")
    write_manifest(store, m)
    assert "symlink" in one_line(cli("scan", "-f", "json", store=store), ExitCode.STORE)
    assert before_outside.items() <= {p.name: p.read_bytes() for p in outside.iterdir()}.items()


# ------------------------------------------------------------------------------------ marker
def test_marker_only_a_store_or_an_empty_folder_is_written_to(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / STAGING).mkdir(parents=True)
    (home / STAGING / "my-work.txt").write_text("precious")
    (home / "notes.txt").write_text("mine")
    before = {str(p.relative_to(home)) for p in home.rglob("*")}
    line = one_line(cli("ingest", "short-interest", str(SI_FILES[0]), store=home), ExitCode.USAGE)
    assert "not a positioning store" in line
    assert {str(p.relative_to(home)) for p in home.rglob("*")} == before  # not even a lock file
    assert (home / STAGING / "my-work.txt").read_text() == "precious"

    # a missing folder and an empty one become stores, with the marker and its format version
    for root in (tmp_path / "new" / "store", tmp_path / "empty"):
        if root.name == "empty":
            root.mkdir()
        assert cli("ingest", "short-interest", str(SI_FILES[0]), store=root).code == 0
        assert json.loads((root / MARKER).read_text())["format_version"] == store_mod.FORMAT_VERSION

    # a store written before markers (manifest, no marker) still reads and writes; it gets one
    old = tmp_path / "empty"
    (old / MARKER).unlink()
    assert cli("store", "info", "-f", "json", store=old).code == 0
    assert not (old / MARKER).exists()  # readers never write
    assert cli("ingest", "short-interest", str(SI_FILES[1]), store=old).code == 0
    assert (old / MARKER).exists()
    # a marker of a newer format is refused, not guessed at
    (old / MARKER).write_text(json.dumps({"format_version": 99}))
    assert "format 99" in one_line(
        cli("ingest", "short-interest", str(SI_FILES[2]), store=old), ExitCode.STORE
    )


# ------------------------------------------------------------------------------------ files vs manifest
def test_files_are_checked_against_the_manifest_before_reading(store: Path) -> None:
    part = store / PARTITION
    t = pq.read_table(part)
    doubled = t.set_column(
        t.schema.get_field_index("short_interest"),
        "short_interest",
        pa.compute.multiply(t.column("short_interest"), 2),
    )
    original = part.read_bytes()
    pq.write_table(doubled, part, compression="zstd")
    assert part.stat().st_size != len(original)
    for env in ({}, {"POSITIONING_NO_CACHE": "1"}):
        with _env(env):
            line = one_line(cli("scan", "-f", "json", store=store), ExitCode.STORE)
        assert str(part) in line and "manifest" in line
    # same size, other bytes: scan cannot tell by size; verify's SHA-256 names the file
    part.write_bytes(original[:100] + bytes([original[100] ^ 1]) + original[101:])
    v = cli("store", "verify", "-f", "json", store=store)
    assert v.code == ExitCode.STORE
    assert [(r["kind"], r["path"]) for r in json.loads(v.out)["rows"]] == [("checksum", PARTITION)]
    # a FIFO in place of a partition, then of the manifest: refused, never opened (no hang)
    part.unlink()
    os.mkfifo(part)
    line = one_line(proc("scan", "-f", "json", store=store, timeout=120), ExitCode.STORE)
    assert str(part) in line and "regular file" in line
    v = proc("store", "verify", "-f", "json", store=store, timeout=120)
    assert v.code == ExitCode.STORE
    assert ("special", PARTITION) in [(r["kind"], r["path"]) for r in json.loads(v.out)["rows"]]
    part.unlink()
    part.write_bytes(original)
    (store / MANIFEST).rename(store / "manifest.bak")
    os.mkfifo(store / MANIFEST)
    assert "regular file" in one_line(proc("scan", store=store, timeout=120), ExitCode.STORE)
    v = proc("store", "verify", "-f", "json", store=store, timeout=120)
    assert v.code == ExitCode.STORE and [r["kind"] for r in json.loads(v.out)["rows"]] == ["manifest"]
    assert "regular file" in one_line(proc("ingest", "short-interest", str(SI_FILES[0]), store=store), 6)


@contextlib.contextmanager
def _env(values: dict[str, str]) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# ------------------------------------------------------------------------------------ damaged metadata
DAMAGED_MANIFESTS: list[tuple[str, Any]] = [
    ("truncated", None),  # the real manifest cut in half
    ("deep nesting", "[" * 200_000 + "]" * 200_000),
    ("not an object", "[1, 2]"),
    ("no format_version", "drop:format_version"),
    ("commit is text", "set:commit:x"),
    ("files is a list", "files:[]"),
    ("entry without bytes", "entry:bytes"),
    ("rows negative", "entry-set:rows:-1"),
    ("sha256 not hex", "entry-set:sha256:zz"),
    ("ingests of numbers", "set:ingests:[1]"),
    ("ingested_at not a time", "ingest-set:ingested_at:yesterday"),
]


def _damage(m: dict[str, Any], how: str) -> str:
    kind, _, rest = how.partition(":")
    files = m["tables"]["short_interest"]["files"]
    entry = files["year=2026/part-20261030.parquet"]
    if kind == "drop":
        del m[rest]
    elif kind == "set":
        key, _, value = rest.partition(":")
        m[key] = json.loads(value) if value.startswith("[") else value
    elif kind == "files":
        m["tables"]["short_interest"]["files"] = []
    elif kind == "entry":
        del entry[rest]
    elif kind == "entry-set":
        key, _, value = rest.partition(":")
        entry[key] = int(value) if value.lstrip("-").isdigit() else value
    elif kind == "ingest-set":
        key, _, value = rest.partition(":")
        m["ingests"][0][key] = value
    return json.dumps(m)


def test_damaged_metadata_is_one_line_exit_6(store: Path, tmp_path: Path) -> None:
    good = (store / MANIFEST).read_text()
    for name, how in DAMAGED_MANIFESTS:
        text = good[: len(good) // 2] if how is None else how
        if isinstance(how, str) and ":" in how:
            text = _damage(json.loads(good), how)
        write_manifest(store, text)
        for args in (("scan", "-f", "json"), ("store", "info", "-f", "json")):
            one_line(cli(*args, store=store), ExitCode.STORE)
        v = cli("store", "verify", "-f", "json", store=store)
        assert v.code == ExitCode.STORE and "Traceback" not in v.err, (name, v.err)
        assert [r["kind"] for r in json.loads(v.out)["rows"]] == ["manifest"], name
    write_manifest(store, good)

    for name, text in (
        ("truncated", '{"renames": [[".staging/'),
        ("deep nesting", "[" * 200_000),
        ("renames not a list", '{"renames": "all"}'),
        ("a rename of numbers", '{"renames": [[1, 2]]}'),
        ("no renames", "{}"),
    ):
        (store / JOURNAL).write_text(text)
        line = one_line(cli("scan", "-f", "json", store=store), ExitCode.STORE)
        assert "journal" in line, name
        v = cli("store", "verify", "-f", "json", store=store)
        assert v.code == ExitCode.STORE and [r["kind"] for r in json.loads(v.out)["rows"]] == ["journal"], (
            name
        )
    (store / JOURNAL).unlink()

    # a corrupt partition of the right size is named by its file, not its table folder
    part = store / PARTITION
    part.write_bytes(b"\0" * part.stat().st_size)
    line = one_line(cli("scan", "-f", "json", store=store), ExitCode.STORE)
    assert str(part) in line

    # --store naming a regular file is a usage error, for readers and writers alike
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    for args in (
        ("scan",),
        ("store", "verify"),
        ("store", "info"),
        ("ingest", "short-interest", str(SI_FILES[0])),
    ):
        assert "not a store folder" in one_line(cli(*args, store=a_file), ExitCode.USAGE)
    assert a_file.read_text() == "x"


# ------------------------------------------------------------------------------------ signals
def _caught_signals(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return int(line.split()[1], 16)
    return 0


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc to see the handlers")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signals_stop_an_ingest_cleanly(tmp_path: Path, sig: signal.Signals) -> None:
    root = tmp_path / "store"
    ingest(root, batch("a.csv", [(D1, "AAPL", 100, False)]))
    before = store_bytes(root)
    files = write_finra_files(tmp_path / "in", 8, 4000, seed=3)
    cmd = [sys.executable, "-m", "positioning_cli", "--store", str(root), "ingest", "short-interest"]
    p = subprocess.Popen([*cmd, *map(str, files)], env=ENV, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    # signal it once its staging area exists (mid-ingest), or when it is about to finish
    while p.poll() is None and not (root / STAGING).exists():
        time.sleep(0.005)
    p.send_signal(sig)
    _, err = p.communicate(timeout=300)
    if p.returncode == 0:
        pytest.skip("the ingest finished before the signal arrived")  # a fast machine: nothing to check
    assert p.returncode == 128 + sig, (p.returncode, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    assert ("SIGTERM" if sig == signal.SIGTERM else "SIGINT") in lines[0]
    assert not (root / STAGING).exists() and not (root / JOURNAL).exists()
    assert store_bytes(root) == before


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc to see the handlers")
def test_signals_ctrl_c_during_imports_is_one_line(tmp_path: Path) -> None:
    """SIGINT as soon as the console script took over the signals: while it imports typer & co."""
    cmd = [sys.executable, "-m", "positioning_cli", "--store", str(tmp_path / "s"), "scan"]
    p = subprocess.Popen(cmd, env=ENV, cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    term = 1 << (signal.SIGTERM - 1)
    for _ in range(20_000):  # until SIGTERM is caught (Python alone never catches it), or it ends
        if p.poll() is not None or _caught_signals(p.pid) & term:
            break
        time.sleep(0.0005)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert p.returncode == ExitCode.INTERRUPTED, (p.returncode, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err


# ------------------------------------------------------------------------------------ read-only
def test_read_only_store_is_read_without_the_lock(
    store: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = cli("summary", "-f", "json", store=store)
    assert expected.code == 0, expected.err
    real_open = os.open

    def no_lock(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if str(path).endswith(".read.lock"):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return int(real_open(path, flags, *args, **kwargs))

    monkeypatch.setattr(os, "open", no_lock)
    monkeypatch.setattr(store_mod, "_said_unlocked", False, raising=False)
    got = cli("summary", "-f", "json", store=store)
    assert got.code == 0, got.err
    assert got.out == expected.out
    notes = [line for line in got.err.splitlines() if "without" in line]
    assert len(notes) == 1 and ".read.lock" in notes[0], got.err
    again = cli("scan", "-f", "json", store=store)
    assert again.code == 0 and "without" not in again.err  # said once per process
    monkeypatch.undo()
    if os.geteuid() != 0:  # a real read-only store, for a user who may read but not write it
        (store / ".read.lock").unlink(missing_ok=True)
        for p in [store, *store.rglob("*")]:
            p.chmod(p.stat().st_mode & ~0o222)
        r = proc("summary", "-f", "json", store=store)
        assert r.code == 0 and r.out == expected.out, r.err


# ------------------------------------------------------------------------------------ --wait
def test_wait_is_honoured_and_busy_says_what_holds_the_lock(store: Path, tmp_path: Path) -> None:
    before = store_bytes(store)
    new = write_finra_files(tmp_path / "new", 1, 50, seed=4, start=date(2024, 3, 15))
    fd = os.open(store / ".read.lock", os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)  # a slow reader
        # the timeout only guards against the old 300 s wait (a hang for this test)
        r = proc("ingest", "short-interest", "--wait", "1", str(new[0]), store=store, timeout=120)
    finally:
        os.close(fd)
    line = one_line(r, ExitCode.BUSY)
    assert "a reader holds .read.lock" in line and "waited 1s" in line
    assert store_bytes(store) == before and not (store / STAGING).exists()
    # a writer: its pid is named
    with Store(store).writing(wait=1), pytest.raises(BusyError, match=f"pid {os.getpid()}"):
        with Store(store).writing(wait=0.1):
            pass


# ------------------------------------------------------------------------------------ verify
def test_verify_tells_a_commit_in_progress_from_damage(tmp_path: Path) -> None:
    root = tmp_path / "s"
    ingest(root, batch("a.csv", [(D1, "AAPL", 100, False)]))
    with Store(root).writing(wait=1) as w:  # a healthy ingest, mid-way: staging written
        w.merge(SHORT_INTEREST, batch("b.csv", [(D2, "MSFT", 7, False)]))
        w.spill()
        w._close_files()
        assert (root / STAGING).exists()
        r = verify(root)
        assert r.ok, r.problems
        assert [n.kind for n in r.notes] == ["staging"] and "in progress" in r.notes[0].message
    # a crash's leftover: a note (exit 0), cleaned by the next writer
    (root / STAGING).mkdir()
    (root / STAGING / ("a" * 32 + ".parquet")).write_bytes(b"half")
    v = cli("store", "verify", "-f", "table", store=root)
    assert v.code == 0, v.err
    assert v.err.startswith("warning: .staging: ") and "next writer removes it" in v.err
    ingest(root, batch("c.csv", [(D2, "IWM", 1, False)]))
    assert not (root / STAGING).exists()
    # ...unless its journal is itself invalid
    (root / STAGING).mkdir()
    (root / JOURNAL).write_text('{"renames": [["/etc/passwd", "manifest.json"]]}')
    v = cli("store", "verify", "-f", "json", store=root)
    assert v.code == ExitCode.STORE
    assert [r["kind"] for r in json.loads(v.out)["rows"]] == ["journal"]
    with pytest.raises(StoreError, match="layout"):
        ingest(root, batch("d.csv", [(D2, "QQQ", 1, False)]))


# ------------------------------------------------------------------------------------ --known-at
def test_known_at_one_day_one_instant(store: Path) -> None:
    from positioning_cli.api import resolve_known_at

    end = datetime(2026, 12, 1, 23, 59, 59, 999999, tzinfo=UTC)
    assert resolve_known_at("20261201") == resolve_known_at("2026-12-01") == end
    assert resolve_known_at("2026-12-01T00:00") == datetime(2026, 12, 1, tzinfo=UTC)
    today = datetime.now(UTC).date()  # the template was ingested today: both spellings see it
    iso = cli("scan", "--known-at", today.isoformat(), "-f", "json", store=store)
    compact = cli("scan", "--known-at", f"{today:%Y%m%d}", "-f", "json", store=store)
    assert iso.code == 0 and compact.code == 0, (iso.err, compact.err)
    assert iso.out == compact.out


# ------------------------------------------------------------------------------------ sweeps (make stress)
STRESS = bool(os.environ.get("POSITIONING_STRESS"))
HOSTILE_VALUES: list[Any] = [
    None,
    -1,
    True,
    "x",
    [],
    {},
    1e308,
    "../../outside/planted.parquet",
    "/etc/passwd",
    "year=2026/../../../outside/planted.parquet",
    "year=2031/part-20310101.parquet",  # through the symlinked folder planted below
    "a" * 5000,
]


def _mutate_manifest(m: Any, rng: random.Random) -> str:
    """One random change to the parsed manifest (or to its text): the tampered text."""
    text = json.dumps(m)
    how = rng.randrange(5)
    if how == 0:  # cut or flip a byte of the text
        at = rng.randrange(len(text))
        return text[:at] if rng.random() < 0.5 else text[:at] + chr(ord(text[at]) ^ 0x20) + text[at + 1 :]
    if how == 1:  # a file entry renamed to a hostile key
        files = m["tables" if rng.random() < 0.5 else "versions"]["short_interest"]["files"]
        if files:
            key = rng.choice(sorted(files))
            files[str(rng.choice(HOSTILE_VALUES[7:]))] = files.pop(key)
        return json.dumps(m)
    # a random node anywhere replaced with a hostile value, or removed
    node, key = _random_slot(m, rng)
    if how == 2 and isinstance(node, dict):
        node.pop(key, None)
    else:
        node[key] = rng.choice(HOSTILE_VALUES)
    return json.dumps(m)


def _random_slot(m: Any, rng: random.Random) -> tuple[Any, Any]:
    node: Any = m
    while True:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        key = rng.choice(keys)
        child = node[key]
        if not isinstance(child, dict | list) or not child or rng.random() < 0.3:
            return node, key
        node = child


def _hostile_journal(rng: random.Random, staged: list[str]) -> str:
    names = [*HOSTILE_VALUES, *staged, MANIFEST, PARTITION, "short_interest/year=2031/part-20310101.parquet"]
    pairs = [[rng.choice(names), rng.choice(names)] for _ in range(rng.randrange(1, 4))]
    return json.dumps({"renames": pairs} if rng.random() < 0.9 else pairs)


def test_tampered_metadata_sweep(tmp_path: Path) -> None:
    """Random tampering of the manifest and the journal: every case is refused with a StoreError
    or read correctly; nothing outside the store is moved, written or read; verify never crashes."""
    cases = 400 if STRESS else 40
    rng = random.Random(int(os.environ.get("POSITIONING_TAMPER_SEED", "12")))
    pristine = tmp_path / "pristine"
    ingest(pristine, batch("a.csv", [(D1, "AAPL", 100, False), (D2, "MSFT", 5, False)]))
    ingest(pristine, batch("b.csv", [(D1, "AAPL", 120, True)]))
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(next((pristine / "short_interest").rglob("*.parquet")), outside / "planted.parquet")
    shutil.copy(outside / "planted.parquet", outside / "part-20310101.parquet")
    (outside / "victim.txt").write_text("keep me")
    outside_before = {p.name: p.read_bytes() for p in outside.iterdir()}
    good = json.loads((pristine / MANIFEST).read_text())
    held: dict[str, int] = {}
    for i in range(cases):
        root = tmp_path / "s"
        shutil.rmtree(root, ignore_errors=True)
        shutil.copytree(pristine, root)
        (root / "short_interest" / "year=2031").symlink_to(outside, target_is_directory=True)
        data_before = {k: v for k, v in store_bytes(root).items() if k != MANIFEST}
        if rng.random() < 0.6:
            target = "manifest"
            (root / MANIFEST).write_text(_mutate_manifest(json.loads(json.dumps(good)), rng))
        else:
            target = "journal"
            (root / STAGING).mkdir()
            staged = f"{STAGING}/{rng.randrange(16**32):032x}.parquet"
            shutil.copy(outside / "planted.parquet", root / staged)
            (root / JOURNAL).write_text(_hostile_journal(rng, [staged]))
        store = Store(root)
        try:
            with store.reading(wait=1) as m:
                for table in ("short_interest", "members", "prices", "cot"):
                    store.read(table, None, m)
                store.versions("short_interest", None, m)
            outcome = "read"
        except StoreError:
            outcome = "refused"
        result = verify(root)  # never raises
        assert all("\n" not in str(p) for p in result.problems)
        assert {p.name: p.read_bytes() for p in outside.iterdir()} == outside_before, (i, target)
        if target == "manifest":
            changed = {k for k, v in store_bytes(root).items() if k != MANIFEST and data_before.get(k) != v}
            assert not changed, (i, changed)
        if outcome == "read":
            text = (root / MANIFEST).read_text()
            assert "outside" not in text and "/etc/" not in text and "year=2031" not in text, (i, target)
        key = f"{target} {outcome}"
        held[key] = held.get(key, 0) + 1
        print(f"tamper {i} {target}: {outcome}; verify: {len(result.problems)} problem(s)", flush=True)
    print(f"\n{cases} tampered-metadata cases, all held: {held}")


def test_signal_sweep(tmp_path: Path) -> None:
    """SIGINT/SIGTERM at random moments of an ingest: exit 0, 130 or 143 with one line; the store
    is the state before or the state after, never staging left over."""
    from tests.store_helpers import content

    trials = 24 if STRESS else 2
    rng = random.Random(int(os.environ.get("POSITIONING_SIGNAL_SEED", "7")))
    template = tmp_path / "template"
    write_finra_files(tmp_path / "a", 2, 3000, seed=1)
    files = write_finra_files(tmp_path / "b", 8, 3000, seed=2, revise=0.05)
    assert cli("ingest", "short-interest", str(tmp_path / "a"), store=template).code == 0
    before = content(template)
    cmd = [sys.executable, "-m", "positioning_cli", "--store"]
    reference = tmp_path / "reference"
    shutil.copytree(template, reference)
    t0 = time.monotonic()
    ref = subprocess.run(
        [*cmd, str(reference), "ingest", "short-interest", *map(str, files)], env=ENV, capture_output=True
    )
    assert ref.returncode == 0, ref.stderr
    full = time.monotonic() - t0  # to spread the signals over a run (no assertion on it)
    after = content(reference)
    outcomes: dict[str, int] = {}
    for i in range(trials):
        root = tmp_path / f"s{i}"
        shutil.copytree(template, root)
        sig = signal.SIGINT if i % 2 else signal.SIGTERM
        p = subprocess.Popen(
            [*cmd, str(root), "ingest", "short-interest", *map(str, files)],
            env=ENV,
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(rng.uniform(0.1 * full, 1.1 * full))
        p.send_signal(sig)
        _, err = p.communicate(timeout=300)
        got = content(root)
        assert p.returncode in (0, 128 + sig), (i, p.returncode, err)
        assert "Traceback" not in err, (i, err)
        if p.returncode:  # one error line, the last (per-file summaries may precede it)
            errors = [line for line in err.strip().splitlines() if line.startswith("error: ")]
            assert len(errors) == 1 and err.strip().endswith(errors[0]), (i, err)
        assert got in (before, after), f"signal {i}: a mixed state"
        assert not (root / STAGING).exists() and not (root / JOURNAL).exists()
        key = f"exit {p.returncode}, {'after' if got == after else 'before'}"
        outcomes[key] = outcomes.get(key, 0) + 1
        shutil.rmtree(root)
    print(f"\n{trials} signals, full ingest {full:.1f}s: {outcomes}")
