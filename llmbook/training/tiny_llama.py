"""A small, untrained Llama built from the book's own blocks, to train from scratch on a CPU.

``tiny_llama(..., without=("norms",))`` builds the same model with parts taken out (positions,
residual connections, norms, the 1/sqrt(D) scaling of attention scores), to measure what each
part is for. With ``without`` empty (the default) the model is the plain ``Llama``.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn

from llmbook.layers.blocks import LlamaBlock
from llmbook.layers.kv_cache import KVCache
from llmbook.layers.positions import apply_rope
from llmbook.models.config import LlamaConfig
from llmbook.models.llama import Llama

ABLATIONS = ("positions", "residuals", "norms", "scaling")  # the parts ``without`` can take out


# --8<-- [start:tiny]
def tiny_llama(vocab_size: int, n_layers: int = 4, dim: int = 128, n_heads: int = 4, context: int = 64,
               ffn_dim: int = 352, seed: int = 0, without: Iterable[str] = ()) -> Llama:
    """A freshly initialised ``Llama``: nanoGPT's CPU size (4 layers, 128 wide, 4 heads, context 64).

    The SwiGLU hidden width 352 is about 2/3 of GPT's 4 x 128 = 512, which keeps the
    parameter count of the feed-forward equal (SwiGLU has three matrices, GPT's MLP two).
    The output layer shares the embedding matrix (std 0.02), so the first logits are
    small and the first loss is close to ln V. ``without`` names parts of ``ABLATIONS`` to take
    out, after the weights are drawn: every variant starts from the same weights.
    """
    parts = check_ablations(without)
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=vocab_size, n_layers=n_layers, n_heads=n_heads, n_kv_heads=n_heads, dim=dim,
                         ffn_dim=ffn_dim, context_length=context, rope_base=10000.0, norm_eps=1e-5,
                         tied_embeddings=True)
    model = Llama(config)
    for block in model.blocks:
        block.attn.fused = True  # PyTorch's fused attention kernel: the same result, faster
    if parts:
        ablate(model, parts)
    return model
# --8<-- [end:tiny]


def check_ablations(without: Iterable[str]) -> frozenset[str]:
    """The parts named in ``without`` as a set; ValueError for a name not in ``ABLATIONS``."""
    if isinstance(without, str):
        raise ValueError(f"without must be a list of part names, got the string {without!r}; e.g. ({without!r},)")
    parts = frozenset(without)
    unknown = sorted(parts - set(ABLATIONS))
    if unknown:
        raise ValueError(f"cannot take out {unknown}: the parts are {list(ABLATIONS)}")
    return parts


def ablate(model: Llama, without: Iterable[str]) -> Llama:
    """Take the named parts out of ``model`` in place (its blocks become ``AblatedBlock``s); returns it."""
    parts = check_ablations(without)
    model.blocks = nn.ModuleList(AblatedBlock(block, parts) for block in model.blocks)
    if "norms" in parts:
        model.norm = nn.Identity()  # the final norm before the output layer too
    return model


# --8<-- [start:ablated]
class AblatedBlock(nn.Module):
    """A ``LlamaBlock``'s own layers, run with some parts taken out (for training only: no KV cache).

    positions: q and k are not rotated, so attention sees no position (only the causal mask);
    residuals: each layer's output replaces the stream instead of being added to it;
    norms: the two RMSNorms are left out; scaling: scores are q . k, not q . k / sqrt(D).
    """

    def __init__(self, block: LlamaBlock, without: frozenset[str]) -> None:
        super().__init__()
        self.without = without
        self.attn, self.ffn = block.attn, block.ffn  # the same modules: parameter names unchanged
        self.attn_norm = nn.Identity() if "norms" in without else block.attn_norm
        self.ffn_norm = nn.Identity() if "norms" in without else block.ffn_norm

    def attend(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:  # (B, T, C)
        a, (b, t, _) = self.attn, x.shape
        q = a.q_proj(x).view(b, t, a.n_heads, a.head_dim).transpose(1, 2)  # (B, H, T, D)
        k = a.k_proj(x).view(b, t, a.n_kv_heads, a.head_dim).transpose(1, 2)  # (B, KV, T, D)
        v = a.v_proj(x).view(b, t, a.n_kv_heads, a.head_dim).transpose(1, 2)  # (B, KV, T, D)
        if "positions" not in self.without:
            q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        scale = 1.0 if "scaling" in self.without else None  # None: PyTorch's default, 1 / sqrt(D)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True, scale=scale)
        return a.o_proj(y.transpose(1, 2).reshape(b, t, -1))

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, cache: KVCache | None = None,
                layer: int = 0) -> torch.Tensor:  # (B, T, C) -> (B, T, C)
        if cache is not None:
            raise ValueError("an ablated block is for training runs: it takes no KV cache")
        keep = "residuals" not in self.without
        y = self.attend(self.attn_norm(x), cos, sin)
        x = x + y if keep else y
        y = self.ffn(self.ffn_norm(x))
        return x + y if keep else y
# --8<-- [end:ablated]
