"""Checked exercises for every chapter, computed by llmbook so page, widget and tests agree.

``CHAPTERS`` maps a page (``docs/<page>.md``) to a function returning its exercises in the
format of :mod:`tools.by_hand`: id (unique on the whole site), answer, tolerance, hint and
worked solution steps. ``examples/chapter_exercises.py`` writes one JSON file per page to
``generated/exercises/<page>.json``; the exercise widget checks a reader's answer against it.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Callable

import torch

from llmbook.alignment.dpo import dpo_loss
from llmbook.alignment.grpo import group_advantages
from llmbook.alignment.reward import bradley_terry_loss
from llmbook.hardware.gpus import gpu
from llmbook.hardware.roofline import matmul_op
from llmbook.layers.kv_cache import KVCache
from llmbook.inference.sampling import apply_temperature, top_p_filter
from llmbook.interpret.circuits import induction_scores
from llmbook.interpret.hooks import remove_component
from llmbook.layers.positions import apply_rope, rope_angles
from llmbook.models.config import LlamaConfig
from llmbook.models.embedding_space import cosine_similarity
from llmbook.models.gguf import read_gguf
from llmbook.models.registry import model_path
from llmbook.tokenizer.bpe import merge_pair
from llmbook.tokenizer.gguf_tokenizer import GGUFTokenizer
from llmbook.training.flops import matmul_params
from llmbook.training.objective import cross_entropy_loss
from llmbook.training.schedule import warmup_cosine
from tools.by_hand import fmt

Exercise = dict[str, Any]


@lru_cache(maxsize=1)
def smollm2_config() -> LlamaConfig:
    """SmolLM2-135M's configuration, read from the GGUF file's metadata (no weights loaded)."""
    return LlamaConfig.from_gguf(read_gguf(model_path("smollm2-135m-instruct")))


def _ex(id: str, answer: float, tolerance: float, hint: str, solution: list[str]) -> Exercise:
    return {"id": id, "answer": float(answer), "tolerance": tolerance, "hint": hint, "solution": solution}


# ---- big picture -------------------------------------------------------------------------------
PICTURE_PROMPT = "The capital of France is"
TEMP_LOGITS, TEMPERATURE = (2.0, 1.0, 0.0), 0.5


def big_picture() -> list[Exercise]:
    c = smollm2_config()
    tok = GGUFTokenizer.from_gguf(read_gguf(model_path("smollm2-135m-instruct")).metadata)
    n_tokens = len(tok.encode(PICTURE_PROMPT))
    scaled = apply_temperature(torch.tensor(TEMP_LOGITS), TEMPERATURE)
    probs = torch.softmax(scaled, dim=-1)
    exps = [math.exp(float(z)) for z in scaled]
    return [
        _ex("prompt-vectors", n_tokens * c.dim, 0.5,
            f"Count the tokens of the prompt (stage 1\u20132), then each becomes a vector of C = {c.dim} numbers.",
            [f"{PICTURE_PROMPT!r} is {n_tokens} tokens",
             f"{n_tokens} \u00d7 {c.dim} = {n_tokens * c.dim:,} numbers"]),
        _ex("temperature", float(probs[0]), 0.005,
            f"Divide every logit by the temperature {TEMPERATURE}, then softmax: e^z\u1d62 / \u03a3 e^z\u2c7c.",
            [f"logits / {TEMPERATURE} = ({', '.join(fmt(float(z)) for z in scaled)})",
             f"e^z: {', '.join(fmt(e) for e in exps)}; sum \u2248 {fmt(math.fsum(exps))}",
             f"{fmt(exps[0])} / {fmt(math.fsum(exps))} \u2248 {fmt(float(probs[0]))}"]),
    ]


# ---- tokens ------------------------------------------------------------------------------------
MERGE_IDS = (104, 101, 108, 108, 111, 32, 104, 101, 108, 112)  # bytes of "hello help"
MERGE_PAIR = (104, 101)  # "h", "e"
UTF8_TEXT = "naïve 日本"


def tokens() -> list[Exercise]:
    merged = merge_pair(list(MERGE_IDS), MERGE_PAIR, 256)
    n_bytes = [len(ch.encode("utf-8")) for ch in UTF8_TEXT]
    return [
        _ex("bpe-merge", len(merged), 0.5,
            "Find every place where 104 is directly followed by 101; each such pair becomes one id.",
            [f"ids: {list(MERGE_IDS)}",
             f"the pair (104, 101) occurs {(len(MERGE_IDS) - len(merged))} times",
             f"after the merge: {merged}",
             f"{len(MERGE_IDS)} \u2212 {len(MERGE_IDS) - len(merged)} = {len(merged)} ids"]),
        _ex("utf8-bytes", sum(n_bytes), 0.5,
            "ASCII letters and the space take 1 byte, Latin letters with accents 2, Chinese and Japanese characters 3.",
            [*(f"{ch!r}: {n} byte{'s' if n > 1 else ''}" for ch, n in zip(UTF8_TEXT, n_bytes)),
             f"{' + '.join(map(str, n_bytes))} = {sum(n_bytes)}"]),
    ]


# ---- transformer -------------------------------------------------------------------------------
ROPE_Q, ROPE_K = (2.0, 1.0), (1.0, 0.0)
ROPE_Q_POS, ROPE_K_POS = 1, 0  # a pair of dimensions whose angle is one radian per position


def rope_score() -> tuple[float, list[float], list[float]]:
    """q at position 1 and k at position 0, each rotated by RoPE (head dim 2): the score and rotated vectors."""
    cos, sin = rope_angles(torch.tensor([ROPE_Q_POS, ROPE_K_POS]), head_dim=2)  # (2, 1): angle = position
    q = apply_rope(torch.tensor(ROPE_Q).view(1, 1, 1, 2), cos[:1], sin[:1])[0, 0, 0]
    k = apply_rope(torch.tensor(ROPE_K).view(1, 1, 1, 2), cos[1:], sin[1:])[0, 0, 0]
    return float(q @ k), q.tolist(), k.tolist()


def transformer() -> list[Exercise]:
    score, q, k = rope_score()
    c = smollm2_config()
    q_o = 2 * c.dim * c.dim
    k_v = 2 * c.dim * c.kv_dim
    return [
        _ex("rope-score", score, 0.01,
            "Rotate q by 1 radian: (a, b) \u2192 (a cos 1 \u2212 b sin 1, a sin 1 + b cos 1). k sits at position 0, "
            "so it is not rotated. Then take the dot product.",
            [f"cos 1 \u2248 {fmt(math.cos(1))}, sin 1 \u2248 {fmt(math.sin(1))}",
             f"rotated q \u2248 ({fmt(q[0])}, {fmt(q[1])}); k stays ({fmt(k[0])}, {fmt(k[1])})",
             f"score = {fmt(q[0])} \u00d7 {fmt(k[0])} + {fmt(q[1])} \u00d7 {fmt(k[1])} \u2248 {fmt(score)}",
             f"without RoPE it would be {fmt(ROPE_Q[0] * ROPE_K[0] + ROPE_Q[1] * ROPE_K[1])}: the rotation "
             "made the score depend on the distance between the two positions"]),
        _ex("attention-params", q_o + k_v, 0.5,
            f"W_Q and W_O are {c.dim} \u00d7 {c.dim}. W_K and W_V map {c.dim} numbers to "
            f"{c.n_kv_heads} KV heads \u00d7 {c.head_dim} = {c.kv_dim}.",
            [f"W_Q + W_O: 2 \u00d7 {c.dim} \u00d7 {c.dim} = {q_o:,}",
             f"W_K + W_V: 2 \u00d7 {c.dim} \u00d7 {c.kv_dim} = {k_v:,}",
             f"total: {q_o + k_v:,} weights (no biases in Llama's attention)"]),
    ]


# ---- real model --------------------------------------------------------------------------------
def smollm2_parameters() -> int:
    """Every parameter of SmolLM2-135M from its config: matrix weights, the tied embedding once, norms."""
    c = smollm2_config()
    norms = (2 * c.n_layers + 1) * c.dim  # two RMSNorm gains per block and a final one
    return matmul_params(c) + norms


def real_model() -> list[Exercise]:
    c = smollm2_config()
    attention = 2 * c.dim * c.dim + 2 * c.dim * c.kv_dim
    ffn = 3 * c.dim * c.ffn_dim
    total = smollm2_parameters()
    embedding_mb = c.vocab_size * c.dim * 4 / 1e6
    return [
        _ex("smollm2-params", total / 1e6, 0.05,
            "Per block: attention (W_Q, W_K, W_V, W_O), the SwiGLU feed-forward (three matrices C \u00d7 F) and "
            "two norms of C gains. Add the embedding once (it is tied to the output layer) and the final norm.",
            [f"attention per block: 2 \u00d7 {c.dim}\u00b2 + 2 \u00d7 {c.dim} \u00d7 {c.kv_dim} = {attention:,}",
             f"feed-forward per block: 3 \u00d7 {c.dim} \u00d7 {c.ffn_dim} = {ffn:,}",
             f"norms per block: 2 \u00d7 {c.dim} = {2 * c.dim:,}",
             f"{c.n_layers} blocks: {c.n_layers * (attention + ffn + 2 * c.dim):,}",
             f"embedding {c.vocab_size:,} \u00d7 {c.dim} = {c.vocab_size * c.dim:,}; final norm {c.dim}",
             f"total {total:,} \u2248 {total / 1e6:.2f} million"]),
        _ex("embedding-mb", embedding_mb, 0.05,
            "The embedding has one row of C numbers per token of the vocabulary; float32 takes 4 bytes a number. "
            "1 MB = 10\u2076 bytes.",
            [f"{c.vocab_size:,} \u00d7 {c.dim} = {c.vocab_size * c.dim:,} numbers",
             f"\u00d7 4 bytes = {c.vocab_size * c.dim * 4:,} bytes \u2248 {embedding_mb:.2f} MB"]),
    ]


# ---- embeddings --------------------------------------------------------------------------------
COS_A, COS_B = (1.0, 2.0, 2.0), (2.0, 0.0, 1.0)
TABLE = ((0.1, 0.4), (0.7, -0.2), (-0.3, 0.5), (0.9, 0.8))
LOOKUP_ID = 2


def embeddings() -> list[Exercise]:
    a, b = torch.tensor(COS_A), torch.tensor(COS_B)
    cos = float(cosine_similarity(a, b))
    dot, na, nb = float(a @ b), float(a.norm()), float(b.norm())
    one_hot = torch.nn.functional.one_hot(torch.tensor(LOOKUP_ID), len(TABLE)).float()  # (V,)
    row = one_hot @ torch.tensor(TABLE)  # (C,): a one-hot times the table is a lookup
    return [
        _ex("cosine", cos, 0.01,
            "Cosine similarity is the dot product divided by the product of the two lengths.",
            [f"a \u00b7 b = {fmt(dot)}",
             f"|a| = \u221a{fmt(na * na)} = {fmt(na)}, |b| = \u221a{fmt(nb * nb)} \u2248 {fmt(nb)}",
             f"{fmt(dot)} / ({fmt(na)} \u00d7 {fmt(nb)}) \u2248 {fmt(cos)}"]),
        _ex("one-hot", float(row[1]), 0.001,
            f"A one-hot vector has a single 1, at position {LOOKUP_ID}; multiplying it by the table picks one row.",
            [f"one-hot of token {LOOKUP_ID}: {[int(x) for x in one_hot.tolist()]}",
             f"it selects row {LOOKUP_ID} of the table: ({', '.join(fmt(x) for x in TABLE[LOOKUP_ID])})",
             f"its second number is {fmt(float(row[1]))}"]),
    ]


# ---- generation --------------------------------------------------------------------------------
TOP_P_PROBS = (0.45, 0.25, 0.15, 0.1, 0.05)
TOP_P = 0.8
KV_TOKENS = 1000


def kv_cache_bytes(n_tokens: int) -> int:
    """Bytes of SmolLM2's float32 KV cache after ``n_tokens`` tokens, measured on a filled KVCache."""
    c = smollm2_config()
    cache = KVCache(c.n_layers)
    for layer in range(c.n_layers):
        kv = torch.zeros(1, c.n_kv_heads, n_tokens, c.head_dim)  # (B, KV, T, D)
        cache.update(layer, kv, kv.clone())
    return sum(k.nbytes + v.nbytes for k, v in zip(cache.keys, cache.values))


def generation() -> list[Exercise]:
    logits = torch.tensor(TOP_P_PROBS).log()
    kept = torch.isfinite(top_p_filter(logits, TOP_P)).tolist()
    n_kept = sum(kept)
    running = [sum(sorted(TOP_P_PROBS, reverse=True)[:i + 1]) for i in range(len(TOP_P_PROBS))]
    c = smollm2_config()
    n_bytes = kv_cache_bytes(KV_TOKENS)
    return [
        _ex("top-p", n_kept, 0.5,
            f"Sort from most to least likely and add probabilities until the sum reaches at least {TOP_P}.",
            [f"running sums: {', '.join(fmt(r) for r in running)}",
             f"the sum first reaches {TOP_P} at token {n_kept}, so {n_kept} tokens survive"]),
        _ex("kv-bytes", n_bytes / 1e6, 0.05,
            "Each layer stores a key and a value vector per KV head and token; float32 takes 4 bytes. 1 MB = 10\u2076 bytes.",
            [f"per token and layer: 2 (K and V) \u00d7 {c.n_kv_heads} KV heads \u00d7 {c.head_dim} = "
             f"{2 * c.n_kv_heads * c.head_dim} numbers",
             f"\u00d7 {c.n_layers} layers \u00d7 {KV_TOKENS:,} tokens \u00d7 4 bytes = {n_bytes:,} bytes",
             f"\u2248 {n_bytes / 1e6:.2f} MB"]),
    ]


# ---- training ----------------------------------------------------------------------------------
CE_LOGITS, CE_TARGET = (2.0, 0.5, -1.0), 1
LR = dict(max_lr=1e-3, warmup=100, total=1100)
LR_STEP = 600


def training() -> list[Exercise]:
    logits = torch.tensor(CE_LOGITS)
    loss = float(cross_entropy_loss(logits[None], torch.tensor([CE_TARGET])))
    exps = [math.exp(z) for z in CE_LOGITS]
    p = exps[CE_TARGET] / math.fsum(exps)
    lr = warmup_cosine(LR_STEP, **LR)
    progress = (LR_STEP - LR["warmup"]) / (LR["total"] - LR["warmup"])
    return [
        _ex("cross-entropy", loss, 0.01,
            f"Softmax the logits, take the probability of token {CE_TARGET}, and the loss is its negative natural log.",
            [*(f"e^{fmt(z)} \u2248 {fmt(e)}" for z, e in zip(CE_LOGITS, exps)),
             f"p = {fmt(exps[CE_TARGET])} / {fmt(math.fsum(exps))} \u2248 {fmt(p)}",
             f"\u2212ln {fmt(p)} \u2248 {fmt(loss)}"]),
        _ex("lr-schedule", lr * 1e4, 0.01,
            "After the warm-up the cosine runs from max_lr to 0: lr = max_lr \u00d7 (1 + cos(\u03c0 \u00d7 progress)) / 2, "
            "progress = (step \u2212 warmup) / (total \u2212 warmup). Give the answer in units of 10\u207b\u2074.",
            [f"progress = ({LR_STEP} \u2212 {LR['warmup']}) / ({LR['total']} \u2212 {LR['warmup']}) = {fmt(progress)}",
             f"(1 + cos(\u03c0 \u00d7 {fmt(progress)})) / 2 \u2248 {fmt(0.5 * (1 + math.cos(math.pi * progress)))}",
             f"lr \u2248 {lr:.3e} = {fmt(lr * 1e4)} \u00d7 10\u207b\u2074"]),
    ]


# ---- hardware ----------------------------------------------------------------------------------
RIDGE_GPU = "H100 SXM"


def hardware() -> list[Exercise]:
    g = gpu(RIDGE_GPU)
    ridge = g.ridge_point("bf16_tflops")
    c = smollm2_config()
    op = matmul_op("decode W_Q", 1, c.dim, c.dim)
    return [
        _ex("ridge-point", ridge, 0.5,
            "The ridge point is peak FLOP/s divided by memory bandwidth in bytes/s. NVIDIA's bfloat16 headline is "
            "with sparsity: the dense figure is half of it.",
            [f"dense bfloat16: {fmt(g.figures['bf16_tflops'].value)} / 2 = {fmt(g.dense('bf16_tflops'))} TFLOP/s",
             f"bandwidth: {fmt(g.dense('hbm_tb_s'))} TB/s",
             f"{fmt(g.dense('bf16_tflops'))} \u00d7 10\u00b9\u00b2 / ({fmt(g.dense('hbm_tb_s'))} \u00d7 10\u00b9\u00b2) "
             f"\u2248 {ridge:.1f} FLOP per byte"]),
        _ex("decode-intensity", op.intensity, 0.005,
            "A (1, C) by (C, C) product does 2\u00b7C\u00b7C FLOPs and reads C\u00b7C float32 weights, plus the input "
            "and output vectors (4 bytes a number).",
            [f"FLOPs: 2 \u00d7 {c.dim} \u00d7 {c.dim} = {int(op.flops):,}",
             f"bytes: 4 \u00d7 ({c.dim}\u00b2 + {c.dim} + {c.dim}) = {int(op.bytes):,}",
             f"intensity: {int(op.flops):,} / {int(op.bytes):,} \u2248 {fmt(op.intensity)} FLOP per byte, "
             "far below any ridge point: decoding one token is memory-bound"]),
    ]


# ---- alignment ---------------------------------------------------------------------------------
BT_REWARDS = dict(chosen=1.5, rejected=0.5)
GRPO_REWARDS, GRPO_PICK = (1.0, 0.0, 1.0, 1.0), 1  # one group of four judged answers; the second failed
DPO = dict(policy_chosen=-10.0, policy_rejected=-12.0, ref_chosen=-11.0, ref_rejected=-11.0, beta=0.5)


def alignment() -> list[Exercise]:
    r_c, r_r = BT_REWARDS["chosen"], BT_REWARDS["rejected"]
    p = math.exp(-float(bradley_terry_loss(torch.tensor([r_c]), torch.tensor([r_r]))))  # loss = -ln p
    d = DPO
    dpo = float(dpo_loss(*(torch.tensor([d[k]]) for k in ("policy_chosen", "policy_rejected", "ref_chosen",
                                                            "ref_rejected")), beta=d["beta"]))
    margin = d["beta"] * ((d["policy_chosen"] - d["ref_chosen"]) - (d["policy_rejected"] - d["ref_rejected"]))
    rewards = torch.tensor(GRPO_REWARDS)
    adv = float(group_advantages(rewards, group_size=len(GRPO_REWARDS))[GRPO_PICK])
    mean, std = float(rewards.mean()), float(rewards.std())
    squares = " + ".join(f"({fmt(r)} \u2212 {fmt(mean)})\u00b2" for r in GRPO_REWARDS)
    return [
        _ex("bradley-terry", p, 0.005,
            "The reward model's probability that the chosen answer is preferred is \u03c3(r_chosen \u2212 r_rejected), "
            "\u03c3(x) = 1 / (1 + e^\u2212x).",
            [f"r_chosen \u2212 r_rejected = {fmt(r_c)} \u2212 {fmt(r_r)} = {fmt(r_c - r_r)}",
             f"\u03c3({fmt(r_c - r_r)}) = 1 / (1 + e^\u2212{fmt(r_c - r_r)}) \u2248 {fmt(p)}"]),
        _ex("dpo-loss", dpo, 0.01,
            "DPO loss = \u2212ln \u03c3(\u03b2 \u00d7 margin), margin = (log \u03c0_\u03b8 \u2212 log \u03c0_ref of the chosen answer) "
            "\u2212 (the same for the rejected one); \u03c3(x) = 1 / (1 + e^\u2212x).",
            [f"chosen: {fmt(d['policy_chosen'])} \u2212 ({fmt(d['ref_chosen'])}) = "
             f"{fmt(d['policy_chosen'] - d['ref_chosen'])}",
             f"rejected: {fmt(d['policy_rejected'])} \u2212 ({fmt(d['ref_rejected'])}) = "
             f"{fmt(d['policy_rejected'] - d['ref_rejected'])}",
             f"\u03b2 \u00d7 margin = {fmt(d['beta'])} \u00d7 {fmt(margin / d['beta'])} = {fmt(margin)}",
             f"\u2212ln \u03c3({fmt(margin)}) = ln(1 + e^\u2212{fmt(margin)}) \u2248 {fmt(dpo)}"]),
        _ex("grpo-advantage", adv, 0.01,
            "Subtract the group's mean reward and divide by its standard deviation (with n \u2212 1 in the "
            "denominator, as torch.std does).",
            [f"mean = {fmt(mean)}",
             f"std = \u221a(({squares}) / "
             f"{len(GRPO_REWARDS) - 1}) = {fmt(std)}",
             f"advantage of answer {GRPO_PICK + 1}: ({fmt(GRPO_REWARDS[GRPO_PICK])} \u2212 {fmt(mean)}) / "
             f"{fmt(std)} \u2248 {fmt(adv)}: below the group's average, so its tokens are made less likely"]),
    ]


# ---- limits ------------------------------------------------------------------------------------
FLOPS_TOKENS = 10**9  # a billion training tokens
CHAT_TOKENS = 10_000  # a conversation longer than the context


def limits() -> list[Exercise]:
    c = smollm2_config()
    n = matmul_params(c)
    flops = 6 * n * FLOPS_TOKENS
    return [
        _ex("training-flops", flops / 1e18, 0.05,
            "Training costs about 6 FLOPs per weight per token: 2 for the forward pass, 4 for the backward pass. "
            "Give the answer in units of 10\u00b9\u2078 FLOPs.",
            [f"N = {n:,} weights in matrix products, D = {FLOPS_TOKENS:,} tokens",
             f"6 \u00d7 {n:,} \u00d7 {FLOPS_TOKENS:,} = {flops:.3e} FLOPs \u2248 {fmt(flops / 1e18)} \u00d7 10\u00b9\u2078"]),
        _ex("context-overflow", max(0, CHAT_TOKENS - c.context_length), 0.5,
            f"The model sees at most its context length, {c.context_length:,} tokens (llama.context_length in the "
            "GGUF file); keeping the newest tokens, the oldest ones fall out.",
            [f"{CHAT_TOKENS:,} \u2212 {c.context_length:,} = {CHAT_TOKENS - c.context_length:,} tokens no longer seen"]),
    ]


# ---- looking inside ----------------------------------------------------------------------------
INDUCTION_N = 4  # a 4-token sequence repeated once: T = 8
INDUCTION_WEIGHTS = (0.9, 0.7, 0.8, 0.6)  # queries 4..7: weight on the key after the earlier copy
ABLATE_X, ABLATE_V = (2.0, -1.0, 2.0), (1.0, 2.0, 2.0)


def interpret() -> list[Exercise]:
    n = INDUCTION_N
    maps = torch.zeros(2 * n, 2 * n)
    for i, w in zip(range(n, 2 * n), INDUCTION_WEIGHTS):
        maps[i, i - n + 1] = w
        maps[i, i] = 1 - w  # the rest of the row on the query itself: not counted
    score = induction_scores(maps, n).item()
    x, v = torch.tensor(ABLATE_X), torch.tensor(ABLATE_V)
    along = (x @ v / v.norm()).item()
    left = remove_component(x, v).norm().item()
    return [
        _ex("induction-score", score, 0.005,
            f"The tokens at positions {n}..{2 * n - 1} repeat those at 0..{n - 1}; the score averages each "
            "query's weight on the token right after its earlier copy.",
            [f"mean of {', '.join(fmt(w) for w in INDUCTION_WEIGHTS)} = {fmt(score)}"]),
        _ex("ablate-length", left, 0.01,
            "Divide v by its length to get u, remove (x \u00b7 u) u from x, then take the length of what is left.",
            [f"|v| = {fmt(v.norm().item())}, x \u00b7 u = {fmt(along)}",
             f"|x|\u00b2 \u2212 (x \u00b7 u)\u00b2 = {fmt((x @ x).item())} \u2212 {fmt(along ** 2)} = "
             f"{fmt(left ** 2)}", f"length {fmt(left)}"]),
    ]


CHAPTERS: dict[str, Callable[[], list[Exercise]]] = {
    "big-picture": big_picture, "tokens": tokens, "transformer": transformer, "real-model": real_model,
    "embeddings": embeddings, "generation": generation, "training": training, "hardware": hardware,
    "alignment": alignment, "limits": limits, "interpret": interpret,
}


def check(chapter: str, exercise_id: str, answer: float) -> bool:
    """True when ``answer`` is within the exercise's tolerance (the rule the widget applies)."""
    if chapter not in CHAPTERS:
        raise KeyError(f"unknown chapter {chapter!r}; known: {sorted(CHAPTERS)}")
    for ex in CHAPTERS[chapter]():
        if ex["id"] == exercise_id:
            return abs(answer - ex["answer"]) <= ex["tolerance"]
    raise KeyError(f"no exercise {exercise_id!r} in {chapter}; known: {[e['id'] for e in CHAPTERS[chapter]()]}")
