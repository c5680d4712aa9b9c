"""The masked objective: 15 % chosen, 80/10/10, and an encoder that sees both sides."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from helpers import one_torch_thread
from llmbook.training.masked import TinyGPT, mask_tokens, masked_lm_loss
from llmbook.training.objective import IGNORE_INDEX


@pytest.fixture(autouse=True)
def _one_thread():
    with one_torch_thread():
        yield


def test_mask_tokens_proportions() -> None:
    v, mask_id, n = 50, 50, 400_000
    ids = torch.randint(v, (n,), generator=torch.Generator().manual_seed(0))
    inputs, targets = mask_tokens(ids, mask_id, v, torch.Generator().manual_seed(1))
    chosen = targets != IGNORE_INDEX
    assert torch.equal(targets[chosen], ids[chosen]) and torch.equal(inputs[~chosen], ids[~chosen])

    def near(count: int, total: int, p: float) -> bool:  # within 5 binomial standard deviations
        return abs(count - p * total) <= 5 * math.sqrt(total * p * (1 - p))

    k = int(chosen.sum())
    masked = int((inputs[chosen] == mask_id).sum())
    kept = int((inputs[chosen] == ids[chosen]).sum())  # the 10 % kept, plus random draws of the same id
    assert near(k, n, 0.15) and near(masked, k, 0.8) and near(kept, k, 0.1 + 0.1 / v)
    assert int((inputs == mask_id).sum()) == masked  # [MASK] appears only at chosen positions
    with pytest.raises(ValueError, match=r"p must be in \(0, 1\]"):
        mask_tokens(ids, mask_id, v, torch.Generator(), p=0.0)


def test_decoder_sees_the_past_encoder_sees_both_sides() -> None:
    torch.manual_seed(0)
    decoder = TinyGPT(20, dim=16, n_heads=2, context=8, causal=True)
    encoder = TinyGPT(20, dim=16, n_heads=2, context=8, causal=False)
    encoder.load_state_dict(decoder.state_dict())  # the same weights: only the mask differs
    a = torch.tensor([[1, 2, 3, 4, 5, 6]])
    b = torch.tensor([[1, 2, 3, 9, 9, 9]])  # the same first three tokens
    with torch.no_grad():
        assert torch.equal(decoder(a)[:, :3], decoder(b)[:, :3])  # the future cannot reach the past
        assert not torch.allclose(encoder(a)[:, :3], encoder(b)[:, :3], atol=1e-3)
        x = decoder.embed(a) + decoder.pos(6)
        for block in decoder.blocks:
            x = block(x)  # GPT2Block's own forward: the decoder is exactly these blocks
        assert torch.equal(decoder.norm(x) @ decoder.embed.weight.T, decoder(a))  # same operations, same order


def test_masked_loss_counts_only_chosen_positions() -> None:
    """Catches a loss over every position (it passed the old check, |loss - ln 21| < 0.5, as well): the
    loss is the cross-entropy at the chosen positions alone, and the one over all positions differs."""
    torch.manual_seed(0)
    model = TinyGPT(21, dim=16, n_heads=2, context=32, causal=False)
    batch = torch.randint(20, (4, 32), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        loss = masked_lm_loss(model, batch, 20, torch.Generator().manual_seed(0))
        inputs, targets = mask_tokens(batch, 20, 21, torch.Generator().manual_seed(0))  # the same draws
        logits = model(inputs)  # (B, T, V)
    chosen = targets != IGNORE_INDEX
    assert 0 < chosen.sum() < chosen.numel()
    want = F.cross_entropy(logits[chosen], batch[chosen])
    every = F.cross_entropy(logits.reshape(-1, 21), batch.reshape(-1))
    torch.testing.assert_close(loss, want, atol=1e-6, rtol=0)
    assert abs(float(every - want)) > 1e-3
    assert abs(loss.item() - math.log(21)) < 0.5  # an untrained model is close to the uniform guess
