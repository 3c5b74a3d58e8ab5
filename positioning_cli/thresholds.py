"""``--fail-on`` expressions: ``KEY OP NUMBER`` tested against result rows, for cron and scripts.

``divergence_score>=80`` matches every row whose ``divergence_score`` is at least 80. Operators:
``>=``, ``<=``, ``>``, ``<``, ``==``, ``!=``. A row whose value is null never matches. Nothing is
evaluated: the expression is split into a key, an operator and a number.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from positioning_cli.errors import UsageError

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
}
_EXPR = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s*(>=|<=|==|!=|>|<)\s*(-?[0-9]+(?:\.[0-9]+)?)\s*$")


@dataclass(frozen=True)
class Threshold:
    key: str
    op: str
    value: float

    def __str__(self) -> str:
        return f"{self.key}{self.op}{self.value:g}"

    def matches(self, row: dict[str, Any]) -> bool:
        x = row.get(self.key)
        if isinstance(x, bool) or not isinstance(x, int | float) or math.isnan(x):
            return False
        return _OPS[self.op](float(x), self.value)


def parse(expressions: Iterable[str], keys: Sequence[str]) -> list[Threshold]:
    """Parse ``--fail-on`` values; unknown keys and malformed expressions are usage errors."""
    out = []
    for text in expressions:
        m = _EXPR.match(text)
        if not m:
            raise UsageError(f"--fail-on {text!r}: expected KEY OP NUMBER, e.g. divergence_score>=80")
        key, op, num = m.groups()
        if key not in keys:
            raise UsageError(
                f"--fail-on {text!r}: unknown key {key!r}; keys are the JSON row keys, e.g. {keys[-1]}"
            )
        out.append(Threshold(key, op, float(num)))
    return out


def matches(thresholds: Sequence[Threshold], rows: Sequence[dict[str, Any]], label: str) -> list[str]:
    """One line per (threshold, row) that matches, naming the row by its ``label`` key."""
    return [
        f"{t} matched {row.get(label)} ({row.get(t.key)})"
        for t in thresholds
        for row in rows
        if t.matches(row)
    ]
