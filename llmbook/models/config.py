"""A Llama model's shape: the handful of numbers in a GGUF file's metadata that fix every tensor's size."""

from __future__ import annotations

from dataclasses import dataclass

from llmbook.models.gguf import GGUFError, GGUFFile


# --8<-- [start:config]
@dataclass(frozen=True)
class LlamaConfig:
    """The numbers that fix a Llama model's shape, as stored in a GGUF file's metadata."""

    vocab_size: int  # V
    n_layers: int  # number of blocks
    n_heads: int  # H query heads
    n_kv_heads: int  # KV key/value heads (GQA)
    dim: int  # C, width of the residual stream
    ffn_dim: int  # hidden width of SwiGLU
    context_length: int  # longest sequence it was trained for
    rope_base: float  # theta in RoPE's angles p * theta^(-2i/D)
    norm_eps: float  # RMSNorm epsilon
    tied_embeddings: bool  # output layer reuses the embedding matrix

    @property
    def head_dim(self) -> int:  # D
        return self.dim // self.n_heads

    @classmethod
    def from_gguf(cls, f: GGUFFile) -> LlamaConfig:
        m, arch = f.metadata, f.metadata.get("general.architecture")
        if arch != "llama":
            raise GGUFError(f"{f.path}: architecture {arch!r} is not supported, only 'llama'")
        try:
            config = cls(
                vocab_size=len(m["tokenizer.ggml.tokens"]),
                n_layers=m["llama.block_count"],
                n_heads=m["llama.attention.head_count"],
                n_kv_heads=m.get("llama.attention.head_count_kv", m["llama.attention.head_count"]),
                dim=m["llama.embedding_length"],
                ffn_dim=m["llama.feed_forward_length"],
                context_length=m["llama.context_length"],
                rope_base=float(m.get("llama.rope.freq_base", 10000.0)),
                norm_eps=float(m["llama.attention.layer_norm_rms_epsilon"]),
                tied_embeddings="output.weight" not in f.tensors,
            )
        except KeyError as e:
            raise GGUFError(f"{f.path}: metadata key {e.args[0]!r} is missing") from None
        if m.get("llama.rope.dimension_count", config.head_dim) != config.head_dim:
            raise GGUFError(f"{f.path}: RoPE over part of the head dimension is not supported")
        return config
# --8<-- [end:config]
