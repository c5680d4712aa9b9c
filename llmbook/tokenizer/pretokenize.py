"""The pre-split: a regex cuts text into pieces, and BPE never merges across pieces.

The patterns are the ones tiktoken ships. They use Unicode properties such as
``\\p{L}`` (any letter), so which piece a character lands in depends on the
Unicode version of the regex engine's tables. The ``regex`` package is pinned
(2025.9.18, Unicode 16.0) to the tables tiktoken 0.14 uses; Python's built-in
``re`` has older tables and no ``\\p{...}`` at all.

Speed: Python's built-in ``re`` runs these patterns about twice as fast as
``regex``, but it knows no ``\\p{...}``. :func:`re_pattern` rewrites each class as
the explicit list of code points ``regex`` itself puts in it. Only code points up
to U+FFFF are listed (``re`` matches long lists of larger ones slowly), so the
rewritten pattern is used for text without characters beyond U+FFFF (emoji and
rare scripts), which is most text; other text goes to ``regex``.
"""

from __future__ import annotations

import functools
import re

import regex

# GPT-2 (and r50k/p50k): contractions, letter runs, digit runs, other runs, spaces.
GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""

# GPT-4's cl100k_base: digits in groups of at most 3, one leading non-letter glued to words.
CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)

# GPT-4o's o200k_base: words split at case changes (camelCase), contractions kept on the word.
O200K_PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)

# An escape that stands for a set of characters, or a bracket that opens/closes a class.
_CLASS_TOKEN = re.compile(r"\\[pP]\{[^}]*\}|\\[sSdDwW]|\\.|\[\^?|\]|.", re.DOTALL)
_BMP = "".join(chr(c) for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF)


@functools.cache
def _bmp_members(escape: str) -> str:
    """The code points up to U+FFFF that ``regex`` matches with ``escape``, as class ranges."""
    ranges: list[list[int]] = []
    for c in map(ord, regex.findall(escape, _BMP)):
        if ranges and c == ranges[-1][1] + 1:
            ranges[-1][1] = c
        else:
            ranges.append([c, c])
    return "".join(f"\\u{a:04x}" if a == b else f"\\u{a:04x}-\\u{b:04x}" for a, b in ranges)


def re_pattern(pattern: str) -> str:
    """Rewrite ``pattern`` for Python's ``re``: exact on text without characters beyond U+FFFF.

    Each ``\\p{..}``, ``\\P{..}``, ``\\s``, ``\\S``, ``\\d``, ``\\D``, ``\\w``, ``\\W`` becomes the
    explicit code points it matches in ``regex``; inside ``[...]`` they are inlined.
    """
    out: list[str] = []
    in_class = False
    for match in _CLASS_TOKEN.finditer(pattern):
        token = match.group()
        if token[:2] in {r"\p", r"\P"} or token in {r"\s", r"\S", r"\d", r"\D", r"\w", r"\W"}:
            members = _bmp_members(token)
            out.append(members if in_class else f"[{members}]" if members else "(?!)")
        elif token.startswith("[") and not in_class:
            in_class = True
            out.append(token)
        elif token == "]" and in_class:
            in_class = False
            out.append(token)
        else:
            out.append(token)
    return "".join(out)


def beyond_bmp(text: str) -> bool:
    """True if ``text`` has a character beyond U+FFFF (exactly those take 4 bytes in UTF-16)."""
    return not text.isascii() and len(text.encode("utf-16-le", "surrogatepass")) != 2 * len(text)


class Splitter:
    """Cuts text into pieces with ``pattern``: ``re`` where it is exact, ``regex`` otherwise."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.unicode = regex.compile(pattern)
        try:
            self.fast: re.Pattern[str] | None = re.compile(re_pattern(pattern))
        except re.error:  # syntax only ``regex`` knows: it does all the work
            self.fast = None

    def split(self, text: str) -> list[str]:
        """The pieces of ``text`` in order (for the built-in patterns they join back to ``text``)."""
        engine = self.unicode if self.fast is None or beyond_bmp(text) else self.fast
        return engine.findall(text)


@functools.cache
def splitter(pattern: str) -> Splitter:
    """A shared :class:`Splitter` for ``pattern`` (building one takes a fraction of a second)."""
    return Splitter(pattern)
