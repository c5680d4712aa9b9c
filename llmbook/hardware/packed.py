"""The same model with its matrices stored for faster CPU kernels: half-precision weights.

Every ``nn.Linear`` of a ``Llama`` is swapped for a ``PackedLinear`` that keeps the
weights in 16 bits and calls a kernel made for that format. Nothing else changes, so
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

The embedding table stays float32 (a lookup reads one row per token); a tied output
layer gets its own 16-bit copy.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

KINDS = ("fp16", "bf16")


# --8<-- [start:linear]
class PackedLinear(nn.Module):
    """``y = x W^T`` for x (..., in) float32 -> (..., out) float32, with W (out, in) kept in 16 bits."""

    def __init__(self, weight: torch.Tensor, kind: str) -> None:
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"unknown packing {kind!r}; choose one of {', '.join(KINDS)}")
        if weight.ndim != 2 or weight.dtype != torch.float32:
            raise ValueError(f"expected a 2-D float32 weight, got {tuple(weight.shape)} {weight.dtype}")
        self.kind, self.out_features, self.in_features = kind, *weight.shape
        w = weight.detach()
        if kind == "fp16":  # fbgemm's own layout; the op rounds each weight to float16 once, here
            self.packed = torch.ops.quantized.linear_prepack_fp16(w.contiguous(), None)
        else:
            self.register_buffer("weight", w.to(torch.bfloat16).contiguous(), persistent=False)  # (out, in)

    @property
    def nbytes(self) -> int:
        """Bytes of weights one call reads: 2 per weight."""
        return 2 * self.out_features * self.in_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "bf16":
            return F.linear(x.to(torch.bfloat16), self.weight).float()  # bf16 products, float32 sums
        rows = x.reshape(-1, self.in_features)  # (N, in): the kernel takes a matrix
        return torch.ops.quantized.linear_dynamic_fp16(rows, self.packed).reshape(*x.shape[:-1], self.out_features)
# --8<-- [end:linear]


# --8<-- [start:pack]
def pack_model(model: Any, kind: str = "fp16") -> Any:
    """A copy of a ``Llama`` whose every linear layer (and output layer) is a ``PackedLinear`` of ``kind``.

    The float32 model is untouched; the copy shares its tokenizer and float32 embedding.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown packing {kind!r}; choose one of {', '.join(KINDS)}")
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
    packed.output = PackedLinear(model.output.weight, kind)  # with tied embeddings: a 16-bit copy of the table
    return packed.eval()
# --8<-- [end:pack]


def weight_bytes(model: Any) -> int:
    """Bytes of matrix weights a packed model reads per token (every ``PackedLinear`` once)."""
    return sum(m.nbytes for m in model.modules() if isinstance(m, PackedLinear))
