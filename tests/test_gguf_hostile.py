"""A model file is untrusted input: a tiny valid Llama GGUF, then every kind of lie its header can tell.

Each tampered file must give one GGUFError that names the field and the bad value, fast, before
any weight is dequantised or a model is built; a byte-flip fuzz over the header must give only
clean loads or GGUFErrors.
"""

from __future__ import annotations

import math
import random
import struct
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import llmbook.models.llama as llama_module
from llmbook.models.gguf import MAX_ARRAY_DEPTH, GGUFError, GGUFFile, read_gguf
from llmbook.models.llama import load_gguf_model
from test_gguf import _str, write_gguf

U32, I32, F32, BOOL, STR, ARR, U64 = 4, 5, 6, 7, 8, 9, 10
T_F32, T_F16 = 0, 1
FAST = 1.0  # seconds: every hostile file here is under 10 kB, so each answer is parsing, not work


# ---- a tiny valid Llama: 2 blocks, width 8, 2 query heads sharing 1 key/value head, 6 tokens ------

def tiny_metadata() -> dict[str, tuple[int, Any]]:
    """key -> (GGUF value type, value), as a Llama file written by llama.cpp's converter has them."""
    # "a", "b", "c", then the merges "a b" -> "ab" and "ab c" -> "abc", then one control token
    tokens = ["a", "b", "c", "ab", "abc", "<|end|>"]
    return {
        "general.architecture": (STR, "llama"),
        "llama.block_count": (U32, 2),
        "llama.context_length": (U32, 32),
        "llama.embedding_length": (U32, 8),
        "llama.feed_forward_length": (U32, 16),
        "llama.attention.head_count": (U32, 2),
        "llama.attention.head_count_kv": (U32, 1),
        "llama.rope.freq_base": (F32, 10000.0),
        "llama.attention.layer_norm_rms_epsilon": (F32, 1e-5),
        "llama.rope.dimension_count": (U32, 4),
        "llama.vocab_size": (U32, len(tokens)),
        "tokenizer.ggml.model": (STR, "gpt2"),
        "tokenizer.ggml.pre": (STR, "gpt2"),
        "tokenizer.ggml.tokens": (ARR, (STR, tokens)),
        "tokenizer.ggml.token_type": (ARR, (I32, [1, 1, 1, 1, 1, 3])),
        "tokenizer.ggml.merges": (ARR, (STR, ["a b", "ab c"])),
        "tokenizer.ggml.eos_token_id": (U32, 5),
        "tokenizer.chat_template": (STR, "{{ messages }}"),
    }


def tiny_shapes(n_layers: int = 2) -> dict[str, tuple[int, ...]]:
    """GGUF tensor -> NumPy shape for the tiny config (tied embeddings: no output.weight)."""
    v, c, kv, f = 6, 8, 4, 16
    shapes = {"token_embd.weight": (v, c), "output_norm.weight": (c,)}
    for i in range(n_layers):
        shapes |= {
            f"blk.{i}.attn_norm.weight": (c,), f"blk.{i}.attn_q.weight": (c, c),
            f"blk.{i}.attn_k.weight": (kv, c), f"blk.{i}.attn_v.weight": (kv, c),
            f"blk.{i}.attn_output.weight": (c, c), f"blk.{i}.ffn_norm.weight": (c,),
            f"blk.{i}.ffn_gate.weight": (f, c), f"blk.{i}.ffn_up.weight": (f, c), f"blk.{i}.ffn_down.weight": (c, f),
        }
    return shapes


def write_tiny(path: Path, meta: dict[str, Any] | None = None, shapes: dict[str, Any] | None = None,
               seed: int = 0) -> Path:
    """The tiny model with metadata entries replaced (a value of None deletes the key) and tensors
    replaced (a shape of None deletes the tensor); weights are random float32."""
    m = {k: v for k, v in (tiny_metadata() | (meta or {})).items() if v is not None}
    s = {k: v for k, v in (tiny_shapes() | (shapes or {})).items() if v is not None}
    rng = np.random.default_rng(seed)
    tensors = [(name, shape, T_F32, rng.normal(0, 0.5, shape).astype(np.float32).tobytes())
               for name, shape in s.items()]
    return write_gguf(path, [(k, t, v) for k, (t, v) in m.items()], tensors)


def patch(path: Path, after: bytes, fmt: str, value: int) -> Path:
    """Overwrite the number that follows the only occurrence of ``after`` in the file (a header edit)."""
    data = bytearray(path.read_bytes())
    assert data.count(after) == 1, after
    at = data.index(after) + len(after)
    data[at : at + struct.calcsize("<" + fmt)] = struct.pack("<" + fmt, value)
    path.write_bytes(bytes(data))
    return path


@pytest.fixture(scope="module", autouse=True)
def warm(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Load the tiny model once: the first load in a process sets up torch (seconds), later ones take ms."""
    load_gguf_model(write_tiny(tmp_path_factory.mktemp("warm") / "tiny.gguf"))


@pytest.fixture
def no_weights_touched(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the loader dequantises a tensor or builds a model: checks must come first."""
    def forbidden(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the loader went past its checks")
    monkeypatch.setattr(GGUFFile, "tensor", forbidden)
    monkeypatch.setattr(llama_module, "Llama", forbidden)


def test_the_tiny_model_loads_and_runs(tmp_path: Path) -> None:
    path = write_tiny(tmp_path / "tiny.gguf")
    t0 = time.perf_counter()
    model = load_gguf_model(path)
    assert time.perf_counter() - t0 < FAST
    c = model.config
    assert (c.vocab_size, c.n_layers, c.n_heads, c.n_kv_heads, c.dim, c.ffn_dim) == (6, 2, 2, 1, 8, 16)
    assert (c.context_length, c.rope_base, c.tied_embeddings) == (32, 10000.0, True)
    assert c.norm_eps == np.float32(1e-5)
    f = read_gguf(path)
    assert torch.equal(model.blocks[1].attn.k_proj.weight, torch.tensor(f.tensor("blk.1.attn_k.weight")))
    assert model.output.weight is model.embed.weight
    assert model.tokenizer.encode("abcab<|end|>", allow_special=True) == [4, 3, 5]
    assert (model.eos_token_id, model.chat_template) == (5, "{{ messages }}")
    with torch.inference_mode():
        logits = model(torch.tensor([[0, 1, 4, 3]]))
    assert logits.shape == (1, 4, 6) and torch.isfinite(logits).all()


def test_an_output_matrix_of_its_own_loads(tmp_path: Path) -> None:
    model = load_gguf_model(write_tiny(tmp_path / "untied.gguf", shapes={"output.weight": (6, 8)}))
    assert not model.config.tied_embeddings and model.output.weight is not model.embed.weight


# ---- lies in the metadata: each case is (metadata changes, tensor changes, what the error says) ------

def _bad(meta: dict[str, Any] | None = None, shapes: dict[str, Any] | None = None, match: str = "") -> Any:
    return (meta or {}, shapes or {}, match)


BLOCKS = "llama.block_count"
HEADS, KV_HEADS = "llama.attention.head_count", "llama.attention.head_count_kv"
EPS = "llama.attention.layer_norm_rms_epsilon"
BAD_METADATA = {
    # counts: zero, absurd, the wrong type, more than the tensors can hold
    "block_count 0": _bad({BLOCKS: (U32, 0)}, match=r"llama\.block_count = 0, expected an integer in 1\.\.20"),
    "block_count 2**32-1": _bad({BLOCKS: (U32, 2**32 - 1)}, match=r"llama\.block_count = 4294967295, expected"),
    "block_count -1": _bad({BLOCKS: (I32, -1)}, match=r"llama\.block_count = -1, expected an integer"),
    "block_count float": _bad({BLOCKS: (F32, 2.0)}, match=r"llama\.block_count = 2\.0, expected an integer"),
    "block_count bool": _bad({BLOCKS: (BOOL, True)}, match=r"llama\.block_count = True, expected an integer"),
    "block_count string": _bad({BLOCKS: (STR, "2")}, match=r"llama\.block_count = '2', expected an integer"),
    "block_count 3": _bad({BLOCKS: (U32, 3)},
                          match=r"tensor 'blk\.2\.attn_norm\.weight' is missing .* llama\.block_count = 3"),
    "block_count 1": _bad({BLOCKS: (U32, 1)},
                          match=r"unexpected tensors \['blk\.1\..*llama\.block_count = 1"),
    "block_count missing": _bad({BLOCKS: None}, match=r"metadata key 'llama\.block_count' is missing"),
    "head_count 0": _bad({HEADS: (U32, 0)}, match=r"llama\.attention\.head_count = 0, expected"),
    "head_count 3": _bad({HEADS: (U32, 3)}, match=r"llama\.embedding_length = 8 does not split into "
                                                  r"llama\.attention\.head_count = 3 heads"),
    "head_count 8 (odd head width)": _bad({HEADS: (U32, 8)}, match=r"head_count = 8 heads of an even width"),
    "head_count float": _bad({HEADS: (F32, 2.0)}, match=r"llama\.attention\.head_count = 2\.0, expected an integer"),
    "head_count_kv 0": _bad({KV_HEADS: (U32, 0)},
                            match=r"head_count_kv = 0, expected an integer in 1\.\.2 \(llama\.attention\.head_count\)"),
    "head_count_kv 3 > heads": _bad({KV_HEADS: (U32, 3)}, match=r"head_count_kv = 3, expected an integer in 1\.\.2"),
    "head_count_kv 3 of 4": _bad({HEADS: (U32, 4), KV_HEADS: (U32, 3)},
                                 match=r"head_count = 4 is not a multiple of llama\.attention\.head_count_kv = 3"),
    "embedding_length 0": _bad({"llama.embedding_length": (U32, 0)}, match=r"llama\.embedding_length = 0, expected"),
    "embedding_length 16": _bad({"llama.embedding_length": (U32, 16), "llama.rope.dimension_count": (U32, 8)},
                                match=r"tensor 'token_embd\.weight' has shape \(6, 8\), but the metadata makes it "
                                      r"\(vocab_size, dim\) = \(6, 16\), from .*llama\.embedding_length"),
    "embedding_length 2**40": _bad({"llama.embedding_length": (U64, 2**40)},
                                   match=r"llama\.embedding_length = 1099511627776, expected an integer in 1\.\.4294967295"),
    "feed_forward_length 32": _bad({"llama.feed_forward_length": (U32, 32)},
                                   match=r"'blk\.0\.ffn_gate\.weight' has shape \(16, 8\).* = \(32, 8\), "
                                         r"from llama\.feed_forward_length"),
    "feed_forward_length missing": _bad({"llama.feed_forward_length": None},
                                        match=r"metadata key 'llama\.feed_forward_length' is missing"),
    "context_length 0": _bad({"llama.context_length": (U32, 0)}, match=r"llama\.context_length = 0, expected"),
    "context_length -1": _bad({"llama.context_length": (I32, -1)}, match=r"llama\.context_length = -1, expected"),
    "context_length 2**40": _bad({"llama.context_length": (U64, 2**40)},
                                 match=r"llama\.context_length = 1099511627776, expected an integer in 1\.\.16777216"),
    "rope base NaN": _bad({"llama.rope.freq_base": (F32, math.nan)},
                          match=r"llama\.rope\.freq_base = nan, expected a finite positive number"),
    "rope base inf": _bad({"llama.rope.freq_base": (F32, math.inf)}, match=r"llama\.rope\.freq_base = inf, expected"),
    "rope base 0": _bad({"llama.rope.freq_base": (F32, 0.0)}, match=r"llama\.rope\.freq_base = 0\.0, expected"),
    "rope base -1": _bad({"llama.rope.freq_base": (F32, -1.0)}, match=r"llama\.rope\.freq_base = -1\.0, expected"),
    "rope base string": _bad({"llama.rope.freq_base": (STR, "1e4")}, match=r"llama\.rope\.freq_base = '1e4', expected"),
    "norm eps NaN": _bad({EPS: (F32, math.nan)}, match=r"layer_norm_rms_epsilon = nan, expected a finite positive"),
    "norm eps 0": _bad({EPS: (F32, 0.0)}, match=r"layer_norm_rms_epsilon = 0\.0, expected a finite positive"),
    "norm eps missing": _bad({EPS: None}, match=r"metadata key 'llama\.attention\.layer_norm_rms_epsilon' is missing"),
    "rope over part of the head": _bad({"llama.rope.dimension_count": (U32, 2)},
                                       match=r"llama\.rope\.dimension_count = 2 is not the head width 4"),
    "vocab_size disagrees": _bad({"llama.vocab_size": (U32, 7)},
                                 match=r"llama\.vocab_size = 7, but tokenizer\.ggml\.tokens has 6 tokens"),
    "architecture": _bad({"general.architecture": (STR, "gpt2")}, match=r"architecture 'gpt2' is not supported"),
    # the tokenizer's arrays
    "tokens missing": _bad({"tokenizer.ggml.tokens": None}, match=r"metadata key 'tokenizer\.ggml\.tokens' is missing"),
    "tokens are numbers": _bad({"tokenizer.ggml.tokens": (ARR, (I32, [1, 2, 3, 4, 5, 6]))},
                               match=r"tokenizer\.ggml\.tokens must be a list of str"),
    "tokens empty": _bad({"tokenizer.ggml.tokens": (ARR, (STR, []))}, match=r"tokenizer\.ggml\.tokens is empty"),
    "one token too many": _bad({"tokenizer.ggml.tokens": (ARR, (STR, ["a", "b", "c", "ab", "abc", "<|end|>", "x"]))},
                               match=r"llama\.vocab_size = 6, but tokenizer\.ggml\.tokens has 7 tokens"),
    "embedding rows != tokens": _bad({"llama.vocab_size": None}, {"token_embd.weight": (7, 8)},
                                     match=r"'token_embd\.weight' has shape \(7, 8\).*\(vocab_size, dim\) = \(6, 8\), "
                                           r"from len\(tokenizer\.ggml\.tokens\)"),
    "a token twice": _bad({"tokenizer.ggml.tokens": (ARR, (STR, ["a", "b", "c", "ab", "b", "<|end|>"]))},
                          match=r"tokenizer\.ggml\.tokens has 'b' twice, as ids 1 and 4"),
    "a token not in GPT-2's alphabet": _bad({"tokenizer.ggml.tokens":
                                             (ARR, (STR, ["a", "b", "c", "ab", "a\0", "<|end|>"]))},
                                            match=r"tokenizer\.ggml\.tokens\[4\] = 'a\\x00' has a character that "
                                                  r"stands for no byte"),
    "token_type too short": _bad({"tokenizer.ggml.token_type": (ARR, (I32, [1, 1, 3]))},
                                 match=r"tokenizer\.ggml\.token_type has 3 entries, tokenizer\.ggml\.tokens has 6"),
    "merges are numbers": _bad({"tokenizer.ggml.merges": (ARR, (U32, [1, 2]))},
                               match=r"tokenizer\.ggml\.merges must be a list of str"),
    "merges disagree with ids": _bad({"tokenizer.ggml.merges": (ARR, (STR, ["a c", "ab c"]))},
                                     match=r"tokenizer: .*the merges do not reproduce the token ids"),
    "sentencepiece tokenizer": _bad({"tokenizer.ggml.model": (STR, "llama")},
                                    match=r"tokenizer\.ggml\.model = 'llama'; only GPT-2-style"),
    "unknown pre-tokenizer": _bad({"tokenizer.ggml.pre": (STR, "bert")}, match=r"tokenizer: unknown pre-tokenizer 'bert'"),
    "eos past the vocabulary": _bad({"tokenizer.ggml.eos_token_id": (U32, 6)},
                                    match=r"tokenizer\.ggml\.eos_token_id = 6, expected an integer in 0\.\.5"),
    "eos negative": _bad({"tokenizer.ggml.eos_token_id": (I32, -1)}, match=r"eos_token_id = -1, expected an integer"),
    "chat template a number": _bad({"tokenizer.chat_template": (U32, 7)},
                                   match=r"tokenizer\.chat_template must be a string, got 7"),
    # the tensor table against the metadata
    "a tensor missing": _bad(shapes={"blk.1.ffn_up.weight": None},
                             match=r"tensor 'blk\.1\.ffn_up\.weight' is missing \(1 of the 20"),
    "an extra tensor": _bad(shapes={"rope_freqs.weight": (2,)}, match=r"unexpected tensors \['rope_freqs\.weight'\]"),
    "key matrix of a query's size": _bad(shapes={"blk.0.attn_k.weight": (8, 8)},
                                         match=r"'blk\.0\.attn_k\.weight' has shape \(8, 8\).* \(kv_dim, dim\) = \(4, 8\)"),
    "down matrix transposed": _bad(shapes={"blk.1.ffn_down.weight": (16, 8)},
                                   match=r"'blk\.1\.ffn_down\.weight' has shape \(16, 8\).* \(dim, ffn_dim\) = \(8, 16\)"),
    "a norm as a matrix": _bad(shapes={"output_norm.weight": (1, 8)},
                               match=r"'output_norm\.weight' has shape \(1, 8\), but the metadata makes it \(dim,\) = \(8,\)"),
}


def _fails_fast(path: Path, match: str) -> GGUFError:
    """Load ``path``: it must raise GGUFError matching ``match``, naming the file, within FAST seconds."""
    t0 = time.perf_counter()
    with pytest.raises(GGUFError, match=match) as err:
        load_gguf_model(path)
    assert time.perf_counter() - t0 < FAST
    assert str(path) in str(err.value)
    return err.value


@pytest.mark.parametrize("case", list(BAD_METADATA))
def test_lies_in_the_metadata(tmp_path: Path, case: str, no_weights_touched: None) -> None:
    meta, shapes, match = BAD_METADATA[case]
    _fails_fast(write_tiny(tmp_path / "bad.gguf", meta, shapes), match)


def test_no_tensors_at_all(tmp_path: Path, no_weights_touched: None) -> None:
    path = write_gguf(tmp_path / "empty.gguf", [(k, t, v) for k, (t, v) in tiny_metadata().items()])
    _fails_fast(path, r"the file has no tensors \(llama\.block_count = 2\)")


# ---- lies in the binary header, edited in place in a valid file -------------------------------------

def _peak_bytes(fn: Any) -> int:
    tracemalloc.start()
    try:
        fn()
    except GGUFError:
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_block_count_edited_to_four_billion(tmp_path: Path, no_weights_touched: None) -> None:
    path = patch(write_tiny(tmp_path / "t.gguf"), _str(BLOCKS) + struct.pack("<I", U32), "I", 0xFFFFFFFF)
    _fails_fast(path, r"llama\.block_count = 4294967295, expected an integer in 1\.\.20 \(the file's tensor count\)")
    assert _peak_bytes(lambda: load_gguf_model(path)) < 2**20  # it stops before allocating a block


def test_tensor_with_four_billion_dimensions(tmp_path: Path) -> None:
    # in a tensor info, the uint32 dimension count follows the name
    path = patch(write_tiny(tmp_path / "t.gguf"), _str("blk.0.attn_q.weight"), "I", 0xFFFFFFFF)
    _fails_fast(path, r"tensor 'blk\.0\.attn_q\.weight' has 4294967295 dimensions; GGML allows at most 4")
    assert _peak_bytes(lambda: read_gguf(path)) < 2**20


@pytest.mark.parametrize(("dims", "match"), [
    ((2**32, 2**32), r"dimensions \[4294967296, 4294967296\] make 18446744073709551616 elements, more than GGML's int64"),
    ((2**31, 2**31), r"tensor 'w' \(F32, 18446744073709551616 bytes at data offset 0\) runs past the end"),
    ((2**64 - 1,), r"dimensions \[18446744073709551615\] make 18446744073709551615 elements"),
    ((3, 5, 7, 11, 13), r"tensor 'w' has 5 dimensions; GGML allows at most 4"),
])
def test_tensor_sizes_that_overflow(tmp_path: Path, dims: tuple[int, ...], match: str) -> None:
    path = write_gguf(tmp_path / "t.gguf", [], [("w", tuple(reversed(dims)), T_F32, b"\0" * 64)])
    t0 = time.perf_counter()
    with pytest.raises(GGUFError, match=match):
        read_gguf(path)
    assert time.perf_counter() - t0 < FAST


@pytest.mark.parametrize(("count", "match"), [
    ("tensor count", r"tensor count is 18446744073709551615, but 18446744073709551615 items of at least 24 bytes"),
    ("metadata count", r"metadata count is 18446744073709551615, but .* items of at least 13 bytes do not fit"),
])
def test_counts_larger_than_the_file(tmp_path: Path, count: str, match: str) -> None:
    path = write_tiny(tmp_path / "t.gguf")
    data = bytearray(path.read_bytes())
    at = 8 if count == "tensor count" else 16  # after magic and version
    data[at : at + 8] = struct.pack("<Q", 2**64 - 1)
    path.write_bytes(bytes(data))
    _fails_fast(path, match)


def test_array_lengths_larger_than_the_file(tmp_path: Path) -> None:
    path = write_tiny(tmp_path / "t.gguf")
    patch(path, _str("tokenizer.ggml.tokens") + struct.pack("<II", ARR, STR), "Q", 2**40)
    _fails_fast(path, r"length of 'tokenizer\.ggml\.tokens' is 1099511627776, but .* at least 8 bytes do not fit")
    patch(write_tiny(path), _str("tokenizer.ggml.token_type") + struct.pack("<II", ARR, I32), "Q", 2**61)
    _fails_fast(path, r"truncated: 2305843009213693952 elements of 'tokenizer\.ggml\.token_type' needs")


def _nested(depth: int) -> bytes:
    """A file whose one metadata value is ``depth`` arrays, each holding the next, around an empty uint32 array."""
    value = struct.pack("<IQ", ARR, 1) * (depth - 1) + struct.pack("<IQ", U32, 0)
    return b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + _str("deep") + struct.pack("<I", ARR) + value


def test_nesting_of_arrays_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "deep.gguf"
    path.write_bytes(_nested(MAX_ARRAY_DEPTH))
    value = read_gguf(path).metadata["deep"]
    for _ in range(MAX_ARRAY_DEPTH - 1):
        value = value[0]
    assert value == []
    for depth in (MAX_ARRAY_DEPTH + 1, 3000):  # 3000: a 60 kB file that once raised RecursionError
        path.write_bytes(_nested(depth))
        t0 = time.perf_counter()
        with pytest.raises(GGUFError, match=rf"'deep'(\[0\]){{{MAX_ARRAY_DEPTH}}} nests arrays more than 8 deep"):
            read_gguf(path)
        assert time.perf_counter() - t0 < FAST


def test_duplicate_metadata_key(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "t.gguf", [("k", U32, 1), ("k", U32, 2)])
    with pytest.raises(GGUFError, match=r"metadata key 'k' appears twice"):
        read_gguf(path)


# ---- fuzz: any byte of the header and tables flipped -------------------------------------------------

def test_byte_flips_give_a_model_or_a_gguf_error(tmp_path: Path) -> None:
    """300 seeded single-byte changes before the data section: each loads cleanly or raises GGUFError."""
    clean = write_tiny(tmp_path / "clean.gguf").read_bytes()
    end = read_gguf(tmp_path / "clean.gguf").data_offset  # header, metadata, tensor infos
    rng = random.Random(0)
    path = tmp_path / "flipped.gguf"
    outcomes = {"loaded": 0, "GGUFError": 0}
    start = time.perf_counter()
    for case in range(300):
        data = bytearray(clean)
        at = rng.randrange(end)
        data[at] ^= rng.randrange(1, 256)
        path.write_bytes(bytes(data))
        t0 = time.perf_counter()
        try:
            load_gguf_model(path)
            outcomes["loaded"] += 1
        except GGUFError:
            outcomes["GGUFError"] += 1
        except Exception as e:  # anything else is a loader bug: say which byte
            raise AssertionError(f"case {case}: byte {at} -> {data[at]:#04x} raised {e!r}") from e
        assert time.perf_counter() - t0 < FAST, f"case {case}: byte {at} -> {data[at]:#04x} took too long"
    assert time.perf_counter() - start < 20
    assert outcomes["GGUFError"] > 150 and outcomes["loaded"] > 0, outcomes  # the flips reach both outcomes
