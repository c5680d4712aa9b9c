"""Cross-attention: queries from one sequence, keys and values from another.

In an encoder-decoder model (the original Transformer, T5) each decoder block has a
second attention layer whose queries come from the decoder's tokens (T_q of them) and
whose keys and values come from the encoder's output (T_k positions, often T_k != T_q).
The score matrix is (T_q, T_k); no causal mask, because the whole source text is known.
The projections, head split and attention are those of ``MultiHeadAttention``.
"""

from __future__ import annotations

import torch

from llmbook.layers.attention import MultiHeadAttention, scaled_dot_product_attention


# --8<-- [start:cross]
class CrossAttention(MultiHeadAttention):
    """Multi-head attention of ``x`` (the decoder, B, T_q, C) over ``memory`` (the encoder's output, B, T_k, C)."""

    def forward(self, x: torch.Tensor, memory: torch.Tensor,  # type: ignore[override]
                mask: torch.Tensor | None = None) -> torch.Tensor:  # mask: (T_q, T_k) bool, True = may attend
        if x.ndim != 3 or memory.ndim != 3 or x.shape[0] != memory.shape[0] or x.shape[2] != memory.shape[2]:
            raise ValueError(f"x (B, T_q, C) and memory (B, T_k, C) must agree on B and C, "
                             f"got {tuple(x.shape)} and {tuple(memory.shape)}")
        b, t_q, c = x.shape
        q = self.split_heads(self.q_proj(x))  # (B, H, T_q, D): what each decoder token asks
        k = self.split_heads(self.k_proj(memory))  # (B, H, T_k, D): what each source token offers
        v = self.split_heads(self.v_proj(memory))  # (B, H, T_k, D)
        y = scaled_dot_product_attention(q, k, v, mask=mask)  # (B, H, T_q, D)
        return self.out_proj(y.transpose(1, 2).reshape(b, t_q, c))  # (B, T_q, C)
# --8<-- [end:cross]
