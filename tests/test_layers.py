"""The transformer's pieces against PyTorch's own layers, on tiny random configurations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from llmbook.layers.blocks import EncoderLayer, GPT2Block, LlamaBlock
from llmbook.layers.embedding import TokenEmbedding
from llmbook.layers.feed_forward import FeedForward, SwiGLU
from llmbook.layers.kv_cache import KVCache
from llmbook.layers.grouped_query_attention import GroupedQueryAttention
from llmbook.layers.norms import LayerNorm, RMSNorm, layer_norm_np, rms_norm_np
from llmbook.layers.positions import LearnedPositions, apply_rope, rope_angles, sinusoidal_positions
from llmbook.inference.numpy_engine import apply_rope_np, rope_tables_np

# Two float32 implementations of one layer differ only in rounding: a sum of n terms taken in another order
# (AVX2 or AVX-512 kernels, FMA or not) moves by at most ~n * 2^-24 of the terms' size. These layers add at most
# ~100 terms of about the output's size, so 1e-5 of the output's scale (and at least 1e-5) holds on any CPU.
REL = 1e-5


def assert_f32_close(actual: torch.Tensor | np.ndarray, expected: torch.Tensor | np.ndarray) -> None:
    """|actual - expected| <= REL * max(1, max |expected|): equal up to float32 rounding."""
    a, e = torch.as_tensor(actual).detach(), torch.as_tensor(expected).detach()
    torch.testing.assert_close(a, e, atol=REL * max(1.0, e.abs().max().item()), rtol=0)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def _randomise(module: nn.Module) -> nn.Module:
    """Give every parameter random values (norm weights start at 1 and biases at 0 otherwise)."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            is_norm_weight = p.ndim == 1 and name.endswith("weight")
            p.copy_(torch.randn_like(p) * 0.3 + (1.0 if is_norm_weight else 0.0))
    return module


# ---- embeddings and positions --------------------------------------------------------------

def test_token_embedding_is_a_row_lookup_and_rejects_unknown_ids() -> None:
    emb = TokenEmbedding(10, 4)
    ids = torch.tensor([[3, 0, 9]])
    assert emb(ids).shape == (1, 3, 4)
    torch.testing.assert_close(emb(ids)[0, 0], emb.weight[3])
    torch.testing.assert_close(emb(ids), F.one_hot(ids, 10).float() @ emb.weight)
    with pytest.raises(IndexError, match=r"unknown token id 10: the vocabulary has ids 0..9"):
        emb(torch.tensor([[1, 10]]))
    with pytest.raises(IndexError, match=r"unknown token id -1"):
        emb(torch.tensor([[-1]]))


def test_sinusoidal_positions_formula() -> None:
    pe = sinusoidal_positions(50, 16)
    assert pe.shape == (50, 16)
    p, i = 7, 3
    # float64 sin/cos rounded once to float32: within half a float32 ulp of values <= 1, 2^-25, plus float64 noise
    assert pe[p, 2 * i].item() == pytest.approx(math.sin(p / 10000 ** (2 * i / 16)), abs=2**-24)
    assert pe[p, 2 * i + 1].item() == pytest.approx(math.cos(p / 10000 ** (2 * i / 16)), abs=2**-24)
    torch.testing.assert_close(pe[0], torch.tensor([0.0, 1.0] * 8))
    with pytest.raises(ValueError, match="even width"):
        sinusoidal_positions(4, 5)


def test_learned_positions_and_context_limit() -> None:
    pos = LearnedPositions(8, 4)
    torch.testing.assert_close(pos(3, start=2), pos.weight[2:5])
    with pytest.raises(ValueError, match=r"positions 6..8 exceed the context length 8"):
        pos(3, start=6)


def test_rope_is_a_rotation_and_scores_depend_on_relative_position() -> None:
    d = 8
    q, k = torch.randn(d), torch.randn(d)

    def rotated(x: torch.Tensor, p: int, interleaved: bool) -> torch.Tensor:
        cos, sin = rope_angles(torch.tensor([p]), d, base=100.0)
        return apply_rope(x.view(1, 1, 1, d), cos, sin, interleaved)[0, 0, 0]

    # float32: cos/sin and each rotated pair are off by a few 2^-24 (6e-8) relative, an 8-term norm or dot product
    # by ~8 more: rel 1e-6 (~17 of them) for the length, abs 1e-5 for scores of size |q||k| ~ 8
    for inter in (True, False):
        assert rotated(q, 5, inter).norm().item() == pytest.approx(q.norm().item(), rel=1e-6)  # length kept
        s1 = rotated(q, 5, inter) @ rotated(k, 2, inter)
        s2 = rotated(q, 13, inter) @ rotated(k, 10, inter)  # same distance 3
        assert s1.item() == pytest.approx(s2.item(), abs=1e-5)
        torch.testing.assert_close(rotated(q, 0, inter), q)  # position 0: no rotation


def test_rope_conventions_differ_by_a_permutation() -> None:
    """Interleaved pairs (2i, 2i+1) on permuted dims == half pairs (i, i + D/2) on the originals."""
    d = 8
    x = torch.randn(2, 3, 5, d)
    cos, sin = rope_angles(torch.arange(5), d)
    perm = torch.stack((torch.arange(d // 2), torch.arange(d // 2) + d // 2), dim=1).flatten()  # 0,4,1,5,...
    torch.testing.assert_close(apply_rope(x[..., perm], cos, sin, True), apply_rope(x, cos, sin, False)[..., perm])


def test_rope_tables_are_the_float64_values_rounded_once_in_torch_and_numpy() -> None:
    n, d, base = 8192, 64, 100000.0  # SmolLM2: the whole context, head dim 64, base 1e5
    cos, sin = rope_tables_np(n, d, base)
    tcos, tsin = rope_angles(torch.arange(n), d, base)
    assert cos.dtype == sin.dtype == np.float32 and tcos.dtype == tsin.dtype == torch.float32
    assert cos.shape == sin.shape == tcos.shape == (n, d // 2)
    angles = [[p * base ** (-i / d) for i in range(0, d, 2)] for p in range(n)]  # float64, by Python's libm
    ref_cos = np.array([[math.cos(a) for a in row] for row in angles]).astype(np.float32)
    ref_sin = np.array([[math.sin(a) for a in row] for row in angles]).astype(np.float32)
    # Each table is cos/sin of a float64 angle rounded once to float32 (2^-24 relative); the float64 values of two
    # implementations differ by a few float64 ulps of an angle < 8192 (< 1e-11), whatever SIMD paths pow, cos, sin take.
    for got, ref in [(cos, ref_cos), (sin, ref_sin), (tcos.numpy(), ref_cos), (tsin.numpy(), ref_sin)]:
        np.testing.assert_allclose(got, ref, rtol=2**-23, atol=1e-11)
    tail_cos, tail_sin = rope_angles(torch.arange(6993, 7000), d, base)  # decoding at a late position
    np.testing.assert_allclose(tail_cos.numpy(), ref_cos[6993:7000], rtol=2**-23, atol=1e-11)
    np.testing.assert_allclose(tail_sin.numpy(), ref_sin[6993:7000], rtol=2**-23, atol=1e-11)
    # Given the same tables the two rotations do the same correctly rounded float32 operations: equal bit for bit.
    x = np.random.default_rng(0).standard_normal((2, 3, 7, d), dtype=np.float32)  # (B, H, T, D)
    y = apply_rope_np(x, cos[6993:7000], sin[6993:7000])
    t = torch.from_numpy
    np.testing.assert_array_equal(y, apply_rope(t(x), t(cos[6993:7000]), t(sin[6993:7000])).numpy())


# ---- norms and feed-forward ----------------------------------------------------------------

def test_layernorm_matches_torch() -> None:
    ours, ref = _randomise(LayerNorm(16)), nn.LayerNorm(16)
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(2, 5, 16) * 3 + 1
    assert_f32_close(ours(x), ref(x))
    assert_f32_close(layer_norm_np(x.numpy(), ours.weight.detach().numpy(), ours.bias.detach().numpy()), ref(x))
    assert layer_norm_np(x.numpy(), np.ones(16, np.float32), None).dtype == np.float32


def test_rmsnorm_matches_torch() -> None:
    ours, ref = _randomise(RMSNorm(16, eps=1e-5)), nn.RMSNorm(16, eps=1e-5)
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(2, 5, 16) * 3 + 1
    assert_f32_close(ours(x), ref(x))
    got = rms_norm_np(x.numpy(), ours.weight.detach().numpy(), 1e-5)
    assert got.dtype == np.float32
    assert_f32_close(got, ref(x))


@pytest.mark.parametrize(("activation", "fn"), [("relu", F.relu), ("gelu", F.gelu)])
def test_feedforward(activation: str, fn) -> None:  # noqa: ANN001
    ffn = FeedForward(8, 32, activation)
    x = torch.randn(2, 3, 8)
    expected = F.linear(fn(F.linear(x, ffn.up.weight, ffn.up.bias)), ffn.down.weight, ffn.down.bias)
    torch.testing.assert_close(ffn(x), expected)
    with pytest.raises(ValueError, match="unknown activation 'tanh'"):
        FeedForward(8, 32, "tanh")


def test_swiglu() -> None:
    ffn = SwiGLU(8, 24)
    x = torch.randn(2, 3, 8)
    g, u = x @ ffn.gate.weight.T, x @ ffn.up.weight.T
    torch.testing.assert_close(ffn(x), (g * torch.sigmoid(g) * u) @ ffn.down.weight.T)


# ---- attention ---------------------------------------------------------------------------

@pytest.mark.parametrize(("n_heads", "n_kv"), [(4, 4), (6, 2), (4, 1)])
def test_gqa_matches_torch_sdpa(n_heads: int, n_kv: int) -> None:
    dim, d, t = 24, 6, 7
    attn = GroupedQueryAttention(dim, n_heads, n_kv, head_dim=d)
    x = torch.randn(2, t, dim)
    cos, sin = rope_angles(torch.arange(t), d)
    q = apply_rope(attn.q_proj(x).view(2, t, n_heads, d).transpose(1, 2), cos, sin)
    k = apply_rope(attn.k_proj(x).view(2, t, n_kv, d).transpose(1, 2), cos, sin)
    v = attn.v_proj(x).view(2, t, n_kv, d).transpose(1, 2)
    y = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    expected = attn.o_proj(y.transpose(1, 2).reshape(2, t, n_heads * d))
    attn.keep_weights = True
    assert_f32_close(attn(x, cos, sin), expected)
    w = attn.last_weights
    assert w is not None and w.shape == (2, n_heads, t, t)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, n_heads, t))
    assert torch.all(w.triu(diagonal=1) == 0)  # causal: nothing from the future


def test_gqa_with_kv_cache_equals_full_pass() -> None:
    attn = GroupedQueryAttention(24, 6, 2)
    x = torch.randn(1, 9, 24)
    cos, sin = rope_angles(torch.arange(9), 4)
    full = attn(x, cos, sin)
    cache = KVCache(n_layers=1)
    parts = [attn(x[:, :5], cos[:5], sin[:5], cache)]  # prefill 5 tokens, then one at a time
    for i in range(5, 9):
        parts.append(attn(x[:, i : i + 1], cos[i : i + 1], sin[i : i + 1], cache))
    assert cache.length == 9
    assert_f32_close(torch.cat(parts, dim=1), full)


@pytest.mark.parametrize("prefill", [9, 5])
def test_fused_gqa_equals_the_books_formula(prefill: int) -> None:
    attn = GroupedQueryAttention(24, 6, 2)
    x = torch.randn(2, 9, 24)
    cos, sin = rope_angles(torch.arange(9), 4)
    outputs = []
    for fused in (False, True):
        attn.fused = fused
        cache = KVCache(n_layers=1)
        parts = [attn(x[:, :prefill], cos[:prefill], sin[:prefill], cache)]
        if prefill < 9:  # then 3 tokens at once after a cached prefix, then 1
            parts.append(attn(x[:, 5:8], cos[5:8], sin[5:8], cache))
            parts.append(attn(x[:, 8:], cos[8:], sin[8:], cache))
        outputs.append(torch.cat(parts, dim=1))
    assert_f32_close(outputs[1], outputs[0])


def test_gqa_rejects_bad_head_counts() -> None:
    with pytest.raises(ValueError, match="n_heads=6 is not a multiple of n_kv_heads=4"):
        GroupedQueryAttention(24, 6, 4)


# ---- blocks ------------------------------------------------------------------------------

def _load_torch_encoder(ours: nn.Module, ref: nn.TransformerEncoderLayer) -> None:
    a = ours.attn
    sd = {
        "self_attn.in_proj_weight": torch.cat([a.q_proj.weight, a.k_proj.weight, a.v_proj.weight]),
        "self_attn.in_proj_bias": torch.cat([a.q_proj.bias, a.k_proj.bias, a.v_proj.bias]),
        "self_attn.out_proj.weight": a.out_proj.weight, "self_attn.out_proj.bias": a.out_proj.bias,
        "linear1.weight": ours.ffn.up.weight, "linear1.bias": ours.ffn.up.bias,
        "linear2.weight": ours.ffn.down.weight, "linear2.bias": ours.ffn.down.bias,
        "norm1.weight": ours.norm1.weight, "norm1.bias": ours.norm1.bias,
        "norm2.weight": ours.norm2.weight, "norm2.bias": ours.norm2.bias,
    }
    ref.load_state_dict({k: v.detach() for k, v in sd.items()})


def test_encoder_layer_matches_torch_post_norm() -> None:
    ours = _randomise(EncoderLayer(16, 4, 48, dropout=0.1)).eval()
    ref = nn.TransformerEncoderLayer(16, 4, 48, dropout=0.1, batch_first=True, norm_first=False).eval()
    _load_torch_encoder(ours, ref)
    x = torch.randn(2, 6, 16)
    assert_f32_close(ours(x), ref(x))
    ours.train()  # dropout is random in training and off in evaluation
    assert not torch.allclose(ours(x), ref(x), atol=1e-3)


def test_gpt2_block_matches_torch_pre_norm_causal() -> None:
    ours = _randomise(GPT2Block(16, 4, 48)).eval()
    ref = nn.TransformerEncoderLayer(
        16, 4, 48, dropout=0.0, activation=lambda x: F.gelu(x, approximate="tanh"), batch_first=True, norm_first=True
    ).eval()
    _load_torch_encoder(ours, ref)
    x = torch.randn(2, 6, 16)
    mask = nn.Transformer.generate_square_subsequent_mask(6)
    assert_f32_close(ours(x), ref(x, src_mask=mask, is_causal=True))
    # causal: changing the last token leaves earlier outputs alone
    y = x.clone()
    y[:, -1] += 1.0
    torch.testing.assert_close(ours(y)[:, :-1], ours(x)[:, :-1])


def test_llama_block_matches_a_reference_in_hugging_face_layout() -> None:
    """Our block on interleaved-pair weights == nn.RMSNorm + F.scaled_dot_product_attention on half-split weights."""
    dim, h, kv, d, t = 32, 4, 2, 8, 6
    blk = _randomise(LlamaBlock(dim, h, kv, 40)).eval()
    x = torch.randn(2, t, dim)
    cos, sin = rope_angles(torch.arange(t), d, base=1000.0)
    # HF layout: per head, rows (0, 2, 4, ..., 1, 3, 5, ...) of ours: pair (2i, 2i+1) becomes (i, i + D/2)
    unperm = torch.cat((torch.arange(0, d, 2), torch.arange(1, d, 2)))

    def hf_rows(w: torch.Tensor, heads: int) -> torch.Tensor:
        return w.view(heads, d, -1)[:, unperm].reshape(heads * d, -1)

    a = blk.attn
    norm1, norm2 = nn.RMSNorm(dim, eps=1e-5), nn.RMSNorm(dim, eps=1e-5)
    norm1.weight.data, norm2.weight.data = blk.attn_norm.weight.data, blk.ffn_norm.weight.data
    with torch.no_grad():
        hn = norm1(x)
        q = apply_rope((hn @ hf_rows(a.q_proj.weight, h).T).view(2, t, h, d).transpose(1, 2), cos, sin, False)
        k = apply_rope((hn @ hf_rows(a.k_proj.weight, kv).T).view(2, t, kv, d).transpose(1, 2), cos, sin, False)
        v = (hn @ a.v_proj.weight.T).view(2, t, kv, d).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        x1 = x + y.transpose(1, 2).reshape(2, t, h * d) @ a.o_proj.weight.T
        hn = norm2(x1)
        expected = x1 + F.linear(F.silu(F.linear(hn, blk.ffn.gate.weight)) * F.linear(hn, blk.ffn.up.weight),
                                 blk.ffn.down.weight)
        assert_f32_close(blk(x, cos, sin), expected)
