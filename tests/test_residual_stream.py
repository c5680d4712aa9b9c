"""residual_stream: the book model's stream after every block, against transformers' hidden states."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from llmbook.models.embedding_space import residual_stream


def test_residual_stream_matches_transformers_hidden_states(smollm: Any, hf_smollm: Any) -> None:
    ids = smollm.tokenizer.encode("I put my money in the bank")
    ours = residual_stream(smollm, ids)  # (L + 1, T, C)
    assert ours.shape == (smollm.config.n_layers + 1, len(ids), smollm.config.dim)
    assert torch.equal(ours[0], smollm.embed.weight[ids])  # layer 0 is the static lookup
    with torch.no_grad():
        hf = hf_smollm(torch.tensor([ids]), output_hidden_states=True).hidden_states  # L + 1 tensors (1, T, C)
    # transformers' last entry is after the final norm; the others are the raw stream
    want = torch.stack([*(h[0] for h in hf[:-1]), smollm.norm(ours[-1])])
    got = torch.cat([ours[:-1], smollm.norm(ours[-1])[None]])
    # float32 through 30 blocks, stream lengths up to ~1e3: differences of summation order
    # stay near 1e-6 relative; 1e-4 relative to each vector's length is a safe bound
    err = (got - want).norm(dim=-1) / want.norm(dim=-1)
    assert err.max() < 1e-4, err.max()


def test_residual_stream_rejects_bad_ids(smollm: Any) -> None:
    with pytest.raises(ValueError, match="outside the vocabulary 0..49151"):
        residual_stream(smollm, [1, 49152])
    with pytest.raises(ValueError, match=r"ids must have shape \(batch, tokens\)"):
        residual_stream(smollm, [])
