"""The console script: answers ``positioning --help`` and ``--version`` (``-h``, ``-V``) without importing typer.

Importing typer and building the command tree costs more than the rest of the process, so the
two commonest questions are answered here from text typer rendered earlier (``_help.py``) and
``__version__``. Everything else, including any other combination with ``--help`` or
``--version``, goes to :func:`positioning_cli.cli.main` unchanged.

The stored help is used only where it is exactly what typer would print: the same help width
(typer's formatter wraps at ``max(min(terminal columns, 80) - 2, 50)``, so every terminal of 80
columns or more and every pipe without ``COLUMNS`` gets the same text), no completion request or
completion-test switch in the environment, and ASCII text (so the stream encoding cannot matter).
When writing fails for any reason the request goes to typer too, which meets the same error and
deals with it in its own way (exit code, message).

After changing any top-level help text in cli.py, run ``python -m positioning_cli.entry
--regenerate``; tests/test_cli_entry.py fails until the stored text matches typer's again.
"""

from __future__ import annotations

import os
import sys

# Environment variables that change what typer does with `--help` / `--version`.
_COMPLETE_VAR = "_POSITIONING_COMPLETE"  # shell completion: typer answers before parsing anything
_HELP_VARS = (_COMPLETE_VAR, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION")  # the latter alters --help
_RENDER_COLUMNS = 80  # COLUMNS the stored help is rendered with (any value >= 80 gives the same text)


def main(argv: list[str] | None = None) -> None:
    from positioning_cli import signals

    signals.install()  # before the slow imports: Ctrl-C there is one line too, never a traceback
    args = sys.argv[1:] if argv is None else argv
    try:
        if len(args) == 1 and sys.stdout is not None:
            text = _fast_answer(args[0])
            if text is not None and _write(text):
                sys.exit(0)
        from positioning_cli.cli import main as cli_main
    except (signals.Interrupted, KeyboardInterrupt) as exc:
        code = exc.code if isinstance(exc, signals.Interrupted) else 130
        sys.stderr.write(f"error: {'terminated (SIGTERM)' if code == 143 else 'interrupted (SIGINT)'}\n")
        sys.exit(code)
    cli_main(argv)


def _fast_answer(arg: str) -> str | None:
    if arg in ("--version", "-V"):
        if _COMPLETE_VAR in os.environ:
            return None
        from positioning_cli import __version__

        return f"positioning {__version__}\n"
    if arg in ("--help", "-h"):
        if any(var in os.environ for var in _HELP_VARS):
            return None
        from positioning_cli import _help

        if _help.WIDTH == _help_width() and _help.TEXT.isascii():
            return _help.TEXT
    return None


def _help_width() -> int:
    """The width typer's help formatter wraps at, computed as it computes it.

    Mirrors ``max(min(shutil.get_terminal_size().columns, 80) - 2, 50)`` without importing
    shutil (a few ms): COLUMNS when it is a positive integer, else the size of the terminal on
    the original stdout, else 80.
    """
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
        columns = columns or 80
    return max(min(columns, 80) - 2, 50)


def _write(text: str) -> bool:
    """Write and flush ``text``; False (and typer takes over) if the stream refuses it."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except (OSError, ValueError):
        return False
    return True


# ---------------------------------------------------------------- keeping _help.py in sync
def render_help() -> str:
    """The top-level help exactly as typer prints it to a pipe at COLUMNS=80 (a subprocess)."""
    import subprocess

    env = {k: v for k, v in os.environ.items() if k not in _HELP_VARS}
    env["COLUMNS"] = str(_RENDER_COLUMNS)
    p = subprocess.run(
        [sys.executable, "-c", "from positioning_cli.cli import main; main()", "--help"],
        capture_output=True,
        env=env,
        timeout=120,
    )
    if p.returncode != 0 or p.stderr:
        raise RuntimeError(f"positioning --help failed ({p.returncode}): {p.stderr.decode(errors='replace')}")
    return p.stdout.decode("utf-8")


def _literal(line: str) -> str:
    """``line`` as a Python string literal, quoted the way ruff format would leave it."""
    r = repr(line)
    if r.startswith("'") and "'" not in line:  # repr chose single quotes only to avoid escaping '"'
        return r if '"' in line else '"' + r[1:-1] + '"'
    return r


def help_module_source(text: str) -> str:
    width = max(min(_RENDER_COLUMNS, 80) - 2, 50)
    body = "\n".join(f"    {_literal(line)}" for line in text.splitlines(keepends=True))
    return (
        '"""Generated by `python -m positioning_cli.entry --regenerate`: do not edit by hand.\n\n'
        "The top-level `positioning --help` exactly as typer prints it when its help formatter wraps at\n"
        "WIDTH columns (terminals of 80 columns or more, and pipes without COLUMNS). positioning_cli.entry\n"
        "prints it without importing typer; tests/test_cli_entry.py fails when it is out of date.\n"
        '"""\n\n'
        f"WIDTH = {width}\n"
        f"TEXT = (\n{body}\n)\n"
    )


def regenerate() -> None:
    from pathlib import Path

    path = Path(__file__).with_name("_help.py")
    path.write_text(help_module_source(render_help()), encoding="utf-8")
    sys.stdout.write(f"wrote {path}\n")


if __name__ == "__main__":
    if sys.argv[1:] == ["--regenerate"]:
        regenerate()
    else:
        main()
