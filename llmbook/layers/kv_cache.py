"""The KV cache: the keys and values of every token seen so far, kept so each new token costs one position.

Generating token t needs the keys and values of tokens 0..t-1 at every layer. They
do not change once computed (a causal model never lets an old token see a new one),
so the cache keeps them and each decoding step computes only the new token's.
"""

from __future__ import annotations

import torch


# --8<-- [start:cache]
class KVCache:
    """Keys and values of the tokens seen so far, per layer: each (B, KV, S, D), growing along S."""

    def __init__(self, n_layers: int, batch: int | None = None, max_len: int | None = None) -> None:
        self.keys: list[torch.Tensor | None] = [None] * n_layers
        self.values: list[torch.Tensor | None] = [None] * n_layers
        self.batch, self.max_len = batch, max_len  # None: set by the first update / only the context limits it

    @property
    def length(self) -> int:
        """How many positions are cached (S)."""
        return 0 if self.keys[0] is None else self.keys[0].shape[-2]

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append this step's k, v (B, KV, T, D) to ``layer``'s cache; return all of them (B, KV, S+T, D)."""
        old_k, old_v = self.keys[layer], self.values[layer]
        if old_k is not None and old_v is not None:
            k, v = torch.cat((old_k, k), dim=-2), torch.cat((old_v, v), dim=-2)
        self.keys[layer], self.values[layer] = k, v
        self.batch = k.shape[0]
        return k, v

    def select(self, rows: torch.Tensor) -> KVCache:
        """A cache holding batch rows ``rows`` (B',) of this one: beam search and contrastive search
        continue some sequences, several times or not at all."""
        rows = torch.as_tensor(rows, dtype=torch.long)
        out = KVCache(len(self.keys), len(rows), self.max_len)
        out.keys = [None if k is None else k.index_select(0, rows) for k in self.keys]
        out.values = [None if v is None else v.index_select(0, rows) for v in self.values]
        return out
# --8<-- [end:cache]
