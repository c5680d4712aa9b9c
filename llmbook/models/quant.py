"""Block quantisation formats of GGML, the tensor library behind llama.cpp, and how to undo them.

A quantised tensor is stored row by row in *blocks*: a few scale numbers (float16)
followed by small integers. Each block covers a fixed number of consecutive values
of one row. Dequantising is a multiply-add per block, done here for all blocks at
once with NumPy.

Formats (``QK`` is the number of values per block):

- ``Q8_0``  (32 values, 34 bytes): ``x = d * q``, with ``q`` an int8.
- ``Q4_0``  (32 values, 18 bytes): ``x = d * (q - 8)``, with ``q`` a 4-bit nibble.
- ``Q4_1``  (32 values, 20 bytes): ``x = d * q + m``, with ``q`` a 4-bit nibble.
- ``Q6_K`` (256 values, 210 bytes): 16 sub-blocks of 16 values, each with an int8
  scale; ``x = d * scale * (q - 32)`` with ``q`` a 6-bit number split into a low
  nibble and two high bits.

The 4-bit formats pack two values in a byte: the low nibbles of the 16 bytes are
values 0..15 of the block, the high nibbles values 16..31.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class GGMLType(IntEnum):
    """Tensor element types, numbered as in ``ggml.h`` (only those this module reads, plus a few names)."""

    F32 = 0
    F16 = 1
    Q4_0 = 2
    Q4_1 = 3
    Q5_0 = 6
    Q5_1 = 7
    Q8_0 = 8
    Q8_1 = 9
    Q2_K = 10
    Q3_K = 11
    Q4_K = 12
    Q5_K = 13
    Q6_K = 14
    Q8_K = 15
    BF16 = 30


# type -> (values per block, bytes per block)
BLOCK_LAYOUT: dict[GGMLType, tuple[int, int]] = {
    GGMLType.F32: (1, 4),
    GGMLType.F16: (1, 2),
    GGMLType.BF16: (1, 2),
    GGMLType.Q4_0: (32, 2 + 16),
    GGMLType.Q4_1: (32, 2 + 2 + 16),
    GGMLType.Q8_0: (32, 2 + 32),
    GGMLType.Q6_K: (256, 128 + 64 + 16 + 2),
}

SUPPORTED = frozenset(BLOCK_LAYOUT)


def f16(raw: np.ndarray) -> np.ndarray:
    """Reinterpret pairs of bytes, shape (..., 2), as float16 and widen to float32: (..., 1)."""
    return np.ascontiguousarray(raw).view(np.float16).astype(np.float32)


def nibbles(qs: np.ndarray) -> np.ndarray:
    """Unpack (..., 16) bytes into (..., 32) values: low nibbles first, then high nibbles."""
    return np.concatenate([qs & 0x0F, qs >> 4], axis=-1)


# --8<-- [start:dequantize]
def dequantize(raw: np.ndarray, qtype: GGMLType, shape: tuple[int, ...]) -> np.ndarray:
    """Turn the bytes ``raw`` of one tensor of type ``qtype`` into a float32 array of ``shape``.

    ``shape`` is in NumPy order (slowest axis first); blocks run along the last axis.
    """
    raw = np.asarray(raw, dtype=np.uint8)
    if qtype == GGMLType.F32:
        return raw.view(np.float32).reshape(shape)
    if qtype == GGMLType.F16:
        return raw.view(np.float16).astype(np.float32).reshape(shape)
    if qtype == GGMLType.BF16:  # the top 16 bits of a float32
        return (raw.view(np.uint16).astype(np.uint32) << 16).view(np.float32).reshape(shape)

    block_values, block_bytes = BLOCK_LAYOUT[qtype]
    blocks = raw.reshape(-1, block_bytes)  # (n_blocks, bytes per block)
    if qtype == GGMLType.Q8_0:
        d = f16(blocks[:, :2])  # (n, 1)
        q = blocks[:, 2:].view(np.int8).astype(np.float32)  # (n, 32)
        x = d * q
    elif qtype == GGMLType.Q4_0:
        d = f16(blocks[:, :2])
        q = nibbles(blocks[:, 2:]).astype(np.int8) - np.int8(8)
        x = d * q.astype(np.float32)
    elif qtype == GGMLType.Q4_1:
        d, m = f16(blocks[:, :2]), f16(blocks[:, 2:4])
        x = d * nibbles(blocks[:, 4:]).astype(np.float32) + m
    elif qtype == GGMLType.Q6_K:
        x = _dequantize_q6_k(blocks)
    else:  # pragma: no cover - SUPPORTED and the branches above are kept in step
        raise NotImplementedError(qtype.name)
    assert x.shape[1] == block_values
    return x.reshape(shape)
# --8<-- [end:dequantize]


def _dequantize_q6_k(blocks: np.ndarray) -> np.ndarray:
    """Q6_K super-blocks (n, 210 bytes) -> (n, 256) float32.

    Layout of a super-block: ``ql`` (128 bytes, low 4 bits), ``qh`` (64 bytes, high
    2 bits), ``scales`` (16 int8), ``d`` (float16). It is two halves of 128 values;
    within a half, byte ``l`` of ``qh`` carries the high bits of values ``l``,
    ``l+32``, ``l+64``, ``l+96`` (bits 0-1, 2-3, 4-5, 6-7), and ``ql[l]``/``ql[l+32]``
    their low nibbles (low nibble for the first 64 values, high nibble for the rest).
    """
    n = blocks.shape[0]
    ql = blocks[:, :128].reshape(n, 2, 2, 32)  # (n, half, which 32 bytes, 32)
    qh = blocks[:, 128:192].reshape(n, 2, 1, 32)  # (n, half, 1, 32)
    scales = blocks[:, 192:208].view(np.int8).astype(np.float32)  # (n, 16)
    d = f16(blocks[:, 208:210])  # (n, 1)

    low = np.concatenate([ql & 0x0F, ql >> 4], axis=2)  # (n, half, 4 quarters, 32)
    shifts = np.array([0, 2, 4, 6], dtype=np.uint8).reshape(1, 1, 4, 1)
    high = (qh >> shifts) & 0x03  # (n, half, 4 quarters, 32)
    q = (low | (high << 4)).astype(np.float32) - 32.0  # (n, 2, 4, 32): values in order
    q = q.reshape(n, 16, 16)  # (n, sub-block, 16 values)
    return ((d * scales)[:, :, None] * q).reshape(n, 256)
