"""CrossAttention against PyTorch's nn.MultiheadAttention given the same weights."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from llmbook.layers.cross_attention import CrossAttention


def _reference(ours: CrossAttention, d_model: int, n_heads: int) -> nn.MultiheadAttention:
    ref = nn.MultiheadAttention(d_model, n_heads, batch_first=True)
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([ours.q_proj.weight, ours.k_proj.weight, ours.v_proj.weight]))
        ref.in_proj_bias.copy_(torch.cat([ours.q_proj.bias, ours.k_proj.bias, ours.v_proj.bias]))
        ref.out_proj.weight.copy_(ours.out_proj.weight)
        ref.out_proj.bias.copy_(ours.out_proj.bias)
    return ref.eval()


@pytest.mark.parametrize("use_mask", [False, True])
def test_cross_attention_matches_torch(use_mask: bool) -> None:
    torch.manual_seed(0)
    d_model, n_heads, t_q, t_k = 16, 4, 3, 5
    ours = CrossAttention(d_model, n_heads).eval()
    x, memory = torch.randn(2, t_q, d_model), torch.randn(2, t_k, d_model)
    mask = torch.ones(t_q, t_k, dtype=torch.bool)
    mask[:, -2:] = False  # e.g. two padding positions in the source
    got = ours(x, memory, mask if use_mask else None)
    want, _ = _reference(ours, d_model, n_heads)(x, memory, memory, attn_mask=~mask if use_mask else None)
    assert got.shape == (2, t_q, d_model)
    # float32, sums of 16 products of O(1) numbers: rounding differences stay far below 1e-5
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_masked_source_positions_change_nothing() -> None:
    torch.manual_seed(1)
    ours = CrossAttention(8, 2).eval()
    x, memory = torch.randn(1, 2, 8), torch.randn(1, 4, 8)
    mask = torch.tensor([[True, True, False, False]] * 2)
    changed = memory.clone()
    changed[:, 2:] = 100.0  # masked positions may hold anything
    assert torch.equal(ours(x, memory, mask), ours(x, changed, mask))


def test_cross_attention_rejects_mismatched_inputs() -> None:
    ours = CrossAttention(8, 2)
    with pytest.raises(ValueError, match=r"must agree on B and C, got \(1, 2, 8\) and \(1, 4, 6\)"):
        ours(torch.randn(1, 2, 8), torch.randn(1, 4, 6))
    with pytest.raises(ValueError, match="must agree on B and C"):
        ours(torch.randn(2, 2, 8), torch.randn(1, 4, 8))
