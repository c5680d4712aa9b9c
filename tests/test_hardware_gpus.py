"""The GPU table: every figure sourced, sparse headlines exactly twice the dense figure, ridge points."""

import math

import pytest

from llmbook.hardware.gpus import GPUS, UNITS, Figure, GPU, gpu


def test_every_figure_has_a_vendor_source():
    for g in GPUS:
        assert g.figures, g.name
        for key, fig in g.figures.items():
            assert key in UNITS
            assert fig.source.startswith("https://") and "nvidia.com" in fig.source, (g.name, key, fig.source)


def test_reference_figures_dense_bf16_and_bandwidth():
    expected = {  # dense BF16/FP16 tensor TFLOP/s, HBM TB/s, capacity GB, NVLink GB/s
        "V100": (125, 0.9, 32, 300), "A100": (312, 2.039, 80, 600), "H100": (989.5, 3.35, 80, 900),
        "H200": (989.5, 4.8, 141, 900), "B200": (2250, 8.0, 180, 1800),
    }
    for name, (bf16, bw, cap, nvlink) in expected.items():
        g = gpu(name)
        assert g.dense("bf16_tflops") == pytest.approx(bf16)
        assert g.dense("hbm_tb_s") == pytest.approx(bw)
        assert g.dense("hbm_gb") == pytest.approx(cap)
        assert g.dense("nvlink_gb_s") == pytest.approx(nvlink)


def test_ridge_points():
    got = {g.name.split()[0]: g.ridge_point() for g in GPUS}
    expected = {"V100": 138.9, "A100": 153.0, "H100": 295.4, "H200": 206.1, "B200": 281.25}
    for name, ridge in expected.items():
        assert got[name] == pytest.approx(ridge, abs=0.05)


def test_sparse_figures_are_twice_dense_and_flagged_consistently():
    for g in GPUS:
        for key, fig in g.figures.items():
            if fig.sparse:
                assert fig.value == 2 * fig.dense
                assert key.endswith("_tflops"), f"{g.name}: only throughput can be sparse, not {key}"
            else:
                assert fig.value == fig.dense
        # one GPU quotes all its tensor figures the same way
        flags = {g.figures[k].sparse for k in ("bf16_tflops", "fp8_tflops") if k in g.figures}
        assert len(flags) == 1, g.name


def test_generations_grow_and_fp8_doubles_bf16():
    years = [g.year for g in GPUS]
    assert years == sorted(years)
    flops = [g.dense("bf16_tflops") for g in GPUS]
    assert flops == sorted(flops)
    for g in GPUS:
        if g.dense("fp8_tflops") is not None:
            assert g.dense("fp8_tflops") == 2 * g.dense("bf16_tflops"), g.name


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="source"):
        Figure(1.0, "nvidia.com/x")
    with pytest.raises(ValueError, match="positive"):
        Figure(math.nan, "https://x")
    with pytest.raises(ValueError, match="unknown figure"):
        GPU("X", 2020, {"bogus": Figure(1.0, "https://x")})
    with pytest.raises(KeyError, match="known"):
        gpu("nonexistent")
    with pytest.raises(KeyError, match="no figure"):
        GPUS[0].dense("bogus")
    with pytest.raises(ValueError, match="no published fp8"):
        gpu("V100").ridge_point("fp8_tflops")
