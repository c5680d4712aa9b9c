"""Alignment pieces against closed forms worked out by hand (no trl needed; see test_alignment_trl.py)."""

from __future__ import annotations

import math
import random

import pytest
import torch

from llmbook.alignment.dpo import dpo_loss
from llmbook.alignment.grpo import group_advantages, grpo_loss
from llmbook.alignment.ppo import (clipped_policy_loss, clipped_value_loss, gae, kl_k1, kl_k3, masked_whiten,
                                   token_rewards)
from llmbook.alignment.reward import RewardModel, bradley_terry_loss
from llmbook.alignment.rollout import rollout
from llmbook.alignment.sequences import pack, sequence_logprob, token_logprobs
from llmbook.alignment.sft import sft_loss, sft_targets
from llmbook.alignment.task import Problem, judge, make_problems, preference_pairs, rejected_response
from llmbook.training.objective import IGNORE_INDEX
from llmbook.training.tiny_llama import tiny_llama

# float32 has a 2^-24 ≈ 6e-8 relative rounding step; these closed forms take a handful of operations
# on numbers of order 1, so 1e-6 absolute bounds their error on any CPU with margin.
TOL = 1e-6


# ----------------------------------------------------------------------------- task and judge


def test_judge_reads_the_last_line() -> None:
    p = Problem(14, 15)
    assert judge(p, "14 + 15 = 29\n#### 29") == judge(p, "#### 29") == judge(p, "blah\n#### 29  \n")
    assert judge(p, "#### 29").correct and judge(p, "#### 29").reward == 1.0
    wrong = judge(p, "14 + 15 = 28\n#### 28")
    assert wrong.formatted and not wrong.correct and wrong.reward == 0.0
    for unformatted in ["14 + 15 = 29", "The answer is 29.", "#### 29 apples", "####29", "x #### 29", ""]:
        v = judge(p, unformatted)
        assert not v.formatted and not v.correct, unformatted


def test_problems_are_seeded_distinct_and_held_out() -> None:
    train, test = make_problems(50, 20, seed=3)
    assert (train, test) == make_problems(50, 20, seed=3)
    assert len(set(train)) == 50 and len(set(test)) == 20 and not set(train) & set(test)
    assert make_problems(50, 20, seed=4) != (train, test)
    assert all(10 <= x <= 49 for p in train + test for x in (p.a, p.b))
    with pytest.raises(ValueError, match="n_train"):
        make_problems(1600, 1)


def test_preference_pairs_chosen_correct_rejected_not() -> None:
    train, _ = make_problems(200, 0)
    pairs = preference_pairs(train, seed=1)
    assert pairs == preference_pairs(train, seed=1)
    assert all(judge(p, c).correct and not judge(p, r).correct for p, c, r in pairs)
    kinds = {judge(p, r).formatted for p, _, r in pairs}  # both wrong sums and wrong formats occur
    assert kinds == {True, False}
    assert rejected_response(Problem(10, 10), random.Random(0)) != "10 + 10 = 20\n#### 20"


def test_every_prompt_has_the_same_length(smollm) -> None:
    from llmbook.tokenizer.chat import chatml_ids

    train, test = make_problems(30, 30)
    lengths = {len(chatml_ids(smollm.tokenizer, p.messages(), default_system=None)) for p in train + test}
    assert len(lengths) == 1


# ----------------------------------------------------------------------------- sequences and SFT


def test_pack_and_logprobs_by_hand() -> None:
    ids, mask = pack([[5, 6], [7]], [[8], [9, 3]], pad_id=0)
    assert ids.tolist() == [[5, 6, 8], [7, 9, 3]] and mask.tolist() == [[0, 0, 1], [0, 1, 1]]
    logits = torch.zeros(2, 3, 10)
    logits[1, 0, 9] = math.log(9.0)  # p(9 | 7) = 9 / (9 + 9) = 1/2 ; every other next token: 1/10
    lp = token_logprobs(logits, ids, mask)
    expected = torch.tensor([[0.0, math.log(0.1)], [math.log(0.5), math.log(0.1)]])
    torch.testing.assert_close(lp, expected, atol=TOL, rtol=0)
    torch.testing.assert_close(sequence_logprob(logits, ids, mask), expected.sum(1), atol=TOL, rtol=0)
    with pytest.raises(ValueError, match="as many prompts"):
        pack([[1]], [], pad_id=0)


def test_sft_targets_ignore_the_prompt() -> None:
    ids, mask = pack([[5, 6, 7]], [[8, 2]], pad_id=0)
    inputs, targets = sft_targets(ids, mask)
    assert inputs.tolist() == [[5, 6, 7, 8]] and targets.tolist() == [[IGNORE_INDEX, IGNORE_INDEX, 8, 2]]


def test_prompt_tokens_get_exactly_zero_gradient() -> None:
    """The loss depends on the prompt only through the answer's positions: the logits at
    prompt positions (which predict prompt tokens) get a gradient of exactly zero."""
    model = tiny_llama(vocab_size=32, n_layers=1, dim=16, n_heads=2, context=16, ffn_dim=32)
    ids, mask = pack([[1, 4, 5, 6], [1, 7, 8]], [[9, 10, 2], [11, 2]], pad_id=0)
    inputs, targets = sft_targets(ids, mask)
    logits = model(inputs).detach().requires_grad_(True)
    from llmbook.training.objective import cross_entropy_loss

    cross_entropy_loss(logits, targets).backward()
    grad = logits.grad.abs().sum(-1)  # (B, T-1)
    counted = targets != IGNORE_INDEX
    assert (grad[~counted] == 0).all() and (grad[counted] > 0).all()
    assert sft_loss(model, ids, mask).item() == pytest.approx(cross_entropy_loss(model(inputs), targets).item(),
                                                              abs=TOL)


# ----------------------------------------------------------------------------- reward model


def test_bradley_terry_by_hand() -> None:
    r_c, r_r = torch.tensor([2.0, 0.0]), torch.tensor([1.0, 0.0])
    expected = (math.log(1 + math.exp(-1.0)) + math.log(2.0)) / 2  # -log σ(x) = log(1 + e^-x)
    assert bradley_terry_loss(r_c, r_r).item() == pytest.approx(expected, abs=TOL)
    with pytest.raises(ValueError, match="must match"):
        bradley_terry_loss(r_c, r_r[:1])


def test_reward_model_reads_the_last_completion_token() -> None:
    trunk = tiny_llama(vocab_size=32, n_layers=1, dim=16, n_heads=2, context=16, ffn_dim=32)
    rm = RewardModel(trunk, 16)
    ids, mask = pack([[1, 4], [1, 4]], [[5], [5, 6]], pad_id=0)
    assert rm(ids, mask).tolist() == [0.0, 0.0]  # zero head: the first loss is ln 2
    assert bradley_terry_loss(*rm(ids, mask).split(1)).item() == pytest.approx(math.log(2), abs=TOL)
    torch.manual_seed(0)
    torch.nn.init.normal_(rm.head.weight)
    _, hidden = trunk(ids, want_hidden=True)
    expected = torch.stack([hidden[0, 2], hidden[1, 3]]) @ rm.head.weight[0] + rm.head.bias
    torch.testing.assert_close(rm(ids, mask), expected, atol=1e-5, rtol=0)  # a 16-term dot product of O(1) values
    with pytest.raises(ValueError, match="at least one completion token"):
        rm(ids, torch.zeros_like(mask))


# ----------------------------------------------------------------------------- DPO


def test_dpo_loss_by_hand() -> None:
    z = torch.tensor([-3.0, -5.0])
    assert dpo_loss(z, z + 1, z, z + 1).item() == pytest.approx(math.log(2), abs=TOL)  # reference = policy
    # chosen gained 2 nats against the reference, rejected lost 3: margin 5, times beta 0.1 = 0.5
    loss = dpo_loss(torch.tensor([-1.0]), torch.tensor([-9.0]), torch.tensor([-3.0]), torch.tensor([-6.0]), beta=0.1)
    assert loss.item() == pytest.approx(math.log(1 + math.exp(-0.5)), abs=TOL)
    with pytest.raises(ValueError, match="beta"):
        dpo_loss(z, z, z, z, beta=0)


# ----------------------------------------------------------------------------- PPO


def test_kl_estimators_by_hand() -> None:
    logp, ref = torch.tensor([math.log(0.5), math.log(0.2)]), torch.tensor([math.log(0.25), math.log(0.4)])
    torch.testing.assert_close(kl_k1(logp, ref), torch.tensor([math.log(2.0), math.log(0.5)]), atol=TOL, rtol=0)
    # k3 = r - 1 - log r with r = ref/p: r = 1/2 -> -1/2 + log 2 ; r = 2 -> 1 - log 2
    torch.testing.assert_close(kl_k3(logp, ref), torch.tensor([-0.5 + math.log(2), 1 - math.log(2)]), atol=TOL,
                               rtol=0)
    assert (kl_k3(torch.randn(100), torch.randn(100)) >= 0).all()


def test_kl_estimators_are_unbiased() -> None:
    """Averaged over samples from π, k1 and k3 both estimate KL(π ‖ π_ref) exactly."""
    p, q = torch.tensor([0.5, 0.3, 0.2]), torch.tensor([0.2, 0.3, 0.5])
    exact = (p * (p / q).log()).sum()
    logp, logq = p.log(), q.log()
    torch.testing.assert_close((p * kl_k1(logp, logq)).sum(), exact, atol=TOL, rtol=0)
    torch.testing.assert_close((p * kl_k3(logp, logq)).sum(), exact, atol=TOL, rtol=0)


def test_token_rewards_and_gae_by_hand() -> None:
    mask = torch.tensor([[0, 1, 1, 1, 0]])  # three completion tokens, then padding
    kl = torch.tensor([[9.0, 0.5, -1.0, 2.0, 9.0]])
    r = token_rewards(torch.tensor([3.0]), kl, mask, beta=0.1)
    torch.testing.assert_close(r, torch.tensor([[0.0, -0.05, 0.1, 2.8, 0.0]]), atol=TOL, rtol=0)
    values = torch.tensor([[7.0, 1.0, 2.0, 0.5, 7.0]])
    adv, ret = gae(r, values, mask, gamma=1.0, lam=0.5)
    d3 = 2.8 + 0 - 0.5  # the last token: no value after it
    d2 = 0.1 + 0.5 - 2.0
    d1 = -0.05 + 2.0 - 1.0
    a3, a2 = d3, d2 + 0.5 * d3
    a1 = d1 + 0.5 * a2
    torch.testing.assert_close(adv, torch.tensor([[0.0, a1, a2, a3, 0.0]]), atol=TOL, rtol=0)
    torch.testing.assert_close(ret, torch.tensor([[0.0, a1 + 1.0, a2 + 2.0, a3 + 0.5, 0.0]]), atol=TOL, rtol=0)
    # lam = 1, gamma = 1: the advantage is the sum of future rewards minus the value (Monte Carlo)
    adv1, ret1 = gae(r, values, mask, gamma=1.0, lam=1.0)
    torch.testing.assert_close(ret1[0, 1:4], torch.tensor([2.85, 2.9, 2.8]), atol=TOL, rtol=0)
    torch.testing.assert_close(adv1[0, 1:4], torch.tensor([2.85 - 1.0, 2.9 - 2.0, 2.8 - 0.5]), atol=TOL, rtol=0)
    assert adv1[0, 0] == adv1[0, 4] == 0  # outside the mask


def test_masked_whiten_by_hand() -> None:
    x, mask = torch.tensor([[1.0, 2.0, 3.0, 100.0]]), torch.tensor([[1, 1, 1, 0]])
    # mean 2, unbiased variance ((1)^2 + 0 + 1^2) / 2 = 1
    torch.testing.assert_close(masked_whiten(x, mask), torch.tensor([[-1.0, 0.0, 1.0, 0.0]]), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="at least 2"):
        masked_whiten(x, torch.tensor([[1, 0, 0, 0]]))


def test_clipped_policy_loss_by_hand() -> None:
    mask = torch.ones(1, 4)
    old = torch.zeros(1, 4)
    logp = torch.log(torch.tensor([[1.5, 1.5, 0.5, 1.1]]))  # ratios
    adv = torch.tensor([[1.0, -1.0, -2.0, 3.0]])
    # +A, ratio 1.5: clipped at 1.2 -> -1.2 ; -A, ratio 1.5: max(1.5, 1.2) -> 1.5 (no clipping helps)
    # -2, ratio 0.5: max(1.0, 1.6) -> 1.6 ; +3, ratio 1.1 inside the range -> -3.3
    expected = (-1.2 + 1.5 + 1.6 - 3.3) / 4
    assert clipped_policy_loss(logp, old, adv, mask, clip=0.2).item() == pytest.approx(expected, abs=TOL)
    # at the start of an update (new = old) the loss is minus the mean advantage and the gradient is -A/n
    lp = old.clone().requires_grad_(True)
    clipped_policy_loss(lp, old, adv, mask).backward()
    torch.testing.assert_close(lp.grad, -adv / 4, atol=TOL, rtol=0)


def test_clipped_value_loss_by_hand() -> None:
    mask = torch.tensor([[1, 1, 0]])
    old, ret = torch.tensor([[0.0, 0.0, 0.0]]), torch.tensor([[1.0, -1.0, 5.0]])
    values = torch.tensor([[0.5, 0.5, 0.0]])
    # token 1: (0.5-1)^2=0.25, clipped 0.2 -> (0.2-1)^2=0.64: max 0.64 ; token 2: (1.5)^2=2.25 vs (1.2)^2=1.44: 2.25
    expected = 0.5 * (0.64 + 2.25) / 2
    assert clipped_value_loss(values, old, ret, mask, clip=0.2).item() == pytest.approx(expected, abs=TOL)


# ----------------------------------------------------------------------------- GRPO


def test_group_advantages_by_hand() -> None:
    adv = group_advantages(torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0]), group_size=4)
    std = math.sqrt(0.25)  # rewards 1,0,0,0: mean 1/4, unbiased variance (9/16 + 3/16) / 3 = 1/4
    expected = [0.75 / (std + 1e-4), *[-0.25 / (std + 1e-4)] * 3, 0, 0, 0, 0]
    torch.testing.assert_close(adv, torch.tensor(expected), atol=TOL, rtol=0)
    with pytest.raises(ValueError, match="multiple of group_size"):
        group_advantages(torch.ones(6), group_size=4)


def test_grpo_loss_by_hand() -> None:
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    z = torch.zeros(2, 3)
    adv = torch.tensor([2.0, -1.0])
    # new = old: each token contributes -A; row 0 mean -2, row 1 mean 1 -> loss (-2 + 1) / 2
    assert grpo_loss(z, z, z, adv, mask).item() == pytest.approx(-0.5, abs=TOL)
    ref = torch.full((2, 3), math.log(0.5))  # k3 with r = 1/2 on every token: log 2 - 1/2
    assert grpo_loss(z, z, ref, adv, mask, beta=0.1).item() == pytest.approx(-0.5 + 0.1 * (math.log(2) - 0.5),
                                                                              abs=TOL)


# ----------------------------------------------------------------------------- rollouts


def test_greedy_rollout_matches_generate(smollm) -> None:
    import llmbook
    from llmbook.tokenizer.chat import chatml_ids

    prompts = [chatml_ids(smollm.tokenizer, p.messages(), default_system=None) for p in make_problems(3, 0)[0]]
    outs = rollout(smollm, prompts, max_new_tokens=6, eos=smollm.eos_token_id, temperature=0)
    for p, out in zip(prompts, outs):
        assert out == llmbook.generate(smollm, p, max_new_tokens=6).ids
    a = rollout(smollm, prompts, 4, eos=2, temperature=1.0, generator=torch.Generator().manual_seed(0))
    assert a == rollout(smollm, prompts, 4, eos=2, temperature=1.0, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="equal-length"):
        rollout(smollm, [[1], [1, 2]], 4, eos=2)


@pytest.mark.parametrize("temperature", [0.7, 1.3])
def test_one_prompt_rollout_is_generate_sample(smollm, temperature) -> None:
    """Catches a rollout that samples its own way (a second loop, or one that ignores the temperature:
    at 0.7 and 1.3 the same seed then draws different ids than generate's sampling does)."""
    import llmbook

    prompt = smollm.tokenizer.encode("Once upon a time, in a small village,")
    for seed in (0, 1):
        got = rollout(smollm, [prompt], 12, eos=smollm.eos_token_id, temperature=temperature,
                      generator=torch.Generator().manual_seed(seed))
        want = llmbook.generate(smollm, prompt, "sample", max_new_tokens=12, temperature=temperature, seed=seed)
        assert got == [want.ids]
    flat = rollout(smollm, [prompt], 12, eos=2, temperature=1.0, generator=torch.Generator().manual_seed(seed))
    assert got != flat  # same seed, another temperature: other draws


def test_rollout_trims_each_row_at_end_of_sequence(smollm) -> None:
    """Catches a rollout that never trims at end-of-sequence (or trims every row when one finishes):
    with the id the greedy run produces second as ``eos``, the row stops there, eos kept, while a row
    that never produces it runs the full length."""
    prompt = smollm.tokenizer.encode("The capital of France is")
    other = smollm.tokenizer.encode("1, 2, 3, 4, 5")[: len(prompt)]
    free = rollout(smollm, [prompt, other], 8, eos=-1, temperature=0)  # -1 is no token: nothing stops
    assert [len(r) for r in free] == [8, 8]
    eos = free[0][1]
    assert eos not in free[1]  # so the second row never stops
    trimmed = rollout(smollm, [prompt, other], 8, eos=eos, temperature=0)
    assert trimmed[0] == free[0][: free[0].index(eos) + 1]
    assert trimmed[1] == free[1]


# ----------------------------------------------------------------------------- LoRA


def test_lora_equals_a_dense_update_of_the_same_rank() -> None:
    from llmbook.alignment.lora import LoRALinear

    torch.manual_seed(0)
    base = torch.nn.Linear(12, 10, bias=False)
    lora = LoRALinear(base, r=3, alpha=6.0)
    x = torch.randn(5, 12)
    assert torch.equal(lora(x), base(x))  # B = 0: the model starts where it was
    with torch.no_grad():
        lora.B.normal_()
    w = lora.merged_weight().detach()
    assert torch.linalg.matrix_rank(w - base.weight).item() == 3
    # 12-term dot products of O(1) values, summed two ways: float32 rounding is far below 1e-5
    torch.testing.assert_close(lora(x), x @ w.T, atol=1e-5, rtol=0)
    # gradients: with G = dL/dW' of the dense layer, dL/dB = s·G·Aᵀ and dL/dA = s·Bᵀ·G
    target = torch.randn(5, 10)
    ((lora(x) - target) ** 2).sum().backward()
    dense = w.clone().requires_grad_(True)
    ((x @ dense.T - target) ** 2).sum().backward()
    g = dense.grad
    # entries of size up to ~100 built from ~10-term float32 sums: 1e-4 absolute and 1e-5 relative bound the rounding
    torch.testing.assert_close(lora.B.grad, lora.scale * g @ lora.A.detach().T, atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(lora.A.grad, lora.scale * lora.B.detach().T @ g, atol=1e-4, rtol=1e-5)
    assert base.weight.grad is None  # the frozen matrix never gets a gradient
    with pytest.raises(ValueError, match="r must be"):
        LoRALinear(base, r=11)


# ----------------------------------------------------------------------------- the committed record and the page's files


def _align_run():
    """examples/align_run.py as a module (it sets one thread at import: the old count is put back)."""
    import importlib.util
    import sys
    from pathlib import Path

    threads = torch.get_num_threads()
    path = Path(__file__).resolve().parent.parent / "examples" / "align_run.py"
    spec = importlib.util.spec_from_file_location("align_run", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    try:
        spec.loader.exec_module(module)
    finally:
        torch.set_num_threads(threads)
    return module


@pytest.fixture(scope="module")
def record() -> dict:
    from tools.bench import latest_record

    rec = latest_record("alignment")
    assert rec is not None, "no record in examples/records/alignment/: run examples/align_run.py --record"
    return rec


def test_the_record_is_a_longer_run_whose_verdicts_are_the_judges(record) -> None:
    run = record["results"]
    assert run["scale"] > 1 and run["wall_s"] > 0 and record["environment"]["date"]
    assert all(run["steps"][k] > 0 for k in ("sft", "rm", "ppo", "dpo", "grpo")) and len(run["sft_loss"]) == \
        run["steps"]["sft"]
    train, test = make_problems(run["train"], run["test"], 0)
    shown = test[:len(run["held_out"])]
    assert run["held_out"] == [p.messages()[0]["content"] for p in shown]
    for stage in run["stages"].values():
        for p, a in zip(shown, stage["answers"]):
            v = judge(p, a["text"])
            assert (v.correct, v.formatted) == (a["correct"], a["formatted"])
    by_question = {p.messages()[0]["content"]: p for p in train}
    for e in run["examples"]["sft"]:
        assert e["demonstration"] == by_question[e["prompt"]].demonstration()  # a training problem's demonstration
    for e in run["examples"]["rm"] + run["examples"]["dpo"]:
        p = by_question[e["prompt"]]
        assert judge(p, e["chosen"]).correct and not judge(p, e["rejected"]).correct
    group = run["examples"]["grpo"]["completions"]
    rewards = torch.tensor([c["reward"] for c in group])
    assert rewards.tolist() == [judge(by_question[run["examples"]["grpo"]["prompt"]], c["text"]).reward for c in group]
    assert [c["advantage"] for c in group] == pytest.approx(group_advantages(rewards, len(group)).tolist(), abs=1e-6)
    assert run["rm_loss"][0] == pytest.approx(math.log(2), abs=TOL) and \
        run["dpo_loss"][0] == pytest.approx(math.log(2), abs=TOL)


def test_page_files_draw_the_record_beside_the_run_or_say_there_is_none(record, tmp_path, monkeypatch) -> None:
    import json

    import tools.export as export

    align = _align_run()
    monkeypatch.setattr(export, "GENERATED", tmp_path)
    live = dict(record["results"], environment={"date": "2030-01-02T03:04:05Z", "device_name": "test-cpu"})
    live["wall_s"] = 123.4
    align.write_outputs(live, record)
    caption = (tmp_path / "alignment/caption.txt").read_text()
    env, rec = record["environment"], record["results"]
    assert "**This build's run**: 2030-01-02, " in caption and "123 s wall time" in caption
    assert "**The record**" in caption and f"{env['date'][:10]}, {rec['cpu_model']} ({env['device_name']})" \
        in caption and f"step counts × {rec['scale']:g}, {rec['wall_s']:.0f} s wall time" in caption
    rows = (tmp_path / "alignment/table.txt").read_text().splitlines()
    assert "build / record" in rows[0] and len(rows) == 2 + len(rec["stages"])
    a = rec["stages"]["SFT"]["accuracy"]
    assert f"| SFT | {a:.0%} / {a:.0%} |" in rows[3]
    steps = json.loads((tmp_path / "alignment/steps.json").read_text())
    assert steps["steps"][0]["curves"][0]["y"] == live["sft_loss"]
    assert steps["steps"][1]["after"]["answers"][0]["detail"].count(",") == live["best_of"] - 1
    assert (tmp_path / "alignment/stages.svg").stat().st_size and (tmp_path / "alignment/curves.svg").stat().st_size
    assert not (tmp_path / "alignment/rm_caption.txt").exists()  # the record predates the reward-vs-judge data
    n, prompts = live["best_of"], live["test"]
    live["rm_vs_judge"] = [{"score": float(k), "correct": k == 0, "formatted": k < 2}  # sample k of every prompt
                           for k in range(n) for _ in range(prompts)]
    align.write_outputs(live, record)
    rm = (tmp_path / "alignment/rm_caption.txt").read_text()
    assert f"correct: mean 0.00 over {prompts} samples" in rm and f"not formatted: mean {(2 + n - 1) / 2:.2f}" in rm
    assert f"Over the {prompts * (n - 1)} pairs" in rm and "higher in 0%" in rm  # correct scored lowest everywhere
    assert (tmp_path / "alignment/rm_vs_judge.svg").stat().st_size
    align.write_outputs(live, None)
    assert "No record of a longer run is committed" in (tmp_path / "alignment/caption.txt").read_text()
    assert "build / record" not in (tmp_path / "alignment/table.txt").read_text()
