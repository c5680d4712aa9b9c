"""The byte-level BPE tokenizer stored inside a GGUF file (GPT-2 style, as SmolLM2 uses).

A GGUF file carries its tokenizer as metadata: ``tokenizer.ggml.tokens`` (the
vocabulary, id = position), ``tokenizer.ggml.merges`` (the merge rules, best
first) and ``tokenizer.ggml.token_type`` (3 marks control tokens such as
``<|im_start|>``). Encoding a text:

1. split out control tokens, which are matched literally;
2. pre-tokenize: split the text into words with regular expressions (for SmolLM2,
   every digit alone, then GPT-2's pattern);
3. write each word's UTF-8 bytes as printable characters (GPT-2's byte alphabet,
   where a space is ``Ġ``) and apply merges, lowest rank first, until none applies;
4. look each resulting piece up in the vocabulary.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

import regex

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
# llama.cpp's pre-tokenizer names -> the regexes applied one after the other
PRE_TOKENIZERS: dict[str, list[str]] = {
    "gpt2": [GPT2_PATTERN],
    "smollm": [r"\p{N}", GPT2_PATTERN],  # digits one by one, then GPT-2's split
}
CONTROL = 3  # tokenizer.ggml.token_type of special tokens


@lru_cache(maxsize=1)
def byte_alphabet() -> dict[int, str]:
    """GPT-2's map from the 256 byte values to printable characters (printable bytes map to themselves)."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    mapping, extra = {}, 0
    for b in range(256):
        if b in keep:
            mapping[b] = chr(b)
        else:
            mapping[b] = chr(256 + extra)
            extra += 1
    return mapping


class GGUFTokenizer:
    """Encode text to token ids and back with a GGUF file's byte-level BPE vocabulary."""

    def __init__(self, tokens: Sequence[str], merges: Sequence[str], token_types: Sequence[int], pre: str) -> None:
        if pre not in PRE_TOKENIZERS:
            raise ValueError(f"unknown pre-tokenizer {pre!r}; known: {sorted(PRE_TOKENIZERS)}")
        self.tokens = list(tokens)
        self.ids = {t: i for i, t in enumerate(self.tokens)}
        self.ranks = {tuple(m.split(" ", 1)): r for r, m in enumerate(merges)}
        self.special = {t: i for i, (t, k) in enumerate(zip(self.tokens, token_types, strict=True)) if k == CONTROL}
        self.patterns = [regex.compile(p) for p in PRE_TOKENIZERS[pre]]
        names = sorted(self.special, key=len, reverse=True)
        self.special_split = regex.compile("(" + "|".join(regex.escape(s) for s in names) + ")") if names else None
        self.to_char = byte_alphabet()
        self.to_byte = {c: b for b, c in self.to_char.items()}
        self._cache: dict[str, list[int]] = {}

    @classmethod
    def from_gguf(cls, metadata: dict[str, Any], pre: str | None = None) -> GGUFTokenizer:
        """The tokenizer in a GGUF file's metadata; ``pre`` overrides its pre-tokenizer name."""
        model = metadata.get("tokenizer.ggml.model")
        if model != "gpt2":
            raise ValueError(f"only GPT-2-style byte-level BPE tokenizers are supported, this file has {model!r}")
        return cls(
            metadata["tokenizer.ggml.tokens"],
            metadata["tokenizer.ggml.merges"],
            metadata["tokenizer.ggml.token_type"],
            pre or metadata.get("tokenizer.ggml.pre", "gpt2"),
        )

    def __len__(self) -> int:
        return len(self.tokens)

    def pre_tokenize(self, text: str) -> list[str]:
        """Split ``text`` into words: each pattern splits the pieces left by the one before."""
        pieces = [text]
        for pattern in self.patterns:
            out = []
            for piece in pieces:
                pos = 0
                for m in pattern.finditer(piece):  # keep what matched and what lies between
                    if m.start() > pos:
                        out.append(piece[pos : m.start()])
                    out.append(m.group())
                    pos = m.end()
                if pos < len(piece):
                    out.append(piece[pos:])
            pieces = out
        return pieces

    def bpe(self, word: str) -> list[int]:
        """Token ids of one pre-tokenized word: apply merges by rank until none applies."""
        if word in self._cache:
            return self._cache[word]
        parts = [self.to_char[b] for b in word.encode("utf-8")]
        while len(parts) > 1:
            ranked = [(self.ranks.get(pair, len(self.ranks)), i) for i, pair in enumerate(zip(parts, parts[1:]))]
            rank, i = min(ranked)
            if rank == len(self.ranks):
                break
            a, b = parts[i], parts[i + 1]
            merged, j = [], 0
            while j < len(parts):  # merge every occurrence of the pair (a, b)
                if j + 1 < len(parts) and parts[j] == a and parts[j + 1] == b:
                    merged.append(a + b)
                    j += 2
                else:
                    merged.append(parts[j])
                    j += 1
            parts = merged
        ids = [self.ids[p] for p in parts]
        self._cache[word] = ids
        return ids

    def encode(self, text: str, allow_special: bool = True) -> list[int]:
        """Token ids of ``text``; control tokens written in the text are matched when ``allow_special``."""
        chunks = self.special_split.split(text) if (allow_special and self.special_split) else [text]
        ids: list[int] = []
        for chunk in chunks:
            if not chunk:
                continue
            if allow_special and chunk in self.special:
                ids.append(self.special[chunk])
                continue
            for word in self.pre_tokenize(chunk):
                ids.extend(self.bpe(word))
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        """Text of token ids (invalid UTF-8 from a partial character becomes U+FFFD)."""
        out = bytearray()
        for i in ids:
            if not 0 <= i < len(self.tokens):
                raise IndexError(f"unknown token id {i}: the vocabulary has ids 0..{len(self.tokens) - 1}")
            token = self.tokens[i]
            if token in self.special:
                out += token.encode("utf-8")
            else:
                out += bytes(self.to_byte[c] for c in token)
        return out.decode("utf-8", errors="replace")

    def token_text(self, i: int) -> str:
        """How token ``i`` reads on its own, e.g. `` Paris`` (bytes of a partial character as U+FFFD)."""
        return self.decode([i])
