"""The exercise answers of "Attention by hand" are the values the chapter promises."""

import math

import pytest

from tools.by_hand import check, exercises, fmt


def test_answers():
    answers = {ex["id"]: ex["answer"] for ex in exercises()}
    assert answers["dot"] == pytest.approx(1.5 * 0.8 - 0.5 * 1.2 - 2.0)
    assert answers["softmax"] == pytest.approx(math.exp(2) / (math.exp(2) + math.exp(1) + math.exp(0.1)))
    assert answers["weighted-sum"] == pytest.approx(0.66 * 2.0 + 0.24 * -1.0 + 0.10 * 4.0)  # 1.48


@pytest.mark.parametrize("exercise, good, bad", [("dot", -1.4, 1.4), ("softmax", 0.66, 0.24),
                                                 ("weighted-sum", 1.48, 1.32)])
def test_check_accepts_right_and_rejects_wrong(exercise, good, bad):
    assert check(exercise, good)
    assert not check(exercise, bad)


def test_check_unknown_exercise():
    with pytest.raises(KeyError, match="unknown exercise 'nope'"):
        check("nope", 1.0)


def test_fmt():
    assert fmt(-1.4) == "\u22121.4"
    assert fmt(2.0) == "2"
    assert fmt(0.65900113) == "0.659"
