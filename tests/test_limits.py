"""The probes of the limits chapter: seeded sums, the judge, token probabilities, pronoun probabilities."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from llmbook.inference.generate import generate
from llmbook.limits.probes import (WORKED, addition_problems, addition_prompt, bare_prompt, pronoun_probabilities,
                                      read_answer, read_integer, steps_prompt, token_probabilities, worked_steps)


def test_addition_problems_are_seeded_and_have_the_right_size() -> None:
    for d in (1, 2, 3, 4):
        pairs = addition_problems(d, 50, seed=3)
        assert pairs == addition_problems(d, 50, seed=3) != addition_problems(d, 50, seed=4)
        low = 0 if d == 1 else 10 ** (d - 1)
        assert all(low <= x < 10**d for pair in pairs for x in pair), d
    assert addition_problems(2, 5) == addition_problems(2, 10)[:5]  # a longer run extends a shorter one
    for bad in (0, 19):
        with pytest.raises(ValueError, match="digits must be an integer between 1 and 18"):
            addition_problems(bad, 3)
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        addition_problems(2, 0)


def test_the_judge_reads_the_first_integer() -> None:
    assert read_integer(" 1,070\n") == 1070
    assert read_integer(" 87 = 7") == 87
    assert read_integer("-12 apples") == -12
    assert read_integer(" no number") is None
    assert addition_prompt(12, 30).endswith("\n12 + 30 =")


def test_the_step_by_step_prompt_is_correct_arithmetic() -> None:
    """Catches a worked example with a wrong carry or sum (the model would be taught a mistake), and a judge that
    reads a number from the steps instead of the answer line."""
    for a in range(10, 100):
        for b in range(10, 100, 7):
            lines = worked_steps(a, b).splitlines()
            ones, tens = a % 10 + b % 10, a // 10 + b // 10 + (a % 10 + b % 10) // 10
            assert lines[1].endswith(f"= {ones}, write {ones % 10}, carry {ones // 10}")
            assert 10 * tens + ones % 10 == a + b == read_answer(worked_steps(a, b))
    prompt = steps_prompt(63, 40)
    assert prompt.count("Answer:") == len(WORKED) and prompt.endswith("\n\nProblem: 63 + 40\n")
    assert bare_prompt(63, 40) == "63 + 40 ="
    assert read_answer("Ones: 3 + 0 = 3\nAnswer: 1,003") == 1003 and read_answer("Ones: 3 + 0 = 3") is None
    for bad in ((5, 40), (63, 100), (63.0, 40)):
        with pytest.raises(ValueError, match="two 2-digit numbers"):
            worked_steps(*bad)


def test_token_probabilities_equal_the_softmax_at_each_step(smollm: Any) -> None:
    g = generate(smollm, "The capital of France is", max_new_tokens=3)
    probs = token_probabilities(smollm, g.prompt_ids, g.ids)
    with torch.inference_mode():  # the same numbers one step at a time, from the logits of each prefix
        step = [float(torch.softmax(smollm(torch.tensor([g.prompt_ids + g.ids[:i]]))[0, -1], -1)[t])
                for i, t in enumerate(g.ids)]
    assert len(probs) == 3 and all(0 < p <= 1 for p in probs)
    assert probs == pytest.approx(step, abs=1e-4)  # float32 softmax of logits that agree to ~1e-4 either way
    assert smollm.tokenizer.decode(g.ids[:1]) == " Paris" and probs[0] > 0.5
    with pytest.raises(ValueError, match="at least one prompt id and one new id"):
        token_probabilities(smollm, g.prompt_ids, [])


def test_pronoun_probabilities(smollm: Any) -> None:
    p = pronoun_probabilities(smollm, "nurse")
    assert set(p) == {"he", "she"} and all(0 < v < 1 for v in p.values())
    carpenter = pronoun_probabilities(smollm, "carpenter")
    assert p["she"] / p["he"] > 2 > 1 > carpenter["she"] / carpenter["he"]  # the page's measured direction (~4.9, ~0.6)
    # a probe that ignores ``template`` (the default passed explicitly could not catch that): another
    # template gives the probabilities computed by hand for that text
    ids = smollm.tokenizer.encode("Yesterday the nurse told me that")
    probs = torch.softmax(smollm(torch.tensor([ids]), last_only=True)[0, -1].float(), dim=-1)
    other = pronoun_probabilities(smollm, "nurse", template="Yesterday the {} told me that")
    assert other == {w: float(probs[smollm.tokenizer.encode(" " + w)[0]]) for w in ("he", "she")} != p
    with pytest.raises(ValueError, match="template with"):
        pronoun_probabilities(smollm, "nurse", template="no slot")
    with pytest.raises(ValueError, match="need an occupation"):
        pronoun_probabilities(smollm, "  ")
