"""The numbers of the chapter "Attention by hand", computed once so page, widget and tests agree.

Each exercise is a small piece of one attention operation that a reader can do on
paper. ``exercises()`` returns the answers, tolerances, hints and worked solutions
that the page's widgets check against.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from llmbook.layers.attention import softmax_np

QUERY = (1.5, -0.5, 2.0)
KEY = (0.8, 1.2, -1.0)
SCORES = (2.0, 1.0, 0.1)
WEIGHTS = tuple(round(float(w), 2) for w in softmax_np(np.array(SCORES)))  # (0.66, 0.24, 0.1): exercise 2's, rounded
VALUES_FIRST_DIM = (2.0, -1.0, 4.0)  # every value counts: the answer is no single weight


def fmt(x: float) -> str:
    """A number as a reader would write it: up to 4 decimals, minus sign, no trailing zeros."""
    text = f"{x:.4f}".rstrip("0").rstrip(".")
    return text.replace("-", "\u2212") if text not in {"-0", "-0."} else "0"


def dot(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Dot product of two equal-length vectors."""
    if len(a) != len(b):
        raise ValueError(f"vectors differ in length: {len(a)} vs {len(b)}")
    return math.fsum(x * y for x, y in zip(a, b))


def exercises() -> list[dict[str, Any]]:
    """The three exercises: answer, tolerance, hint and worked solution for each."""
    products = [q * k for q, k in zip(QUERY, KEY)]
    score = dot(QUERY, KEY)
    exps = [math.exp(s) for s in SCORES]
    p0 = float(softmax_np(np.array(SCORES))[0])
    out0 = dot(WEIGHTS, VALUES_FIRST_DIM)
    return [
        {
            "id": "dot",
            "answer": score,
            "tolerance": 0.01,
            "hint": "Multiply the vectors component by component, then add the three products.",
            "solution": [
                *(f"{fmt(q)} \u00d7 {fmt(k)} = {fmt(p)}" for q, k, p in zip(QUERY, KEY, products)),
                f"{' + '.join(fmt(p) for p in products)} = {fmt(score)}",
            ],
        },
        {
            "id": "softmax",
            "answer": p0,
            "tolerance": 0.005,
            "hint": "Exponentiate each score, then divide the first exponential by the sum of all three.",
            "solution": [
                *(f"e^{fmt(s)} \u2248 {fmt(e)}" for s, e in zip(SCORES, exps)),
                f"sum \u2248 {fmt(math.fsum(exps))}",
                f"{fmt(exps[0])} / {fmt(math.fsum(exps))} \u2248 {fmt(p0)}",
            ],
        },
        {
            "id": "weighted-sum",
            "answer": out0,
            "tolerance": 0.005,
            "hint": "Each value's first dimension is multiplied by its attention weight; add the results.",
            "solution": [
                *(f"{fmt(w)} \u00d7 {fmt(v)} = {fmt(w * v)}" for w, v in zip(WEIGHTS, VALUES_FIRST_DIM)),
                f"sum = {fmt(out0)}",
            ],
        },
    ]


def check(exercise_id: str, answer: float) -> bool:
    """True when ``answer`` is within the exercise's tolerance (the rule the widget applies)."""
    for ex in exercises():
        if ex["id"] == exercise_id:
            return abs(answer - ex["answer"]) <= ex["tolerance"]
    raise KeyError(f"unknown exercise {exercise_id!r}; known: {[e['id'] for e in exercises()]}")
