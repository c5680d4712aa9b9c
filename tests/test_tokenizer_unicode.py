"""The pre-split agrees with tiktoken's on every code point, not just on real text.

A real vocabulary hides most split differences: a wrong boundary usually gives
the same tokens. So tiktoken is given a *probe vocabulary* instead: for each
short context string around a code point (``"a" + c + "a"``, ``"1" + c + "1"``,
...), every substring of it is a token. Then every piece is a whole token (tiktoken
returns a piece found in the vocabulary as one id), and tiktoken's ids spell out
exactly its pieces, which we compare with ours.
"""

from __future__ import annotations

import re

import pytest
from helpers import budget_sample

import regex

from llmbook.tokenizer.pretokenize import (
    CL100K_PATTERN,
    GPT2_PATTERN,
    O200K_PATTERN,
    Splitter,
    beyond_bmp,
    re_pattern,
)

PATTERNS = {"gpt2": GPT2_PATTERN, "cl100k_base": CL100K_PATTERN, "o200k_base": O200K_PATTERN}
CONTEXTS = ["a{}a", "A{}A", "a{}A", "1{}1", "1{}{}", " {} ", "{}{}", "'{}", "!{}!", "\n{}\n", "{}  x", "x {}"]
CODE_POINTS = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]  # surrogates: see test_tokenizer.py
ALWAYS = [*range(0x100), 0x17F, 0x212A, 0x2028, 0x3000, 0x1F600, 0x1C89, 0x0897, 0x10D4E, 0x1E5D0]


def contexts(code_points: list[int]) -> list[str]:
    return [ctx.format(chr(c), chr(c)) for c in code_points for ctx in CONTEXTS]


def probe_vocabulary(texts: list[str]) -> dict[bytes, int]:
    """256 bytes plus every substring (at character boundaries) of every text."""
    tokens = {bytes([b]) for b in range(256)}
    for t in texts:
        tokens.update(t[i:j].encode() for i in range(len(t)) for j in range(i + 1, len(t) + 1))
    ordered = [bytes([b]) for b in range(256)] + sorted(tokens - {bytes([b]) for b in range(256)})
    return {tok: i for i, tok in enumerate(ordered)}


def tiktoken_pieces(pattern: str, texts: list[str]) -> list[list[str]]:
    import tiktoken

    ranks = probe_vocabulary(texts)
    enc = tiktoken.Encoding("probe", pat_str=pattern, mergeable_ranks=ranks, special_tokens={})
    by_id = {i: t for t, i in ranks.items()}
    return [[by_id[i].decode() for i in enc.encode_ordinary(t)] for t in texts]


def disagreements(split, pattern: str, code_points: list[int], batch: int = 4096) -> list[tuple[str, list[str], list[str]]]:
    found = []
    for start in range(0, len(code_points), batch):
        texts = contexts(code_points[start : start + batch])
        for text, theirs in zip(texts, tiktoken_pieces(pattern, texts)):
            ours = split(text)
            if ours != theirs:
                found.append((text, ours, theirs))
    return found


@pytest.mark.slow
@pytest.mark.parametrize("name", PATTERNS)
def test_every_code_point_splits_like_tiktoken(name):
    sample = sorted(set(budget_sample(CODE_POINTS, 15000, seed=7)) | set(ALWAYS))
    found = disagreements(Splitter(PATTERNS[name]).split, PATTERNS[name], sample)
    assert found == [], f"{len(found)} contexts split differently, e.g. {found[:3]}"


def test_the_probe_catches_a_wrong_unicode_table():
    # Python's built-in re has Unicode 14 tables (on 3.11) and no \p{..}: the closest
    # hand translation of GPT-2's pattern must be caught splitting differently.
    sloppy = re.compile(r"""'(?:[sdmt]|ll|ve|re)| ?[^\W\d_]++| ?\d++| ?[^\s\w]++|\s++$|\s+(?!\S)|\s""")
    sample = budget_sample(CODE_POINTS, 3000, seed=1)
    found = disagreements(sloppy.findall, GPT2_PATTERN, sample)
    assert len(found) > 100


def test_fast_engine_classes_equal_regex_on_the_bmp():
    bmp = "".join(chr(c) for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF)
    classes = [r"\p{L}", r"\p{N}", r"\s", r"\S", r"[^\r\n\p{L}\p{N}]", r"[^\s\p{L}\p{N}]",
               r"[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]", r"[\p{Ll}\p{Lm}\p{Lo}\p{M}]"]
    for cls in classes:
        assert re.findall(re_pattern(cls), bmp) == regex.findall(cls, bmp), cls
    assert re_pattern(r"a\p{Nd}b") == "a[" + re_pattern(r"[\p{Nd}]")[1:-1] + "]b"


def test_engine_choice():
    assert not beyond_bmp("plain") and not beyond_bmp("漢字 é") and beyond_bmp("emoji 😀")
    assert not beyond_bmp("\ud83d")  # a lone surrogate is not beyond U+FFFF
    split = Splitter(CL100K_PATTERN)
    for text in ["tab\t1234 it's", "Grüße, 漢字!"]:
        assert split.split(text) == split.fast.findall(text) == split.unicode.findall(text)
    assert split.split("rocket 🚀 launch") == ["rocket", " 🚀", " launch"]
