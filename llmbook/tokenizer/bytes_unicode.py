"""GPT-2's trick for storing bytes as printable text.

GPT-2's ``encoder.json`` and ``vocab.bpe`` are text files, but tokens are bytes.
So each of the 256 byte values gets a stand-in character: printable Latin-1
bytes stand for themselves, and the rest (control bytes, space, ...) are shifted
to U+0100 and up. A space therefore shows up in those files as ``Ġ``.
"""

from __future__ import annotations

import functools


@functools.cache
def byte_to_char() -> dict[int, str]:
    """The 256 byte values mapped to GPT-2's stand-in characters (in GPT-2's own order)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    mapping = {b: chr(b) for b in printable}
    shifted = (b for b in range(256) if b not in mapping)
    for n, b in enumerate(shifted):
        mapping[b] = chr(256 + n)
    return mapping


@functools.cache
def char_to_byte() -> dict[str, int]:
    """Inverse of :func:`byte_to_char`."""
    return {c: b for b, c in byte_to_char().items()}


def text_to_bytes(token: str) -> bytes:
    """Decode one token as written in GPT-2's files (``"Ġthe"``) to its bytes (``b" the"``)."""
    table = char_to_byte()
    return bytes(table[c] for c in token)
