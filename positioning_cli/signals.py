"""SIGINT and SIGTERM as an exception, so every cleanup runs (staging removed, locks released).

``install`` (called first thing by the console script) makes both signals raise ``Interrupted``
in the main thread. It derives from ``BaseException``: no ``except Exception`` swallows it, and
click does not turn it into "Aborted!" as it does a ``KeyboardInterrupt``. ``cli.main`` prints one
line and exits 130 (SIGINT) or 143 (SIGTERM). The first signal stops the command; repeats are
ignored while it cleans up (SIGKILL still works).

``deferred`` holds both signals off while a block runs: a commit's renames, after its commit
point, so the commit lands whole before the process stops.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_NAMES = {signal.SIGINT: "interrupted (SIGINT)", signal.SIGTERM: "terminated (SIGTERM)"}
_fired: list[int] = []


class Interrupted(BaseException):
    """The process got SIGINT or SIGTERM; ``code`` is its exit code (130 or 143)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.code = 128 + signum  # the shell's convention: 130 for SIGINT, 143 for SIGTERM
        self.message = _NAMES.get(signal.Signals(signum), f"stopped by signal {signum}")
        super().__init__(self.message)


def _raise(signum: int, frame: FrameType | None) -> None:
    if _fired:  # already stopping: let the cleanup finish
        return
    _fired.append(signum)
    raise Interrupted(signum)


def install() -> None:
    """Make SIGINT and SIGTERM raise ``Interrupted`` (main thread only; a no-op elsewhere)."""
    with contextlib.suppress(ValueError):  # not the main thread
        for sig in SIGNALS:
            if signal.getsignal(sig) is not signal.SIG_IGN:  # `nohup`, `&` in scripts: keep ignoring
                signal.signal(sig, _raise)


def ignore() -> None:
    """Ignore SIGINT and SIGTERM from now on: the command's outcome is decided, and an ignored
    signal stays ignored while the interpreter shuts down (a caught one would kill it)."""
    with contextlib.suppress(ValueError):  # not the main thread
        for sig in SIGNALS:
            signal.signal(sig, signal.SIG_IGN)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM off during the block; act on the first one that came, after it."""
    pending: list[int] = []

    def record(signum: int, frame: FrameType | None) -> None:
        pending.append(signum)

    try:
        old: dict[int, Any] = {sig: signal.signal(sig, record) for sig in SIGNALS}
    except ValueError:  # not the main thread: signals are not delivered here anyway
        yield
        return
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        if pending:
            handler = old[pending[0]]
            if callable(handler):
                handler(pending[0], None)  # raises (Interrupted, KeyboardInterrupt) as it would have
            elif handler == signal.SIG_DFL:
                signal.raise_signal(pending[0])
