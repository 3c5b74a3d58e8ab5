"""One rule for ticker symbols, applied once on ingest.

Sources spell share classes differently: BRKB (FINRA), BRK/B (Reg SHO), "BRK B" (NYSE), BRK.B
(Yahoo, S&P lists), BRK-B (yfinance). The store key is the upper-cased symbol with the class
separators ``.``, ``/``, ``-`` and space removed, so all five become ``BRKB`` — the FINRA spelling.
Index and futures symbols keep their ``^`` and ``=`` (``^GSPC``, ``ES=F``). No US listing uses a
plain ticker that collides with a stripped class symbol (BRKB is not a ticker of its own).
"""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[./\- ]+")


def normalise_symbol(raw: str) -> str:
    """``" brk.b "`` -> ``"BRKB"``. Returns ``""`` for a blank input (callers reject it)."""
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
