"""Align SmolLM2-135M-Instruct to the chapter's task, live, on one CPU thread: SFT -> reward model ->
best-of-n, PPO, DPO and GRPO, each measured on held-out prompts.

- alignment/run.json: every stage's held-out judge accuracy, format rate and KL to the start (base) model and
  its greedy answers to the first held-out prompts, the loss curves, a few training examples of each step, the
  reward model's held-out pair accuracy, DPO's step-0 loss, timings, scale, device and date
- alignment/steps.json: what the steps widget (docs/javascripts/widgets/alignment-steps.js) shows
- alignment/table.txt and alignment/caption.txt: the final table, this build's run beside the committed
  record's, and captions saying which is which (Markdown, for the page); alignment/stages.svg and
  alignment/curves.svg: the table as bars and every step's curve, both runs drawn

Only the top ``LLMBOOK_ALIGN_BLOCKS`` (default 4) of the 30 blocks and the final norm are trained; the rest
stays frozen, which keeps one training step to a few CPU-seconds. ``LLMBOOK_ALIGN_SCALE`` multiplies
every step count (default 1: a few minutes). ``--record`` writes the run to examples/records/alignment/
(``tools.bench.save_record``) and leaves the build's files alone: the longer run drawn beside the live one is
``LLMBOOK_ALIGN_SCALE=3 python examples/align_run.py --record``. ``--outputs-only`` rewrites the page's files
from this build's run.json and the newest record, without training. Step times are CPU seconds of this
process (``time.process_time``); the run's wall time is ``time.perf_counter``'s.
"""

from __future__ import annotations

import copy
import json
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
from llmbook.tokenizer.chat import chatml_ids
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
SHOWN = 3  # training examples and held-out prompts the steps widget shows for each step


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

    def answers(self, problems: list[Problem], completions: list[list[int]], n: int = SHOWN) -> list[dict]:
        """The first n completions as text, each with the judge's verdict (what the widget shows)."""
        out = []
        for p, c in zip(problems[:n], completions[:n]):
            v = judge(p, self.text(c))
            out.append({"text": self.text(c), "correct": v.correct, "formatted": v.formatted})
        return out


def question(p: Problem) -> str:
    return p.messages()[0]["content"]


def rates(verdicts: list) -> dict[str, float]:
    """The judge's accuracy and format rate over a list of verdicts."""
    return {"accuracy": sum(v.correct for v in verdicts) / len(verdicts),
            "format": sum(v.formatted for v in verdicts) / len(verdicts)}


def evaluate(policy: nn.Module, base: nn.Module, d: Data, seed: int) -> dict[str, float]:
    """Greedy answers on the held-out prompts -> accuracy and format rate; sampled answers -> KL(policy ‖ base),
    the mean over prompts of log π(y)/π_base(y) summed over the answer's tokens (k1, unbiased)."""
    prompts = [d.prompt(p) for p in d.test]
    greedy = rollout(policy, prompts, MAX_NEW, d.eos, temperature=0)
    kl = 0.0  # KL(base ‖ base) = 0: no samples needed
    if policy is not base:
        sampled = rollout(policy, prompts, MAX_NEW, d.eos, temperature=1.0,
                          generator=torch.Generator().manual_seed(seed))
        ids, mask = pack(prompts, sampled, PAD)
        with torch.no_grad():
            kl = float((sequence_logprob(policy(ids), ids, mask) - sequence_logprob(base(ids), ids, mask)).mean())
    return {**rates([judge(p, d.text(c)) for p, c in zip(d.test, greedy)]), "kl": kl,
            "example": d.text(greedy[0]), "answers": d.answers(d.test, greedy)}


def batches(items: list, size: int, n: int, seed: int) -> list[list]:
    """n batches of ``size`` items, drawn in shuffled passes over ``items``."""
    rng, order, out = random.Random(seed), [], []
    while len(out) < n:
        if len(order) < size:
            order += rng.sample(items, len(items))
        out.append(order[:size])
        order = order[size:]
    return out


def sft(base: nn.Module, d: Data) -> tuple[nn.Module, list[float], list[dict]]:
    """The SFT model, its loss per step, and the first batch's first SHOWN demonstrations."""
    model = clone(base)
    opt = AdamW(make_trainable(model, BLOCKS), lr=LR, weight_decay=0.0)
    losses, examples = [], []
    for batch in batches(d.train, BATCH, steps("sft"), SEED):
        examples = examples or [{"prompt": question(p), "demonstration": p.demonstration()} for p in batch[:SHOWN]]
        ids, mask = pack([d.prompt(p) for p in batch], [d.answer(p.demonstration()) for p in batch], PAD)
        loss = sft_loss(model, ids, mask)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return frozen(model), losses, examples


def pair_examples(pairs: list) -> list[dict]:
    return [{"prompt": question(p), "chosen": c, "rejected": r} for p, c, r in pairs[:SHOWN]]


def pair_batch(d: Data, pairs: list) -> tuple[torch.Tensor, torch.Tensor]:
    """chosen rows first, then rejected rows"""
    prompts = [d.prompt(p) for p, _, _ in pairs] * 2
    return pack(prompts, [d.answer(c) for _, c, _ in pairs] + [d.answer(r) for _, _, r in pairs], PAD)


def reward_model(sft_model: nn.Module, d: Data) -> tuple[RewardModel, list[float], float, list[dict]]:
    """The reward model, its loss per step, its held-out pair accuracy, and the first batch's first SHOWN
    pairs with the trained model's rewards."""
    trunk = clone(sft_model)
    rm = RewardModel(trunk, trunk.config.dim)
    opt = AdamW(make_trainable(trunk, BLOCKS) + list(rm.head.parameters()), lr=LR, weight_decay=0.0)
    losses, first = [], None
    for batch in batches(preference_pairs(d.train, SEED), BATCH, steps("rm"), SEED + 1):
        first = first or batch[:SHOWN]
        r_c, r_r = rm(*pair_batch(d, batch)).chunk(2)
        loss = bradley_terry_loss(r_c, r_r)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    rm.eval().requires_grad_(False)
    with torch.no_grad():
        r_c, r_r = rm(*pair_batch(d, preference_pairs(d.test, SEED + 1))).chunk(2)
        shown_c, shown_r = rm(*pair_batch(d, first)).chunk(2)
    examples = [dict(e, r_chosen=float(c), r_rejected=float(r))
                for e, c, r in zip(pair_examples(first), shown_c, shown_r)]
    return rm, losses, float((r_c > r_r).float().mean()), examples


def best_of_n(sft_model: nn.Module, rm: RewardModel, base: nn.Module, d: Data, n: int, seed: int) -> dict:
    """For each held-out prompt, n samples from the SFT model; keep the one the reward model likes best."""
    g = torch.Generator().manual_seed(seed)
    prompts = [d.prompt(p) for p in d.test]
    samples = [rollout(sft_model, prompts, MAX_NEW, d.eos, 1.0, g) for _ in range(n)]  # n x (prompts)
    with torch.no_grad():  # all n x prompts samples scored in one batch
        scores = rm(*pack(prompts * n, [c for s in samples for c in s], PAD)).view(n, len(prompts))
    verdict = [[judge(p, d.text(samples[k][i])) for i, p in enumerate(d.test)] for k in range(n)]  # n x (prompts)
    best = [int(scores[:, i].argmax()) for i in range(len(prompts))]
    picked = [samples[k][i] for i, k in enumerate(best)]
    candidates = [[dict(a, score=float(scores[k, i])) for k in range(n)
                   for a in d.answers([d.test[i]], [samples[k][i]])] for i in range(SHOWN)]
    scored = [{"score": float(scores[k, i]), "correct": v.correct, "formatted": v.formatted}  # RM beside the judge
              for k in range(n) for i, v in enumerate(verdict[k])]
    ids, mask = pack(prompts, picked, PAD)
    with torch.no_grad():  # KL of the best-of-n policy to base, estimated on its own samples (log ratio of the models)
        kl = (sequence_logprob(sft_model(ids), ids, mask) - sequence_logprob(base(ids), ids, mask)).mean()
    # best-of-n's own KL to the sampler is at most log n - (n-1)/n (Beirami et al. 2024); we add that bound
    return {**rates([verdict[k][i] for i, k in enumerate(best)]),
            "kl": float(kl) + math.log(n) - (n - 1) / n, "example": d.text(picked[0]),
            "answers": d.answers(d.test, picked), "candidates": candidates, "scored": scored}


def dpo(sft_model: nn.Module, d: Data, beta: float = 0.1) -> tuple[nn.Module, list[float], list[dict]]:
    """The DPO policy, its loss per step, and the first batch's first SHOWN pairs with the trained policy's
    implicit rewards β·log π/π_ref of chosen and rejected."""
    policy = clone(sft_model)
    opt = AdamW(make_trainable(policy, BLOCKS), lr=DPO_LR, weight_decay=0.0)
    losses, first = [], None
    for batch in batches(preference_pairs(d.train, SEED), BATCH, steps("dpo"), SEED + 2):
        first = first or batch[:SHOWN]
        ids, mask = pair_batch(d, batch)
        with torch.no_grad():
            ref_c, ref_r = sequence_logprob(sft_model(ids), ids, mask).chunk(2)
        pol_c, pol_r = sequence_logprob(policy(ids), ids, mask).chunk(2)
        loss = dpo_loss(pol_c, pol_r, ref_c, ref_r, beta=beta)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    policy = frozen(policy)
    ids, mask = pair_batch(d, first)
    with torch.no_grad():
        implicit = beta * (sequence_logprob(policy(ids), ids, mask) - sequence_logprob(sft_model(ids), ids, mask))
    i_c, i_r = implicit.chunk(2)
    examples = [dict(e, implicit_chosen=float(c), implicit_rejected=float(r))
                for e, c, r in zip(pair_examples(first), i_c, i_r)]
    return policy, losses, examples


def ppo(sft_model: nn.Module, rm: RewardModel, d: Data, beta: float = 0.05,
        epochs: int = 2) -> tuple[nn.Module, list, list[dict]]:
    """The PPO policy, a log line per iteration, and the last iteration's first SHOWN rollouts with their
    reward-model scores and the judge's verdicts."""
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
            kl = kl_k1(old_logp, ref_logp)  # (B, T-1) per token
            rewards = token_rewards(score, kl, mask, beta)
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
        log.append({"score": float(score.mean()), "kl": float((kl * mask).sum(1).mean()),
                    "policy_loss": pg.item(), "value_loss": vf.item(), "correct": correct})
        examples = [dict(a, prompt=question(p), score=float(s)) for p, a, s in
                    zip(batch, d.answers(batch, completions), score)]
    return frozen(policy), log, examples


def grpo(sft_model: nn.Module, d: Data, group: int = 4) -> tuple[nn.Module, list, dict]:
    """The GRPO policy, a log line per step, and the last step's first group: its prompt and completions
    with the judge's rewards and the group-relative advantages."""
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
        shown = {"prompt": question(problems[0]), "completions": [
            dict(a, reward=float(r), advantage=float(v))
            for a, r, v in zip(d.answers(problems, completions, group), rewards, adv)]}
    return frozen(policy), log, shown


def caption(run: dict, who: str = "This build's run") -> str:
    """What the table does not show, in sentences whose every number comes from ``run``."""
    st, batch = run["steps"], run.get("batch", BATCH)
    return (f"{who} trained the top {run['blocks']} of 30 blocks. SFT: {st['sft']} steps of {batch} "
            f"demonstrations, loss {run['sft_loss'][0]:.2f} → {run['sft_loss'][-1]:.2f}. Reward model: {st['rm']} "
            f"steps of {batch} pairs, loss {run['rm_loss'][0]:.3f} (ln 2) → {run['rm_loss'][-1]:.3f}, held-out pair "
            f"accuracy {run['rm_pair_accuracy']:.0%}. Best-of-{BEST_OF}: {BEST_OF} samples per prompt from the SFT "
            f"model, the reward model's favourite kept (its KL adds the bound log n − (n−1)/n). PPO: {st['ppo']} "
            f"iterations of {batch} rollouts (2 epochs each, KL k1 with β 0.05). DPO (β 0.1, learning rate "
            f"{DPO_LR:g}): {st['dpo']} steps of {batch} pairs, loss {run['dpo_loss'][0]:.6f} at step 0 (ln 2) → "
            f"{run['dpo_loss'][-1]:.3f}. GRPO: {st['grpo']} steps of {batch} rollouts in groups of 4 (β 0.04). "
            f"Runs this small are noisy: the reward of PPO's batches went {run['ppo'][0]['score']:.2f} → "
            f"{run['ppo'][-1]['score']:.2f} and GRPO's {run['grpo'][0]['reward']:.2f} → "
            f"{run['grpo'][-1]['reward']:.2f}, from batch to batch, and one held-out prompt is "
            f"{1 / run['test']:.0%} of a score.")


def where(run: dict, env: dict) -> str:
    """Date, device, threads, scale and time of a run, from what it recorded."""
    cpu, name = run["cpu_model"], env["device_name"]  # older runs: a model name, and the architecture as name
    return (f"{env['date'][:10]}, {name if cpu in name else f'{cpu} ({name})'}, {run['threads']} thread, step "
            f"counts × {run['scale']:g}, {run['wall_s']:.0f} s wall time ({run['total_cpu_s']:.0f} CPU-seconds)")


def captions(run: dict, record: dict | None) -> str:
    """Which run is which: this build's (live) and the committed record's, each with device, date and time."""
    live = f"**This build's run**: {where(run, run['environment'])}. {caption(run, 'It')}"
    if record is None:
        return live + ("\n\nNo record of a longer run is committed (examples/records/alignment/ is empty), so "
                       "only this build's run is shown.\n")
    rec, env = record["results"], record["environment"]
    return (live + f"\n\n**The record**, the same code run longer and committed in examples/records/alignment/ "
            f"(commit {(env.get('commit') or 'unknown')[:7]}): {where(rec, env)}. " + caption(rec, "It") + "\n")


def table(run: dict, record: dict | None) -> str:
    """The final table: this build's run and, in the same cell after a slash, the record's."""
    rec = record["results"]["stages"] if record else None
    if rec is not None and list(rec) != list(run["stages"]):
        raise ValueError(f"the record's stages {list(rec)} are not this run's {list(run['stages'])}")
    both = ", build / record" if rec else ""
    rows = [f"| stage | judge accuracy{both} | format rate{both} | KL to base (nats){both} |", "|---|---:|---:|---:|"]
    for k, v in run["stages"].items():
        cells = [f"{v['accuracy']:.0%}", f"{v['format']:.0%}", f"{v['kl']:.2f}"]
        if rec:
            r = rec[k]
            cells = [f"{c} / {o}" for c, o in zip(cells, [f"{r['accuracy']:.0%}", f"{r['format']:.0%}",
                                                          f"{r['kl']:.2f}"])]
        rows.append(f"| {k} | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def fields(*pairs: tuple[str, str]) -> dict:
    """One example for the widget: labelled texts; model outputs (multi-line) are shown as preformatted."""
    return {"fields": [{"label": label, "text": text, "pre": "\n" in text or label in PRE} for label, text in pairs]}


PRE = {"demonstration", "chosen", "rejected", "rollout", "completion"}


def steps_data(run: dict) -> dict:
    """What the steps widget shows: for each step, real training examples, its curves, and the same
    held-out prompts answered greedily before and after it (judge's verdict included)."""
    st, ex, stages, b = run["steps"], run["examples"], run["stages"], run.get("batch", BATCH)
    bon = f"RM best-of-{run.get('best_of', BEST_OF)}"
    n = len(run["held_out"])

    def side(stage: str, label: str) -> dict:
        return {"stage": stage, "label": label, "answers": stages[stage]["answers"][:n]}

    def curve(title: str, x_label: str, y_label: str, y: list[float]) -> dict:
        return {"title": title, "x_label": x_label, "y_label": y_label, "y": y}

    rm_after = side(bon, f"best of {run.get('best_of', BEST_OF)} SFT samples")
    rm_after["answers"] = [dict(a, detail="reward-model scores of the samples: " + ", ".join(
        f"{c['score']:.2f}" for c in cands) + "; the highest kept") for a, cands in
        zip(rm_after["answers"], stages[bon]["candidates"])]
    g = ex["grpo"]
    steps = [
        {"id": "sft", "name": "SFT", "title": "Supervised fine-tuning",
         "what": "Next-token prediction on demonstrations, the loss on the assistant's tokens only.",
         "examples_title": f"The first {len(ex['sft'])} demonstrations of the first batch (batches of {b}):",
         "examples": [fields(("prompt", e["prompt"]), ("demonstration", e["demonstration"])) for e in ex["sft"]],
         "curves": [curve("SFT loss per step", "step", "loss (nats/token)", run["sft_loss"])],
         "before": side("base", "base model"), "after": side("SFT", "SFT model")},
        {"id": "rm", "name": "Reward model", "title": "Reward model",
         "what": "The SFT model's trunk with a scalar head, trained so that the chosen answer of each pair outscores "
                 "the rejected one (Bradley–Terry loss); then used to pick the best of several SFT samples.",
         "examples_title": f"The first {len(ex['rm'])} pairs of the first batch, with the trained reward model's "
                           "rewards:",
         "examples": [fields(("prompt", e["prompt"]), ("chosen", e["chosen"]),
                             ("reward of chosen", f"{e['r_chosen']:.3f}"), ("rejected", e["rejected"]),
                             ("reward of rejected", f"{e['r_rejected']:.3f}")) for e in ex["rm"]],
         "curves": [curve("Reward-model loss per step", "step", "loss (nats)", run["rm_loss"])],
         "before": side("SFT", "SFT model"), "after": rm_after},
        {"id": "ppo", "name": "PPO", "title": "PPO",
         "what": "Sample answers from the policy, score them with the reward model, minus β·KL to the SFT model, "
                 "and take clipped policy-gradient steps.",
         "examples_title": f"The first {len(ex['ppo'])} rollouts of iteration {st['ppo']}, the last, with the "
                           "reward model's score and the judge's verdict:",
         "examples": [fields(("prompt", e["prompt"]), ("rollout", e["text"]),
                             ("reward-model score", f"{e['score']:.3f}"), ("judge", verdict_of(e))) for e in ex["ppo"]],
         "curves": [curve("Reward-model score of the batch", "iteration", "mean score", [r["score"] for r in run["ppo"]]),
                    curve("KL to the SFT model", "iteration", "nats per answer", [r["kl"] for r in run["ppo"]]),
                    curve("Judge accuracy of the batch", "iteration", "fraction correct",
                          [r["correct"] for r in run["ppo"]])],
         "before": side("SFT", "SFT model"), "after": side("PPO", "PPO policy")},
        {"id": "dpo", "name": "DPO", "title": "DPO",
         "what": "The same preference pairs without a reward model or sampling: raise the chosen answer's "
                 "log-probability ratio to the SFT model above the rejected one's.",
         "examples_title": f"The first {len(ex['dpo'])} pairs of the first batch, with the trained policy's implicit "
                           "rewards β·log π/π_ref:",
         "examples": [fields(("prompt", e["prompt"]), ("chosen", e["chosen"]),
                             ("implicit reward of chosen", f"{e['implicit_chosen']:.3f}"), ("rejected", e["rejected"]),
                             ("implicit reward of rejected", f"{e['implicit_rejected']:.3f}")) for e in ex["dpo"]],
         "curves": [curve("DPO loss per step", "step", "loss (nats)", run["dpo_loss"])],
         "before": side("SFT", "SFT model"), "after": side("DPO", "DPO policy")},
        {"id": "grpo", "name": "GRPO", "title": "GRPO",
         "what": "A group of answers per prompt, each rewarded by the judge itself (1 if correct), each advantage its "
                 "reward against the group's; no value head, no reward model.",
         "examples_title": f"One group of step {st['grpo']}, the last: {len(g['completions'])} answers to "
                           f"{g['prompt']}",
         "examples": [fields(("completion", c["text"]), ("judge's reward", f"{c['reward']:g}"),
                             ("advantage", f"{c['advantage']:.3f}")) for c in g["completions"]],
         "curves": [curve("Judge's reward of the batch", "step", "mean reward", [r["reward"] for r in run["grpo"]])],
         "before": side("SFT", "SFT model"), "after": side("GRPO", "GRPO policy")},
    ]
    return {"intro": f"Choose a step. Its examples, curves and answers come from this build's run "
                     f"({run['total_cpu_s']:.0f} CPU-seconds).",
            "prompts": run["held_out"],
            "prompts_caption": f"The same {n} held-out prompts (never trained on), answered greedily",
            "steps": steps}


def curves_figure(run: dict, record: dict | None):
    """Every step's curve, this build's run and the record's drawn on the same axes (x: step or iteration)."""
    import matplotlib.pyplot as plt

    panels = [("SFT loss", lambda r: r["sft_loss"]), ("reward-model loss", lambda r: r["rm_loss"]),
              ("DPO loss", lambda r: r["dpo_loss"]), ("PPO: reward-model score", lambda r: [x["score"] for x in r["ppo"]]),
              ("PPO: KL to SFT (nats)", lambda r: [x["kl"] for x in r["ppo"]]),
              ("PPO: judge accuracy of the batch", lambda r: [x["correct"] for x in r["ppo"]]),
              ("GRPO: judge's reward", lambda r: [x["reward"] for x in r["grpo"]])]
    fig, axes = plt.subplots(2, 4, figsize=(11, 4.8))
    axes.flat[-1].axis("off")
    runs = [("this build", run, "-")] + ([("record", record["results"], "--")] if record else [])
    for ax, (title, get) in zip(axes.flat, panels):
        for label, r, style in runs:
            y = get(r)
            ax.plot(range(1, len(y) + 1), y, style, label=f"{label} (×{r['scale']:g})")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("iteration" if title.startswith("PPO") else "step", fontsize=9)
        ax.tick_params(labelsize=8)
    fig.legend(*axes.flat[0].get_legend_handles_labels(), loc="upper center", ncol=2, frameon=False, fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return fig


VERDICTS = ("correct", "formatted, wrong sum", "not formatted")


def verdict_of(a: dict) -> str:
    return VERDICTS[0] if a["correct"] else VERDICTS[1] if a["formatted"] else VERDICTS[2]


def rm_vs_judge(run: dict) -> dict:
    """The reward model's scores of the best-of-n samples, grouped by the judge's verdict, and how often it
    scores a correct answer above a wrong one (over every such pair of samples of the same prompt)."""
    scored, groups = run["rm_vs_judge"], {v: [] for v in VERDICTS}
    for a in scored:
        groups[verdict_of(a)].append(a["score"])
    n, prompts = run["best_of"], run["test"]
    by_prompt = [[scored[k * prompts + i] for k in range(n)] for i in range(prompts)]
    pairs = [(a["score"], b["score"]) for group in by_prompt for a in group if a["correct"]
             for b in group if not b["correct"]]
    return {"groups": groups, "pairs": len(pairs),
            "ranked_right": sum(x > y for x, y in pairs) / len(pairs) if pairs else None}


def rm_figure(run: dict, record: dict | None):
    """Reward-model score against the judge's verdict, one dot per best-of-n sample (this build's run)."""
    import matplotlib.pyplot as plt

    groups = rm_vs_judge(run)["groups"]
    fig, ax = plt.subplots(figsize=(6.5, 3))
    rng = random.Random(0)
    for i, (name, ys) in enumerate(groups.items()):
        ax.scatter([i + rng.uniform(-0.18, 0.18) for _ in ys], ys, s=10, alpha=0.6, color=f"C{i}")
        if ys:
            ax.hlines(sum(ys) / len(ys), i - 0.3, i + 0.3, color="black", lw=2)
    ax.set_xticks(range(len(groups)), [f"{k}\n({len(v)} samples)" for k, v in groups.items()], fontsize=8)
    ax.set_ylabel("reward-model score")
    ax.set_title(f"{run['best_of']} SFT samples per held-out prompt: what the reward model gave each verdict "
                 f"(bars: means)", fontsize=9)
    fig.tight_layout()
    return fig


def rm_caption(run: dict) -> str:
    r = rm_vs_judge(run)
    means = "; ".join(f"{k}: mean {sum(v) / len(v):.2f} over {len(v)} samples" if v else f"{k}: none"
                      for k, v in r["groups"].items())
    ranked = (f" Over the {r['pairs']} pairs of a correct and a wrong sample of the same prompt, it scored the "
              f"correct one higher in {r['ranked_right']:.0%}." if r["pairs"] else
              " No prompt had both a correct and a wrong sample, so no pair can be ranked.")
    return (f"This build's reward model on the {len(run['rm_vs_judge'])} samples best-of-{run['best_of']} chose "
            f"from ({run['best_of']} per held-out prompt), by the judge's verdict: {means}.{ranked}\n")


def stages_figure(run: dict, record: dict | None):
    import matplotlib.pyplot as plt

    names = list(run["stages"])
    runs = [("this build", run["stages"])] + ([("record", record["results"]["stages"])] if record else [])
    fig, axes = plt.subplots(1, 2, figsize=(9, 3), sharey=True)
    w = 0.8 / len(runs)
    for ax, key, title in zip(axes, ("accuracy", "format"), ("judge accuracy", "format rate")):
        for j, (label, st) in enumerate(runs):
            ax.bar([i - 0.4 + w * (j + 0.5) for i in range(len(names))], [st[n][key] for n in names], w, label=label,
                   hatch="//" if j else None)
        ax.set_xticks(range(len(names)), [n.replace(" best-of-", "\nbest-of-") for n in names], fontsize=8)
        ax.set_ylim(0, 1)
        ax.set_title(f"{title}, {run['test']} held-out prompts, greedy", fontsize=10)
    axes[0].legend(loc="upper left", frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def train_all() -> dict:
    """Every step, in order; the run as a dict of plain numbers and texts."""
    from tools.bench import cpu_name

    t_start, wall_start = time.process_time(), time.perf_counter()
    base = llmbook.load_model("smollm2-135m-instruct").eval()
    train, test = make_problems(N_TRAIN, N_TEST, SEED)
    d = Data(base.tokenizer, base.eos_token_id, train, test)
    times, stages, examples = {}, {}, {}
    run = {"scale": SCALE, "cpu_model": cpu_name(), "threads": torch.get_num_threads(), "steps": STEPS, "blocks": BLOCKS, "train": N_TRAIN, "test": N_TEST, "batch": BATCH,
           "best_of": BEST_OF, "held_out": [question(p) for p in test[:SHOWN]], "examples": examples}

    def timed(name, f, *a):
        t = time.process_time()
        out = f(*a)
        times[name] = round(time.process_time() - t, 1)
        return out

    stages["base"] = timed("eval base", evaluate, base, base, d, 1)
    sft_model, run["sft_loss"], examples["sft"] = timed("sft", sft, base, d)
    stages["SFT"] = timed("eval sft", evaluate, sft_model, base, d, 1)
    rm, run["rm_loss"], run["rm_pair_accuracy"], examples["rm"] = timed("rm", reward_model, sft_model, d)
    stages[f"RM best-of-{BEST_OF}"] = timed("best-of-n", best_of_n, sft_model, rm, base, d, BEST_OF, 2)
    run["rm_vs_judge"] = stages[f"RM best-of-{BEST_OF}"].pop("scored")
    ppo_model, run["ppo"], examples["ppo"] = timed("ppo", ppo, sft_model, rm, d)
    stages["PPO"] = timed("eval ppo", evaluate, ppo_model, base, d, 1)
    del ppo_model
    dpo_model, run["dpo_loss"], examples["dpo"] = timed("dpo", dpo, sft_model, d)
    stages["DPO"] = timed("eval dpo", evaluate, dpo_model, base, d, 1)
    del dpo_model
    grpo_model, run["grpo"], examples["grpo"] = timed("grpo", grpo, sft_model, d)
    stages["GRPO"] = timed("eval grpo", evaluate, grpo_model, base, d, 1)
    run.update(stages=stages, times=times, total_cpu_s=round(time.process_time() - t_start, 1),
               wall_s=round(time.perf_counter() - wall_start, 1))
    return run


def main() -> dict:
    """Train (or, with ``--outputs-only``, reread this build's run.json) and write the page's files.

    ``--record``: write the run to examples/records/alignment/ only; the build's files are left as they are."""
    from tools.bench import environment, latest_record, save_record
    from tools.export import generated_path, write_json

    if "--outputs-only" in sys.argv:
        run = json.loads(generated_path("alignment/run.json").read_text(encoding="utf-8"))
    else:
        run = train_all()
        if "--record" in sys.argv:
            print(f"wrote {save_record('alignment', run, 'cpu')}; docs/generated/alignment/ left as it was")
            return run
        run["environment"] = environment("cpu")
        write_json("alignment/run.json", run)
    write_outputs(run, latest_record("alignment"))
    return run


def write_outputs(run: dict, record: dict | None) -> None:
    """The page's files: the table, the captions, the two figures (live and record) and the widget's data."""
    import matplotlib.pyplot as plt

    from tools.export import generated_path, save_figure, write_json

    generated_path("alignment/table.txt").write_text(table(run, record), encoding="utf-8")
    generated_path("alignment/caption.txt").write_text(captions(run, record), encoding="utf-8")
    write_json("alignment/steps.json", steps_data(run))
    if "rm_vs_judge" in run:
        generated_path("alignment/rm_caption.txt").write_text(rm_caption(run), encoding="utf-8")
    for name, make in (("stages", stages_figure), ("curves", curves_figure), ("rm_vs_judge", rm_figure)):
        if name == "rm_vs_judge" and "rm_vs_judge" not in run:
            continue
        fig = make(run, record)
        save_figure(fig, f"alignment/{name}.svg")
        plt.close(fig)
    print(table(run, record))
    print({k: v for k, v in run.items() if k in ("times", "total_cpu_s", "wall_s", "rm_pair_accuracy")})


if __name__ == "__main__":
    main()
