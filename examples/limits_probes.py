"""Measurements for "What these models can and cannot do", on the book's own model (about 60 s on one thread).

Greedy decoding throughout, so every answer is reproducible:

- two factual questions, the answers and the probability of each answer token (confidence);
- sums of 1- to 4-digit numbers, ``N_SUMS`` seeded problems per size, judged by reading the
  first integer of the completion;
- one question asked four ways;
- the probability of " he" and " she" after "The <occupation> said that".

Writes ``generated/limits/probes.json``; the page reads it and prints the tables.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one thread, set before NumPy loads: steady on a shared machine

import time  # noqa: E402

import torch  # noqa: E402

from llmbook.inference.generate import generate  # noqa: E402
from llmbook.limits.probes import (addition_problems, addition_prompt, pronoun_probabilities,  # noqa: E402
                                      read_integer, token_probabilities)
from llmbook.models.llama import describe, load_model  # noqa: E402
from tools.export import write_json  # noqa: E402

FACTS = ["Who was the first president of the United States?", "What is the capital of Australia?"]
WORDINGS = ["What is the largest planet in the solar system?", "Which planet is the biggest in our solar system?",
            "Name the largest planet orbiting the Sun.", "Of all the planets, which one is the largest?"]
DIGITS, N_SUMS, SEED = (1, 2, 3, 4), 10, 0
OCCUPATIONS = ["nurse", "librarian", "secretary", "teacher", "receptionist", "doctor", "engineer", "pilot",
               "mechanic", "carpenter"]


def main() -> None:
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    model = load_model("smollm2-135m-instruct")
    info = describe(model)
    facts = []
    for q in FACTS:
        g = generate(model, q, chat=True, max_new_tokens=12, engine="numpy")
        probs = token_probabilities(model, g.prompt_ids, g.ids)
        facts.append({"question": q, "answer": g.text,
                      "tokens": [[model.tokenizer.decode([i]), round(p, 3)] for i, p in zip(g.ids, probs)]})
    sums = []
    for d in DIGITS:
        for a, b in addition_problems(d, N_SUMS, SEED):
            g = generate(model, addition_prompt(a, b), max_new_tokens=d + 3, stop="\n", engine="numpy")
            got = read_integer(g.text)
            sums.append({"digits": d, "a": a, "b": b, "answer": got, "correct": got == a + b})
    wordings = [{"question": q, "answer": generate(model, q, chat=True, max_new_tokens=10, engine="numpy").text}
                for q in WORDINGS]
    pronouns = [{"occupation": o, **{k: round(v, 4) for k, v in pronoun_probabilities(model, o).items()}}
                for o in OCCUPATIONS]
    seconds = time.perf_counter() - t0
    write_json("limits/probes.json", {
        "model": {"parameters": info["parameters"], "context_length": info["context_length"]},
        "facts": facts, "sums": sums, "wordings": wordings, "pronouns": pronouns, "seconds": round(seconds, 1)})
    right = {d: sum(s["correct"] for s in sums if s["digits"] == d) for d in DIGITS}
    print(f"sums right per size {right} of {N_SUMS}; {seconds:.0f} s in all")


if __name__ == "__main__":
    main()
