"""Weight-only quantised matrix-vector products, straight from a GGUF file's Q8_0 and Q4_1 blocks.

Decoding one token reads every weight once and does two FLOPs with it, so its speed
is set by bytes, not arithmetic (see ``roofline``). Storing weights in fewer bits
cuts those bytes: Q8_0 keeps 32 weights as one float16 scale ``d`` and 32 int8 ``q``
(34 bytes instead of 128), Q4_1 as a scale ``d``, a minimum ``m`` and 32 four-bit
``q`` (20 bytes). A weight is ``d·q`` or ``d·q + m``.

The product never needs the float weights. For one block ``b`` of a row,

    Σ_i (d q_i + m) x_i = d · (Σ_i q_i x_i) + m · (Σ_i x_i),

so each block costs a dot product of its small integers with the matching slice of
``x``, one multiply by ``d``, and (Q4_1) one multiply of the slice's sum by ``m``.
``QuantizedMatrix.matvec`` does exactly that, a few rows at a time so the
temporary float copy of the integers stays small.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from llmbook.models.quant import BLOCK_LAYOUT, GGMLType, f16, nibbles

QK = 32  # values per block in Q8_0, Q4_0 and Q4_1
FORMATS = (GGMLType.Q8_0, GGMLType.Q4_0, GGMLType.Q4_1)


# --8<-- [start:matrix]
@dataclass
class QuantizedMatrix:
    """A (rows, cols) matrix in blocks of 32 along each row: scales ``d``, minimums ``m`` (Q4_1), integers ``q``."""

    qtype: GGMLType
    d: np.ndarray  # (rows, nb) float32 (stored as float16 in the file)
    m: np.ndarray | None  # (rows, nb) float32, Q4_1 only
    q: np.ndarray  # Q8_0: (rows, nb, 32) int8; Q4_x: (rows, nb, 16) uint8, two 4-bit values a byte

    @classmethod
    def from_raw(cls, raw: np.ndarray, qtype: GGMLType, shape: tuple[int, int]) -> QuantizedMatrix:
        """Split a tensor's bytes (as stored in a GGUF file) into scales, minimums and integers."""
        if qtype not in FORMATS:
            raise ValueError(f"qtype must be one of {[f.name for f in FORMATS]}, got {getattr(qtype, 'name', qtype)}")
        rows, cols = shape
        if cols % QK:
            raise ValueError(f"columns must be a multiple of {QK}, got shape {shape}")
        nb, block_bytes = cols // QK, BLOCK_LAYOUT[qtype][1]
        raw = np.asarray(raw, dtype=np.uint8)
        if raw.size != rows * nb * block_bytes:
            raise ValueError(f"{qtype.name} {shape} needs {rows * nb * block_bytes} bytes, got {raw.size}")
        blocks = raw.reshape(rows, nb, block_bytes)
        if qtype == GGMLType.Q8_0:
            return cls(qtype, f16(blocks[..., :2])[..., 0], None, blocks[..., 2:].view(np.int8).copy())
        if qtype == GGMLType.Q4_0:
            return cls(qtype, f16(blocks[..., :2])[..., 0], None, blocks[..., 2:].copy())
        return cls(qtype, f16(blocks[..., :2])[..., 0], f16(blocks[..., 2:4])[..., 0], blocks[..., 4:].copy())

    @property
    def shape(self) -> tuple[int, int]:
        return self.d.shape[0], self.d.shape[1] * QK

    @property
    def nbytes(self) -> int:
        """Bytes the format stores: float16 scales (and minimums) plus the integers."""
        return 2 * self.d.size + (2 * self.m.size if self.m is not None else 0) + self.q.nbytes

    def integers(self, rows: slice = slice(None)) -> np.ndarray:
        """The integers of ``rows`` as float32, (r, nb, 32), in value order (Q4_0's -8 offset applied)."""
        q = self.q[rows]
        if self.qtype == GGMLType.Q8_0:
            return q.astype(np.float32)
        values = nibbles(q).astype(np.float32)  # low nibbles, then high
        return values - 8.0 if self.qtype == GGMLType.Q4_0 else values

    def dequantize(self) -> np.ndarray:
        """The float32 matrix the blocks stand for, (rows, cols)."""
        w = self.d[..., None] * self.integers()  # (rows, nb, 32)
        if self.m is not None:
            w = w + self.m[..., None]
        return w.reshape(self.shape)

    def matvec(self, x: np.ndarray, rows_per_step: int = 1024) -> np.ndarray:
        """W @ x for x (cols,) or x (T, cols) -> (rows,) or (T, rows), without forming W."""
        x = np.asarray(x)
        if x.dtype != np.float32 or x.shape[-1] != self.shape[1] or x.ndim not in (1, 2):
            raise ValueError(f"x must be float32 (cols,) or (T, cols) with cols = {self.shape[1]}, "
                             f"got {x.dtype} {x.shape}")
        xs = x.reshape(-1, self.shape[1])  # (T, cols)
        xb = xs.reshape(xs.shape[0], -1, QK).transpose(1, 2, 0)  # (nb, 32, T): one slice of x per block
        sums = xb.sum(axis=1)  # (nb, T): Σ x over each block, for the minimums
        out = np.empty((xs.shape[0], self.shape[0]), dtype=np.float32)  # (T, rows)
        for r0 in range(0, self.shape[0], rows_per_step):
            rows = slice(r0, r0 + rows_per_step)
            q = self.integers(rows).transpose(1, 0, 2)  # (nb, r, 32)
            dots = q @ xb  # (nb, r, T): integer-valued weights times x, block by block
            y = np.einsum("brt,rb->tr", dots, self.d[rows])  # scale each block's dot product, sum the blocks
            if self.m is not None:
                y += np.einsum("bt,rb->tr", sums, self.m[rows])
            out[:, rows] = y
        return out.reshape(x.shape[:-1] + (self.shape[0],))
# --8<-- [end:matrix]


# --8<-- [start:quantize]
def quantize_blocks(w: np.ndarray, qtype: GGMLType) -> QuantizedMatrix:
    """Quantise a float32 (rows, cols) matrix as llama.cpp's reference code does (round to nearest).

    Q8_0: d = max|x| / 127, q = round(x / d). Q4_1: m = min x, d = (max x - m) / 15, q = round((x - m) / d).
    Scales are rounded to float16, as the file stores them.
    """
    w = np.asarray(w, dtype=np.float32)
    if w.ndim != 2 or w.shape[1] % QK:
        raise ValueError(f"w must be 2-D with columns a multiple of {QK}, got shape {w.shape}")
    b = w.reshape(w.shape[0], -1, QK)  # (rows, nb, 32)
    if qtype == GGMLType.Q8_0:
        d = np.abs(b).max(axis=-1) / 127
        inv = np.divide(1.0, d, out=np.zeros_like(d), where=d > 0)
        q = np.rint(b * inv[..., None]).astype(np.int8)
        return QuantizedMatrix(qtype, d.astype(np.float16).astype(np.float32), None, q)
    if qtype == GGMLType.Q4_1:
        lo, hi = b.min(axis=-1), b.max(axis=-1)
        d = (hi - lo) / 15
        inv = np.divide(1.0, d, out=np.zeros_like(d), where=d > 0)
        q = np.clip(np.rint((b - lo[..., None]) * inv[..., None]), 0, 15).astype(np.uint8)
        packed = q[..., :16] | (q[..., 16:] << 4)
        return QuantizedMatrix(qtype, d.astype(np.float16).astype(np.float32),
                               lo.astype(np.float16).astype(np.float32), packed)
    raise ValueError(f"quantize_blocks supports Q8_0 and Q4_1, got {getattr(qtype, 'name', qtype)}")
# --8<-- [end:quantize]


# --8<-- [start:torch]
def torch_int4_weights(w: QuantizedMatrix) -> tuple[torch.Tensor, torch.Tensor]:
    """Q4_1 blocks -> (packed, scales_and_zeros) for torch's CPU kernel ``_weight_int4pack_mm_for_cpu``.

    torch's 4-bit groups mean ``(q - 8) · scale + zero``; a Q4_1 block means ``d · q + m``,
    the same line with ``scale = d`` and ``zero = m + 8 d``. Group size 32, as the file's blocks.
    """
    if w.qtype != GGMLType.Q4_1:
        raise ValueError(f"torch_int4_weights takes Q4_1 blocks, got {w.qtype.name}")
    q = torch.from_numpy(w.integers().reshape(w.shape).astype(np.int32))  # (rows, cols) values 0..15
    packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(q, 1)
    d, m = torch.from_numpy(w.d), torch.from_numpy(w.m)  # (rows, nb) each
    scales_and_zeros = torch.stack([d, m + 8 * d], dim=-1).transpose(0, 1).contiguous()  # (nb, rows, 2)
    return packed, scales_and_zeros


def torch_int4_matmul(x: torch.Tensor, packed: torch.Tensor, scales_and_zeros: torch.Tensor) -> torch.Tensor:
    """x (T, cols) float32 @ W^T with W stored as torch 4-bit groups of 32: (T, rows)."""
    return torch.ops.aten._weight_int4pack_mm_for_cpu(x, packed, QK, scales_and_zeros)


def torch_int8_weights(w: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """float32 (rows, cols) -> int8 weights and one scale per row, for ``_weight_int8pack_mm``.

    torch's int8 CPU kernel takes one scale per output row (not per block of 32, as Q8_0).
    """
    t = torch.from_numpy(np.asarray(w, dtype=np.float32))
    scales = t.abs().amax(dim=1).clamp_min(torch.finfo(torch.float32).tiny) / 127  # (rows,)
    return torch.round(t / scales[:, None]).to(torch.int8), scales


def torch_int8_matmul(x: torch.Tensor, q: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """x (T, cols) float32 @ (q · scales)^T: (T, rows)."""
    return torch.ops.aten._weight_int8pack_mm(x, q, scales)
# --8<-- [end:torch]
