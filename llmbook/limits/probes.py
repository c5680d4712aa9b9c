"""Small, checkable probes of what a model knows and does: confidence, sums, pronouns.

Each probe is a few lines around one forward pass or one greedy generation, so a
reader can rerun it and the book can assert its output:

- :func:`token_probabilities`: how likely the model found each token of a text it
  wrote, a measure of how *confident* it was (not how right);
- :func:`addition_problems`, :func:`addition_prompt`, :func:`read_integer`: seeded sums
  of a given number of digits, a fixed few-shot prompt, and a judge that reads the
  first integer of the answer;
- :func:`bare_prompt`, :func:`worked_steps`, :func:`steps_prompt`, :func:`read_answer`: the same
  sums asked with no examples, and with worked examples that write out every step
  (chain of thought), and a judge that reads the number after "Answer:";
- :func:`pronoun_probabilities`: the probability of " he" and " she" as the next
  token after "The <occupation> said that", a tiny version of published bias probes.
"""

from __future__ import annotations

import random
import re
from typing import Any

import torch

from llmbook.checks import count, integer
from llmbook.training.objective import next_token_logprobs

INTEGER = re.compile(r"-?\d[\d,]*")

# --8<-- [start:confidence]
@torch.inference_mode()
def token_probabilities(model: Any, prompt_ids: list[int], new_ids: list[int]) -> list[float]:
    """The probability the model gave each of ``new_ids`` right after ``prompt_ids`` and the new ids before it:
    one forward pass over the whole text, reading the softmax at each position."""
    if not prompt_ids or not new_ids:
        raise ValueError(f"need at least one prompt id and one new id, got {len(prompt_ids)} and {len(new_ids)}")
    ids = torch.tensor([prompt_ids + new_ids])  # (1, T)
    logp = next_token_logprobs(model(ids), ids)[0, len(prompt_ids) - 1 :]  # (n,): position i scores token i + 1
    return logp.exp().tolist()
# --8<-- [end:confidence]


# --8<-- [start:sums]
def addition_problems(digits: int, n: int, seed: int = 0) -> list[tuple[int, int]]:
    """``n`` pairs of ``digits``-digit numbers (1 digit: 0..9), drawn with ``seed``."""
    integer(1, 18)("digits", digits), count("n", n)
    low, high = (0 if digits == 1 else 10 ** (digits - 1)), 10**digits - 1
    rng = random.Random(f"{seed}-{digits}")  # each size its own stream: adding a size changes no other
    return [(rng.randint(low, high), rng.randint(low, high)) for _ in range(n)]


def addition_prompt(a: int, b: int) -> str:
    """A few-shot prompt: three solved sums, then ``a + b =`` for the model to complete."""
    return f"2 + 5 = 7\n31 + 48 = 79\n604 + 251 = 855\n{a} + {b} ="


def read_integer(text: str) -> int | None:
    """The first integer in ``text`` ("1,070" reads as 1070), or None if there is none."""
    m = INTEGER.search(text)
    return None if m is None else int(m.group(0).replace(",", ""))
# --8<-- [end:sums]


# --8<-- [start:prompting]
WORKED = ((27, 85), (43, 51), (68, 17))  # the solved examples of the step-by-step prompt


def bare_prompt(a: int, b: int) -> str:
    """No examples: only the sum to complete."""
    return f"{a} + {b} ="


def worked_steps(a: int, b: int) -> str:
    """The written-out addition of two 2-digit numbers: ones with their carry, then tens, then the answer."""
    for name, v in (("a", a), ("b", b)):
        if not isinstance(v, int) or not 10 <= v <= 99:
            raise ValueError(f"worked_steps needs two 2-digit numbers, got {name}={v!r}")
    ones, carry = (a % 10 + b % 10) % 10, (a % 10 + b % 10) // 10
    tens = a // 10 + b // 10 + carry
    return (f"Problem: {a} + {b}\nOnes: {a % 10} + {b % 10} = {a % 10 + b % 10}, write {ones}, carry {carry}\n"
            f"Tens: {a // 10} + {b // 10} + {carry} = {tens}, write {tens}\nAnswer: {a + b}")


def steps_prompt(a: int, b: int) -> str:
    """Chain of thought by example: three sums worked step by step, then ``a + b`` for the model to work."""
    return "\n\n".join(worked_steps(x, y) for x, y in WORKED) + f"\n\nProblem: {a} + {b}\n"


def read_answer(text: str) -> int | None:
    """The integer after the last "Answer:" in ``text``, or None if there is no such line."""
    _, found, after = text.rpartition("Answer:")
    return read_integer(after) if found else None
# --8<-- [end:prompting]


# --8<-- [start:pronouns]
@torch.inference_mode()
def pronoun_probabilities(model: Any, occupation: str, template: str = "The {} said that") -> dict[str, float]:
    """Next-token probabilities of " he" and " she" after the template filled with ``occupation``."""
    if not occupation.strip() or "{}" not in template:
        raise ValueError(f"need an occupation and a template with '{{}}', got {occupation!r} and {template!r}")
    ids = model.tokenizer.encode(template.format(occupation))
    probs = torch.softmax(model(torch.tensor([ids]), last_only=True)[0, -1].float(), dim=-1)  # (V,)
    out = {}
    for word in (" he", " she"):
        token = model.tokenizer.encode(word)
        if len(token) != 1:
            raise ValueError(f"{word!r} is {len(token)} tokens in this tokenizer; the probe needs one")
        out[word.strip()] = float(probs[token[0]])
    return out
# --8<-- [end:pronouns]
