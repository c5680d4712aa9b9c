"""llmbook.checks: the one way every part checks an argument."""

import math

import numpy as np
import pytest

from llmbook.checks import count, integer, is_number, number, one_of, optional, positive
from llmbook.hardware.flash_attention import flash_attention_np
from llmbook.hardware.race import race
from llmbook.hardware.roofline import matmul_op, ridge_point
from llmbook.limits.probes import addition_problems
from llmbook.training.flops import model_flops_utilisation
from llmbook.training.memory import training_memory


def test_factories_return_the_value_or_name_what_was_wrong():
    """Catches a check that lets a bad value through or raises without naming the argument and value."""
    assert positive("lr", 0.5) == 0.5 and count("batch", 3) == 3 and optional(count)("k", None) is None
    assert number(0, 1, low_open=True)("p", 1) == 1 and one_of("a", None)("mode", None) is None
    for check, value, message in [
        (positive, 0, "lr must be > 0, got 0"),
        (positive, math.inf, "lr must be a finite number > 0, got inf"),
        (positive, "1", "lr must be a finite number > 0, got '1' (str)"),
        (count, 0, "lr must be an integer >= 1, got 0"),
        (count, 2.0, "lr must be an integer >= 1, got 2.0"),
        (integer(1, 3, " (three at most)"), 4, "lr must be an integer between 1 and 3 (three at most), got 4"),
        (number(0, 1, low_open=True), 0, "lr must be in (0, 1], got 0"),
        (one_of("a", "b"), "c", "lr must be one of 'a', 'b', got 'c'"),
    ]:
        with pytest.raises(ValueError) as err:
            check("lr", value)
        assert str(err.value) == message


@pytest.mark.parametrize("call", [
    lambda: ridge_point(True, 2),  # returned 0.5 before: True was read as 1
    lambda: ridge_point(2, True),
    lambda: matmul_op("x", True, 4, 4),
    lambda: race(True, 1e12),
    lambda: race(1e9, 1e12, side=True),
    lambda: flash_attention_np(*(np.zeros((4, 8), np.float32),) * 3, block_q=True),
    lambda: model_flops_utilisation(True, 10, 10),
    lambda: training_memory(True, 2),
    lambda: addition_problems(True, 3),
    lambda: count("n", True),
    lambda: positive("x", False),
])
def test_booleans_are_not_numbers_anywhere(call):
    """Catches a part that checks a size or rate by hand and lets True through as 1 (the bug the
    roofline had: ridge_point(True, 2) was 0.5 while training.flops rejected True)."""
    assert not is_number(True)
    with pytest.raises(ValueError, match="got True|got False"):
        call()
