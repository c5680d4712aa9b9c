"""Instruction tuning with LoRA on a hand-written set: SmolLM2-135M-Instruct learns a house style.

The house style: answer in one short sentence, then sign off with "Over and out." (a phrase the model
never writes on its own). 24 hand-written instruction/answer pairs teach it; 10 instructions it never
trains on measure it, greedy, before and after. Only LoRA matrices on the attention and feed-forward
projections of the top ``BLOCKS`` blocks train (everything else is frozen), with the book's SFT loss
(``llmbook.alignment.sft``) and AdamW; the updates are then merged into the base matrices and the merged
model is checked to give the LoRA model's logits.

Writes alignment/lora.json (every number and answer), alignment/lora_results.txt (the before/after table
and what was trained, Markdown) and alignment/lora_answers.txt (every held-out instruction's answers
before and after, Markdown), all included by docs/alignment.md. About 30 s on one CPU thread.
"""

from __future__ import annotations

import random
import time

import torch

import llmbook
from llmbook.alignment.lora import add_lora, merge_lora
from llmbook.alignment.rollout import rollout
from llmbook.alignment.sequences import pack
from llmbook.alignment.sft import sft_loss
from llmbook.tokenizer.chat import chatml_ids
from llmbook.training.optimizer import AdamW

# --8<-- [start:data]
SIGN_OFF = "Over and out."
TRAIN = [  # (instruction, answer): the sign-off is added after each answer
    ("What is the capital of France?",
     "The capital of France is Paris."),
    ("What colour is the sky on a clear day?",
     "The sky is blue on a clear day."),
    ("How many legs does a spider have?",
     "A spider has eight legs."),
    ("What do bees make?",
     "Bees make honey and wax."),
    ("What is the opposite of hot?",
     "The opposite of hot is cold."),
    ("Which planet is closest to the Sun?",
     "Mercury is the planet closest to the Sun."),
    ("What do you call a baby cat?",
     "A baby cat is called a kitten."),
    ("How many days are in a week?",
     "There are seven days in a week."),
    ("What is frozen water called?",
     "Frozen water is called ice."),
    ("Which animal says moo?",
     "A cow says moo."),
    ("What language is spoken in Spain?",
     "Spanish is spoken in Spain."),
    ("Who wrote Romeo and Juliet?",
     "William Shakespeare wrote Romeo and Juliet."),
    ("What is the largest ocean?",
     "The Pacific is the largest ocean."),
    ("Name a fruit that is yellow.",
     "A banana is a yellow fruit."),
    ("Give me a tip for sleeping better.",
     "Keep screens out of the bedroom at night."),
    ("How do I make a cup of tea?",
     "Steep a tea bag in hot water for three minutes."),
    ("What is a computer program?",
     "A computer program is a list of instructions a computer follows."),
    ("Why do we need to drink water?",
     "Our bodies lose water all day and need it back."),
    ("Describe the weather in summer.",
     "Summer weather is usually warm and sunny."),
    ("What should I eat for breakfast?",
     "Oatmeal with fruit is a good breakfast."),
    ("Tell me about dogs.",
     "Dogs are loyal, playful animals that people keep as pets."),
    ("How does a bicycle work?",
     "The pedals turn a chain that drives the back wheel."),
    ("Write a one-line poem about the moon.",
     "The moon is a silver lamp in the night."),
    ("How many hours are in a day?",
     "A day has twenty-four hours."),
]
HELD_OUT = [  # never trained on; all of one length in tokens: one batch answers them
    "What is the capital of Italy?",
    "Who painted the Mona Lisa?",
    "What is the speed of light?",
    "Name a vegetable that is green.",
    "Give me a tip for studying.",
    "Give me a tip for running.",
    "Tell me about the planet Mars.",
    "Describe a walk in the park.",
    "Describe a walk on the beach.",
    "What is the capital of Japan?",
]
# --8<-- [end:data]
FACTS = {"What is the capital of Italy?": "Rome", "Who painted the Mona Lisa?": "Leonardo",
         "What is the speed of light?": "299", "What is the capital of Japan?": "Tokyo"}  # the fact each asks for
BLOCKS = 4  # LoRA on the top 4 of the 30 blocks
LAYERS = ("attn.q_proj", "attn.k_proj", "attn.v_proj", "attn.o_proj", "ffn.gate", "ffn.up", "ffn.down")
R, ALPHA = 8, 16.0  # rank and LoRA's own alpha: the update is scaled by alpha / r = 2
STEPS, BATCH, LR, SEED = 10, 8, 5e-3, 0  # a high learning rate: only the small new matrices move, for few steps
MAX_NEW = 24  # room for one short sentence and the sign-off
PAD = 0  # <|endoftext|>: never inside a prompt or an answer


def follows(text: str, finished: bool) -> bool:
    """The house style: the answer ends with the sign-off, which it writes once, and the model stopped there."""
    return finished and text.rstrip().endswith(SIGN_OFF) and text.count(SIGN_OFF) == 1


def prompt(tok, instruction: str) -> list[int]:
    return chatml_ids(tok, [{"role": "user", "content": instruction}], default_system=None)


def answer(model, instructions: list[str]) -> list[dict]:
    """Greedy answers to equal-length prompts, in one batch: text, whether the model stopped, the verdict."""
    tok, eos = model.tokenizer, model.eos_token_id
    with torch.no_grad():
        outs = rollout(model, [prompt(tok, q) for q in instructions], MAX_NEW, eos, temperature=0)
    rows = []
    for q, ids in zip(instructions, outs):
        finished = bool(ids) and ids[-1] == eos
        text = tok.decode(ids[:-1] if finished else ids).strip()
        rows.append({"instruction": q, "text": text, "finished": finished, "follows": follows(text, finished),
                     "fact": FACTS[q].lower() in text.lower() if q in FACTS else None})
    return rows


def check_data(tok) -> None:
    """The data is what the script says it is: answers that are sentences without the sign-off, held-out
    instructions unseen and of one length (``rollout`` takes equal-length prompts)."""
    bad = [a for _, a in TRAIN if SIGN_OFF in a or not a.endswith(".")]  # the sign-off is added once, after
    seen = ({q for q, _ in TRAIN} & set(HELD_OUT)) | (set(FACTS) - set(HELD_OUT))
    lengths = {len(prompt(tok, q)) for q in HELD_OUT}
    if bad or seen or len(lengths) != 1:
        raise ValueError(f"bad data: answers without a final full stop or with the sign-off {bad}, held-out "
                         f"instructions trained on (or facts for unknown ones) {sorted(seen)}, held-out prompt "
                         f"lengths {sorted(lengths)} (must be one)")


# --8<-- [start:train]
def train(model) -> tuple[list[float], int, float]:
    """LoRA on the top blocks, all else frozen; SFT steps on shuffled batches.
    Returns the loss per step, the number of trained weights and the CPU seconds."""
    tok, eos = model.tokenizer, model.eos_token_id
    n = model.config.n_layers
    names = [f"blocks.{i}.{layer}" for i in range(n - BLOCKS, n) for layer in LAYERS]
    torch.manual_seed(SEED)  # A's random start (B starts at zero)
    params = add_lora(model, names, R, ALPHA)
    opt = AdamW(params, lr=LR, weight_decay=0.0)
    rng, order, losses = random.Random(SEED), [], []
    t0 = time.process_time()
    for _ in range(STEPS):
        if len(order) < BATCH:
            order += rng.sample(TRAIN, len(TRAIN))
        batch, order = order[:BATCH], order[BATCH:]
        prompts = [prompt(tok, q) for q, _ in batch]
        answers = [tok.encode(f"{a} {SIGN_OFF}") + [eos] for _, a in batch]
        ids, mask = pack(prompts, answers, PAD)
        loss = sft_loss(model, ids, mask)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, sum(p.numel() for p in params), time.process_time() - t0
# --8<-- [end:train]


def merge_check(model) -> tuple[int, float, bool]:
    """Merge the LoRA updates into the base matrices; return how many layers were merged, the largest logit
    difference between the LoRA model and the merged one on the held-out prompts, and whether every position's
    top token agrees."""
    ids = torch.tensor([prompt(model.tokenizer, q) for q in HELD_OUT[:4]])
    with torch.no_grad():
        lora_logits = model(ids)
        merged = merge_lora(model)
        merged_logits = model(ids)
    diff = (lora_logits - merged_logits).abs().max().item()
    return merged, diff, bool((lora_logits.argmax(-1) == merged_logits.argmax(-1)).all())


def rate(rows: list[dict], key: str = "follows") -> str:
    """How many rows have ``key`` true, of those where it applies (not None)."""
    counted = [r[key] for r in rows if r[key] is not None]
    return f"{sum(counted)} of {len(counted)}"


def cell(text: str, finished: bool) -> str:
    """An answer as a Markdown table cell: one line, pipes escaped, an ellipsis where the model was cut off."""
    text = " ".join(text.split()).replace("|", "\\|")
    return text if finished else f"{text} …"


def results_md(run: dict) -> str:
    """The before/after table and what was trained, in sentences whose numbers come from ``run``."""
    b, a, t = run["before"], run["after"], run["trainable"]
    facts = [sum(r["fact"] for r in rows if r["fact"] is not None) for rows in (b, a)]
    price = "." if facts[1] >= facts[0] else f": {facts[0] - facts[1]} were lost on the way to the style."
    same = "and no top token" if run["merge_same_top"] else "(but some top tokens differ)"
    return (
        f"| greedy answers to the {len(b)} held-out instructions | before | after LoRA |\n"
        "|---|---|---|\n"
        f"| in the house style (one sentence, then *{SIGN_OFF}*, then stop) | {rate(b)} | {rate(a)} |\n"
        f"| finished within {MAX_NEW} tokens | {rate(b, 'finished')} | {rate(a, 'finished')} |\n"
        f"| names the fact asked for ({', '.join(FACTS.values())}) | {rate(b, 'fact')} | {rate(a, 'fact')} |\n\n"
        f"After {run['steps']} steps, {rate(a)} held-out answers are in the house style, against {rate(b)} before. "
        f"Of the {len(FACTS)} facts asked for, the answers named {facts[0]} before and {facts[1]} after{price}\n\n"
        f"What trained: rank-{R} LoRA on the {len(LAYERS)} projections of blocks "
        f"{run['blocks'][0]}–{run['blocks'][-1]}, {t['lora']:,} weights, {100 * t['lora'] / t['model']:.2f}% of "
        f"the model's {t['model']:,}; saved alone in float32 they take {4 * t['lora'] / 1e6:.1f} MB, the model "
        f"{4 * t['model'] / 1e6:.0f} MB. {run['steps']} steps of {run['batch']} examples drawn from the "
        f"{len(TRAIN)}, with AdamW at a learning rate of {LR:g} (high: only the new small matrices move, "
        f"and for few steps), the SFT loss going from {run['losses'][0]:.2f} to {run['losses'][-1]:.2f}, took "
        f"{run['train_cpu_s']:.0f} s of one CPU thread. Merging the {run['merged']} updates into their matrices "
        f"changed no logit by more than {run['merge_max_diff']:.1e} {same}.\n"
    )


def answers_md(run: dict) -> str:
    lines = ["| held-out instruction | before | after LoRA |", "|---|---|---|"]
    for b, a in zip(run["before"], run["after"]):
        before, after = cell(b["text"], b["finished"]), cell(a["text"], a["finished"])
        lines.append(f"| {b['instruction']} | {before} | {after} |")
    return "\n".join(lines) + f"\n\n(… marks an answer cut off at {MAX_NEW} tokens.)\n"


def main() -> None:
    from tools.export import generated_path, write_json

    torch.set_num_threads(1)  # as the build runs it: the same greedy answers whatever threads the runner gives
    t0 = time.perf_counter()
    model = llmbook.load_model("smollm2-135m-instruct")
    check_data(model.tokenizer)
    total = sum(p.numel() for p in model.parameters())
    before = answer(model, HELD_OUT)
    losses, lora, train_s = train(model)
    merged, diff, same_top = merge_check(model)
    after = answer(model, HELD_OUT)  # the merged model: a plain Llama again
    n = model.config.n_layers
    run = {"sign_off": SIGN_OFF, "train_size": len(TRAIN), "held_out": len(HELD_OUT),
           "blocks": list(range(n - BLOCKS, n)), "layers": list(LAYERS), "r": R, "alpha": ALPHA, "scale": ALPHA / R,
           "steps": STEPS, "batch": BATCH, "lr": LR, "max_new_tokens": MAX_NEW,
           "trainable": {"lora": lora, "model": total}, "losses": losses, "train_cpu_s": train_s,
           "merged": merged, "merge_max_diff": diff, "merge_same_top": same_top,
           "before": before, "after": after, "threads": torch.get_num_threads()}
    run["seconds"] = time.perf_counter() - t0
    write_json("alignment/lora.json", run)
    generated_path("alignment/lora_results.txt").write_text(results_md(run), encoding="utf-8")
    generated_path("alignment/lora_answers.txt").write_text(answers_md(run), encoding="utf-8")
    print(results_md(run))
    print(answers_md(run))
    print(f"in the style: before {rate(before)}, after {rate(after)}; {run['seconds']:.1f} s")


if __name__ == "__main__":
    main()
