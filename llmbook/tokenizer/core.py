"""The tokenizer object: a rank table, a pre-split pattern and special tokens."""

from __future__ import annotations

import functools
import operator
from collections.abc import Collection, Iterable, Mapping
from itertools import chain
from os import PathLike
from types import MappingProxyType
from typing import Literal

import regex

from llmbook.tokenizer.bpe import bpe
from llmbook.tokenizer.pretokenize import splitter

CACHE_LIMIT = 500_000  # pieces remembered per tokenizer before the cache starts over
CACHE_CHARS = 50_000_000  # ... or characters in them (long pieces: hostile input must not pile up)
PROBE = "It's 2024!\n\t  x_1 = ['é', 漢字, 😀]  \r\n"  # a pattern's pieces must join back to the text


class DisallowedSpecialTokenError(ValueError):
    """Text contains a special token's spelling, and the caller did not allow special tokens."""


def token_ids(ids: Iterable[int]) -> list[int]:
    """``ids`` as a list of Python ints; anything else (a float, a bool, a string) is a ``TypeError``.

    NumPy and torch integer scalars are fine (they have ``__index__``); ``1.0`` and
    ``True`` are not ids, although a dict lookup would take them for ``1``.
    """
    ids = list(ids)
    if all(type(i) is int for i in ids):  # noqa: E721 (the common case, checked fast)
        return ids
    out = []
    for pos, i in enumerate(ids):
        try:
            if isinstance(i, bool):  # an int subclass, but never meant as an id
                raise TypeError
            out.append(operator.index(i))
        except TypeError:
            raise TypeError(f"token ids must be integers; position {pos} holds {i!r} ({type(i).__name__})") from None
    return out


def valid_unicode(text: str) -> str:
    """``text`` with lone surrogates replaced by U+FFFD, as tiktoken does.

    Python strings may hold lone surrogates (U+D800-U+DFFF), which UTF-8 cannot
    encode. tiktoken round-trips such text through UTF-16: a correctly paired
    high+low surrogate becomes the character it encodes, a lone one becomes U+FFFD.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, not {type(text).__name__}")
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


@functools.cache
def _special_regex(tokens: frozenset[str]) -> regex.Pattern[str]:
    # longest first, so a special token that is a prefix of another never wins
    return regex.compile("|".join(regex.escape(t) for t in sorted(tokens, key=lambda t: (-len(t), t))))


class Tokenizer:
    """Byte-level BPE: ``ranks`` maps token bytes to ids, ``pattern`` pre-splits text."""

    def __init__(
        self,
        ranks: Mapping[bytes, int],
        pattern: str,
        special_tokens: Mapping[str, int] | None = None,
        name: str = "tokenizer",
    ) -> None:
        self.name = name
        self.pattern = pattern
        self._ranks = dict(ranks)  # a plain dict: lookups through the read-only view are slower
        self.ranks: Mapping[bytes, int] = MappingProxyType(self._ranks)
        self.special_tokens: Mapping[str, int] = MappingProxyType(dict(special_tokens or {}))
        missing = [b for b in range(256) if bytes([b]) not in self.ranks]
        if missing:
            raise ValueError(f"{name}: byte-level BPE needs all 256 single bytes; missing {missing[:5]}...")
        self._decoder: dict[int, bytes] = {i: b for b, i in self.ranks.items()}
        if len(self._decoder) != len(self.ranks):
            raise ValueError(f"{name}: two tokens share an id")
        if not all(type(i) is int and i >= 0 for i in self._decoder):  # noqa: E721
            raise ValueError(f"{name}: token ids must be integers >= 0")
        for text, i in self.special_tokens.items():
            if not isinstance(text, str) or not text:
                raise ValueError(f"{name}: a special token must be a non-empty string, not {text!r}")
            if i in self._decoder:
                raise ValueError(f"{name}: special token {text!r} reuses id {i}")
            self._decoder[i] = text.encode("utf-8")
        self._vocab_size = max(self._decoder) + 1
        try:
            self._splitter = splitter(pattern)
        except regex.error as err:
            raise ValueError(f"{name}: the pre-split pattern does not compile ({err}): {pattern[:60]!r}") from None
        if "".join(self._splitter.split(PROBE)) != PROBE:
            raise ValueError(f"{name}: the pre-split pattern {pattern[:60]!r} drops characters of text "
                             f"(its pieces of {PROBE!r} are {self._splitter.split(PROBE)[:8]}...)")
        self._cache: dict[str, tuple[int, ...]] = {}
        self._cache_chars = 0

    def __repr__(self) -> str:
        return f"<Tokenizer {self.name!r}: {self.vocab_size} ids, {len(self.special_tokens)} special>"

    @property
    def vocab_size(self) -> int:
        """Number of ids, special tokens included (largest id + 1, like tiktoken's ``n_vocab``)."""
        return self._vocab_size

    def encode_ordinary(self, text: str) -> list[int]:
        """Token ids for ``text``, treating special-token spellings as ordinary text."""
        pieces = self._splitter.split(valid_unicode(text))
        cache = self._cache  # piece -> its ids; text repeats pieces a lot
        if len(cache) > CACHE_LIMIT or self._cache_chars > CACHE_CHARS:
            cache.clear()
            self._cache_chars = 0
        for piece in set(pieces).difference(cache):
            cache[piece] = tuple(bpe(piece.encode("utf-8"), self._ranks))
            self._cache_chars += len(piece)
        return list(chain.from_iterable(map(cache.__getitem__, pieces)))

    def encode(
        self,
        text: str,
        *,
        allowed_special: Literal["all"] | Collection[str] = frozenset(),
        disallowed_special: Literal["all"] | Collection[str] = "all",
    ) -> list[int]:
        """Token ids for ``text``; special tokens follow tiktoken's rules.

        A special token's spelling in ``text`` becomes its id only if it is in
        ``allowed_special`` (a set of spellings, or ``"all"``). Any other special
        spelling raises :class:`DisallowedSpecialTokenError`, unless it is also
        left out of ``disallowed_special`` (pass ``()`` to encode it as plain text).
        """
        text = valid_unicode(text)
        specials = frozenset(self.special_tokens)
        allowed = specials if allowed_special == "all" else frozenset(allowed_special)
        if unknown := allowed - specials:
            raise ValueError(f"{self.name} has no special tokens {sorted(unknown)}; it has {sorted(specials)}")
        disallowed = specials - allowed if disallowed_special == "all" else frozenset(disallowed_special)
        if disallowed and (found := _special_regex(disallowed).search(text)):
            raise DisallowedSpecialTokenError(
                f"text contains the special token {found.group()!r} at position {found.start()}. "
                f"Pass allowed_special={{{found.group()!r}}} (or 'all') to encode it as its special id, "
                "or disallowed_special=() to encode it as ordinary text."
            )
        if not allowed:
            return self.encode_ordinary(text)
        ids: list[int] = []
        start = 0
        for found in _special_regex(allowed).finditer(text):
            ids += self.encode_ordinary(text[start : found.start()])
            ids.append(self.special_tokens[found.group()])
            start = found.end()
        ids += self.encode_ordinary(text[start:])
        return ids

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """The bytes the tokens stand for, concatenated (special tokens as their UTF-8 spelling)."""
        ids = token_ids(ids)
        try:
            return b"".join(map(self._decoder.__getitem__, ids))
        except KeyError:
            pos, bad = next((pos, i) for pos, i in enumerate(ids) if i not in self._decoder)
            raise ValueError(f"unknown token id {bad} at position {pos} for {self.name} "
                             f"(ids run from 0 to {self.vocab_size - 1})") from None

    def decode(self, ids: Iterable[int], errors: Literal["replace", "strict"] = "replace") -> str:
        """Text for ``ids``. Ids that cut a UTF-8 character apart give U+FFFD, or raise if ``errors="strict"``."""
        return self.decode_bytes(ids).decode("utf-8", errors=errors)

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes of a single token."""
        return self.decode_bytes([token_id])

    def save(self, path: str | PathLike[str]) -> None:
        """Write this tokenizer to ``path``; ``llmbook.tokenizer.load(path)`` reads it back."""
        from llmbook.tokenizer.loaders import save

        save(self, path)
