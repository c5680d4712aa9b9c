"""A small, untrained Llama built from the book's own blocks, to train from scratch on a CPU."""

from __future__ import annotations

from llmbook.models.config import LlamaConfig
from llmbook.models.llama import Llama


# --8<-- [start:tiny]
def tiny_llama(vocab_size: int, n_layers: int = 4, dim: int = 128, n_heads: int = 4, context: int = 64,
               ffn_dim: int = 352, seed: int = 0) -> Llama:
    """A freshly initialised ``Llama``: nanoGPT's CPU size (4 layers, 128 wide, 4 heads, context 64).

    The SwiGLU hidden width 352 is about 2/3 of GPT's 4 x 128 = 512, which keeps the
    parameter count of the feed-forward equal (SwiGLU has three matrices, GPT's MLP two).
    The output layer shares the embedding matrix (std 0.02), so the first logits are
    small and the first loss is close to ln V.
    """
    import torch

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=vocab_size, n_layers=n_layers, n_heads=n_heads, n_kv_heads=n_heads, dim=dim,
                         ffn_dim=ffn_dim, context_length=context, rope_base=10000.0, norm_eps=1e-5,
                         tied_embeddings=True)
    model = Llama(config)
    for block in model.blocks:
        block.attn.fused = True  # PyTorch's fused attention kernel: the same result, faster
    return model
# --8<-- [end:tiny]
