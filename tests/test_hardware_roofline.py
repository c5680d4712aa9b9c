"""Roofline arithmetic, SmolLM2's operations on it, and the CPU flags reader."""

import math

import pytest

from llmbook.hardware.cpu import FEATURES, cpu_flags, simd_features
from llmbook.hardware.roofline import (Op, attainable, attention_op, decode_bound, llama_ops, matmul_op,
                                       ridge_point, weight_bytes_per_token)


def test_matmul_counts():
    op = matmul_op("x", 3, 5, 7, weight_bytes=2, act_bytes=4)
    assert op.flops == 2 * 3 * 5 * 7
    assert op.bytes == 5 * 7 * 2 + (3 * 5 + 3 * 7) * 4
    # a matrix-vector product in float32 does 2 FLOPs per 4-byte weight: intensity tends to 1/2
    assert matmul_op("mv", 1, 4096, 4096).intensity == pytest.approx(0.5, rel=1e-3)
    # intensity grows with the number of rows (tokens) sharing the weights
    assert matmul_op("a", 64, 576, 576).intensity > 30 * matmul_op("b", 1, 576, 576).intensity


def test_roofline_and_ridge():
    peak, bw = 1000.0, 10.0
    assert ridge_point(peak, bw) == 100.0
    assert attainable(50.0, peak, bw) == 500.0  # memory-bound: I * bandwidth
    assert attainable(100.0, peak, bw) == peak  # at the ridge both limits meet
    assert attainable(1e6, peak, bw) == peak


def test_attention_scores_in_memory_cost_bytes_not_flops():
    fused = attention_op("f", 512, 512, 9, 3, 64)
    naive = attention_op("n", 512, 512, 9, 3, 64, scores_in_memory=True)
    assert fused.flops == naive.flops == 4 * 512 * 512 * 9 * 64
    assert naive.bytes - fused.bytes == 2 * 9 * 512 * 512 * 4


def test_smollm2_ops(smollm):
    c = smollm.config
    decode = llama_ops(c, tokens=1, context=0)
    prefill = llama_ops(c, tokens=512, context=0)
    weights = weight_bytes_per_token(c)
    # float32 weights: the matrices of the decode step read all weights but the embedding row
    matrices = sum(o.bytes for o in decode if "attention over" not in o.name)
    assert abs(matrices - weights) < 4 * (2 * c.n_layers * (c.dim + c.dim + c.dim + 2 * c.ffn_dim) + c.vocab_size)
    n_params = sum(p.numel() for p in smollm.parameters())
    norms = c.n_layers * 2 * c.dim + c.dim
    assert weights == 4 * (n_params - norms - c.vocab_size * c.dim + c.dim + c.vocab_size * c.dim)
    for op in decode:
        if "attention over" not in op.name:
            assert op.intensity < 0.51  # matrix-vector products: memory-bound anywhere
    for op in prefill:
        assert op.intensity > 90  # 512 tokens share each weight read
    assert decode_bound(c, 10e9) == pytest.approx(10e9 / weights)
    assert decode_bound(c, 10e9, weight_bytes=0.5) == pytest.approx(8 * decode_bound(c, 10e9))


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="bandwidth"):
        ridge_point(1.0, 0)
    with pytest.raises(ValueError, match="intensity"):
        attainable(math.nan, 1.0, 1.0)
    with pytest.raises(ValueError, match="m must be an integer"):
        matmul_op("x", 0, 1, 1)
    with pytest.raises(ValueError, match="context must be an integer >= 0"):
        llama_ops(type("C", (), {})(), 1, -1)
    with pytest.raises(ValueError, match="tokens must be an integer >= 1"):
        llama_ops(type("C", (), {})(), 0)


def test_cpu_flags(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 fma avx512f avx512_bf16\n\nflags\t: other\n")
    assert cpu_flags(info) == {"fpu", "sse", "avx2", "fma", "avx512f", "avx512_bf16"}
    features = simd_features(cpu_flags(info))
    assert set(features) == set(FEATURES)
    assert features["avx512_bf16"] and not features["amx_tile"]
    assert cpu_flags(tmp_path / "missing") == set()
