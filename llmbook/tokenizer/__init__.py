"""Byte-level BPE tokenizers, from scratch and exact against tiktoken.

>>> from llmbook import tokenizer
>>> tok = tokenizer.load("cl100k_base")
>>> tok.encode("Hello world")
[9906, 1917]

One job per module: :mod:`~.bytes_unicode` (GPT-2's byte stand-ins),
:mod:`~.pretokenize` (the regex pre-split), :mod:`~.bpe` (merging one piece),
:mod:`~.core` (the :class:`Tokenizer`), :mod:`~.loaders` (vocabulary files),
:mod:`~.train` (learning merges), :mod:`~.gguf_tokenizer` (a model file's own vocabulary),
:mod:`~.chat` (chat templates: a conversation as the one string a chat model reads).
"""

from llmbook.tokenizer.core import DisallowedSpecialTokenError, Tokenizer
from llmbook.tokenizer.loaders import BUILTIN, TokenizerFileError, load
from llmbook.tokenizer.pretokenize import CL100K_PATTERN, GPT2_PATTERN, O200K_PATTERN
from llmbook.tokenizer.train import train

__all__ = [
    "BUILTIN",
    "CL100K_PATTERN",
    "GPT2_PATTERN",
    "O200K_PATTERN",
    "DisallowedSpecialTokenError",
    "Tokenizer",
    "TokenizerFileError",
    "load",
    "train",
]
