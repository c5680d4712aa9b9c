"""Looking inside: the hooks, induction scores, the logit lens, patching, difference of means and steering."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from llmbook.inference.generate import generate
from llmbook.interpret.circuits import (induction_scores, lens_ranks, logit_lens, patching_map,
                                        repeated_random_tokens)
from llmbook.interpret.concepts import (difference_of_means, encode, mean_residuals, probe_accuracy, random_like,
                                        steered)
from llmbook.interpret.hooks import add_vector, edit_blocks, project_out, put_back, residuals

PROMPT = "The capital of France is"


def _hooks(model: Any) -> int:
    return sum(len(b._forward_hooks) for b in model.blocks)


def test_hooks_leave_the_model_unchanged_when_removed(smollm: Any) -> None:
    """Catches a hook left registered (or a weight edited in place): logits after a steered, an ablated
    and a failing hooked run equal the untouched model's bit for bit, and no hook remains."""
    ids = encode(smollm, PROMPT)
    before = smollm(ids)
    v = torch.ones(smollm.config.dim)
    with add_vector(smollm, 3, v, 5.0):
        steered_logits = smollm(ids)
    with project_out(smollm, [0, 10], v):
        smollm(ids)
    with pytest.raises(RuntimeError, match="inside"):
        with edit_blocks(smollm, {2: lambda out: out * 2}):
            raise RuntimeError("inside")
    assert _hooks(smollm) == 0
    assert not torch.equal(steered_logits, before)  # the hook did act while it was there
    assert torch.equal(smollm(ids), before)


def test_residuals_are_what_the_output_layer_reads(smollm: Any) -> None:
    """Catches reading the wrong tensor (a block's input, or the attention output alone): the lens of the last
    block's output is the model's own logits exactly, and there is one residual per block."""
    ids = encode(smollm, PROMPT)
    logits, resid = residuals(smollm, ids)
    assert resid.shape == (smollm.config.n_layers, 1, ids.shape[1], smollm.config.dim)
    assert torch.equal(logit_lens(smollm, resid[-1]), logits)
    assert torch.equal(logits, smollm(ids))  # capturing changed nothing
    paris = smollm.tokenizer.encode(" Paris")[0]
    assert lens_ranks(smollm, ids, paris)[-1] == (logits[0, -1] > logits[0, -1, paris]).sum().item()


def test_patching_a_run_with_its_own_activations_changes_nothing(smollm: Any) -> None:
    """Catches put_back writing the wrong rows or positions: every run of a batch, each patched at its own
    position with the same batched run's saved residual, gives the unpatched batch's logits bit for bit (the
    same shapes take the same BLAS path; a single-row run may differ in the last bit); a different source
    does change them."""
    ids = encode(smollm, PROMPT)
    t = ids.shape[1]
    batch = ids.expand(t, t)
    logits, resid = residuals(smollm, batch)  # (t, t, V), (L, t, t, C)
    rows = torch.arange(t)
    for layer in (0, 17):
        with put_back(smollm, layer, resid[layer, rows, rows], list(range(t))):
            patched = smollm(batch)
        assert torch.equal(patched, logits), layer
    with put_back(smollm, 5, resid[5, rows, rows].flip(0), list(range(t))):
        assert not torch.equal(smollm(batch), logits)
    with pytest.raises(ValueError, match="positions for a batch"):
        with put_back(smollm, 0, resid[0, 0, :2], [0, 1]):
            smollm(batch)


def test_patching_map_runs_from_corrupt_to_clean(smollm: Any) -> None:
    """Catches a recovery normalised the wrong way round: the final layer's output at the last position is the
    whole clean run, so it recovers exactly 1 (to float32 rounding); the first position is the same token in
    both prompts, so patching it recovers 0."""
    clean, corrupt = encode(smollm, "The Eiffel Tower is in"), encode(smollm, "The Colosseum is in")
    assert clean.shape == corrupt.shape
    good, bad = smollm.tokenizer.encode(" Paris")[0], smollm.tokenizer.encode(" Rome")[0]
    m = patching_map(smollm, clean, corrupt, good, bad)
    rec = torch.tensor(m["recovered"])  # (L, T)
    assert rec.shape == (smollm.config.n_layers, clean.shape[1])
    assert m["clean"] > m["corrupt"]
    # logits are sums of ~C products of size ~|logit|: float32 rounding is far below 1e-3 of a difference of ~10
    assert rec[-1, -1].item() == pytest.approx(1.0, abs=1e-3)
    assert rec[:, 0].abs().max().item() <= 1e-3
    with pytest.raises(ValueError, match=r"both be \(1, T\)"):
        patching_map(smollm, clean, corrupt[:, :-1], good, bad)


def test_induction_score_by_hand_on_a_three_token_toy() -> None:
    """Catches an off-by-one in which key counts (the repeat itself, or the token two after): three tokens
    repeated (T = 6); queries 3, 4, 5 must be scored on keys 1, 2, 3."""
    uniform = torch.tril(torch.ones(6, 6))
    uniform = uniform / uniform.sum(-1, keepdim=True)  # query i spreads 1/(i+1) over keys 0..i
    assert induction_scores(uniform, 3).item() == pytest.approx((1 / 4 + 1 / 5 + 1 / 6) / 3, rel=1e-6)
    perfect = torch.zeros(6, 6)
    perfect[[3, 4, 5], [1, 2, 3]] = 1.0
    assert induction_scores(perfect, 3).item() == 1.0
    copy = torch.zeros(6, 6)  # attends to the earlier copy of itself: a "duplicate" head, not induction
    copy[[3, 4, 5], [0, 1, 2]] = 1.0
    assert induction_scores(copy, 3).item() == 0.0
    assert induction_scores(torch.stack([perfect, copy]), 3).tolist() == [1.0, 0.0]
    with pytest.raises(ValueError, match=r"\(\.\.\., 6, 6\) for n=3"):
        induction_scores(torch.zeros(5, 5), 3)


def test_repeated_random_tokens_repeat_and_avoid_control_tokens() -> None:
    """Catches a sequence that is not repeated exactly once, or that contains control tokens (ids 0-2)."""
    ids = repeated_random_tokens(20, 3, 49152, seed=1)
    assert ids.shape == (3, 40) and torch.equal(ids[:, :20], ids[:, 20:])
    assert ids.min() >= 3 and ids.max() < 49152
    assert torch.equal(ids, repeated_random_tokens(20, 3, 49152, seed=1))
    with pytest.raises(ValueError, match="n >= 2"):
        repeated_random_tokens(1, 3, 49152)


def test_steering_with_alpha_zero_is_plain_generation(smollm: Any) -> None:
    """Catches a steering hook that changes the run even at strength 0 (or leaves the cache path): the ids
    equal plain greedy generation's; at a large strength they differ."""
    plain = generate(smollm, PROMPT, max_new_tokens=8, eos_token_id=None)
    v = torch.randn(smollm.config.dim, generator=torch.Generator().manual_seed(0)) * 20
    assert steered(smollm, PROMPT, 12, v, 0.0, max_new_tokens=8).ids == plain.ids
    assert steered(smollm, PROMPT, 12, v, 8.0, max_new_tokens=8).ids != plain.ids
    assert _hooks(smollm) == 0


def test_project_out_removes_the_component(smollm: Any) -> None:
    """Catches an ablation that projects onto the direction instead of removing it, or forgets to normalise:
    after the hook, the residual's component along the direction is zero to float32 rounding."""
    ids = encode(smollm, PROMPT)
    d = torch.randn(smollm.config.dim, generator=torch.Generator().manual_seed(1)) * 3
    with project_out(smollm, [7], d):
        _, resid = residuals(smollm, ids)
    x = resid[7, 0, 1:]  # (T-1, C); hooks run in the order registered, so the capture saw the ablated output
    along = x @ (d / d.norm())
    # float32: each dot product of C = 576 terms errs by at most ~C * 2^-24 * |x| |u|
    assert along.abs().max().item() <= smollm.config.dim * 2**-24 * x.norm(dim=-1).max().item()


def test_difference_of_means_and_the_probe_by_hand() -> None:
    """Catches a probe that compares against zero instead of the midpoint, or swaps the two classes: on
    hand-made 1-layer means the direction is the difference and accuracy counts both classes."""
    pos = torch.tensor([[[3.0, 0.0]], [[5.0, 1.0]]])  # (N=2, L=1, C=2)
    neg = torch.tensor([[[1.0, 0.0]], [[1.0, -1.0]]])
    d = difference_of_means(pos, neg)
    assert d.tolist() == [[3.0, 1.0]]
    # midpoint of the training means (2.5, 0) projects to 7.5; test points: 3*x + y
    test = (torch.tensor([[[3.0, 0.0]], [[2.0, 0.0]]]), torch.tensor([[[0.0, 0.0]], [[4.0, 0.0]]]))
    assert probe_accuracy(d, (pos, neg), test) == [0.5]  # 9 > 7.5 right, 6 wrong; 0 right, 12 wrong


def test_mean_residuals_leave_out_position_zero(smollm: Any) -> None:
    """Catches a mean that includes position 0, whose residual is many times longer than the rest in this model."""
    text = "A short sentence about the sea."
    _, resid = residuals(smollm, encode(smollm, text))
    m = mean_residuals(smollm, [text])
    assert m.shape == (1, smollm.config.n_layers, smollm.config.dim)
    assert torch.allclose(m[0], resid[:, 0, 1:].mean(1))
    assert not torch.allclose(m[0], resid[:, 0].mean(1))
    with pytest.raises(ValueError, match="at least two tokens"):
        mean_residuals(smollm, ["A"])


def test_random_control_has_the_same_length() -> None:
    """Catches a control direction that is not of the same length (a weaker push would look like a null effect)."""
    v = torch.arange(576, dtype=torch.float32)
    r = random_like(v, seed=3)
    assert r.norm().item() == pytest.approx(v.norm().item(), rel=1e-5)
    assert torch.equal(r, random_like(v, seed=3)) and not torch.equal(r, random_like(v, seed=4))


def test_bad_layers_and_directions_are_refused(smollm: Any) -> None:
    """Catches a silent no-op on a layer that does not exist, or a direction of the wrong width."""
    with pytest.raises(ValueError, match=r"layer must be an int in 0\.\.29, got 30"):
        with edit_blocks(smollm, {30: lambda out: None}):
            pass
    with pytest.raises(ValueError, match=r"shape \(576,\)"):
        add_vector(smollm, 3, torch.ones(575))
    with pytest.raises(ValueError, match=r"shape \(576,\)"):
        project_out(smollm, [3], torch.full((576,), float("nan")))
    assert _hooks(smollm) == 0
