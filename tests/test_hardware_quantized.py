"""Weight-only quantised products from the file's own blocks equal their dequantised float reference."""

import numpy as np
import pytest
import torch

from llmbook.hardware.quantized import (QuantizedMatrix, quantize_blocks, torch_int4_matmul, torch_int4_weights,
                                        torch_int8_matmul, torch_int8_weights)
from llmbook.models.gguf import read_gguf
from llmbook.models.quant import GGMLType
from llmbook.models.registry import model_path

U = 2.0**-24  # float32 unit roundoff


@pytest.fixture(scope="module")
def gguf_file():
    return read_gguf(model_path("smollm2-135m-instruct"))


def matrix(f, name):
    info = f.tensors[name]
    return QuantizedMatrix.from_raw(f.raw(name), info.type, tuple(info.shape))


def dot_bound(w: QuantizedMatrix, x: np.ndarray) -> np.ndarray:
    """Largest difference allowed between two float32 evaluations of W @ x, per output.

    Each evaluation sums K products (d q + m) x, rounding each product, each weight and each
    partial sum once: error <= gamma_(K+3) * sum |d q| |x| + |m| |x| (Higham's bound, any order,
    any SIMD width); two evaluations differ by at most twice that.
    """
    k = w.shape[1]
    dq = np.abs(w.d[..., None].astype(np.float64) * w.integers()).reshape(w.shape)
    mm = np.repeat(np.abs(w.m), 32, axis=1) if w.m is not None else 0.0
    gamma = (k + 3) * U / (1 - (k + 3) * U)
    return 2 * gamma * ((dq + mm) @ np.abs(x.astype(np.float64)).T).T


@pytest.mark.parametrize("name", ["blk.0.ffn_down.weight", "blk.5.attn_q.weight", "token_embd.weight"])
def test_dequantisation_equals_the_gguf_package(gguf_file, name):
    from gguf import quants

    info = gguf_file.tensors[name]
    w = matrix(gguf_file, name)
    assert w.qtype == (GGMLType.Q8_0 if name == "token_embd.weight" else GGMLType.Q4_1)
    assert w.nbytes == info.n_bytes  # the blocks hold every byte of the tensor, nothing more
    ref = quants.dequantize(gguf_file.raw(name), info.type).reshape(info.shape)
    np.testing.assert_array_equal(w.dequantize(), ref)


@pytest.mark.parametrize("name", ["blk.0.ffn_down.weight", "blk.3.ffn_gate.weight", "token_embd.weight"])
def test_quantised_matvec_equals_dequantised_reference(gguf_file, name):
    w = matrix(gguf_file, name)
    x = np.random.default_rng(0).standard_normal((3, w.shape[1])).astype(np.float32)
    ref = x @ w.dequantize().T  # (3, rows)
    got = w.matvec(x)
    assert got.shape == ref.shape and got.dtype == np.float32
    assert np.all(np.abs(got - ref) <= dot_bound(w, x))
    assert np.allclose(w.matvec(x[0]), got[0], rtol=0, atol=float(dot_bound(w, x[:1]).max()))


def test_torch_int4_kernel_on_the_files_q4_1_blocks(gguf_file):
    w = matrix(gguf_file, "blk.2.ffn_up.weight")
    packed, sz = torch_int4_weights(w)
    assert packed.dtype == torch.uint8 and packed.numel() * packed.element_size() == w.q.nbytes
    x = np.random.default_rng(1).standard_normal((4, w.shape[1])).astype(np.float32)
    got = torch_int4_matmul(torch.from_numpy(x), packed, sz).numpy()
    ref = x @ w.dequantize().T
    # torch adds the zero once per group as (q - 8) * d + (m + 8 d): two more roundings per weight
    assert np.all(np.abs(got - ref) <= 2 * dot_bound(w, x))


def test_torch_int8_kernel_per_row_scales():
    w = np.random.default_rng(2).standard_normal((96, 64)).astype(np.float32)
    q, scales = torch_int8_weights(w)
    assert q.dtype == torch.int8 and scales.shape == (96,)
    deq = q.float() * scales[:, None]
    # round to nearest: each weight within half a step of its row's scale
    assert torch.all((deq - torch.from_numpy(w)).abs() <= scales[:, None] * (0.5 + 1e-6))
    x = torch.randn(2, 64)
    got, ref = torch_int8_matmul(x, q, scales), x @ deq.T
    bound = 2 * (64 + 3) * U * (x.abs() @ deq.abs().T)  # as dot_bound, float32 either way
    assert torch.all((got - ref).abs() <= bound)


def test_quantize_blocks_round_trip(gguf_file):
    w = matrix(gguf_file, "blk.1.attn_k.weight").dequantize()
    for qtype, steps in ((GGMLType.Q8_0, 127), (GGMLType.Q4_1, 15)):
        qm = quantize_blocks(w, qtype)
        err = np.abs(qm.dequantize() - w).reshape(w.shape[0], -1, 32)
        # half a step, plus the float16 rounding of d (relative 2^-11, times up to `steps` steps) and of m
        d = qm.d[..., None]
        m = np.abs(qm.m[..., None]) if qm.m is not None else 0.0
        assert np.all(err <= d * (0.5 + steps * 2.0**-11) + m * 2.0**-11 + 4 * U * (steps * d + m))
    # re-quantising the file's Q4_1 weights in Q4_1 finds blocks of at most 16 levels again
    again = quantize_blocks(w, GGMLType.Q4_1).dequantize()
    assert np.abs(again - w).max() < 0.05 * np.abs(w).max()


def test_bad_input_is_named(gguf_file):
    raw = gguf_file.raw("blk.0.ffn_down.weight")
    with pytest.raises(ValueError, match="needs 552960 bytes"):
        QuantizedMatrix.from_raw(raw[:-1], GGMLType.Q4_1, (576, 1536))
    with pytest.raises(ValueError, match="multiple of 32"):
        QuantizedMatrix.from_raw(raw, GGMLType.Q4_1, (576 * 32, 48))
    with pytest.raises(ValueError, match="qtype must be one of"):
        QuantizedMatrix.from_raw(raw, GGMLType.Q6_K, (576, 1536))
    w = matrix(gguf_file, "blk.0.ffn_down.weight")
    with pytest.raises(ValueError, match="float32"):
        w.matvec(np.zeros(1536))
    with pytest.raises(ValueError, match="cols = 1536"):
        w.matvec(np.zeros(576, dtype=np.float32))
    with pytest.raises(ValueError, match="Q4_1"):
        torch_int4_weights(quantize_blocks(np.zeros((4, 32), np.float32), GGMLType.Q8_0))
