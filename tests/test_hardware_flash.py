"""Tiled attention with an online softmax equals the book's attention, in far less memory."""

import math
import tracemalloc

import numpy as np
import pytest

from llmbook.hardware.flash_attention import attention_memory_bytes, flash_attention_np
from llmbook.layers.attention import causal_mask, scaled_dot_product_attention_np

U = 2.0**-24


def bound(q, k, v):
    """Two float32 evaluations of softmax(q k^T / sqrt(D)) v differ by at most this, per output.

    Scores carry D roundings of |q||k| terms; the exponentials one ulp; the sums T_k roundings;
    an output is a convex combination of v's rows, so weight errors scale with max |v|.
    """
    d, t_k = q.shape[-1], k.shape[-2]
    s_err = d * U * (np.abs(q) @ np.swapaxes(np.abs(k), -1, -2)).max() / math.sqrt(d)
    return 4 * ((t_k + d + 4) * U + 2 * s_err) * np.abs(v).max()


@pytest.mark.parametrize("t_q,t_k", [(100, 100), (64, 64), (7, 130), (1, 65), (33, 33)])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("blocks", [(16, 16), (32, 24), (64, 64), (1, 7)])
def test_equals_the_books_attention(t_q, t_k, causal, blocks):
    rng = np.random.default_rng(t_q * 1000 + t_k)
    q = (3 * rng.standard_normal((2, 3, t_q, 16))).astype(np.float32)  # (B, H, T_q, D): large scores
    k = (3 * rng.standard_normal((2, 3, t_k, 16))).astype(np.float32)
    v = rng.standard_normal((2, 3, t_k, 16)).astype(np.float32)
    mask = causal_mask(t_q, t_k).numpy() if causal else None
    ref = scaled_dot_product_attention_np(q, k, v, mask)
    got = flash_attention_np(q, k, v, causal=causal, block_q=blocks[0], block_k=blocks[1])
    assert got.dtype == np.float32 and got.shape == ref.shape
    assert np.abs(got - ref).max() <= bound(q, k, v)


def test_memory_saved_measured():
    t, h, d = 1024, 4, 32
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((h, t, d)).astype(np.float32) for _ in range(3))
    mask = causal_mask(t).numpy()
    peaks = {}
    for name, fn in (("naive", lambda: scaled_dot_product_attention_np(q, k, v, mask)),
                     ("tiled", lambda: flash_attention_np(q, k, v, causal=True))):
        tracemalloc.start()
        fn()
        peaks[name] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    est = attention_memory_bytes(t, t, h, d)
    out_bytes = h * t * d * 4
    assert peaks["naive"] >= est["naive"]  # it really holds the (H, T, T) scores and weights
    assert peaks["tiled"] <= est["tiled"] * 4 + 2 * out_bytes  # temporaries of a tile step, and the output
    assert peaks["naive"] > 10 * peaks["tiled"]


def test_bad_input_is_named():
    x = np.zeros((2, 4, 8), np.float32)
    with pytest.raises(ValueError, match="block_q"):
        flash_attention_np(x, x, x, block_q=0)
    with pytest.raises(ValueError, match="head size"):
        flash_attention_np(x, np.zeros((2, 4, 6), np.float32), x)
    with pytest.raises(ValueError, match="floating"):
        flash_attention_np(x.astype(int), x, x)
