"""Packed matrices (llmbook.hardware.packed): each packing does exactly its rounding and nothing else.

- ``fp16``: fbgemm's kernel equals a float32 product with the weights rounded to float16 first,
  within float32 summation error; the whole packed model equals a float32 model whose weights were
  rounded the same way, within the suite's float32 logit bound; greedy decoding gives the float32
  model's tokens.
- ``bf16``: each product equals the float32 product of the rounded inputs and weights, rounded once
  more to bfloat16; the model's logits stay within a bound derived from bfloat16's unit roundoff.
- ``int8`` and ``int4``: float32 products with the dequantised integers; the int4 model computes with
  exactly the file's Q4_1 numbers.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from helpers import one_torch_thread, real_prompts
from llmbook.hardware.packed import PackedLinear, pack_model, weight_bytes
from llmbook.hardware.quantized import quantize_blocks, torch_int8_weights
from llmbook.models.quant import GGMLType
from llmbook.inference.engine import engine_for
from llmbook.inference.generate import generate

EPS32 = float(np.finfo(np.float32).eps)
U_BF16 = 2.0**-8  # unit roundoff of bfloat16 (8 significant bits)


def gamma(n: int) -> float:
    """Higham's bound on the relative error of a length-n float32 dot product: n u / (1 - n u)."""
    u = EPS32 / 2
    return n * u / (1 - n * u)


_PACKED: dict[str, object] = {}


def packed_copy(model, kind: str):
    """``pack_model(model, kind)``, made once per kind for the whole module."""
    if kind not in _PACKED:
        _PACKED[kind] = pack_model(model, kind)
    return _PACKED[kind]


@pytest.fixture(autouse=True)
def one_thread():
    with one_torch_thread():
        yield


def test_fp16_kernel_is_a_float32_product_of_rounded_weights() -> None:
    g = torch.Generator().manual_seed(0)
    w, x = torch.randn(300, 576, generator=g) * 0.05, torch.randn(5, 576, generator=g)
    y = PackedLinear(w, "fp16")(x)
    w16 = w.half().float()  # what the kernel multiplies by
    exact = x.double() @ w16.double().T
    bound = gamma(576) * (x.abs().double() @ w16.abs().double().T)
    assert y.dtype == torch.float32 and y.shape == (5, 300)
    assert bool(((y.double() - exact).abs() <= bound).all())
    # and it is not the unrounded product: float16 rounding is visible at this scale
    assert float((y.double() - x.double() @ w.double().T).abs().max()) > float(bound.max())


def test_bf16_kernel_rounds_inputs_weights_and_output() -> None:
    g = torch.Generator().manual_seed(1)
    w, x = torch.randn(200, 576, generator=g) * 0.05, torch.randn(3, 2, 576, generator=g)
    y = PackedLinear(w, "bf16")(x)
    xb, wb = x.bfloat16().double(), w.bfloat16().double()
    exact = xb @ wb.T  # products of 8-bit significands are exact in float32; only the sums round
    bound = U_BF16 * exact.abs() + gamma(576) * (xb.abs() @ wb.abs().T) * (1 + U_BF16)
    assert y.dtype == torch.float32 and y.shape == (3, 2, 200)
    assert bool(((y.double() - exact).abs() <= bound).all())


@pytest.mark.parametrize("kind", ["int8", "int4"])
def test_integer_kernels_are_float32_products_of_the_dequantised_weights(kind: str) -> None:
    g = torch.Generator().manual_seed(2)
    w, x = torch.randn(96, 256, generator=g) * 0.05, torch.randn(4, 256, generator=g)
    layer = PackedLinear(w, kind)
    if kind == "int8":
        q, s = torch_int8_weights(w.numpy())
        w_hat = q.double() * s.double()[:, None]
    else:
        w_hat = torch.from_numpy(quantize_blocks(w.numpy(), GGMLType.Q4_1).dequantize()).double()
    exact = x.double() @ w_hat.T
    bound = 2 * gamma(256) * (x.abs().double() @ w_hat.abs().T)  # the sums, and the scale applied in float32
    y = layer(x).double()
    assert bool(((y - exact).abs() <= bound).all()), float((y - exact).abs().max())
    assert layer.nbytes == {"int8": 96 * 256 + 4 * 96, "int4": 96 * (256 // 32) * 20}[kind]


def test_int4_model_computes_with_the_files_own_numbers(smollm) -> None:
    """Re-quantising the dequantised Q4_1 matrices gives back the file's blocks, so the int4 engine equals
    the float32 model except for its output layer, which (like the file's Q8_0 embedding) it keeps at 8 bits."""
    q, s = torch_int8_weights(smollm.output.weight.detach().numpy())
    like = copy.deepcopy(smollm, {id(smollm.tokenizer): smollm.tokenizer})
    like.output = torch.nn.Linear(smollm.config.dim, smollm.config.vocab_size, bias=False)
    like.output.weight = torch.nn.Parameter((q.double() * s.double()[:, None]).float(), requires_grad=False)
    packed, c = packed_copy(smollm, "int4"), smollm.config
    ids = list(real_prompts(smollm).values())[0]
    with torch.inference_mode():
        want, got = like(torch.tensor([ids])), packed(torch.tensor([ids]))
    bound = 5 * EPS32 * math.sqrt(c.n_layers * c.dim) * float(want.abs().max())
    assert float((got - want).abs().max()) <= bound


def test_packing_checks_its_input() -> None:
    with pytest.raises(ValueError, match="unknown packing 'int3'"):
        PackedLinear(torch.zeros(4, 4), "int3")
    with pytest.raises(ValueError, match="2-D float32"):
        PackedLinear(torch.zeros(4, 4, dtype=torch.float64), "fp16")


def test_packed_model_reads_half_the_bytes(smollm) -> None:
    packed = packed_copy(smollm, "fp16")
    assert engine_for(smollm, packed) is packed  # a packed copy is an engine of the one decoding loop
    linears = [m for m in smollm.modules() if isinstance(m, torch.nn.Linear)]
    float_bytes = sum(4 * m.weight.numel() for m in linears)  # the tied output layer counted as a matrix read
    assert weight_bytes(packed) * 2 == float_bytes
    assert all(p.dtype == torch.float32 for p in smollm.parameters())  # the float32 model is untouched
    with pytest.raises(ValueError, match="float32 model"):
        pack_model(copy.deepcopy(smollm, {id(smollm.tokenizer): smollm.tokenizer}).to(torch.bfloat16), "fp16")


def test_fp16_model_equals_float32_with_rounded_weights(smollm) -> None:
    rounded = copy.deepcopy(smollm, {id(smollm.tokenizer): smollm.tokenizer})
    for m in rounded.modules():
        if isinstance(m, torch.nn.Linear):
            m.weight = torch.nn.Parameter(m.weight.detach().half().float(), requires_grad=False)
    rounded.embed.weight = smollm.embed.weight  # the lookup table stays float32 in the packed model
    packed = packed_copy(smollm, "fp16")
    c = smollm.config
    for ids in list(real_prompts(smollm).values())[:3]:
        with torch.inference_mode():
            want, got = rounded(torch.tensor([ids])), packed(torch.tensor([ids]))
        bound = 5 * EPS32 * math.sqrt(c.n_layers * c.dim) * float(want.abs().max())  # as tests/test_engines.py
        assert float((got - want).abs().max()) <= bound


def test_fp16_greedy_gives_the_float32_tokens(smollm) -> None:
    for ids in list(real_prompts(smollm).values())[:2]:
        want = generate(smollm, ids, max_new_tokens=24, eos_token_id=None, engine="numpy").ids
        assert generate(smollm, ids, max_new_tokens=24, eos_token_id=None, engine=packed_copy(smollm, "fp16")).ids == want


def test_bf16_model_logits_within_the_bfloat16_bound(smollm) -> None:
    # Each product rounds its inputs, weights and output to bfloat16: relative error up to 3u per product.
    # Summed in quadrature over the 7 products of each of L blocks, times the logits' scale, x5 (as the
    # float32 bound in tests/test_engines.py). About 6 on SmolLM2; the measured difference is ~1.
    packed, c = packed_copy(smollm, "bf16"), smollm.config
    for ids in list(real_prompts(smollm).values())[:2]:
        with torch.inference_mode():
            want, got = smollm(torch.tensor([ids])), packed(torch.tensor([ids]))
        bound = 5 * 3 * U_BF16 * math.sqrt(7 * c.n_layers) * float(want.abs().max())
        diff = float((got - want).abs().max())
        assert 0 < diff <= bound
