"""The byte-level BPE tokenizer stored inside a GGUF file (GPT-2 style, as SmolLM2 uses).

A GGUF file carries its tokenizer as metadata: ``tokenizer.ggml.tokens`` (the
vocabulary, id = position, written in GPT-2's byte stand-ins, so a space is ``Ġ``),
``tokenizer.ggml.merges`` (the merge rules, in the order they were learned) and
``tokenizer.ggml.token_type`` (3 marks control tokens such as ``<|im_start|>``).

This is the tokenizer of :mod:`llmbook.tokenizer`, with GPT-2's kind of files:
the merged tokens' ids follow the merge order (checked at load by
:func:`~llmbook.tokenizer.loaders.ranks_from_merges`), so the ids are the ranks
and :class:`~llmbook.tokenizer.Tokenizer` runs it unchanged. What belongs to the
file is here: the pre-tokenizer it names (``tokenizer.ggml.pre``), its control
tokens, and the few byte values its vocabulary has no token for.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from llmbook.tokenizer.core import Tokenizer, token_ids, valid_unicode
from llmbook.tokenizer.loaders import ranks_from_merges
from llmbook.tokenizer.pretokenize import GPT2_PATTERN, splitter

# SmolLM2 ("smollm") splits off every digit on its own, then applies GPT-2's pattern
# to the text between digits. One regex does both: GPT-2's pattern with a digit
# matched alone (instead of " ?\p{N}++") and a whitespace run that reaches a digit
# kept whole, as at the end of a piece ("(?![^\s\p{N}])" instead of "(?!\S)").
SMOLLM_PATTERN = r"""\p{N}|'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?![^\s\p{N}])|\s"""
PRE_TOKENIZERS = {"gpt2": GPT2_PATTERN, "smollm": SMOLLM_PATTERN}  # llama.cpp's names -> pattern
CONTROL = 3  # tokenizer.ggml.token_type of special tokens


class GGUFTokenizer:
    """Encode text to token ids and back with a GGUF file's byte-level BPE vocabulary."""

    def __init__(self, tokens: Sequence[str], merges: Sequence[str], token_types: Sequence[int], pre: str) -> None:
        if pre not in PRE_TOKENIZERS:
            raise ValueError(f"unknown pre-tokenizer {pre!r}; known: {sorted(PRE_TOKENIZERS)}")
        self.tokens = list(tokens)
        self.merges = list(merges)
        self.special = {t: i for i, (t, k) in enumerate(zip(self.tokens, token_types, strict=True)) if k == CONTROL}
        control = set(self.special.values())
        ids = {t: i for i, t in enumerate(self.tokens) if i not in control}
        ranks = ranks_from_merges(ids, self.merges, "GGUF tokenizer")
        # Bytes that never occurred in training (SmolLM2 lacks 21, such as 0x04 and 0xF5-0xFF) have
        # no token. Tokenizer needs all 256, so they get ids past the vocabulary; encode rejects them.
        absent = [bytes([b]) for b in range(256) if bytes([b]) not in ranks]
        ranks |= {b: len(self.tokens) + n for n, b in enumerate(absent)}
        self.bpe = Tokenizer(ranks, PRE_TOKENIZERS[pre], self.special, name=f"GGUF tokenizer ({pre})")

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

    @property
    def ranks(self) -> dict[tuple[str, str], int]:
        """The merge rules as the file writes them: ``(left, right)`` -> position, best first."""
        return {tuple(m.split(" ", 1)): r for r, m in enumerate(self.merges)}  # type: ignore[misc]

    def pre_tokenize(self, text: str) -> list[str]:
        """Split ``text`` into the pieces BPE works on (it never merges across two pieces)."""
        return splitter(self.bpe.pattern).split(text)

    def encode(self, text: str, allow_special: bool = False) -> list[int]:
        """Token ids of ``text``. Text is text: ``"<|im_end|>"`` in it is ten ordinary tokens.

        Only with ``allow_special=True`` do control-token spellings become their ids; never
        pass text from a user that way (it could end a turn or forge one). Chat prompts
        get their control tokens from the template: :func:`~llmbook.tokenizer.chat.chatml_ids`.
        """
        ids = self.bpe.encode(text, allowed_special="all" if allow_special else (), disallowed_special=())
        if ids and max(ids) >= len(self.tokens):
            byte = self.bpe.token_bytes(max(ids))
            clean = valid_unicode(text)
            where = next((f", in the character {c!r} at position {n}" for n, c in enumerate(clean)
                          if byte in c.encode("utf-8")), "")
            raise ValueError(f"the vocabulary has no token for the byte {byte!r}{where} of the text")
        return ids

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """The bytes of token ids, for decoders that build text a piece at a time (streaming)."""
        return self.bpe.decode_bytes(self._known(ids))

    def decode(self, ids: Iterable[int]) -> str:
        """Text of token ids (invalid UTF-8 from a partial character becomes U+FFFD)."""
        return self.bpe.decode(self._known(ids))

    def _known(self, ids: Iterable[int]) -> list[int]:
        ids = token_ids(ids)
        if ids and not 0 <= min(ids) <= max(ids) < len(self.tokens):
            pos, bad = next((pos, i) for pos, i in enumerate(ids) if not 0 <= i < len(self.tokens))
            last = len(self.tokens) - 1
            raise IndexError(f"unknown token id {bad} at position {pos}: the vocabulary has ids 0..{last}")
        return ids

    def token_text(self, i: int) -> str:
        """How token ``i`` reads on its own, e.g. `` Paris`` (bytes of a partial character as U+FFFD)."""
        return self.decode([i])
