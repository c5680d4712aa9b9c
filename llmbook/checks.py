"""Argument checks shared by every part: ``integer(1)("batch", batch)`` returns ``batch`` or raises.

Each factory makes a check ``check(name, x)`` that returns ``x`` when it is allowed and
otherwise raises a ``ValueError`` naming the argument, the value and what is allowed.
Booleans are not numbers here: ``True`` is an ``int`` to Python but never a size or a rate.
This module imports no part of the package, so every part may use it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

Check = Callable[[str, Any], Any]


def is_number(x: Any) -> bool:
    """An int or float that is not a bool."""
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def number(low: float = -math.inf, high: float = math.inf, low_open: bool = False, high_open: bool = False) -> Check:
    """A check for a finite real number in a range, e.g. ``number(0, 1, low_open=True)`` for (0, 1]."""
    if high == math.inf:
        allowed = "" if low == -math.inf else f" {'>' if low_open else '>='} {low:g}"
    else:
        allowed = f" in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"

    def check(name: str, x: Any) -> Any:
        if not is_number(x) or not math.isfinite(x):
            kind = "" if is_number(x) else f" ({type(x).__name__})"
            raise ValueError(f"{name} must be a finite number{allowed}, got {x!r}{kind}")
        if x < low or (low_open and x == low) or x > high or (high_open and x == high):
            raise ValueError(f"{name} must be{allowed}, got {x!r}")
        return x
    return check


def integer(low: int, high: int | None = None, why: str = "") -> Check:
    """A check for an integer (not a bool) in [low, high]; ``why`` explains the upper limit."""
    def check(name: str, x: Any) -> Any:
        if isinstance(x, bool) or not isinstance(x, int) or x < low or (high is not None and x > high):
            allowed = f">= {low}" if high is None else f"between {low} and {high}{why}"
            raise ValueError(f"{name} must be an integer {allowed}, got {x!r}")
        return x
    return check


def optional(check: Check) -> Check:
    """``check``, or None (the option is off)."""
    return lambda name, x: None if x is None else check(name, x)


def one_of(*choices: Any) -> Check:
    """A check for one of ``choices`` (compared by identity, strings by value)."""
    def check(name: str, x: Any) -> Any:
        if not any(x is c or (isinstance(c, str) and x == c) for c in choices):
            raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {x!r}")
        return x
    return check


positive = number(0, low_open=True)  # positive("peak_flops", x): a finite number > 0
count = integer(1)  # count("batch", b): an integer >= 1
