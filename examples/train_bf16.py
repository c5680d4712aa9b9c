"""The tiny Llama trained in float32 and under bfloat16 autocast, on one CPU thread: speed and loss.

- training/bf16.json: whether this CPU has native bfloat16 dot products (``avx512_bf16``),
  CPU milliseconds per step of each run (best of ``ROUNDS`` runs, taken in alternation) and
  the losses each reached after ``STEPS`` steps from the same seed and the same batches
- training/bf16_caption.txt: the same, in sentences for the page

Under autocast the matrix products run in bfloat16 while the weights, gradients and AdamW's
state stay float32. Times are CPU seconds of this process (``time.process_time``).
"""

from __future__ import annotations

import time

import torch

from llmbook.hardware.cpu import cpu_flags
from llmbook.training.data import CharTokenizer, RandomWindows, pydoc_topics_text, split_ids
from llmbook.training.loop import TrainConfig, evaluate, fit
from llmbook.training.tiny_llama import tiny_llama
from tools.bench import environment
from tools.export import generated_path, write_json

STEPS, ROUNDS = 40, 2  # a few dozen steps, each run repeated: best of ROUNDS
CONTEXT, BATCH, EVAL_BATCHES = 64, 12, 8  # the chapter's tiny Llama and batches
RUNS = {"float32": None, "bfloat16 autocast": torch.bfloat16}


def train_once(vocab_size: int, train_ids: torch.Tensor, val: list[torch.Tensor],
               dtype: torch.dtype | None) -> tuple[float, float, float]:
    """(CPU seconds per step, mean train loss of the last 10 steps, held-out loss) of one run from seed 0."""
    model = tiny_llama(vocab_size, seed=0)
    config = TrainConfig(steps=STEPS, warmup=4, eval_every=0)
    c0 = time.process_time()
    history = fit(model, RandomWindows(train_ids, CONTEXT, BATCH, seed=0), [], config, progress=False,
                  autocast=dtype)
    per_step = (time.process_time() - c0) / STEPS
    last = [r["loss"] for r in history["train"][-10:]]
    return per_step, sum(last) / len(last), evaluate(model, val)  # evaluated in float32


def main() -> None:
    torch.set_num_threads(1)
    text = pydoc_topics_text()
    tok = CharTokenizer(text)
    train_ids, val_ids = split_ids(torch.tensor(tok.encode(text)), 0.1)
    val = [RandomWindows(val_ids, CONTEXT, BATCH, seed=1).next() for _ in range(EVAL_BATCHES)]
    first = tiny_llama(tok.vocab_size, seed=0)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # warm up both paths before timing
        evaluate(first, val[:1])
    evaluate(first, val[:1])
    results: dict[str, dict] = {name: {"seconds_per_step": []} for name in RUNS}
    for _ in range(ROUNDS):
        for name, dtype in RUNS.items():
            per_step, train_loss, val_loss = train_once(tok.vocab_size, train_ids, val, dtype)
            results[name]["seconds_per_step"].append(per_step)
            results[name].update(train_loss=train_loss, val_loss=val_loss)  # the same in every round
    for r in results.values():
        r["ms_per_step"] = 1e3 * min(r.pop("seconds_per_step"))
    f32, bf16 = results["float32"], results["bfloat16 autocast"]
    out = {"environment": environment("cpu"), "native_bf16": "avx512_bf16" in cpu_flags(), "steps": STEPS,
           "rounds": ROUNDS, "context": CONTEXT, "batch_size": BATCH, "eval_batches": EVAL_BATCHES,
           "runs": results, "bf16_over_f32_time": bf16["ms_per_step"] / f32["ms_per_step"]}
    write_json("training/bf16.json", out)
    generated_path("training/bf16_caption.txt").write_text(caption(out) + "\n", encoding="utf-8")
    print(caption(out))


def caption(out: dict) -> str:
    """The measurement in sentences: what ran, the time per step of each, the ratio and the losses."""
    f32, bf16 = out["runs"]["float32"], out["runs"]["bfloat16 autocast"]
    has = "has" if out["native_bf16"] else "does not have"
    return (f"Measured while this page was built ({out['environment']['date'][:10]}, one torch thread): "
            f"{out['steps']} steps of the tiny Llama from the same seed on the same batches, each run "
            f"repeated {out['rounds']} times (best time kept). This CPU {has} native bfloat16 dot products "
            f"(the avx512_bf16 flag in /proc/cpuinfo). float32: {f32['ms_per_step']:.0f} ms of CPU per step, "
            f"training loss {f32['train_loss']:.3f} (mean of the last 10 steps), held-out loss "
            f"{f32['val_loss']:.3f}. bfloat16 autocast: {bf16['ms_per_step']:.0f} ms per step "
            f"({out['bf16_over_f32_time']:.2f}x the float32 time), training loss {bf16['train_loss']:.3f}, "
            f"held-out loss {bf16['val_loss']:.3f} (both evaluated in float32).")


if __name__ == "__main__":
    main()
