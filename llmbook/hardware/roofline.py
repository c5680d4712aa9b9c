"""The roofline model: is an operation limited by arithmetic or by memory traffic?

A processor does at most ``peak`` FLOP/s and moves at most ``bandwidth`` bytes/s
between memory and its cores. An operation that does ``F`` FLOPs on ``B`` bytes
takes at least ``max(F / peak, B / bandwidth)`` seconds, so it attains at most

    min(peak, I * bandwidth)   FLOP/s, with I = F / B its *arithmetic intensity*.

The *ridge point* ``peak / bandwidth`` is the intensity where the two limits meet:
below it an operation is memory-bound, above it compute-bound. A matrix product
of an (M, K) activation by a (K, N) weight does 2·M·K·N FLOPs and reads the K·N
weights once, so its intensity grows with M, the number of tokens processed
together: prefill (many tokens) is compute-bound, decode (one token, M = 1) reads
every weight to do two FLOPs with it and is memory-bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmbook.checks import count, integer, positive
from llmbook.training.flops import matmul_params


def _positive(name: str, value: float) -> float:
    return float(positive(name, value))


# --8<-- [start:roofline]
@dataclass(frozen=True)
class Op:
    """An operation's work: FLOPs done and bytes moved to and from memory."""

    name: str
    flops: float
    bytes: float

    @property
    def intensity(self) -> float:
        """Arithmetic intensity: FLOPs per byte moved."""
        return self.flops / self.bytes


def ridge_point(peak_flops: float, bandwidth: float) -> float:
    """Intensity (FLOP/byte) at which compute time equals memory time."""
    return _positive("peak_flops", peak_flops) / _positive("bandwidth", bandwidth)


def attainable(intensity: float, peak_flops: float, bandwidth: float) -> float:
    """The roofline: the most FLOP/s an operation of this intensity can reach."""
    return min(_positive("peak_flops", peak_flops), _positive("intensity", intensity) * _positive("bandwidth", bandwidth))


def matmul_op(name: str, m: int, k: int, n: int, weight_bytes: float = 4.0, act_bytes: float = 4.0) -> Op:
    """(M, K) activations @ (K, N) weights: 2MKN FLOPs; reads the weights and the input, writes the output."""
    for label, v in (("m", m), ("k", k), ("n", n)):
        count(label, v)
    _positive("weight_bytes", weight_bytes), _positive("act_bytes", act_bytes)
    return Op(name, 2.0 * m * k * n, k * n * weight_bytes + (m * k + m * n) * act_bytes)
# --8<-- [end:roofline]


def attention_op(name: str, queries: int, keys: int, n_heads: int, n_kv_heads: int, head_dim: int,
                 act_bytes: float = 4.0, scores_in_memory: bool = False) -> Op:
    """Scores q·k and the weighted sum of values for ``queries`` queries over ``keys`` cached keys.

    4·queries·keys·heads·head_dim FLOPs (two products); reads q, K and V, writes the output.
    With ``scores_in_memory`` the (heads, queries, keys) scores are also written and read back
    (naive attention); without, they stay on chip (fused attention, as FlashAttention).
    """
    flops = 4.0 * queries * keys * n_heads * head_dim
    moved = (2 * queries * n_heads * head_dim + 2 * keys * n_kv_heads * head_dim) * act_bytes
    if scores_in_memory:
        moved += 2 * n_heads * queries * keys * act_bytes
    return Op(name, flops, moved)


# --8<-- [start:llama_ops]
def llama_ops(config: Any, tokens: int, context: int | None = None, weight_bytes: float = 4.0) -> list[Op]:
    """The work of one forward pass of ``tokens`` new tokens after ``context`` cached ones, summed over blocks.

    ``config`` is a ``LlamaConfig``. Four kinds of operation: the attention projections
    (q, k, v, o), the SwiGLU feed-forward, attention itself, and the output layer.
    """
    c = config
    context = 0 if context is None else context
    count("tokens", tokens), integer(0)("context", context)
    qkv_out = c.dim + 2 * c.kv_dim
    proj = [matmul_op("qkv", tokens, c.dim, qkv_out, weight_bytes), matmul_op("o", tokens, c.dim, c.dim, weight_bytes)]
    ffn = [matmul_op("gate_up", tokens, c.dim, 2 * c.ffn_dim, weight_bytes),
           matmul_op("down", tokens, c.ffn_dim, c.dim, weight_bytes)]
    att = attention_op("attention", tokens, context + tokens, c.n_heads, c.n_kv_heads, c.head_dim)
    L = c.n_layers
    return [
        Op("attention projections", L * sum(o.flops for o in proj), L * sum(o.bytes for o in proj)),
        Op("feed-forward", L * sum(o.flops for o in ffn), L * sum(o.bytes for o in ffn)),
        Op(f"attention over {context + tokens} positions", L * att.flops, L * att.bytes),
        matmul_op("output layer", tokens, c.dim, c.vocab_size, weight_bytes),
    ]


def weight_bytes_per_token(config: Any, weight_bytes: float = 4.0) -> float:
    """Bytes of weights one decode step must read: every matrix once, plus one embedding row."""
    return (matmul_params(config) + config.dim) * weight_bytes  # the matrices' weights, and the embedding row


def decode_bound(config: Any, bandwidth: float, weight_bytes: float = 4.0) -> float:
    """Most tokens/s a memory-bound decoder can reach: bandwidth ÷ bytes of weights read per token."""
    return _positive("bandwidth", bandwidth) / weight_bytes_per_token(config, weight_bytes)
# --8<-- [end:llama_ops]
