"""The same model with its matrices stored for other CPU kernels: 16-bit, 8-bit and 4-bit weights.

Every ``nn.Linear`` of a ``Llama`` is swapped for a ``PackedLinear`` that keeps the
weights in another format and calls a kernel made for it. Nothing else changes, so
the result is still a ``Llama``: the same ``forward``, cache and decoding loop.

- ``"fp16"``, for decoding. One token is a chain of matrix-vector products, limited by
  the bytes of weights read (see ``roofline``). The weights are IEEE float16, packed
  once into the layout of fbgemm's half-precision GEMM (shipped inside PyTorch), which
  widens each weight to float32 in registers and does float32 arithmetic: half the
  bytes of float32, nearly the same answer (each weight rounded once, to 11 bits).
- ``"bf16"``, for prefill. Many tokens at once make the products compute-bound
  (FLOPs, not bytes). bfloat16 weights *and* inputs let a CPU with ``avx512_bf16``
  multiply pairs of bfloat16 numbers in one instruction, with float32 sums. The
  inputs are rounded too (8 bits of mantissa), so the logits move more than with
  ``"fp16"``; norms, softmax and the residual stream stay float32.

- ``"int8"`` and ``"int4"``, weight-only integers for PyTorch's CPU kernels: one int8
  and a float scale per row, or (``int4``) ``Q4_1`` blocks of 32 four-bit values with a
  scale and a minimum, the file's own format: re-quantising the dequantised ``Q4_1``
  matrices gives back exactly the file's blocks. Fewer bytes again, but these kernels
  are written for batches of tokens; the chapter measures what that costs at one.

The embedding table stays float32 (a lookup reads one row per token); a tied output
layer gets its own packed copy.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from llmbook.hardware.quantized import (quantize_blocks, torch_int4_matmul, torch_int4_weights, torch_int8_matmul,
                                        torch_int8_weights)
from llmbook.models.quant import GGMLType

KINDS = ("fp16", "bf16", "int8", "int4")


def check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown packing {kind!r}; choose one of {', '.join(KINDS)}")


# --8<-- [start:linear]
class PackedLinear(nn.Module):
    """``y = x W^T`` for x (..., in) float32 -> (..., out) float32, with W (out, in) stored as ``kind``."""

    def __init__(self, weight: torch.Tensor, kind: str) -> None:
        super().__init__()
        check_kind(kind)
        if weight.ndim != 2 or weight.dtype != torch.float32:
            raise ValueError(f"expected a 2-D float32 weight, got {tuple(weight.shape)} {weight.dtype}")
        self.kind, self.out_features, self.in_features = kind, *weight.shape
        w = weight.detach().contiguous()
        if kind == "fp16":  # fbgemm's own layout; the op rounds each weight to float16 once, here
            self.packed = torch.ops.quantized.linear_prepack_fp16(w, None)
            self.nbytes = 2 * w.numel()
        elif kind == "bf16":
            self.weight = w.to(torch.bfloat16)  # (out, in)
            self.nbytes = 2 * w.numel()
        elif kind == "int8":
            self.q, self.scales = torch_int8_weights(w.numpy())  # (out, in) int8, (out,) float32
            self.nbytes = self.q.numel() + 4 * self.scales.numel()
        else:  # int4: Q4_1 blocks along each row, in torch's packed layout
            blocks = quantize_blocks(w.numpy(), GGMLType.Q4_1)
            self.q, self.scales = torch_int4_weights(blocks)
            self.nbytes = blocks.nbytes  # 20 bytes per 32 weights, as in the file

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "bf16":
            return F.linear(x.to(torch.bfloat16), self.weight).float()  # bf16 products, float32 sums
        rows = x.reshape(-1, self.in_features)  # (N, in): the kernels take a matrix
        if self.kind == "fp16":
            y = torch.ops.quantized.linear_dynamic_fp16(rows, self.packed)
        elif self.kind == "int8":
            y = torch_int8_matmul(rows, self.q, self.scales)
        else:
            y = torch_int4_matmul(rows, self.q, self.scales)
        return y.reshape(*x.shape[:-1], self.out_features)
# --8<-- [end:linear]


# --8<-- [start:pack]
def pack_model(model: Any, kind: str = "fp16") -> Any:
    """A copy of a ``Llama`` whose every linear layer (and output layer) is a ``PackedLinear`` of ``kind``.

    The float32 model is untouched; the copy shares its tokenizer and float32 embedding.
    """
    check_kind(kind)  # before any copying
    if any(p.dtype != torch.float32 for p in model.parameters()):
        raise ValueError("pack_model takes a float32 model (load_model gives one)")
    shared = {id(p): p for p in model.parameters()}  # no copy of the weights: they are re-packed below
    shared[id(model.tokenizer)] = model.tokenizer
    packed = copy.deepcopy(model, shared)
    for block in packed.blocks:
        for parent in (block.attn, block.ffn):
            for name, child in list(parent.named_children()):
                if isinstance(child, nn.Linear):
                    setattr(parent, name, PackedLinear(child.weight, kind))
    # with tied embeddings, a packed copy of the table; 8 bits for int4, as the file keeps its embedding in Q8_0
    packed.output = PackedLinear(model.output.weight, "int8" if kind == "int4" else kind)
    return packed.eval()
# --8<-- [end:pack]


def weight_bytes(model: Any) -> int:
    """Bytes of matrix weights (with their scales) a packed model reads per token: every ``PackedLinear`` once."""
    return sum(m.nbytes for m in model.modules() if isinstance(m, PackedLinear))
