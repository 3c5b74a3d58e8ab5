"""The project's own errors and the exit codes a script can rely on.

Every failure a user can cause is a ``PositioningError`` whose message is one line, safe to print
without a traceback. ``cli.main`` is the only place that turns these into exit codes.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Documented exit codes (README "Exit codes"). Stable: scripts and cron depend on them."""

    OK = 0
    INTERNAL = 1  # a bug: unexpected exception (traceback with --debug)
    USAGE = 2  # bad command line (typer/click use 2 as well)
    BAD_INPUT = 3  # an input file could not be parsed or failed validation; store untouched
    NO_DATA = 4  # empty store, or nothing for the requested date/index
    BUSY = 5  # another writer holds the store lock longer than --wait
    STORE = 6  # the store is damaged or unreadable
    THRESHOLD = 7  # --fail-on matched at least one row
    LATE = 8  # fetch/update: a due report is late or missing upstream (what did arrive was ingested)
    FETCH = 9  # fetch/update: a download failed (network, HTTP, validation), after ingesting what arrived
    INTERRUPTED = 130  # SIGINT (Ctrl-C): staging cleaned, store unchanged
    TERMINATED = 143  # SIGTERM: staging cleaned, store unchanged


class PositioningError(Exception):
    """An error whose message is shown to the user as one line."""

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class FilesLeftOut(PositioningError):
    """``ingest --keep-going``: some files were bad (each reported), the good ones were committed."""

    exit_code = ExitCode.BAD_INPUT


class UsageError(PositioningError):
    exit_code = ExitCode.USAGE


class InputError(PositioningError):
    """A problem in an input file. Formats itself as ``FILE:LINE: field: problem``."""

    exit_code = ExitCode.BAD_INPUT

    def __init__(
        self,
        path: str,
        problem: str,
        *,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.field = field
        self.problem = problem
        where = path if line is None else f"{path}:{line}"
        what = problem if field is None else f"column {field!r}: {problem}"
        super().__init__(f"{where}: {what}")


class NoDataError(PositioningError):
    exit_code = ExitCode.NO_DATA


class BusyError(PositioningError):
    exit_code = ExitCode.BUSY


class StoreError(PositioningError):
    exit_code = ExitCode.STORE


class ThresholdCrossed(PositioningError):
    exit_code = ExitCode.THRESHOLD


class FetchError(PositioningError):
    """A download failed: network, HTTP status, or a payload that failed validation (never data)."""

    exit_code = ExitCode.FETCH


class LateError(PositioningError):
    """A report the release calendar says is out is late or missing upstream."""

    exit_code = ExitCode.LATE
