"""The pure-NumPy inference path's own parts: grouped attention, weight layout (logits, cache, decoding and errors
are checked for every engine alike in test_engines)."""

from __future__ import annotations

import numpy as np
import pytest

from llmbook.layers.attention import scaled_dot_product_attention_np
from llmbook.models.llama import Llama
from llmbook.inference.numpy_engine import NumpyLlama, grouped_attention_np


@pytest.fixture(scope="module")
def model(smollm: Llama) -> Llama:
    return smollm


@pytest.fixture(scope="module")
def engine(model: Llama) -> NumpyLlama:
    return NumpyLlama.from_model(model)


def test_grouped_attention_is_the_book_formula_broadcast_over_groups() -> None:
    rng = np.random.default_rng(1)
    q = rng.standard_normal((3, 3, 5, 64), dtype=np.float32)  # (KV, G, T, D)
    k, v = (rng.standard_normal((3, 9, 64), dtype=np.float32) for _ in range(2))  # (KV, S, D): 4 cached + 5 new
    for mask in [np.tri(5, 9, k=4, dtype=bool), None]:
        y = grouped_attention_np(q, k, v, mask)
        assert y.dtype == np.float32 and y.shape == q.shape
        np.testing.assert_allclose(y, scaled_dot_product_attention_np(q, k[:, None], v[:, None], mask), atol=1e-5)
    # a batch of two sequences: each row as if alone
    qb, kb, vb = np.stack([q, q[::-1]]), np.stack([k, k[::-1]]), np.stack([v, v[::-1]])  # (B, KV, ...)
    yb = grouped_attention_np(qb, kb, vb, np.tri(5, 9, k=4, dtype=bool))
    assert yb.shape == (2, 3, 3, 5, 64)
    np.testing.assert_array_equal(yb[1], grouped_attention_np(q[::-1], k[::-1], v[::-1], np.tri(5, 9, k=4, dtype=bool)))


def test_weights_are_float32_and_laid_out_for_x_at_w(engine: NumpyLlama, model: Llama) -> None:
    c = model.config
    w = engine.layers[0]
    assert w.qkv.shape == (c.dim, (c.n_heads + 2 * c.n_kv_heads) * c.head_dim)
    assert w.gate_up.shape == (c.dim, 2 * c.ffn_dim) and w.down.shape == (c.ffn_dim, c.dim)
    assert engine.output.shape == (c.dim, c.vocab_size) and engine.output.flags.c_contiguous
    for a in [engine.embed, engine.norm, engine.output, *vars(w).values()]:
        assert a.dtype == np.float32
    np.testing.assert_array_equal(engine.output.T, engine.embed)  # tied embeddings: one matrix, read both ways


def test_rope_table_grows_to_the_positions_used(engine: NumpyLlama) -> None:
    """The table starts at 4,096 positions (not the claimed context) and grows when a later position comes."""
    from llmbook.inference.numpy_engine import rope_tables_np

    c = engine.config
    engine.cos, engine.sin = rope_tables_np(4096, c.head_dim, c.rope_base)
    cache = engine.new_cache(1, 4200)
    cache.length = 4150  # pretend 4,150 tokens are cached (zeros)
    engine.forward(np.array([[504]]), cache, last_only=True)
    assert 4151 <= len(engine.cos) <= c.context_length
    full_cos, full_sin = rope_tables_np(len(engine.cos), c.head_dim, c.rope_base)
    np.testing.assert_array_equal(engine.cos, full_cos)
    np.testing.assert_array_equal(engine.sin, full_sin)
