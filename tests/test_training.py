"""The training chapter's pieces against PyTorch: loss, gradients, AdamW, schedule, clipping."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F

from helpers import one_torch_thread
from llmbook.layers.blocks import LlamaBlock
from llmbook.layers.positions import rope_angles
from llmbook.training.backprop import cross_entropy_backward, finite_difference_grad, linear_backward
from llmbook.training.clip import clip_by_global_norm
from llmbook.training.objective import (IGNORE_INDEX, cross_entropy_loss, next_token_targets, perplexity,
                                        uniform_loss)
from llmbook.training.optimizer import AdamW
from llmbook.training.schedule import warmup_cosine

U32 = 2.0**-24  # float32 unit roundoff: one rounding changes a number by at most this fraction of it


@pytest.fixture(autouse=True)
def _one_thread():
    with one_torch_thread():
        yield


def test_next_token_targets_shift_and_mask_padding() -> None:
    ids = torch.tensor([[5, 6, 7, 0, 0]])
    x, y = next_token_targets(ids, pad_id=0)
    assert x.tolist() == [[5, 6, 7, 0]]
    assert y.tolist() == [[6, 7, IGNORE_INDEX, IGNORE_INDEX]]
    assert ids.tolist() == [[5, 6, 7, 0, 0]]  # the input is not modified
    with pytest.raises(ValueError, match=r"tokens >= 2"):
        next_token_targets(torch.tensor([[1]]))


def test_cross_entropy_equals_torch_with_and_without_ignored_positions() -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 7, 50, generator=g) * 4
    targets = torch.randint(50, (3, 7), generator=g)
    targets[0, 2:] = IGNORE_INDEX
    for t in (targets, targets.clamp(min=0)):
        ours = cross_entropy_loss(logits, t)
        ref = F.cross_entropy(logits.reshape(-1, 50), t.reshape(-1), ignore_index=IGNORE_INDEX)
        # each -log p is (max-shifted logit) - log(sum exp): a few float32 roundings of numbers below
        # max|z| + ln V in size; averaging does not make the error larger
        assert abs(ours.item() - ref.item()) <= 8 * U32 * (logits.abs().max().item() + math.log(50))
    with_ignored, without = cross_entropy_loss(logits, targets), cross_entropy_loss(logits, targets.clamp(min=0))
    assert abs(with_ignored.item() - without.item()) > 0.01  # ignored positions really are left out


def test_cross_entropy_rejects_bad_targets() -> None:
    with pytest.raises(IndexError, match=r"target 9 is outside the vocabulary 0..4"):
        cross_entropy_loss(torch.zeros(2, 5), torch.tensor([1, 9]))
    with pytest.raises(ValueError, match=r"disagree"):
        cross_entropy_loss(torch.zeros(2, 5), torch.tensor([1, 2, 3]))


def test_uniform_guess_scores_ln_v_and_perplexity_v() -> None:
    v = 65
    loss = cross_entropy_loss(torch.zeros(4, v), torch.tensor([0, 3, 17, 64])).item()
    assert loss == pytest.approx(uniform_loss(v), rel=4 * U32)  # log of a sum of 65 ones, in float32
    assert perplexity(uniform_loss(v)) == pytest.approx(v, rel=1e-12)  # float64 exp(log(65))
    with pytest.raises(ValueError, match="vocab_size"):
        uniform_loss(0)


def test_linear_backward_equals_autograd() -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(6, 5, dtype=torch.float64, generator=g, requires_grad=True)
    layer = torch.nn.Linear(5, 3).double()
    upstream = torch.randn(6, 3, dtype=torch.float64, generator=g)
    (layer(x) * upstream).sum().backward()  # dL/dy = upstream
    gx, gw, gb = linear_backward(x.detach(), layer.weight.detach(), upstream)
    # float64: the same sums in another order differ by ~1e-15 relative
    torch.testing.assert_close(gx, x.grad, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(gw, layer.weight.grad, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(gb, layer.bias.grad, rtol=1e-12, atol=1e-12)


def test_softmax_cross_entropy_gradient_equals_autograd() -> None:
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(8, 11, dtype=torch.float64, generator=g, requires_grad=True)
    targets = torch.randint(11, (8,), generator=g)
    targets[[1, 5]] = IGNORE_INDEX
    cross_entropy_loss(logits, targets).backward()
    ours = cross_entropy_backward(logits.detach(), targets)
    torch.testing.assert_close(ours, logits.grad, rtol=1e-12, atol=1e-14)  # float64, a handful of roundings
    assert ours[1].abs().max() == 0 and ours.sum(dim=-1).abs().max() < 1e-15  # ignored rows; rows sum to 0


def test_finite_differences_agree_with_autograd_through_a_llama_block() -> None:
    torch.manual_seed(3)
    block = LlamaBlock(dim=8, n_heads=2, n_kv_heads=1, hidden=12).double()
    x = torch.randn(2, 5, 8, dtype=torch.float64)
    weights = torch.randn(2, 5, 8, dtype=torch.float64)
    cos, sin = rope_angles(torch.arange(5), 4)
    cos, sin = cos.double(), sin.double()

    def loss() -> torch.Tensor:
        return (block(x, cos, sin) * weights).sum()

    loss().backward()
    for param in (block.attn.q_proj.weight, block.attn.v_proj.weight, block.ffn_norm.weight, block.ffn.down.weight):
        numeric = finite_difference_grad(loss, param)
        # central difference: truncation ~eps^2 * L''' (~1e-12) plus rounding ~1e-16 * |L| / eps (~1e-9)
        torch.testing.assert_close(numeric, param.grad, rtol=1e-6, atol=1e-7)
    with pytest.raises(TypeError, match="float64"):
        finite_difference_grad(loss, torch.zeros(3))


def test_adamw_equals_torch_step_for_step() -> None:
    torch.manual_seed(4)
    params = [torch.randn(40, 30), torch.randn(30), torch.randn(7, 3, 5)]
    ours = [p.clone().requires_grad_() for p in params]
    ref = [p.clone().requires_grad_() for p in params]
    lr, wd, steps = 1e-2, 0.1, 100
    opt, ref_opt = AdamW(ours, lr=lr, weight_decay=wd), torch.optim.AdamW(ref, lr=lr, weight_decay=wd)
    g = torch.Generator().manual_seed(5)
    for _ in range(steps):
        for a, b in zip(ours, ref):  # the same gradient for both, so only the update rule can differ
            a.grad = torch.randn(a.shape, generator=g)
            b.grad = a.grad.clone()
        opt.step()
        ref_opt.step()
    # Each step rounds every stored number a few times (<= 4 float32 roundings, each within U32 of it)
    # in each implementation, and no recurrence amplifies an earlier error (factors b1, b2 and
    # 1 - lr*wd are <= 1; gradients are given, not recomputed): the gap after T steps is at most
    # 2 * 4 * T * U32 of the largest magnitude involved.
    bound = 2 * 4 * steps * U32
    for a, b in zip(ours, ref):
        s, r = opt.state[a], ref_opt.state[b]
        assert s["step"].item() == r["step"].item() == steps
        for key in ("exp_avg", "exp_avg_sq"):
            torch.testing.assert_close(s[key], r[key], rtol=0, atol=bound * r[key].abs().max().item())
        torch.testing.assert_close(a, b, rtol=0, atol=bound * (b.abs().max().item() + lr * steps))
    moved = max((a - p).abs().max().item() for a, p in zip(ours, params))
    assert moved > 100 * bound  # the check is far tighter than how far the weights moved
    with pytest.raises(ValueError, match=r"betas must each be in \[0, 1\)"):
        AdamW(ours, betas=(0.9, 1.0))


def test_warmup_cosine_schedule() -> None:
    lrs = [warmup_cosine(s, 1.0, 10, 110, 0.1) for s in range(120)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == 1.0  # linear warm-up, peak at the last warm-up step
    assert lrs[10] == 1.0 and lrs[60] == pytest.approx(0.55) and lrs[110] == 0.1 and lrs[119] == 0.1
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:]))  # never rises after the peak
    with pytest.raises(ValueError, match="warmup"):
        warmup_cosine(0, 1.0, 20, 10)
    with pytest.raises(ValueError, match="min_lr"):
        warmup_cosine(0, 1.0, 1, 10, min_lr=2.0)


@pytest.mark.parametrize("max_norm", [0.5, 1e3])  # clipped, and left alone
def test_clip_by_global_norm_equals_torch(max_norm: float) -> None:
    torch.manual_seed(6)
    net = torch.nn.Sequential(torch.nn.Linear(10, 20), torch.nn.Tanh(), torch.nn.Linear(20, 3))
    ref = copy.deepcopy(net)
    x = torch.randn(16, 10)
    for m in (net, ref):
        m(x).pow(2).sum().backward()
    norm = clip_by_global_norm(net.parameters(), max_norm)
    ref_norm = torch.nn.utils.clip_grad_norm_(ref.parameters(), max_norm).item()
    assert norm == pytest.approx(ref_norm, rel=8 * U32)  # a sum of squares: a few roundings each
    for a, b in zip(net.parameters(), ref.parameters()):
        torch.testing.assert_close(a.grad, b.grad, rtol=8 * U32, atol=0)
    after = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in net.parameters()])).item()
    assert after == pytest.approx(min(norm, max_norm), rel=1e-5)
    with pytest.raises(ValueError, match="max_norm"):
        clip_by_global_norm(net.parameters(), 0)


def test_training_memory_matches_the_zero_paper() -> None:
    from llmbook.training.memory import training_memory

    # ZeRO (Rajbhandari et al., 2020), Table 1: a 7.5 B-parameter model on 64 devices, in GB
    paper = {0: 120, 1: 31.4, 2: 16.6, 3: 1.88}
    for stage, gb in paper.items():
        got = training_memory(7_500_000_000, 64, stage)["total"] / 1e9
        assert abs(got - gb) < 0.05, (stage, got)  # the paper rounds to three significant digits
    fp32 = training_memory(1000, 1, 0, mixed_precision=False)
    assert fp32 == {"weights": 4000, "gradients": 4000, "optimizer": 8000, "total": 16000}
    with pytest.raises(ValueError, match="zero_stage"):
        training_memory(10, 2, 4)


def test_memory_by_strategy_and_smollm2_parameter_count(smollm) -> None:
    from llmbook.training.memory import STRATEGIES, llama_param_count, memory_by_strategy

    n = llama_param_count(smollm.config)
    assert n == sum(p.numel() for p in smollm.parameters())  # the loaded model's own count (tied: once)
    assert n == 134_515_008  # 30 layers of 576 wide, vocabulary 49152, tied embedding
    gb = memory_by_strategy(7_000_000_000, 8)
    assert list(gb) == list(STRATEGIES)
    # 16 bytes per parameter; 8 devices: 2 + 2 + 12/8, 2 + (2 + 12)/8, 16/8 bytes per parameter
    assert [round(v, 6) for v in gb.values()] == [112.0, 38.5, 26.25, 14.0]


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_cross_entropy_of_16_bit_logits_is_computed_in_float32(dtype: torch.dtype) -> None:
    g = torch.Generator().manual_seed(0)
    logits, targets = torch.randn(7, 50, generator=g).to(dtype), torch.randint(50, (7,), generator=g)
    loss = cross_entropy_loss(logits, targets)
    ref = F.cross_entropy(logits.float(), targets)
    # both float32 from the same (rounded) logits: a few float32 roundings over a sum of 50 exps
    assert loss.dtype == torch.float32 and abs(loss.item() - ref.item()) <= 1e-5
    assert loss.item() != float(ref.to(dtype))  # a 16-bit loss would be rounded to 8 or 11 bits
