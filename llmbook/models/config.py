"""A Llama model's shape: the handful of numbers in a GGUF file's metadata that fix every tensor's size.

A model file is untrusted input, and its header can claim any number: a block count of four
billion, zero heads, a NaN RoPE base. ``LlamaConfig.from_gguf`` checks each number (type,
range), checks them against each other (heads divide the width, key/value heads divide the
heads) and against the file's tensor table (every tensor the numbers imply is there, with
the shape they imply), so that a bad file is one ``GGUFError`` naming the field and its value,
raised before a model is built. ``check_tokenizer_metadata`` does the same for the tokenizer's
arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from llmbook.models.gguf import GGUFError, GGUFFile
from llmbook.tokenizer.bytes_unicode import char_to_byte
from llmbook.tokenizer.gguf_tokenizer import CONTROL, GGUFTokenizer

MAX_UINT32 = 2**32 - 1  # llama.cpp reads the model's counts and widths as uint32
MAX_CONTEXT = 2**24  # 16.8 M tokens, past any context models are trained for; tables of this length get built

# --8<-- [start:shapes]
# GGUF tensor -> its NumPy shape, in the config's terms (per block: blk.{i}.<name>)
TENSOR_SHAPES: dict[str, tuple[str, ...]] = {
    "token_embd.weight": ("vocab_size", "dim"),
    "output_norm.weight": ("dim",),
    "output.weight": ("vocab_size", "dim"),  # absent when the output layer reuses the embedding
}
BLOCK_SHAPES: dict[str, tuple[str, ...]] = {
    "attn_norm.weight": ("dim",),
    "attn_q.weight": ("dim", "dim"),  # n_heads * head_dim rows = dim
    "attn_k.weight": ("kv_dim", "dim"),  # n_kv_heads * head_dim rows
    "attn_v.weight": ("kv_dim", "dim"),
    "attn_output.weight": ("dim", "dim"),
    "ffn_norm.weight": ("dim",),
    "ffn_gate.weight": ("ffn_dim", "dim"),
    "ffn_up.weight": ("ffn_dim", "dim"),
    "ffn_down.weight": ("dim", "ffn_dim"),
}
# --8<-- [end:shapes]
SOURCES = {  # where each of those numbers comes from, for error messages
    "vocab_size": "len(tokenizer.ggml.tokens)",
    "dim": "llama.embedding_length",
    "kv_dim": "llama.attention.head_count_kv * llama.embedding_length / llama.attention.head_count",
    "ffn_dim": "llama.feed_forward_length",
}


@dataclass(frozen=True)
class LlamaConfig:
    """The numbers that fix a Llama model's shape, as stored in a GGUF file's metadata."""

    vocab_size: int  # V
    n_layers: int  # number of blocks
    n_heads: int  # H query heads
    n_kv_heads: int  # KV key/value heads (GQA)
    dim: int  # C, width of the residual stream
    ffn_dim: int  # hidden width of SwiGLU
    context_length: int  # longest sequence it was trained for
    rope_base: float  # RoPE's base Theta: pair i turns at frequency theta_i = Theta^(-2i/D)
    norm_eps: float  # RMSNorm epsilon
    tied_embeddings: bool  # output layer reuses the embedding matrix

    @property
    def head_dim(self) -> int:  # D
        return self.dim // self.n_heads

    @property
    def kv_dim(self) -> int:  # KV * D, rows of the key and value matrices
        return self.n_kv_heads * self.head_dim

    @classmethod
    def from_gguf(cls, f: GGUFFile) -> LlamaConfig:
        """The config in ``f``'s metadata, checked against itself and ``f``'s tensors (GGUFError if not)."""
        m, arch = f.metadata, f.metadata.get("general.architecture")
        if arch != "llama":
            raise GGUFError(f"{f.path}: architecture {arch!r} is not supported, only 'llama'")
        if not f.tensors:
            raise GGUFError(f"{f.path}: the file has no tensors (llama.block_count = {m.get('llama.block_count')!r})")
        n_heads = _int(f, "llama.attention.head_count", MAX_UINT32)
        c = cls(
            vocab_size=len(_tokens(f)),
            n_layers=_int(f, "llama.block_count", len(f.tensors), bound="the file's tensor count"),
            n_heads=n_heads,
            n_kv_heads=_int(f, "llama.attention.head_count_kv", n_heads, bound="llama.attention.head_count",
                            default=n_heads),
            dim=_int(f, "llama.embedding_length", MAX_UINT32),
            ffn_dim=_int(f, "llama.feed_forward_length", MAX_UINT32),
            context_length=_int(f, "llama.context_length", MAX_CONTEXT),
            rope_base=_float(f, "llama.rope.freq_base", 10000.0),
            norm_eps=_float(f, "llama.attention.layer_norm_rms_epsilon"),
            tied_embeddings="output.weight" not in f.tensors,
        )
        if c.n_heads % c.n_kv_heads:
            raise GGUFError(f"{f.path}: llama.attention.head_count = {c.n_heads} is not a multiple of "
                            f"llama.attention.head_count_kv = {c.n_kv_heads}: each key/value head serves a whole group")
        if c.dim % c.n_heads or c.head_dim % 2:
            raise GGUFError(f"{f.path}: llama.embedding_length = {c.dim} does not split into "
                            f"llama.attention.head_count = {c.n_heads} heads of an even width (RoPE rotates pairs)")
        if _int(f, "llama.rope.dimension_count", MAX_UINT32, default=c.head_dim) != c.head_dim:
            raise GGUFError(f"{f.path}: llama.rope.dimension_count = {m['llama.rope.dimension_count']} is not the "
                            f"head width {c.head_dim}; RoPE over part of the head dimension is not supported")
        if _int(f, "llama.vocab_size", MAX_UINT32, default=c.vocab_size) != c.vocab_size:
            raise GGUFError(f"{f.path}: llama.vocab_size = {m['llama.vocab_size']}, but "
                            f"tokenizer.ggml.tokens has {c.vocab_size} tokens")
        c.check_tensors(f)
        return c

    def tensor_shapes(self) -> dict[str, tuple[str, ...]]:
        """Every tensor a GGUF file of this config holds -> its shape, in the config's terms."""
        shapes = {n: s for n, s in TENSOR_SHAPES.items() if n != "output.weight" or not self.tied_embeddings}
        for i in range(self.n_layers):
            shapes.update({f"blk.{i}.{n}": s for n, s in BLOCK_SHAPES.items()})
        return shapes

    def check_tensors(self, f: GGUFFile) -> None:
        """GGUFError unless ``f`` holds exactly the tensors this config implies, each with the shape it implies."""
        shapes = self.tensor_shapes()
        missing = [n for n in shapes if n not in f.tensors]
        if missing:
            raise GGUFError(f"{f.path}: tensor {missing[0]!r} is missing ({len(missing)} of the {len(shapes)} "
                            f"tensors that llama.block_count = {self.n_layers} implies are missing)")
        unexpected = [n for n in f.tensors if n not in shapes]
        if unexpected:
            raise GGUFError(f"{f.path}: unexpected tensors {unexpected[:5]} "
                            f"(llama.block_count = {self.n_layers}, {len(unexpected)} unexpected in all)")
        for name, symbols in shapes.items():
            expected = tuple(getattr(self, s) for s in symbols)
            if f.tensors[name].shape != expected:
                terms = str(symbols).replace("'", "")  # e.g. (kv_dim, dim)
                raise GGUFError(
                    f"{f.path}: tensor {name!r} has shape {f.tensors[name].shape}, but the metadata makes it "
                    f"{terms} = {expected}, from {', '.join(dict.fromkeys(SOURCES[s] for s in symbols))}"
                )


def gguf_tokenizer(f: GGUFFile, vocab_size: int) -> GGUFTokenizer:
    """The file's tokenizer, its metadata checked first: any problem is a GGUFError naming the file."""
    check_tokenizer_metadata(f, vocab_size)
    try:
        return GGUFTokenizer.from_gguf(f.metadata)
    except ValueError as e:  # e.g. merges that do not rebuild the vocabulary
        raise GGUFError(f"{f.path}: tokenizer: {e}") from None


def check_tokenizer_metadata(f: GGUFFile, vocab_size: int) -> None:
    """GGUFError unless the tokenizer's arrays in ``f`` have the types and lengths a ``GGUFTokenizer`` needs."""
    m = f.metadata
    if m.get("tokenizer.ggml.model") != "gpt2":
        raise GGUFError(f"{f.path}: tokenizer.ggml.model = {m.get('tokenizer.ggml.model')!r}; "
                        "only GPT-2-style byte-level BPE ('gpt2') is supported")
    types = _array(f, "tokenizer.ggml.token_type", int)
    if len(types) != vocab_size:
        raise GGUFError(f"{f.path}: tokenizer.ggml.token_type has {len(types)} entries, "
                        f"tokenizer.ggml.tokens has {vocab_size}")
    tokens = m["tokenizer.ggml.tokens"]
    if len(set(tokens)) != len(tokens):
        first: dict[str, int] = {}
        i, t = next((i, t) for i, t in enumerate(tokens) if first.setdefault(t, i) != i)
        raise GGUFError(f"{f.path}: tokenizer.ggml.tokens has {t!r} twice, as ids {first[t]} and {i}")
    # ordinary tokens are bytes written in GPT-2's stand-in characters (control tokens are any text)
    stray = set("".join(t for t, k in zip(tokens, types) if k != CONTROL)) - char_to_byte().keys()
    if stray:
        i, t = next((i, t) for i, (t, k) in enumerate(zip(tokens, types)) if k != CONTROL and stray & set(t))
        raise GGUFError(f"{f.path}: tokenizer.ggml.tokens[{i}] = {t!r} has a character that stands for no byte "
                        f"in GPT-2's byte-level alphabet")
    _array(f, "tokenizer.ggml.merges", str)
    for key in ("tokenizer.ggml.pre", "tokenizer.chat_template"):
        if key in m and type(m[key]) is not str:
            raise GGUFError(f"{f.path}: {key} must be a string, got {m[key]!r}")
    for key in ("bos", "eos", "unknown", "padding"):
        key = f"tokenizer.ggml.{key}_token_id"
        if key in m:
            _int(f, key, vocab_size - 1, bound="the last token id", minimum=0)


def _int(f: GGUFFile, key: str, maximum: int, bound: str | None = None, default: int | None = None,
         minimum: int = 1) -> int:
    """Integer metadata ``key`` in ``minimum..maximum`` (``bound`` names where the maximum comes from)."""
    if key not in f.metadata and default is not None:
        return default
    v = _get(f, key)
    if type(v) is not int or not minimum <= v <= maximum:
        within = f"{minimum}..{maximum}" + (f" ({bound})" if bound else "")
        raise GGUFError(f"{f.path}: {key} = {v!r}, expected an integer in {within}")
    return v


def _float(f: GGUFFile, key: str, default: float | None = None) -> float:
    """Finite positive number in metadata ``key``."""
    if key not in f.metadata and default is not None:
        return default
    v = _get(f, key)
    if type(v) not in (int, float) or not math.isfinite(v) or v <= 0:
        raise GGUFError(f"{f.path}: {key} = {v!r}, expected a finite positive number")
    return float(v)


def _array(f: GGUFFile, key: str, element: type) -> list[Any]:
    v = _get(f, key)
    if type(v) is not list or not all(type(x) is element for x in v):
        what = type(v).__name__ if type(v) is not list else "a list with other elements"
        raise GGUFError(f"{f.path}: {key} must be a list of {element.__name__}, got {what}")
    return v


def _tokens(f: GGUFFile) -> list[str]:
    tokens = _array(f, "tokenizer.ggml.tokens", str)
    if not tokens:
        raise GGUFError(f"{f.path}: tokenizer.ggml.tokens is empty")
    return tokens


def _get(f: GGUFFile, key: str) -> Any:
    try:
        return f.metadata[key]
    except KeyError:
        raise GGUFError(f"{f.path}: metadata key {key!r} is missing") from None
