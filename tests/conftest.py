from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import threading
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


_LOOPBACK = ("127.0.0.1", "::1", "localhost")


def _refuse_the_internet() -> None:
    """No test reaches the internet: in this process (where most CLI runs happen) a connection or
    a name lookup for anything but the loopback is an error naming it. Processes a test starts
    itself are not covered; they go through the 127.0.0.1 mirror the same way."""
    import socket

    real_connect, real_lookup = socket.socket.connect, socket.getaddrinfo

    def connect(sock: socket.socket, address: object) -> None:
        host = address[0] if isinstance(address, tuple) else None
        if sock.family in (socket.AF_INET, socket.AF_INET6) and host not in _LOOPBACK:
            raise OSError(f"a test tried to reach {address!r}: only 127.0.0.1 is allowed")
        real_connect(sock, address)  # type: ignore[arg-type]

    def lookup(host: object, *args: object, **kwargs: object) -> object:
        if host not in (*_LOOPBACK, None):
            raise OSError(f"a test tried to look up {host!r}: only 127.0.0.1 is allowed")
        return real_lookup(host, *args, **kwargs)  # type: ignore[arg-type]

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.getaddrinfo = lookup  # type: ignore[assignment]


_refuse_the_internet()


@dataclass
class Run:
    code: int
    out: str
    err: str


# Environment variables whose effect is fixed when a process starts (stream encodings, the locale,
# Python's own switches): a run that sets one needs a real process.
_PROCESS_ENV = ("PYTHONIOENCODING", "PYTHONUTF8", "LANG", "LC_ALL", "LC_CTYPE", "PYTHONWARNINGS")


def run_cli(
    *args: str,
    store: Path | None = None,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    process: bool = False,
) -> Run:
    """Run the CLI as a user would, stdout piped (not a TTY): the console script's ``main`` in this
    process, with this environment and fresh streams (a new interpreter per run cost most of the
    suite's time), or a real process when ``process`` is set, when standard input is given, when
    the environment changes what a process starts with, or off the main thread."""
    full_env = {k: v for k, v in os.environ.items() if k != "POSITIONING_STORE"}
    full_env.update({"COLUMNS": "100", "NO_COLOR": "1"})
    full_env.update(env or {})
    argv = (["--store", str(store)] if store is not None else []) + list(args)
    in_process = (
        not process
        and stdin is None
        and not any(full_env.get(k) != os.environ.get(k) for k in _PROCESS_ENV)
        and threading.current_thread() is threading.main_thread()
    )
    if in_process:
        return _run_in_process(argv, full_env)
    cmd = [sys.executable, "-m", "positioning_cli", *argv]
    p = subprocess.run(cmd, capture_output=True, text=True, env=full_env, input=stdin, timeout=300)
    return Run(p.returncode, p.stdout, p.stderr)


class _Captured(io.BytesIO):
    """A stream's bytes that outlive the stream: a text wrapper closes its buffer when it is
    replaced (the CLI re-wraps stdout for an ASCII terminal) or collected."""

    def close(self) -> None:
        pass


def _run_in_process(argv: list[str], env: dict[str, str]) -> Run:
    from positioning_cli import cli, entry, signals

    saved_env = dict(os.environ)
    saved_streams = (sys.stdin, sys.stdout, sys.stderr)
    saved_handlers = {sig: signal.getsignal(sig) for sig in signals.SIGNALS}
    out, err = _Captured(), _Captured()
    sys.stdin = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    sys.stdout = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    sys.stderr = io.TextIOWrapper(err, encoding="utf-8", errors="backslashreplace", write_through=True)
    os.environ.clear()
    os.environ.update(env)
    cli.STATE.store, cli.STATE.debug = None, False
    signals._fired.clear()
    code = 0
    try:
        entry.main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(ValueError, OSError):
                stream.flush()
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        os.environ.clear()
        os.environ.update(saved_env)
        for sig, handler in saved_handlers.items():
            signal.signal(sig, handler)
        signals._fired.clear()
    decode = lambda b: b.decode("utf-8", errors="replace").replace("\r\n", "\n")  # noqa: E731
    return Run(code, decode(out.getvalue()), decode(err.getvalue()))


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
