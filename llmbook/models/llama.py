"""A Llama-architecture language model built from the book's own layers, loaded from a GGUF file.

``load_model("smollm2-135m-instruct")`` reads SmolLM2-135M-Instruct's GGUF file with
``llmbook.models.gguf``, takes the architecture from its metadata, dequantises every weight
to float32 and puts them into ``Llama``: token embedding, 30 ``LlamaBlock``s, a final
RMSNorm and the output layer, which shares its matrix with the embedding.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from llmbook.layers.blocks import LlamaBlock
from llmbook.tokenizer.chat import chatml_ids
from llmbook.layers.embedding import TokenEmbedding
from llmbook.models.config import LlamaConfig, gguf_tokenizer
from llmbook.models.gguf import GGUFError, GGUFFile, read_gguf
from llmbook.models.inputs import check_ids, check_new_cache
from llmbook.layers.kv_cache import KVCache
from llmbook.tokenizer.gguf_tokenizer import GGUFTokenizer
from llmbook.models.registry import model_path
from llmbook.layers.norms import RMSNorm
from llmbook.layers.positions import rope_angles


# --8<-- [start:model]
class Llama(nn.Module):
    """Token ids (B, T) -> next-token logits (B, T, V)."""

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        c = config
        self.config = c
        self.embed = TokenEmbedding(c.vocab_size, c.dim)  # (V, C)
        self.blocks = nn.ModuleList(
            LlamaBlock(c.dim, c.n_heads, c.n_kv_heads, c.ffn_dim, c.norm_eps) for _ in range(c.n_layers)
        )
        self.norm = RMSNorm(c.dim, c.norm_eps)
        self.output = nn.Linear(c.dim, c.vocab_size, bias=False)  # C -> V
        if c.tied_embeddings:
            self.output.weight = self.embed.weight  # one (V, C) matrix, read both ways
        self.tokenizer: GGUFTokenizer | None = None
        self.chat_template: str | None = None
        self.eos_token_id: int | None = None  # from the file's metadata; generation stops there

    def new_cache(self, batch: int = 1, max_len: int | None = None) -> KVCache:
        """An empty KV cache for ``batch`` sequences of up to ``max_len`` positions (default: the context)."""
        return KVCache(self.config.n_layers, batch, check_new_cache(self.config, batch, max_len))

    def forward(self, ids: torch.Tensor, cache: KVCache | None = None, last_only: bool = False,
                want_hidden: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Logits (B, T, V) of ids (B, T); (B, 1, V) for the last position only with ``last_only``
        (all that generation needs: the output layer, a fifth of the weights, then runs on one row);
        with ``want_hidden``, also the final norm's output (B, T, C)."""
        check_ids(ids, self.config, cache)
        ids = torch.as_tensor(ids)
        start = cache.length if cache is not None else 0  # position of the first of these tokens
        t = ids.shape[1]
        x = self.embed(ids)  # (B, T, C)
        cos, sin = rope_angles(torch.arange(start, start + t, device=x.device), self.config.head_dim,
                               self.config.rope_base)  # (T, D/2) each, float32
        cos, sin = cos.to(x.dtype), sin.to(x.dtype)  # a bfloat16 model rotates in bfloat16
        for i, block in enumerate(self.blocks):
            x = block(x, cos, sin, cache, layer=i)  # (B, T, C)
        if want_hidden:
            x = self.norm(x)  # (B, T, C)
            return self.output(x[:, -1:] if last_only else x), x
        return self.output(self.norm(x[:, -1:] if last_only else x))  # (B, T or 1, V)
# --8<-- [end:model]

    def encode_chat(self, messages: list[dict[str, str]], add_generation_prompt: bool = True) -> list[int]:
        """Token ids of a conversation in the model's chat format (ChatML for SmolLM2)."""
        assert self.tokenizer is not None
        return chatml_ids(self.tokenizer, messages, add_generation_prompt)  # control tokens only from the template


# --8<-- [start:names]
# GGUF tensor name (per block: blk.{i}.<name>) -> our parameter name
GGUF_NAMES = {
    "token_embd.weight": "embed.weight",
    "output_norm.weight": "norm.weight",
    "output.weight": "output.weight",
}
BLOCK_NAMES = {
    "attn_norm.weight": "attn_norm.weight",
    "attn_q.weight": "attn.q_proj.weight",  # rows per head in interleaved-pair order: see below
    "attn_k.weight": "attn.k_proj.weight",
    "attn_v.weight": "attn.v_proj.weight",
    "attn_output.weight": "attn.o_proj.weight",
    "ffn_norm.weight": "ffn_norm.weight",
    "ffn_gate.weight": "ffn.gate.weight",
    "ffn_up.weight": "ffn.up.weight",
    "ffn_down.weight": "ffn.down.weight",
}
# --8<-- [end:names]

# A note on the Q and K weights. RoPE rotates pairs of dimensions of each head. Meta's
# original Llama code pairs adjacent dimensions (2i, 2i+1); Hugging Face checkpoints pair
# i with i + D/2, and llama.cpp's converter permutes the rows of attn_q/attn_k back to
# adjacent pairs when it writes a GGUF. We keep the file's rows as they are and rotate
# adjacent pairs (apply_rope(interleaved=True)). Undoing the permutation and rotating
# halves gives the same logits: the same permutation is applied to q and k, and the
# score q . k is a sum over dimensions, which does not care about their order. What
# must not happen is mixing the two: rotating halves on the file's rows still gives a
# plausible model whose logits are off by several units.


def _torch(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a if a.flags.writeable else a.copy())


def state_dict_from_gguf(f: GGUFFile, config: LlamaConfig) -> dict[str, torch.Tensor]:
    """Every tensor of the file, dequantised to float32, under our parameter names.

    Raises GGUFError, before dequantising anything, unless the file holds exactly the tensors
    ``config`` implies, with the shapes it implies (``LlamaConfig.check_tensors``).
    """
    config.check_tensors(f)
    names = dict(GGUF_NAMES)
    for i in range(config.n_layers):
        names.update({f"blk.{i}.{k}": f"blocks.{i}.{v}" for k, v in BLOCK_NAMES.items()})
    unknown = sorted(set(f.tensors) - set(names))
    if unknown:  # pragma: no cover - check_tensors and the name tables are kept in step
        raise GGUFError(f"{f.path}: unexpected tensors {unknown[:5]}")
    weights = {names[n]: _torch(f.tensor(n)) for n in f.tensors}
    if config.tied_embeddings:
        weights["output.weight"] = weights["embed.weight"]
    return weights


def load_gguf_model(path: str | Path, fused_attention: bool = True) -> Llama:
    """Build a ``Llama`` from a GGUF file: config from metadata, weights dequantised, tokenizer attached.

    ``fused_attention`` runs attention with PyTorch's fused kernel (faster on long inputs: it
    never stores the (H, T, T) scores, see docs/attention-by-hand.md for the measurement);
    ``False`` uses the book's ``scaled_dot_product_attention``, the formula written out.
    Attention weights asked for with ``attention_maps`` always come from the book's version.
    """
    # A model file is untrusted input: everything is checked before the model is built.
    f = read_gguf(path)  # counts, sizes and offsets against the file's bytes
    config = LlamaConfig.from_gguf(f)  # metadata types and ranges, and every tensor's shape
    tokenizer = gguf_tokenizer(f, config.vocab_size)  # its arrays checked, then built
    weights = state_dict_from_gguf(f, config)
    with torch.device("meta"):  # no memory or random init for weights we are about to replace
        model = Llama(config)
    model.load_state_dict(weights, strict=True, assign=True)
    if config.tied_embeddings:
        model.output.weight = model.embed.weight  # assign=True made two Parameters: tie them again
    model.requires_grad_(False).eval()  # an inference model: no autograd bookkeeping
    for block in model.blocks:
        block.attn.fused = fused_attention
    model.tokenizer = tokenizer
    model.chat_template = f.metadata.get("tokenizer.chat_template")
    model.eos_token_id = f.metadata.get("tokenizer.ggml.eos_token_id")  # where generation stops: <|im_end|> (2) here
    return model


def load_model(name: str = "smollm2-135m-instruct", fused_attention: bool = True, verbose: bool = False) -> Llama:
    """Load a model of the book by name (see ``llmbook.models.registry``), e.g. ``load_model("smollm2-135m-instruct")``."""
    t0 = time.perf_counter()
    model = load_gguf_model(model_path(name), fused_attention)
    if verbose:
        print(f"loaded {name} in {time.perf_counter() - t0:.1f} s")
    return model


def describe(model: Llama) -> dict[str, Any]:
    """The config as a plain dict, with the parameter count (a tied matrix counted once)."""
    c = model.config
    return {**c.__dict__, "head_dim": c.head_dim, "parameters": sum(p.numel() for p in model.parameters())}


# --8<-- [start:attention-maps]
@torch.inference_mode()
def attention_maps(model: Llama, ids: list[int]) -> torch.Tensor:
    """Every layer's and head's attention weights for one sequence: (layers, H, T, T), rows = queries."""
    attns = [block.attn for block in model.blocks]
    for a in attns:
        a.keep_weights = True
    try:
        model(torch.tensor([ids]))
        maps = torch.stack([a.last_weights[0] for a in attns])  # type: ignore[index]
    finally:
        for a in attns:
            a.keep_weights, a.last_weights = False, None
    return maps
# --8<-- [end:attention-maps]
