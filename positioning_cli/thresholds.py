"""``--fail-on`` expressions: ``KEY OP VALUE`` tested against result rows, for cron and scripts.

``divergence_score>=80`` matches every row whose ``divergence_score`` is at least 80;
``quadrant_key==pressing_into_strength`` every row whose ``quadrant_key`` is that text. Operators:
``>=``, ``<=``, ``>``, ``<``, ``==``, ``!=`` on numbers; ``==`` and ``!=`` on text (a value that is
not a number; quotes around it are optional), and on true/false keys with ``true`` or ``false``. A
row whose value is null never matches, nor does a text value against a number. Nothing is
evaluated: the expression is split into a key, an operator and a value.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from positioning_cli.errors import UsageError

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
}
_EXPR = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s*(>=|<=|==|!=|>|<)\s*(.+?)\s*$")
_NUMBER = re.compile(r"^-?[0-9]+(?:\.[0-9]+)?$")
_TEXT_OPS = ("==", "!=")


@dataclass(frozen=True)
class Threshold:
    key: str
    op: str
    value: float | str

    def __str__(self) -> str:
        value = self.value if isinstance(self.value, str) else f"{self.value:g}"
        return f"{self.key}{self.op}{value}"

    def matches(self, row: dict[str, Any]) -> bool:
        x = row.get(self.key)
        if isinstance(self.value, str):
            if isinstance(x, bool):
                x = "true" if x else "false"
            return isinstance(x, str) and _OPS[self.op](x, self.value)
        if isinstance(x, bool) or not isinstance(x, int | float) or math.isnan(x):
            return False
        return _OPS[self.op](float(x), self.value)


def parse(expressions: Iterable[str], keys: Sequence[str]) -> list[Threshold]:
    """Parse ``--fail-on`` values; unknown keys and malformed expressions are usage errors."""
    out = []
    for text in expressions:
        m = _EXPR.match(text)
        if not m:
            raise UsageError(f"--fail-on {text!r}: expected KEY OP VALUE, e.g. divergence_score>=80")
        key, op, raw = m.groups()
        if key not in keys:
            raise UsageError(
                f"--fail-on {text!r}: unknown key {key!r}; keys are the JSON row keys, e.g. {keys[-1]}"
            )
        value: float | str
        if _NUMBER.match(raw):
            value = float(raw)
        else:
            value = _unquote(raw)
            if op not in _TEXT_OPS or not re.fullmatch(r"[^'\"]+", value):
                raise UsageError(
                    f"--fail-on {text!r}: {raw!r} is not a number; text compares with == or != only, "
                    "e.g. quadrant_key==pressing_into_strength"
                )
        out.append(Threshold(key, op, value))
    return out


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def matches(
    thresholds: Sequence[Threshold], rows: Sequence[dict[str, Any]], label: str | Sequence[str]
) -> list[str]:
    """One line per (threshold, row) that matches, naming the row by its ``label`` key(s)."""
    return [line for line, _ in matched(thresholds, rows, label)]


def matched(
    thresholds: Sequence[Threshold], rows: Sequence[dict[str, Any]], label: str | Sequence[str]
) -> list[tuple[str, str]]:
    """Per (threshold, row) that matches: its line for the user, and its identity without the value
    (``divergence_score>=80 RUT``), which ``--once`` remembers."""
    labels = [label] if isinstance(label, str) else list(label)
    out = []
    for t in thresholds:
        for row in rows:
            if t.matches(row):
                name = " ".join(str(row.get(k)) for k in labels)
                out.append((f"{t} matched {name} ({_shown(row.get(t.key))})", f"{t} {name}"))
    return out


def message(hits: Sequence[str], listed: int = 5) -> str:
    """One line for the error: how many rows matched, the first ``listed`` of them by name."""
    more = f"; and {len(hits) - listed} more" if len(hits) > listed else ""
    return f"--fail-on: {len(hits)} match(es): " + "; ".join(hits[:listed]) + more


def _shown(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)
