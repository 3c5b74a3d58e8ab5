"""One rule for ticker symbols, applied once on ingest.

Sources spell share classes differently: BRKB (FINRA), BRK/B (Reg SHO), "BRK B" (NYSE), BRK.B
(Yahoo, S&P lists), BRK-B (yfinance). The store key is the upper-cased symbol with the class
separators ``.``, ``/``, ``-`` and space removed, so all five become ``BRKB`` — the FINRA spelling.
Index and futures symbols keep their ``^`` and ``=`` (``^GSPC``, ``ES=F``). No US listing uses a
plain ticker that collides with a stripped class symbol (BRKB is not a ticker of its own).

Before that, the text is NFKC-normalised (full-width ``ＡＡＰＬ`` is ``AAPL``) and format characters
(zero-width space, RLM, RLO, BOM: Unicode category Cf) are dropped, so an invisible variant never
becomes a key of its own. What is left must look like a ticker (``plausible``): 1 to 15 of A-Z,
0-9, ``^`` and ``=``. A look-alike letter from another script (Cyrillic А) is refused, not kept.
"""

from __future__ import annotations

import re
import unicodedata

_SEPARATORS = re.compile(r"[./\- ]+")
MAX_LENGTH = 15
# A stored symbol, in full: what ``plausible`` accepts (also used as an Arrow regex).
TICKER_PATTERN = rf"^[A-Z0-9^=]{{1,{MAX_LENGTH}}}$"
_TICKER = re.compile(TICKER_PATTERN)
TICKER_RULE = f"1-{MAX_LENGTH} characters of A-Z, 0-9, ^ and ="


def normalise_symbol(raw: str) -> str:
    """``" brk.b "`` -> ``"BRKB"``. Returns ``""`` for a blank input (callers reject it)."""
    if not raw.isascii():
        raw = "".join(c for c in unicodedata.normalize("NFKC", raw) if unicodedata.category(c) != "Cf")
    return _SEPARATORS.sub("", raw.strip().upper())


# One index level, several spellings: Yahoo writes ^GSPC, Stooq's ^spx_d.csv is stored as ^SPX.
# A proxy chain that names one spelling looks for all of them (api.proxy_chain).
INDEX_LEVEL_SPELLINGS: tuple[tuple[str, ...], ...] = (
    ("^GSPC", "^SPX"),
    ("^NDX",),
    ("^RUT",),
)


def index_level_spellings(symbol: str) -> tuple[str, ...]:
    """``^SPX`` -> ``("^GSPC", "^SPX")``; a symbol that is not an index level -> ``(symbol,)``."""
    for spellings in INDEX_LEVEL_SPELLINGS:
        if symbol in spellings:
            return spellings
    return (symbol,)


def plausible(symbol: str) -> bool:
    """True when a normalised symbol looks like a ticker."""
    return _TICKER.match(symbol) is not None


def describe_implausible(symbol: str) -> str:
    """Why a normalised symbol is refused, naming the first character outside the rule."""
    shown = symbol if len(symbol) <= 40 else symbol[:39] + "…"
    problem = f"not a plausible ticker ({TICKER_RULE}): {shown!r}"
    if len(symbol) > MAX_LENGTH:
        return f"{problem} is {len(symbol):,} characters long"
    odd = next((c for c in symbol if not re.match(r"[A-Z0-9^=]", c)), None)
    if odd is not None:
        name = unicodedata.name(odd, "unnamed")
        problem += f" holds U+{ord(odd):04X} {name}"
    return problem
