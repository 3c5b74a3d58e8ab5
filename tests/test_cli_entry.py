"""The fast entry point: `positioning --help` and `--version` without typer, byte for byte typer's.

Every comparison runs real processes: typer's own path (``positioning_cli.cli.main``) against the
entry point (``python -m positioning_cli`` and, when installed, the ``positioning`` script), with
the same arguments, environment and kind of stdout, and compares stdout bytes, stderr bytes and
exit code.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from positioning_cli import _help, entry
from tests.conftest import ROOT

TYPER = [sys.executable, "-c", "from positioning_cli.cli import main; main()"]
MODULE = [sys.executable, "-m", "positioning_cli"]
SCRIPT = Path(sys.executable).with_name("positioning")
ENTRIES = [MODULE] + ([[str(SCRIPT)]] if SCRIPT.exists() else [])
# modules the fast path must not import
HEAVY = ("typer", "click", "rich", "pandas", "pyarrow", "numpy", "positioning_cli.cli")
# the variables positioning_cli.entry treats specially
SPECIAL = ("_POSITIONING_COMPLETE", "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION")


def _env(**extra: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", *SPECIAL)}
    for k, v in extra.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def _run(cmd: list[str], args: list[str], env: dict[str, str], **kw: object) -> tuple[int, bytes, bytes]:
    p = subprocess.run([*cmd, *args], capture_output=True, env=env, cwd=ROOT, timeout=120, **kw)  # type: ignore[call-overload]
    return p.returncode, p.stdout, p.stderr


def _imports(args: list[str], env: dict[str, str], via: list[str] = MODULE) -> set[str]:
    """Every module the process imports (names from python -X importtime)."""
    run = [sys.executable, "-X", "importtime", *(["-m", "positioning_cli"] if via is MODULE else via)]
    p = subprocess.run([*run, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    names = {ln.rsplit("|", 1)[1].strip() for ln in p.stderr.splitlines() if ln.startswith("import time:")}
    assert "positioning_cli" in names, p.stderr  # the output really is importtime's
    return names


def _heavy(names: set[str]) -> list[str]:
    return sorted(n for n in names if any(n == h or n.startswith(h + ".") for h in HEAVY))


# ---------------------------------------------------------------- the stored text
def test_stored_help_is_what_typer_renders_now() -> None:
    rendered = entry.render_help()
    assert rendered == _help.TEXT, (
        "positioning_cli/_help.py is out of date with the help typer renders from cli.py. "
        "Regenerate it with:  python -m positioning_cli.entry --regenerate"
    )
    assert entry.help_module_source(rendered) == (ROOT / "positioning_cli" / "_help.py").read_text(), (
        "positioning_cli/_help.py was edited by hand. Regenerate it with:  "
        "python -m positioning_cli.entry --regenerate"
    )
    assert _help.TEXT.isascii()  # else the fast path always falls back to typer


# ---------------------------------------------------------------- same bytes as typer
@pytest.mark.parametrize("args", [["--help"], ["--version"], ["-h"], ["-V"]])
@pytest.mark.parametrize("columns", [None, "80", "100", "300", "79", "60", "40", "0", "-5", "wide"])
def test_fast_answers_are_typers_byte_for_byte(args: list[str], columns: str | None) -> None:
    env = _env(COLUMNS=columns)
    want = _run(TYPER, args, env)
    assert want[0] == 0 and want[1] and not want[2], want
    for cmd in ENTRIES:
        assert _run(cmd, args, env) == want, (cmd, columns)


@pytest.mark.parametrize(
    "extra",
    [
        {"POSITIONING_STORE": "/nonexistent/store"},
        {"TYPER_USE_RICH": "0"},
        {"TYPER_USE_RICH": "1", "FORCE_COLOR": "1", "TERM": "xterm-256color"},
        {"NO_COLOR": "1", "TERM": "dumb"},
        {"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"},  # changes typer's help: entry defers
        {"PYTHONUNBUFFERED": "1"},
        {"PYTHONIOENCODING": "utf-16"},
        {"LINES": "5", "COLUMNS": "120"},
    ],
)
@pytest.mark.parametrize("args", [["--help"], ["--version"], ["-h"], ["-V"]])
def test_fast_answers_are_typers_in_other_environments(args: list[str], extra: dict[str, str]) -> None:
    env = _env(**extra)
    want = _run(TYPER, args, env)
    assert want[0] == 0, want
    assert _run(MODULE, args, env) == want, extra


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
@pytest.mark.parametrize("args", [["--help"], ["--version"], ["-h"], ["-V"]])
@pytest.mark.parametrize("cols", [120, 80, 72, 30])
def test_fast_answers_on_a_terminal_follow_its_width(args: list[str], cols: int) -> None:
    """No COLUMNS: the width comes from the terminal on stdout, for typer and the entry alike."""
    import fcntl
    import struct
    import termios

    def on_tty(cmd: list[str]) -> tuple[int, bytes, bytes]:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
        try:
            p = subprocess.Popen(
                [*cmd, *args], stdout=slave, stderr=subprocess.PIPE, env=_env(), cwd=ROOT, close_fds=True
            )
            os.close(slave)
            chunks = []
            while True:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            assert p.stderr is not None
            err = p.stderr.read()
            p.wait(timeout=120)
            return p.returncode, b"".join(chunks), err
        finally:
            os.close(master)

    want = on_tty(TYPER)
    assert want[0] == 0 and want[1], want
    assert on_tty(MODULE) == want


# ---------------------------------------------------------------- when writing fails
def _closed_pipe_run(cmd: list[str], args: list[str], env: dict[str, str]) -> tuple[int, bytes]:
    r, w = os.pipe()
    os.close(r)
    try:
        p = subprocess.run([*cmd, *args], stdout=w, stderr=subprocess.PIPE, env=env, cwd=ROOT, timeout=120)
    finally:
        os.close(w)
    return p.returncode, p.stderr


@pytest.mark.parametrize("unbuffered", [None, "1"])
@pytest.mark.parametrize("args", [["--help"], ["--version"], ["-h"], ["-V"]])
def test_a_reader_that_went_away_is_handled_as_typer_does(args: list[str], unbuffered: str | None) -> None:
    env = _env(PYTHONUNBUFFERED=unbuffered)
    assert _closed_pipe_run(MODULE, args, env) == _closed_pipe_run(TYPER, args, env)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("args", [["--help"], ["--version"], ["-h"], ["-V"]])
def test_a_full_disk_is_handled_as_typer_does(args: list[str]) -> None:
    def run(cmd: list[str]) -> tuple[int, bytes]:
        with open("/dev/full", "wb") as full:
            p = subprocess.run(
                [*cmd, *args], stdout=full, stderr=subprocess.PIPE, env=_env(), cwd=ROOT, timeout=120
            )
        return p.returncode, p.stderr

    assert run(MODULE) == run(TYPER)


@pytest.mark.skipif(os.name != "posix", reason="needs sh")
@pytest.mark.parametrize("args", [["--help"], ["--version"], ["-h"], ["-V"]])
def test_a_closed_stdout_is_handled_as_typer_does(args: list[str]) -> None:
    """No stdout at all (sys.stdout is None): typer's path, whatever it does (frames aside)."""

    def run(cmd: list[str]) -> tuple[int, bytes]:
        p = subprocess.run(
            ["sh", "-c", 'exec "$@" >&-', "sh", *cmd, *args],
            capture_output=False,
            stderr=subprocess.PIPE,
            env=_env(),
            cwd=ROOT,
            timeout=120,
        )
        return p.returncode, (p.stderr.splitlines() or [b""])[-1]  # the error, not the traceback's frames

    assert run(MODULE) == run(TYPER)


# ---------------------------------------------------------------- what gets imported
@pytest.mark.parametrize("args", [["--help"], ["--version"], ["-h"], ["-V"]])
@pytest.mark.parametrize("cmd", ENTRIES, ids=lambda c: "module" if c is MODULE else "script")
def test_fast_answers_import_no_typer(args: list[str], cmd: list[str]) -> None:
    names = _imports(args, _env(), cmd)
    assert not _heavy(names), _heavy(names)


@pytest.mark.parametrize(
    ("args", "extra"),
    [
        (["--help"], {"COLUMNS": "60"}),  # another width: typer renders it
        (["--help"], {"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}),
        (["--store", "X", "--help"], {}),
        (["scan", "--help"], {}),
        (["--help", "--help"], {}),
        (["--debug", "--version"], {}),
        (["--version", "--help"], {}),
        (["--version", "--version"], {}),
        (["-h", "-V"], {}),
        (["scan", "-h"], {}),
        (["scan", "-V"], {}),
        (["--hel"], {}),  # no abbreviations on the fast path
    ],
)
def test_everything_else_goes_to_typer(args: list[str], extra: dict[str, str]) -> None:
    env = _env(**extra)
    p_want = _run(TYPER, args, env)
    assert _run(MODULE, args, env) == p_want
    names = _imports(args, env)
    assert "typer" in names and "positioning_cli.cli" in names


def test_shell_completion_through_the_entry_is_typers_and_imports_neither_pandas_nor_pyarrow() -> None:
    env = _env(_POSITIONING_COMPLETE="complete_bash", COMP_WORDS="positioning --", COMP_CWORD="1")
    want = _run(TYPER, [], env)
    assert want[0] == 0 and b"--help" in want[1], want
    assert _run(MODULE, [], env) == want
    # a completion request that happens to carry --help / --version still goes to typer
    for args in (["--help"], ["--version"]):
        assert _run(MODULE, args, env) == _run(TYPER, args, env), args
    names = _imports([], env)
    assert "typer" in names
    assert not [n for n in names if n.split(".")[0] in ("pandas", "pyarrow", "numpy")]


@pytest.mark.parametrize(
    ("args", "extra"),
    [
        (["chart", "--help"], {}),
        (["report", "--help"], {}),
        (["scan", "--help"], {}),
        (["doctor", "--help"], {}),
        (
            [],
            {"_POSITIONING_COMPLETE": "complete_bash", "COMP_WORDS": "positioning chart ", "COMP_CWORD": "2"},
        ),
    ],
    ids=["chart-help", "report-help", "scan-help", "doctor-help", "completion"],
)
def test_help_and_completion_import_neither_matplotlib_nor_pandas(
    args: list[str], extra: dict[str, str]
) -> None:
    names = _imports(args, _env(**extra))
    assert "positioning_cli" in names
    assert not [n for n in names if n.split(".")[0] in ("matplotlib", "pandas", "duckdb", "PIL")]


def test_the_installed_script_uses_the_entry() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    assert 'positioning = "positioning_cli.entry:main"' in text
    assert "from positioning_cli.entry import main" in (ROOT / "positioning_cli" / "__main__.py").read_text()
    if SCRIPT.exists():
        assert "positioning_cli.entry" in SCRIPT.read_text(), (
            f"{SCRIPT} is stale: run  pip install -e '.[dev]'"
        )
