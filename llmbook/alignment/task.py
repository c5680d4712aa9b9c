"""A task with a programmatic judge: add two two-digit numbers, end with ``#### <sum>``.

Every reward in the chapter comes from (or is checked against) :func:`judge`, a few
lines of Python the reader can run: an answer is *formatted* if its last line is
``#### `` followed by an integer, and *correct* if it is formatted and that integer
is the sum. Both numbers have two digits, so every prompt has the same number of
tokens (SmolLM2's tokenizer splits digits one by one), which lets a batch of prompts
be sampled together without padding.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

LOW, HIGH = 10, 49  # both numbers are drawn from LOW..HIGH, so every sum has two digits
ANSWER = re.compile(r"(?:^|\n)#### (-?\d+)\s*$")  # the required last line


# --8<-- [start:problem]
@dataclass(frozen=True)
class Problem:
    """One question: a + b."""

    a: int
    b: int

    @property
    def answer(self) -> int:
        return self.a + self.b

    def messages(self) -> list[dict[str, str]]:
        """The chat the model sees (no system message: fewer tokens to train on)."""
        return [{"role": "user", "content": f"What is {self.a} + {self.b}? End with '#### ' and the number."}]

    def demonstration(self) -> str:
        """The answer we want: the sum written out, then the required last line."""
        return f"{self.a} + {self.b} = {self.answer}\n#### {self.answer}"
# --8<-- [end:problem]


# --8<-- [start:judge]
@dataclass(frozen=True)
class Verdict:
    formatted: bool  # the last line is '#### <integer>'
    correct: bool  # formatted, and the integer is the sum

    @property
    def reward(self) -> float:
        """The verifiable reward: 1 for a correct answer, 0 otherwise."""
        return float(self.correct)


def judge(problem: Problem, response: str) -> Verdict:
    """Check a response: is its last line '#### <integer>', and is that integer a + b?"""
    m = ANSWER.search(response.strip())
    return Verdict(formatted=m is not None, correct=m is not None and int(m.group(1)) == problem.answer)
# --8<-- [end:judge]


def make_problems(n_train: int, n_test: int, seed: int = 0) -> tuple[list[Problem], list[Problem]]:
    """Distinct problems, shuffled with ``seed``: ``n_train`` to train on, ``n_test`` held out (never trained on)."""
    pool = [Problem(a, b) for a in range(LOW, HIGH + 1) for b in range(LOW, HIGH + 1)]
    if n_train < 0 or n_test < 0 or n_train + n_test > len(pool):
        raise ValueError(f"n_train + n_test must be in 0..{len(pool)} (the distinct problems), "
                         f"got {n_train} + {n_test}")
    random.Random(seed).shuffle(pool)
    return pool[:n_train], pool[n_train:n_train + n_test]


def rejected_response(problem: Problem, rng: random.Random) -> str:
    """A plausible bad answer: half the time a wrong sum in the right format, half the time the right
    sum in the wrong format."""
    s = problem.answer
    if rng.random() < 0.5:
        wrong = s + rng.choice([-10, -2, -1, 1, 2, 10])  # off by one, two or a carry
        return f"{problem.a} + {problem.b} = {wrong}\n#### {wrong}"
    return rng.choice([f"{problem.a} + {problem.b} = {s}", f"The answer is {s}."])


def preference_pairs(problems: list[Problem], seed: int = 0) -> list[tuple[Problem, str, str]]:
    """(problem, chosen, rejected) for each problem: chosen is judged correct, rejected is not."""
    rng = random.Random(seed)
    pairs = [(p, p.demonstration(), rejected_response(p, rng)) for p in problems]
    assert all(judge(p, c).correct and not judge(p, r).correct for p, c, r in pairs)
    return pairs
