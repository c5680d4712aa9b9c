"""The masked objective (BERT, Devlin et al. 2019): hide 15 % of the tokens, predict them from both sides.

Of the positions chosen for prediction, 80 % are replaced by a ``[MASK]`` token,
10 % by a random token and 10 % are left as they are, so that the model cannot
learn that only ``[MASK]`` positions matter. Only the chosen positions count in
the loss. The model must see the whole sequence at once: an encoder, whose
attention has no causal mask.
"""

from __future__ import annotations

import torch
from torch import nn

from llmbook.layers.blocks import GPT2Block
from llmbook.layers.embedding import TokenEmbedding
from llmbook.layers.norms import LayerNorm
from llmbook.layers.positions import LearnedPositions
from llmbook.training.objective import IGNORE_INDEX, cross_entropy_loss


# --8<-- [start:mask]
def mask_tokens(ids: torch.Tensor, mask_id: int, vocab_size: int, generator: torch.Generator,
                p: float = 0.15) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, targets) for the masked objective: targets are IGNORE_INDEX except at chosen positions."""
    if not 0 < p <= 1:
        raise ValueError(f"p must be in (0, 1], got {p}")
    chosen = torch.rand(ids.shape, generator=generator) < p  # about 15 % of positions
    targets = torch.where(chosen, ids, IGNORE_INDEX)
    roll = torch.rand(ids.shape, generator=generator)  # one draw decides what happens to the input
    random_ids = torch.randint(vocab_size, ids.shape, generator=generator)
    inputs = torch.where(chosen & (roll < 0.8), mask_id, ids)  # 80 %: [MASK]
    inputs = torch.where(chosen & (roll >= 0.8) & (roll < 0.9), random_ids, inputs)  # 10 %: a random token
    return inputs, targets  # the other 10 % keep their own token, and must still be predicted
# --8<-- [end:mask]


# --8<-- [start:model]
class TinyGPT(nn.Module):
    """Token and learned position embeddings, GPT-2 blocks, a final norm, the embedding read back as output.

    ``causal=True`` is a decoder (each token sees the past); ``causal=False`` the same
    weights as an encoder (each token sees the whole sequence), which is all BERT changes.
    """

    def __init__(self, vocab_size: int, dim: int = 64, n_heads: int = 4, n_layers: int = 2, context: int = 64,
                 causal: bool = True) -> None:
        super().__init__()
        self.causal = causal
        self.embed = TokenEmbedding(vocab_size, dim)  # (V, C)
        self.pos = LearnedPositions(context, dim)  # (L, C)
        self.blocks = nn.ModuleList(GPT2Block(dim, n_heads) for _ in range(n_layers))
        self.norm = LayerNorm(dim)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:  # (B, T) -> (B, T, V)
        x = self.embed(ids) + self.pos(ids.shape[1])  # (B, T, C)
        for b in self.blocks:  # GPT2Block's two sub-layers, with the mask as a switch
            x = x + b.attn(b.norm1(x), is_causal=self.causal)
            x = x + b.ffn(b.norm2(x))
        return self.norm(x) @ self.embed.weight.T  # (B, T, V)
# --8<-- [end:model]


def masked_lm_loss(model: nn.Module, batch: torch.Tensor, mask_id: int, generator: torch.Generator) -> torch.Tensor:
    """Cross-entropy at the masked positions of ``batch`` (B, T), the model seeing every position."""
    inputs, targets = mask_tokens(batch, mask_id, model.embed.weight.shape[0], generator)
    return cross_entropy_loss(model(inputs), targets)
