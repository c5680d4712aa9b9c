"""The pre-split: a regex cuts text into pieces, and BPE never merges across pieces.

The patterns are the ones tiktoken ships. They use Unicode properties such as
``\\p{L}`` (any letter), so which piece a character lands in depends on the
Unicode version of the regex engine's tables. The ``regex`` package is pinned
(2025.9.18, Unicode 16.0) to the tables tiktoken 0.14 uses; Python's built-in
``re`` has older tables and no ``\\p{...}`` at all.

Speed: most text is pure ASCII, and on ASCII every property is a short, exact
class (``\\p{L}`` is ``[A-Za-z]``). :func:`ascii_pattern` rewrites a pattern
that way, asking ``regex`` itself which ASCII characters each class matches,
and Python's ``re`` runs the result about twice as fast.
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
_ASCII = "".join(map(chr, range(128)))


def _ascii_members(escape: str) -> str:
    """The ASCII characters that ``regex`` matches with ``escape``, as class body text."""
    return "".join(f"\\x{ord(c):02x}" for c in _ASCII if regex.fullmatch(escape, c))


def ascii_pattern(pattern: str) -> str:
    """Rewrite ``pattern`` for Python's ``re``: exact on text where ``str.isascii()`` holds.

    Each ``\\p{..}``, ``\\P{..}``, ``\\s``, ``\\S``, ``\\d``, ``\\D``, ``\\w``, ``\\W`` becomes the
    explicit ASCII characters it matches in ``regex``; inside ``[...]`` it is inlined.
    """
    out: list[str] = []
    in_class = False
    for match in _CLASS_TOKEN.finditer(pattern):
        token = match.group()
        if token[:2] in {r"\p", r"\P"} or token in {r"\s", r"\S", r"\d", r"\D", r"\w", r"\W"}:
            members = _ascii_members(token)
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


class Splitter:
    """Cuts text into pieces with ``pattern``: ``re`` on ASCII text, ``regex`` otherwise."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.unicode = regex.compile(pattern)
        self.ascii = re.compile(ascii_pattern(pattern))

    def split(self, text: str) -> list[str]:
        """The pieces of ``text`` in order (for the built-in patterns they join back to ``text``)."""
        engine = self.ascii if text.isascii() else self.unicode
        return engine.findall(text)


@functools.cache
def splitter(pattern: str) -> Splitter:
    """A shared :class:`Splitter` for ``pattern`` (compiling one takes a few milliseconds)."""
    return Splitter(pattern)
