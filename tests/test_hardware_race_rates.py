"""The CPU-vs-GPU race's rates, on numbers checkable by hand."""

from __future__ import annotations

import pytest

from llmbook.hardware.gpus import gpu
from llmbook.hardware.race import race


def test_rates_follow_the_flops_ratio():
    r = race(1e11, 1e14, side=32, inner=4096, cpu_cells=1)
    assert r.ratio == 1000.0 and r.cells == 1024
    assert (r.cpu_cells, r.gpu_cells, r.gpu_cells_exact) == (1, 1000, 1000.0)
    assert not r.capped
    assert r.tick_s == pytest.approx(8.192e-8, rel=1e-12)  # 1 cell × 2 × 4096 FLOPs ÷ 1e11 FLOP/s


def test_gpu_capped_at_the_grid():
    r = race(100e9, gpu("H100").dense("bf16_tflops") * 1e12, side=32, cpu_cells=2)
    assert r.ratio == pytest.approx(9895.0, rel=1e-12)  # 989.5 TFLOP/s ÷ 100 GFLOP/s
    assert r.gpu_cells_exact == pytest.approx(19790.0, rel=1e-12)
    assert r.capped and r.gpu_cells == 1024


def test_rounding_and_small_ratio():
    r = race(4e9, 10e9, side=4, cpu_cells=3)  # ratio 2.5: 7.5 cells rounds to 8 (half to even)
    assert r.gpu_cells == 8 and not r.capped
    with pytest.raises(ValueError, match="cells per tick"):
        race(1e12, 1e11)  # 0.1 of a cell per tick: the animation could not show it


@pytest.mark.parametrize("kwargs, word", [
    ({"cpu_flops": 0}, "cpu_flops"), ({"gpu_flops": float("nan")}, "gpu_flops"),
    ({"side": 0}, "side"), ({"inner": 2.5}, "inner"), ({"cpu_cells": 2000}, "side²"),
])
def test_bad_input_is_named(kwargs, word):
    args = {"cpu_flops": 1e11, "gpu_flops": 1e14, **kwargs}
    with pytest.raises(ValueError, match=word):
        race(**args)
