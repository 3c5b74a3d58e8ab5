"""What the terminal allows: colour (NO_COLOR, no-color.org) and characters (its encoding).

Standard library only: the CLI installs the ASCII fallback before any command runs, and the
ingest progress bar asks about colour, without importing rich or pandas here.
"""

from __future__ import annotations

import codecs
import os
from typing import TextIO

# The non-ASCII characters the tables, sentences and charts use, each with an ASCII stand-in. A
# stream that cannot encode them (PYTHONIOENCODING=latin-1, a C locale) gets these instead of a
# UnicodeEncodeError; anything not listed becomes "?".
ASCII_STAND_INS = {
    "—": "-",
    "–": "-",
    "−": "-",
    "…": "...",
    "Δ": "chg",
    "√": "sqrt",
    "×": "x",
    "≥": ">=",
    "≤": "<=",
    "↑": "^",
    "↓": "v",
    "·": "-",
    "─": "-",
    "━": "=",
    "│": "|",
    "░": ".",
    "▒": ":",
    "█": "#",
    **dict(zip("▁▂▃▄▅▆▇", "_.-:=+*", strict=True)),  # sparkline bars, low to high
}
_HANDLER = "positioning-ascii"
# A sample of what the output uses: a stream that cannot encode it gets the fallback.
_SAMPLE = "—Δ↑█─"


def no_color_requested() -> bool:
    """NO_COLOR set to any non-empty value: no ANSI styling at all (no-color.org)."""
    return bool(os.environ.get("NO_COLOR"))


def color_allowed(stream: TextIO) -> bool:
    """Colour and other ANSI styling only on a terminal, and only without NO_COLOR."""
    try:
        return stream.isatty() and not no_color_requested()
    except (AttributeError, ValueError, OSError):
        return False


def can_encode(stream: TextIO | None, sample: str = _SAMPLE) -> bool:
    """Whether ``stream`` can write ``sample``; a stream without an encoding (in memory) can."""
    encoding = getattr(stream, "encoding", None)
    if not encoding:
        return stream is not None
    try:
        sample.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def to_ascii(text: str) -> str:
    """``text`` with the stand-ins for its non-ASCII characters ("?" for one not listed)."""
    if text.isascii():
        return text
    return "".join(ch if ch.isascii() else ASCII_STAND_INS.get(ch, "?") for ch in text)


def _stand_in(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    return to_ascii(exc.object[exc.start : exc.end]), exc.end


codecs.register_error(_HANDLER, _stand_in)


def ascii_fallback(stream: TextIO | None) -> None:
    """Make ``stream`` write ASCII stand-ins for the characters its encoding lacks, instead of failing."""
    if stream is None or can_encode(stream):
        return
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None:
        try:
            reconfigure(errors=_HANDLER)
        except (ValueError, OSError):  # pragma: no cover - a stream that refuses: leave it as it is
            pass
