"""Align SmolLM2-135M-Instruct to the chapter's task, live, on one CPU thread: SFT -> reward model ->
best-of-n, PPO, DPO and GRPO, each measured on held-out prompts.

- alignment/run.json: every stage's held-out judge accuracy, format rate and KL to the start (base) model,
  the loss curves, the reward model's held-out pair accuracy, DPO's step-0 loss, timings
- alignment/table.txt and alignment/caption.txt: the final table and what it leaves out (Markdown, for the page);
  alignment/stages.svg: the table as bars

Only the top ``LLMBOOK_ALIGN_BLOCKS`` (default 4) of the 30 blocks and the final norm are trained; the rest
stays frozen, which keeps one training step to a few CPU-seconds. ``LLMBOOK_ALIGN_SCALE`` multiplies
every step count (default 1: a few minutes); ``--record`` writes the run to examples/records/alignment/.
Times are CPU seconds of this process (``time.process_time``).
"""

from __future__ import annotations

import copy
import math
import os
import random
import sys
import time
from dataclasses import dataclass

import torch
from torch import nn

import llmbook
from llmbook.alignment.dpo import dpo_loss
from llmbook.alignment.grpo import group_advantages, grpo_loss
from llmbook.alignment.ppo import (clipped_policy_loss, clipped_value_loss, gae, kl_k1, masked_whiten,
                                   token_rewards)
from llmbook.alignment.reward import RewardModel, bradley_terry_loss
from llmbook.alignment.rollout import rollout
from llmbook.alignment.sequences import pack, sequence_logprob, token_logprobs
from llmbook.alignment.sft import sft_loss
from llmbook.alignment.task import Problem, judge, make_problems, preference_pairs
from llmbook.inference.chat import chatml_ids
from llmbook.training.optimizer import AdamW

torch.set_num_threads(1)
SCALE = float(os.environ.get("LLMBOOK_ALIGN_SCALE", "1"))
BLOCKS = int(os.environ.get("LLMBOOK_ALIGN_BLOCKS", "4"))
N_TRAIN, N_TEST, SEED = 256, 32, 0
MAX_NEW = 18  # a correct answer is 16 tokens with <|im_end|>
BATCH, LR = 8, 5e-5
DPO_LR = 1e-5  # at 5e-5, DPO lowered chosen and rejected alike, <|im_end|> with them, and answers stopped ending
STEPS = {k: max(1, round(v * SCALE)) for k, v in {"sft": 24, "rm": 16, "dpo": 12, "ppo": 5, "grpo": 8}.items()}
BEST_OF = 4
PAD = 0  # <|endoftext|>: never inside a prompt or an answer


def steps(name: str) -> int:
    return STEPS[name]


def make_trainable(model: nn.Module, blocks: int) -> list[nn.Parameter]:
    """Unfreeze the top ``blocks`` blocks and the final norm; return those parameters."""
    params = [p for b in model.blocks[-blocks:] for p in b.parameters()] + list(model.norm.parameters())
    for p in params:
        p.requires_grad_(True)
    return params


def clone(model: nn.Module) -> nn.Module:
    """A copy of the weights that shares the (read-only) tokenizer."""
    return copy.deepcopy(model, {id(model.tokenizer): model.tokenizer})


def frozen(model: nn.Module) -> nn.Module:
    m = clone(model)
    for p in m.parameters():
        p.requires_grad_(False)
    return m.eval()


@dataclass
class Data:
    tok: object
    eos: int
    train: list[Problem]
    test: list[Problem]

    def prompt(self, p: Problem) -> list[int]:
        return chatml_ids(self.tok, p.messages(), default_system=None)

    def answer(self, text: str) -> list[int]:
        return self.tok.encode(text) + [self.eos]

    def text(self, ids: list[int]) -> str:
        return self.tok.decode([i for i in ids if i != self.eos])


def evaluate(policy: nn.Module, base: nn.Module, d: Data, seed: int) -> dict[str, float]:
    """Greedy answers on the held-out prompts -> accuracy and format rate; sampled answers -> KL(policy ‖ base),
    the mean over prompts of log π(y)/π_base(y) summed over the answer's tokens (k1, unbiased)."""
    prompts = [d.prompt(p) for p in d.test]
    greedy = rollout(policy, prompts, MAX_NEW, d.eos, temperature=0)
    verdicts = [judge(p, d.text(c)) for p, c in zip(d.test, greedy)]
    if policy is base:  # KL(base ‖ base) = 0: no samples needed
        return {"accuracy": sum(v.correct for v in verdicts) / len(verdicts),
                "format": sum(v.formatted for v in verdicts) / len(verdicts), "kl": 0.0,
                "example": d.text(greedy[0])}
    sampled = rollout(policy, prompts, MAX_NEW, d.eos, temperature=1.0, generator=torch.Generator().manual_seed(seed))
    ids, mask = pack(prompts, sampled, PAD)
    with torch.no_grad():
        kl = (sequence_logprob(policy(ids), ids, mask) - sequence_logprob(base(ids), ids, mask)).mean()
    return {"accuracy": sum(v.correct for v in verdicts) / len(verdicts),
            "format": sum(v.formatted for v in verdicts) / len(verdicts), "kl": float(kl),
            "example": d.text(greedy[0])}


def batches(items: list, size: int, n: int, seed: int) -> list[list]:
    """n batches of ``size`` items, drawn in shuffled passes over ``items``."""
    rng, order, out = random.Random(seed), [], []
    while len(out) < n:
        if len(order) < size:
            order += rng.sample(items, len(items))
        out.append(order[:size])
        order = order[size:]
    return out


def sft(base: nn.Module, d: Data) -> tuple[nn.Module, list[float]]:
    model = clone(base)
    opt = AdamW(make_trainable(model, BLOCKS), lr=LR, weight_decay=0.0)
    losses = []
    for batch in batches(d.train, BATCH, steps("sft"), SEED):
        ids, mask = pack([d.prompt(p) for p in batch], [d.answer(p.demonstration()) for p in batch], PAD)
        loss = sft_loss(model, ids, mask)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return frozen(model), losses


def pair_batch(d: Data, pairs: list) -> tuple[torch.Tensor, torch.Tensor]:
    """chosen rows first, then rejected rows"""
    prompts = [d.prompt(p) for p, _, _ in pairs] * 2
    return pack(prompts, [d.answer(c) for _, c, _ in pairs] + [d.answer(r) for _, _, r in pairs], PAD)


def reward_model(sft_model: nn.Module, d: Data) -> tuple[RewardModel, list[float], float]:
    trunk = clone(sft_model)
    rm = RewardModel(trunk, trunk.config.dim)
    opt = AdamW(make_trainable(trunk, BLOCKS) + list(rm.head.parameters()), lr=LR, weight_decay=0.0)
    losses = []
    for batch in batches(preference_pairs(d.train, SEED), BATCH, steps("rm"), SEED + 1):
        r_c, r_r = rm(*pair_batch(d, batch)).chunk(2)
        loss = bradley_terry_loss(r_c, r_r)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    rm.eval().requires_grad_(False)
    with torch.no_grad():
        r_c, r_r = rm(*pair_batch(d, preference_pairs(d.test, SEED + 1))).chunk(2)
    return rm, losses, float((r_c > r_r).float().mean())


def best_of_n(sft_model: nn.Module, rm: RewardModel, base: nn.Module, d: Data, n: int, seed: int) -> dict:
    """For each held-out prompt, n samples from the SFT model; keep the one the reward model likes best."""
    g = torch.Generator().manual_seed(seed)
    prompts = [d.prompt(p) for p in d.test]
    samples = [rollout(sft_model, prompts, MAX_NEW, d.eos, 1.0, g) for _ in range(n)]  # n x (prompts)
    with torch.no_grad():  # all n x prompts samples scored in one batch
        scores = rm(*pack(prompts * n, [c for s in samples for c in s], PAD)).view(n, len(prompts))
    picked = [samples[int(scores[:, i].argmax())][i] for i in range(len(prompts))]
    verdicts = [judge(p, d.text(c)) for p, c in zip(d.test, picked)]
    ids, mask = pack(prompts, picked, PAD)
    with torch.no_grad():  # KL of the best-of-n policy to base, estimated on its own samples (log ratio of the models)
        kl = (sequence_logprob(sft_model(ids), ids, mask) - sequence_logprob(base(ids), ids, mask)).mean()
    # best-of-n's own KL to the sampler is at most log n - (n-1)/n (Beirami et al. 2024); we add that bound
    return {"accuracy": sum(v.correct for v in verdicts) / len(verdicts),
            "format": sum(v.formatted for v in verdicts) / len(verdicts),
            "kl": float(kl) + math.log(n) - (n - 1) / n, "example": d.text(picked[0])}


def dpo(sft_model: nn.Module, d: Data) -> tuple[nn.Module, list[float]]:
    policy = clone(sft_model)
    opt = AdamW(make_trainable(policy, BLOCKS), lr=DPO_LR, weight_decay=0.0)
    losses = []
    for batch in batches(preference_pairs(d.train, SEED), BATCH, steps("dpo"), SEED + 2):
        ids, mask = pair_batch(d, batch)
        with torch.no_grad():
            ref_c, ref_r = sequence_logprob(sft_model(ids), ids, mask).chunk(2)
        pol_c, pol_r = sequence_logprob(policy(ids), ids, mask).chunk(2)
        loss = dpo_loss(pol_c, pol_r, ref_c, ref_r, beta=0.1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return frozen(policy), losses


def ppo(sft_model: nn.Module, rm: RewardModel, d: Data, beta: float = 0.05, epochs: int = 2) -> tuple[nn.Module, list]:
    policy = clone(sft_model)
    value_head = nn.Linear(policy.config.dim, 1)  # on the policy's trunk (one model to run on a CPU)
    nn.init.zeros_(value_head.weight)
    nn.init.zeros_(value_head.bias)
    opt = AdamW(make_trainable(policy, BLOCKS) + list(value_head.parameters()), lr=LR, weight_decay=0.0)
    g = torch.Generator().manual_seed(SEED + 3)
    log = []
    for batch in batches(d.train, BATCH, steps("ppo"), SEED + 3):
        prompts = [d.prompt(p) for p in batch]
        completions = rollout(policy, prompts, MAX_NEW, d.eos, 1.0, g)
        ids, cmask = pack(prompts, completions, PAD)
        mask = cmask[:, 1:].float()  # (B, T-1): the grid of actions
        with torch.no_grad():
            logits, hidden = policy(ids, want_hidden=True)
            old_logp = token_logprobs(logits, ids, cmask)
            old_values = value_head(hidden[:, :-1])[..., 0] * mask
            ref_logp = token_logprobs(sft_model(ids), ids, cmask)
            score = rm(ids, cmask)
            rewards = token_rewards(score, kl_k1(old_logp, ref_logp), mask, beta)
            adv, returns = gae(rewards, old_values, mask, gamma=1.0, lam=0.95)
            adv = masked_whiten(adv, mask)
        for _ in range(epochs):
            logits, hidden = policy(ids, want_hidden=True)
            logp = token_logprobs(logits, ids, cmask)
            values = value_head(hidden[:, :-1])[..., 0]
            pg = clipped_policy_loss(logp, old_logp, adv, mask)
            vf = clipped_value_loss(values, old_values, returns, mask)
            loss = pg + 0.1 * vf
            opt.zero_grad()
            loss.backward()
            opt.step()
        correct = sum(judge(p, d.text(c)).correct for p, c in zip(batch, completions)) / len(batch)
        log.append({"score": float(score.mean()), "kl": float((kl_k1(old_logp, ref_logp) * mask).sum(1).mean()),
                    "policy_loss": pg.item(), "value_loss": vf.item(), "correct": correct})
    return frozen(policy), log


def grpo(sft_model: nn.Module, d: Data, group: int = 4) -> tuple[nn.Module, list]:
    policy = clone(sft_model)
    opt = AdamW(make_trainable(policy, BLOCKS), lr=LR, weight_decay=0.0)
    g = torch.Generator().manual_seed(SEED + 4)
    log = []
    for batch in batches(d.train, BATCH // group, steps("grpo"), SEED + 4):
        problems = [p for p in batch for _ in range(group)]  # each prompt `group` times, consecutively
        prompts = [d.prompt(p) for p in problems]
        completions = rollout(policy, prompts, MAX_NEW, d.eos, 1.0, g)
        rewards = torch.tensor([judge(p, d.text(c)).reward for p, c in zip(problems, completions)])
        adv = group_advantages(rewards, group)
        ids, cmask = pack(prompts, completions, PAD)
        mask = cmask[:, 1:].float()
        logp = token_logprobs(policy(ids), ids, cmask)
        with torch.no_grad():
            ref_logp = token_logprobs(sft_model(ids), ids, cmask)
        loss = grpo_loss(logp, logp.detach(), ref_logp, adv, mask, beta=0.04)  # one step per batch: old = new
        opt.zero_grad()
        loss.backward()
        opt.step()
        log.append({"reward": float(rewards.mean()), "loss": loss.item()})
    return frozen(policy), log


def caption(run: dict) -> str:
    """What the table does not show, in sentences whose every number comes from this run."""
    st = run["steps"]
    return (f"This build's run trained the top {run['blocks']} of 30 blocks. SFT: {st['sft']} steps of {BATCH} "
            f"demonstrations, loss {run['sft_loss'][0]:.2f} → {run['sft_loss'][-1]:.2f}. Reward model: {st['rm']} "
            f"steps of {BATCH} pairs, loss {run['rm_loss'][0]:.3f} (ln 2) → {run['rm_loss'][-1]:.3f}, held-out pair "
            f"accuracy {run['rm_pair_accuracy']:.0%}. Best-of-{BEST_OF}: {BEST_OF} samples per prompt from the SFT "
            f"model, the reward model's favourite kept (its KL adds the bound log n − (n−1)/n). PPO: {st['ppo']} "
            f"iterations of {BATCH} rollouts (2 epochs each, KL k1 with β 0.05). DPO (β 0.1, learning rate "
            f"{DPO_LR:g}): {st['dpo']} steps of {BATCH} pairs, loss {run['dpo_loss'][0]:.6f} at step 0 (ln 2) → "
            f"{run['dpo_loss'][-1]:.3f}. GRPO: {st['grpo']} steps of {BATCH} rollouts in groups of 4 (β 0.04). "
            f"Runs this small are noisy: the reward of PPO's batches went {run['ppo'][0]['score']:.2f} → "
            f"{run['ppo'][-1]['score']:.2f} and GRPO's {run['grpo'][0]['reward']:.2f} → "
            f"{run['grpo'][-1]['reward']:.2f}, from batch to batch, and one held-out prompt is "
            f"{1 / run['test']:.0%} of a score. In all, {run['total_cpu_s']:.0f} CPU-seconds on one thread.\n")


def main() -> dict:
    from tools.export import generated_path, save_figure, write_json

    t_start = time.process_time()
    base = llmbook.load_model("smollm2-135m-instruct").eval()
    train, test = make_problems(N_TRAIN, N_TEST, SEED)
    d = Data(base.tokenizer, base.eos_token_id, train, test)
    times, stages, run = {}, {}, {"steps": STEPS, "blocks": BLOCKS, "train": N_TRAIN, "test": N_TEST}

    def timed(name, f, *a):
        t = time.process_time()
        out = f(*a)
        times[name] = round(time.process_time() - t, 1)
        return out

    stages["base"] = timed("eval base", evaluate, base, base, d, 1)
    sft_model, run["sft_loss"] = timed("sft", sft, base, d)
    stages["SFT"] = timed("eval sft", evaluate, sft_model, base, d, 1)
    rm, run["rm_loss"], run["rm_pair_accuracy"] = timed("rm", reward_model, sft_model, d)
    stages[f"RM best-of-{BEST_OF}"] = timed("best-of-n", best_of_n, sft_model, rm, base, d, BEST_OF, 2)
    ppo_model, run["ppo"] = timed("ppo", ppo, sft_model, rm, d)
    stages["PPO"] = timed("eval ppo", evaluate, ppo_model, base, d, 1)
    del ppo_model
    dpo_model, run["dpo_loss"] = timed("dpo", dpo, sft_model, d)
    stages["DPO"] = timed("eval dpo", evaluate, dpo_model, base, d, 1)
    del dpo_model
    grpo_model, run["grpo"] = timed("grpo", grpo, sft_model, d)
    stages["GRPO"] = timed("eval grpo", evaluate, grpo_model, base, d, 1)
    run.update(stages=stages, times=times, total_cpu_s=round(time.process_time() - t_start, 1))

    rows = ["| stage | judge accuracy | format rate | KL to base (nats) |", "|---|---:|---:|---:|"]
    rows += [f"| {k} | {v['accuracy']:.0%} | {v['format']:.0%} | {v['kl']:.2f} |" for k, v in stages.items()]
    generated_path("alignment/table.txt").write_text("\n".join(rows) + "\n", encoding="utf-8")
    generated_path("alignment/caption.txt").write_text(caption(run), encoding="utf-8")
    write_json("alignment/run.json", run)

    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3))
    names = list(stages)
    x = torch.arange(len(names)).tolist()
    ax.bar([i - 0.2 for i in x], [stages[n]["accuracy"] for n in names], 0.4, label="judge accuracy")
    ax.bar([i + 0.2 for i in x], [stages[n]["format"] for n in names], 0.4, label="format rate")
    ax.set_xticks(x, names)
    ax.set_ylim(0, 1)
    ax.set_title(f"Held-out prompts ({N_TEST}), greedy answers")
    ax.legend(loc="upper left", frameon=False)
    save_figure(fig, "alignment/stages.svg")
    plt.close(fig)
    if "--record" in sys.argv:
        from tools.bench import save_record

        save_record("alignment", run, "cpu")
    print("\n".join(rows))
    print({k: v for k, v in run.items() if k in ("times", "total_cpu_s", "rm_pair_accuracy")})
    return run


if __name__ == "__main__":
    main()
