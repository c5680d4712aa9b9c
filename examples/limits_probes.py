"""Measurements for "What these models can and cannot do", on the book's own model (about 40 s of CPU on one thread).

Greedy decoding throughout, so every answer is reproducible:

- two factual questions, the answers and the probability of each answer token (confidence);
- dated questions ("What year is it?"), without and with a date in the system prompt (the knowledge cutoff);
- sums of 1- to 4-digit numbers, ``N_SUMS`` seeded problems per size, judged by reading the
  first integer of the completion;
- the same 1- and 2-digit sums with no examples in the prompt, and the first ``N_STEPS`` 2-digit ones with
  worked, step-by-step examples (chain of thought), judged by the number after "Answer:" (with the dated
  questions, about 20 s of the CPU time, measured on a loaded 2-core machine);
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
from llmbook.limits.probes import (addition_problems, addition_prompt, bare_prompt,  # noqa: E402
                                      pronoun_probabilities, read_answer, read_integer, steps_prompt,
                                      token_probabilities)
from llmbook.models.llama import describe, load_model  # noqa: E402
from tools.export import write_json  # noqa: E402

FACTS = ["Who was the first president of the United States?", "What is the capital of Australia?"]
WORDINGS = ["What is the largest planet in the solar system?", "Which planet is the biggest in our solar system?",
            "Name the largest planet orbiting the Sun.", "Of all the planets, which one is the largest?"]
DIGITS, N_SUMS, SEED = (1, 2, 3, 4), 10, 0
BARE_DIGITS, N_STEPS = (1, 2), 5  # sizes asked with no examples; 2-digit problems asked step by step
DATED, TODAY = ["What year is it?", "What is today's date?"], "Today is 14 March 2031."  # a fixed date: reproducible
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
    cpu = time.process_time()
    dated = [{"question": q, "system": system,
              "answer": generate(model, q, chat=True, system=system, max_new_tokens=20, engine="numpy").text}
             for system in (None, TODAY) for q in DATED]
    dated_cpu = time.process_time() - cpu
    sums = []
    for d in DIGITS:
        for a, b in addition_problems(d, N_SUMS, SEED):
            g = generate(model, addition_prompt(a, b), max_new_tokens=d + 3, stop="\n", engine="numpy")
            got = read_integer(g.text)
            sums.append({"digits": d, "a": a, "b": b, "answer": got, "correct": got == a + b})
    cpu = time.process_time()
    bare = []
    for d in BARE_DIGITS:
        for a, b in addition_problems(d, N_SUMS, SEED):
            got = read_integer(generate(model, bare_prompt(a, b), max_new_tokens=d + 3, stop="\n", engine="numpy").text)
            bare.append({"digits": d, "a": a, "b": b, "answer": got, "correct": got == a + b})
    steps = []
    for a, b in addition_problems(2, N_STEPS, SEED):  # the first problems of the 2-digit list above
        g = generate(model, steps_prompt(a, b), max_new_tokens=48, stop="\n\n", engine="numpy")
        got = read_answer(g.text)
        steps.append({"a": a, "b": b, "text": g.text, "answer": got, "correct": got == a + b})
    prompting_cpu = time.process_time() - cpu
    wordings = [{"question": q, "answer": generate(model, q, chat=True, max_new_tokens=10, engine="numpy").text}
                for q in WORDINGS]
    pronouns = [{"occupation": o, **{k: round(v, 4) for k, v in pronoun_probabilities(model, o).items()}}
                for o in OCCUPATIONS]
    seconds = time.perf_counter() - t0
    write_json("limits/probes.json", {
        "model": {"parameters": info["parameters"], "context_length": info["context_length"]},
        "facts": facts, "dated": dated, "sums": sums, "bare_sums": bare, "step_sums": steps, "wordings": wordings,
        "pronouns": pronouns, "seconds": round(seconds, 1), "prompting_cpu_seconds": round(prompting_cpu, 1),
        "dated_cpu_seconds": round(dated_cpu, 1)})
    right = {d: sum(s["correct"] for s in sums if s["digits"] == d) for d in DIGITS}
    print(f"sums right per size {right} of {N_SUMS}; with no examples "
          f"{ {d: sum(s['correct'] for s in bare if s['digits'] == d) for d in BARE_DIGITS} }; step by step "
          f"{sum(s['correct'] for s in steps)} of {N_STEPS}; {seconds:.0f} s in all, "
          f"CPU: {prompting_cpu:.1f} s for the prompting comparison, {dated_cpu:.1f} s for the dated questions")


if __name__ == "__main__":
    main()
