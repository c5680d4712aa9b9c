"""The tiny Llama trained in float32 and under bfloat16 autocast, on one CPU thread: speed and loss.

- training/bf16.json: whether this CPU has native bfloat16 dot products (``avx512_bf16``),
  CPU milliseconds per step of each run (best of ``ROUNDS`` runs, taken in alternation) and
  the losses each reached after ``STEPS`` steps from the same seed and the same batches

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
from tools.export import write_json

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
    for name, r in results.items():
        print(f"{name:18s} {r['ms_per_step']:6.1f} ms/step  train loss {r['train_loss']:.3f}  "
              f"held-out {r['val_loss']:.3f}")
    print(f"native bf16: {out['native_bf16']}; bf16 time / f32 time = {out['bf16_over_f32_time']:.2f}")


if __name__ == "__main__":
    main()
