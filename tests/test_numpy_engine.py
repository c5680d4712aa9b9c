"""The pure-NumPy inference path: same logits as the torch model, cache or not, always float32, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from llmbook.layers.attention import scaled_dot_product_attention_np
from llmbook.models.llama import Llama
from llmbook.inference.numpy_engine import NumpyLlama, grouped_attention_np

PROMPT_IDS = [504, 3575, 282, 4649, 314]  # "The capital of France is"
TOL = 1e-4


@pytest.fixture(scope="module")
def model(smollm: Llama) -> Llama:
    return smollm


@pytest.fixture(scope="module")
def engine(model: Llama) -> NumpyLlama:
    return NumpyLlama.from_model(model)


def torch_logits(model: Llama, ids: list[int]) -> np.ndarray:
    with torch.inference_mode():
        return model(torch.tensor([ids]))[0].numpy()  # (T, V)


def prompts(model: Llama) -> dict[str, list[int]]:
    tok = model.tokenizer
    assert tok is not None
    code = "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n"
    return {
        "france": PROMPT_IDS,
        "one token": [504],
        "chat": model.encode_chat([{"role": "user", "content": "What is the capital of France?"}]),
        "code": tok.encode(code),
    }


def test_grouped_attention_is_the_book_formula_broadcast_over_groups() -> None:
    rng = np.random.default_rng(1)
    q = rng.standard_normal((3, 3, 5, 64), dtype=np.float32)  # (KV, G, T, D)
    k, v = (rng.standard_normal((3, 9, 64), dtype=np.float32) for _ in range(2))  # (KV, S, D): 4 cached + 5 new
    for mask in [np.tri(5, 9, k=4, dtype=bool), None]:
        y = grouped_attention_np(q, k, v, mask)
        assert y.dtype == np.float32 and y.shape == q.shape
        np.testing.assert_allclose(y, scaled_dot_product_attention_np(q, k[:, None], v[:, None], mask), atol=1e-5)


def test_weights_are_float32_and_laid_out_for_x_at_w(engine: NumpyLlama, model: Llama) -> None:
    c = model.config
    w = engine.layers[0]
    assert w.qkv.shape == (c.dim, (c.n_heads + 2 * c.n_kv_heads) * c.head_dim)
    assert w.gate_up.shape == (c.dim, 2 * c.ffn_dim) and w.down.shape == (c.ffn_dim, c.dim)
    assert engine.output.shape == (c.dim, c.vocab_size) and engine.output.flags.c_contiguous
    for a in [engine.embed, engine.norm, engine.output, *vars(w).values()]:
        assert a.dtype == np.float32
    np.testing.assert_array_equal(engine.output.T, engine.embed)  # tied embeddings: one matrix, read both ways


def test_logits_equal_the_torch_model(engine: NumpyLlama, model: Llama) -> None:
    for name, ids in prompts(model).items():
        ref = torch_logits(model, ids)
        out = engine.forward(ids)
        assert out.dtype == np.float32 and out.shape == ref.shape, name
        assert np.abs(out - ref).max() < TOL, (name, np.abs(out - ref).max())
        assert (out.argmax(-1) == ref.argmax(-1)).all(), name
    last = engine.forward(np.array(PROMPT_IDS), last_only=True)
    assert last.shape == (1, model.config.vocab_size)
    assert np.abs(last[0] - torch_logits(model, PROMPT_IDS)[-1]).max() < TOL


def test_cache_gives_the_same_logits_step_by_step(engine: NumpyLlama, model: Llama) -> None:
    ids = prompts(model)["chat"]
    full = engine.forward(ids)  # (T, V), no cache
    cache = engine.new_cache(len(ids))
    first = engine.forward(ids[:10], cache)  # prefill part of it, then one token at a time
    assert cache.length == 10 and first.dtype == np.float32
    assert np.abs(first - full[:10]).max() < TOL
    for i in range(10, len(ids)):
        step = engine.forward([ids[i]], cache)
        assert step.dtype == np.float32 and step.shape == (1, model.config.vocab_size)  # no float64 creeping in
        assert cache.keys.dtype == cache.values.dtype == np.float32
        assert np.abs(step[0] - full[i]).max() < TOL, i
    assert cache.length == len(ids)


def test_greedy_generation_matches_the_torch_model(engine: NumpyLlama, model: Llama) -> None:
    ids = prompts(model)["chat"]
    out = engine.generate(ids, max_new_tokens=10, stop=2)
    assert out == model.generate(ids, max_new_tokens=10, stop=2)
    assert model.tokenizer is not None and "Paris" in model.tokenizer.decode(out)


def test_bad_input_is_a_clear_error(engine: NumpyLlama, model: Llama) -> None:
    v, n = model.config.vocab_size, model.config.context_length
    with pytest.raises(ValueError, match="outside the vocabulary"):
        engine.forward([1, v])
    with pytest.raises(ValueError, match="outside the vocabulary"):
        engine.forward([-1])
    with pytest.raises(ValueError, match="1-D"):
        engine.forward([[1, 2]])
    with pytest.raises(ValueError, match="1-D"):
        engine.forward([])
    with pytest.raises(ValueError, match="1-D"):
        engine.forward(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="context length"):
        engine.forward(np.zeros(n + 1, dtype=np.int64))
    with pytest.raises(ValueError, match="context length"):
        engine.new_cache(n + 1)
    cache = engine.new_cache(4)
    engine.forward([1, 2, 3], cache)
    with pytest.raises(ValueError, match="do not fit the cache"):
        engine.forward([4, 5], cache)
    assert cache.length == 3  # a refused call changes nothing
