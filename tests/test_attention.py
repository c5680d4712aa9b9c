"""llmbook.layers.attention against PyTorch's own attention on random inputs."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from llmbook.layers.attention import (
    MultiHeadAttention,
    attention_weights,
    causal_mask,
    scaled_dot_product_attention,
    scaled_dot_product_attention_np,
    softmax_np,
)


@pytest.fixture
def qkv():
    g = torch.Generator().manual_seed(0)
    return tuple(torch.randn(2, 3, 7, 16, generator=g, dtype=torch.float64) for _ in range(3))


@pytest.mark.parametrize("causal", [False, True])
def test_sdpa_matches_torch(qkv, causal):
    q, k, v = qkv
    ours = scaled_dot_product_attention(q, k, v, is_causal=causal)
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    torch.testing.assert_close(ours, ref, atol=1e-12, rtol=0)  # float64: ~20 * 2^-53 ~ 2e-15 on values ~1


def test_sdpa_with_explicit_mask_matches_torch(qkv):
    q, k, v = qkv
    mask = torch.rand(7, 7, generator=torch.Generator().manual_seed(1)) > 0.3
    mask.fill_diagonal_(True)  # every query sees at least one key
    ours = scaled_dot_product_attention(q, k, v, mask=mask)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(ours, ref, atol=1e-12, rtol=0)


def test_numpy_matches_torch_and_keeps_float32(qkv):
    q, k, v = (t.float() for t in qkv)
    for mask, causal in ((None, False), (causal_mask(7).numpy(), True)):
        ours = scaled_dot_product_attention_np(q.numpy(), k.numpy(), v.numpy(), mask=mask)
        ref = F.scaled_dot_product_attention(q, k, v, is_causal=causal).numpy()
        assert ours.dtype == np.float32
        # float32, any summation order: q.k sums 16 terms, weights.v 7, on values <= ~3: <~ 30 * 2^-24 * 1 ~ 2e-6
        np.testing.assert_allclose(ours, ref, atol=2e-6)


def test_causal_mask_with_more_keys_than_queries():
    # two new queries at the end of five keys (as in decoding with a cache)
    expected = torch.tensor([[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    assert torch.equal(causal_mask(2, 5), expected)


def test_attention_weights_rows_sum_to_one_and_respect_mask(qkv):
    q, k, _ = qkv
    w = attention_weights(q, k, mask=causal_mask(7))
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 3, 7, dtype=torch.float64))
    assert torch.all(w.triu(diagonal=1) == 0)


def test_softmax_np_is_stable_for_large_scores():
    out = softmax_np(np.array([1000.0, 1000.0, 0.0]))
    np.testing.assert_allclose(out, [0.5, 0.5, 0.0], atol=1e-12)


@pytest.mark.parametrize("causal", [False, True])
def test_multi_head_attention_matches_nn_multiheadattention(causal):
    torch.manual_seed(0)
    d, h, t = 32, 4, 6
    ours = MultiHeadAttention(d, h).double()
    ref = nn.MultiheadAttention(d, h, batch_first=True).double()
    with torch.no_grad():  # copy our weights into torch's packed layout
        ref.in_proj_weight.copy_(torch.cat([ours.q_proj.weight, ours.k_proj.weight, ours.v_proj.weight]))
        ref.in_proj_bias.copy_(torch.cat([ours.q_proj.bias, ours.k_proj.bias, ours.v_proj.bias]))
        ref.out_proj.weight.copy_(ours.out_proj.weight)
        ref.out_proj.bias.copy_(ours.out_proj.bias)
    x = torch.randn(2, t, d, dtype=torch.float64)
    mask = ~causal_mask(t) if causal else None  # torch: True = masked out
    expected, _ = ref(x, x, x, attn_mask=mask, need_weights=False)
    torch.testing.assert_close(ours(x, is_causal=causal), expected, atol=1e-12, rtol=0)


def test_multi_head_attention_rejects_indivisible_width():
    with pytest.raises(ValueError, match="not divisible"):
        MultiHeadAttention(10, 3)
